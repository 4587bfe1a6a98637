"""The key-account archive files of the synthetic operator: revenue by month, products with
SLA, key persons and contracts, consistent with the key accounts and with each other."""

MONTHS = 6  # tests/synth/conftest.py


def _one(duck, sql):
    return duck.execute(sql).fetchone()


def test_archive_files_reference_known_key_accounts(duck):
    for name in (
        "key_account_revenue",
        "key_account_products",
        "key_persons",
        "key_account_contracts",
        "key_account_faults",
    ):
        orphans = _one(
            duck, f"SELECT count(*) FROM {name} ANTI JOIN key_accounts USING (key_account_id)"
        )
        assert orphans == (0,), name


def test_every_group_has_revenue_for_each_closed_month(duck):
    per_account = duck.execute(
        "SELECT count(*) FROM key_account_revenue GROUP BY key_account_id"
    ).fetchall()
    groups = _one(duck, "SELECT count(*) FROM key_accounts")[0]
    assert len(per_account) == groups
    assert {n for (n,) in per_account} == {MONTHS}
    bad = _one(duck, "SELECT count(*) FROM key_account_revenue WHERE info_revenue > total_revenue")
    assert bad == (0,)


def test_key_persons_form_a_tree_under_one_decision_maker(duck):
    makers = duck.execute(
        "SELECT key_account_id, count(*) FILTER (WHERE role = 'decision_maker') FROM key_persons "
        "GROUP BY 1"
    ).fetchall()
    assert makers and all(n == 1 for _, n in makers)
    dangling = _one(
        duck,
        "SELECT count(*) FROM key_persons p WHERE reports_to IS NOT NULL AND NOT EXISTS "
        "(SELECT 1 FROM key_persons b WHERE b.person_id = p.reports_to "
        "AND b.key_account_id = p.key_account_id AND b.role = 'decision_maker')",
    )
    assert dangling == (0,)
    clash = _one(
        duck, "SELECT count(*) FROM key_persons k JOIN subscribers s ON s.msisdn = k.mobile"
    )
    assert clash == (0,)


def test_higher_tiers_use_more_informatization_products_and_lines_carry_sla(duck):
    a1, c = duck.execute(
        "SELECT avg(n) FILTER (WHERE tier = 'A1'), avg(n) FILTER (WHERE tier = 'C') FROM "
        "(SELECT k.key_account_id, k.tier, count(p.product_id) FILTER (WHERE p.informatization) n "
        "FROM key_accounts k LEFT JOIN key_account_products p USING (key_account_id) GROUP BY 1, 2)"
    ).fetchone()
    assert c is not None and (a1 is None or a1 > c)
    missing_sla = _one(
        duck,
        "SELECT count(*) FROM key_account_products WHERE product_type IN ('data_line', "
        "'internet_line') AND (sla_availability IS NULL OR sla_restore_hours IS NULL "
        "OR bandwidth_mbps IS NULL)",
    )
    assert missing_sla == (0,)


def test_contracts_renew_before_they_end_and_some_are_due(duck):
    bad = _one(
        duck,
        "SELECT count(*) FROM key_account_contracts WHERE renewal_date >= end_date "
        "OR start_date >= end_date OR signed_date > start_date",
    )
    assert bad == (0,)
    due = _one(
        duck,
        "SELECT count(*) FROM key_account_contracts WHERE status = 'active' "
        "AND end_date <= DATE '2026-11-22' + INTERVAL 365 DAY",
    )
    assert due[0] > 0


def test_faults_are_on_active_dedicated_lines_of_their_group(duck):
    total = _one(duck, "SELECT count(*) FROM key_account_faults")[0]
    assert total > 0
    misplaced = _one(
        duck,
        "SELECT count(*) FROM key_account_faults f LEFT JOIN key_account_products p "
        "ON p.product_id = f.product_id AND p.key_account_id = f.key_account_id "
        "WHERE p.product_type NOT IN ('data_line', 'internet_line') OR p.status <> 'active' "
        "OR p.product_id IS NULL",
    )
    assert misplaced == (0,)


def test_recent_leavers_stay_listed_as_members_with_a_churned_subscriber(duck):
    rows = duck.execute(
        "SELECT s.status, min(s.status_date), count(*) FROM key_account_members m "
        "JOIN subscribers s USING (subscriber_id) WHERE s.status = 'churned' GROUP BY 1"
    ).fetchall()
    assert rows and rows[0][2] > 0
    changed = _one(duck, "SELECT count(mobile_changed_date) FROM key_persons")[0]
    assert changed > 0
