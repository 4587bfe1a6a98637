"""The stated distributions: value tiers, cities, identities, handsets, managers, churn."""

import re
from datetime import date

import pyarrow.parquet as pq

from keycare.synth import reference as ref

ID_WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]


def _id_check(first17: str) -> str:
    return "10X98765432"[sum(int(d) * w for d, w in zip(first17, ID_WEIGHTS, strict=True)) % 11]


def _luhn_ok(number: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(number)):
        d = int(ch) * (2 if i % 2 else 1)
        total += d - 9 if d > 9 else d
    return total % 10 == 0


def test_about_eleven_percent_mid_high(duck):
    share = duck.execute("SELECT avg((value_tier = 'mid_high')::int) FROM subscribers").fetchone()[
        0
    ]
    assert 0.09 <= share <= 0.13
    # mid_high really means a 3-month average bill of at least 120 RMB.
    low = duck.execute(
        """
        SELECT count(*) FROM subscribers s JOIN (
            SELECT subscriber_id, avg(total_fee) AS avg3 FROM (
                SELECT *, row_number() OVER (PARTITION BY subscriber_id ORDER BY bill_month DESC) AS k
                FROM bills) WHERE k <= 3 GROUP BY 1) b USING (subscriber_id)
        WHERE s.value_tier = 'mid_high' AND b.avg3 < 120
        """
    ).fetchone()[0]
    assert low == 0


def test_thirteen_cities_weighted_by_population(duck):
    rows = dict(duck.execute("SELECT city_id, count(*) FROM subscribers GROUP BY 1").fetchall())
    assert sorted(rows) == sorted(c[0] for c in ref.CITIES)
    assert max(rows, key=rows.get) == "3205"  # 苏州, the most populous
    assert rows["3205"] > 2 * rows["3211"]  # 镇江, the least populous
    org = duck.execute(
        "SELECT count(DISTINCT city_name), count(DISTINCT county_id), count(*) FROM org"
    ).fetchone()
    assert org[0] == 13 and org[1] >= 80 and org[2] >= 4 * org[1]


def test_identities_are_well_formed(delivery):
    table = pq.read_table(
        delivery / "subscribers.parquet",
        columns=[
            "msisdn",
            "name",
            "id_number",
            "birth_date",
            "gender",
            "county_id",
            "city_id",
            "imei",
        ],
    ).to_pylist()
    msisdns = [r["msisdn"] for r in table]
    assert len(set(msisdns)) == len(msisdns)
    assert all(m[:3] in ref.MOBILE_PREFIXES and re.fullmatch(r"1[3-9]\d{9}", m) for m in msisdns)
    two_char = 0
    for r in table:
        number = r["id_number"]
        assert _id_check(number[:17]) == number[17], number
        assert number[:6] == r["county_id"] and number[:4] == r["city_id"]
        assert date(int(number[6:10]), int(number[10:12]), int(number[12:14])) == r["birth_date"]
        assert (int(number[16]) % 2 == 1) == (r["gender"] == "M")
        assert re.fullmatch(r"[\u4e00-\u9fff]{2,4}", r["name"]), r["name"]
        two_char += r["name"][:2] in {"欧阳", "司马", "诸葛", "上官", "东方", "皇甫", "慕容"}
        assert len(r["imei"]) == 15 and _luhn_ok(r["imei"]), r["imei"]
    assert two_char > 0


def test_5g_share_grows_with_handset_recency(duck):
    old, new = duck.execute(
        """SELECT avg(handset_5g::int) FILTER (WHERE handset_since < DATE '2022-01-01'),
                  avg(handset_5g::int) FILTER (WHERE handset_since >= DATE '2025-01-01')
           FROM subscribers"""
    ).fetchone()
    assert new > old + 0.2 and new > 0.8


def test_brands_plans_payment_and_dnd(duck):
    brands = dict(
        duck.execute("SELECT brand, avg(plan_fee) FROM subscribers GROUP BY 1").fetchall()
    )
    assert set(brands) == {"gotone", "mzone", "easyown"}
    assert brands["gotone"] > brands["mzone"] and brands["gotone"] > brands["easyown"]
    dnd = duck.execute(
        "SELECT avg(dnd::int), avg((dnd_start IS NOT NULL)::int) FROM subscribers"
    ).fetchone()
    assert 0.01 < dnd[0] < 0.06 and 0.02 < dnd[1] < 0.12
    arrears = duck.execute(
        "SELECT count(*) FROM subscribers WHERE payment_type='postpaid' AND balance < 0 AND arrears_days >= 0"
    ).fetchone()[0]
    assert arrears > 0


def test_managers_sized_at_the_seed_ratio_and_assignments_in_city(duck):
    per_city = duck.execute(
        "SELECT city_id, count(*) FROM managers WHERE role <> 'key_account_manager' GROUP BY 1"
    ).fetchall()
    assert len(per_city) == 13 and all(n >= 1 for _, n in per_city)
    cross = duck.execute(
        """SELECT count(*) FROM assignments a JOIN subscribers s USING (subscriber_id)
           JOIN managers m USING (manager_id)
           WHERE m.city_id <> s.city_id OR s.value_tier <> 'mid_high' OR s.status = 'churned'
              OR NOT m.active"""
    ).fetchone()[0]
    assert cross == 0
    assigned, eligible = duck.execute(
        """SELECT (SELECT count(*) FROM assignments),
                  count(*) FILTER (WHERE value_tier = 'mid_high' AND status <> 'churned')
           FROM subscribers"""
    ).fetchone()
    assert assigned == eligible


def test_monthly_churn_in_a_realistic_range_and_higher_for_mass(duck):
    rates = duck.execute(
        """
        WITH base AS (
            SELECT b.subscriber_id, b.bill_month, s.value_tier,
                   EXISTS (SELECT 1 FROM events e WHERE e.subscriber_id = b.subscriber_id
                           AND e.event_type = 'churn'
                           AND strftime(e.event_time, '%Y-%m')
                               = strftime(strptime(b.bill_month, '%Y-%m') + INTERVAL 1 MONTH, '%Y-%m')) AS churned
            FROM bills b JOIN subscribers s USING (subscriber_id)
            WHERE b.bill_month < '2026-10')
        SELECT avg(churned::int), avg(churned::int) FILTER (WHERE value_tier = 'mass'),
               avg(churned::int) FILTER (WHERE value_tier = 'mid_high') FROM base
        """
    ).fetchone()
    overall, mass, mid_high = rates
    assert 0.01 <= overall <= 0.03
    assert mass > mid_high
    churned = duck.execute(
        """SELECT count(*) FILTER (WHERE s.status_date = CAST(e.event_time AS DATE)), count(*)
           FROM subscribers s JOIN events e USING (subscriber_id)
           WHERE s.status = 'churned' AND e.event_type = 'churn'"""
    ).fetchone()
    assert churned[0] == churned[1] > 0
    after = duck.execute(
        """SELECT count(*) FROM events e JOIN subscribers s USING (subscriber_id)
           WHERE s.status = 'churned' AND CAST(e.event_time AS DATE) > s.status_date"""
    ).fetchone()[0]
    assert after == 0


def test_downgrades_move_to_a_cheaper_plan(duck):
    rows = duck.execute(
        "SELECT old_value, new_value, amount FROM events WHERE event_type = 'plan_change' AND category = 'downgrade'"
    ).fetchall()
    assert len(rows) > 20
    fee = {code: f for plans in ref.PLANS.values() for code, f, _ in plans}
    assert all(fee[new] < fee[old] and amount == fee[new] for old, new, amount in rows)


def test_history_is_consistent_with_the_snapshot(duck):
    checks = {
        "usage after last_active_date": """SELECT count(*) FROM usage_weekly u JOIN subscribers s USING (subscriber_id)
            WHERE u.active_days > 0 AND u.week_start > s.last_active_date""",
        "usage after churn": """SELECT count(*) FROM usage_weekly u JOIN subscribers s USING (subscriber_id)
            WHERE s.status = 'churned' AND u.week_start >= s.status_date""",
        "events before joining": """SELECT count(*) FROM events e JOIN subscribers s USING (subscriber_id)
            WHERE CAST(e.event_time AS DATE) < s.join_date""",
        "bills before joining": """SELECT count(*) FROM bills b JOIN subscribers s USING (subscriber_id)
            WHERE b.bill_month < strftime(s.join_date, '%Y-%m')""",
        "suspended without a suspension": """SELECT count(*) FROM subscribers s WHERE status = 'suspended'
            AND NOT EXISTS (SELECT 1 FROM events e WHERE e.subscriber_id = s.subscriber_id
                            AND e.event_type = 'suspension')""",
    }
    for what, sql in checks.items():
        assert duck.execute(sql).fetchone()[0] == 0, what
