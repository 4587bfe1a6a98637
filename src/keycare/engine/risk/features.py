"""Point-in-time features and labels from the contract relations, in DuckDB SQL.

A feature row describes a subscriber "as of" a date A: bill months are counted back from A's
month (m1 = the last closed month before A), event windows end on A (inclusive). Training uses
as-of dates on the first day of each month (the month before is then closed) and labels the
month that follows: churn (status churned / churn event) or downgrade (a plan change to a
cheaper plan) within (A, A + 1 month]. Scoring uses the business date as A, so training and
scoring rows are built by the same SQL.

Columns carry the catalog field codes (keycare/catalog/fields.yaml) where one exists, so the
health scores run unchanged over this relation or over the unified view.
Reads relations: subscribers, bills, events, call_circle.
"""

from __future__ import annotations

# Columns the learned model uses: computable at any past date (snapshot-only fields such as
# balance or last_active_date would leak the future into training rows, so they are only
# used by the health scores at scoring time).
MODEL_NUMERIC = [
    "plan_fee",
    "bill_total_m1",
    "bill_avg_3m",
    "bill_change_pct_m1",
    "bill_trend_3m",
    "overage_fee_m1",
    "supplementary_fee_m1",
    "voice_minutes_m1",
    "voice_change_pct_m1",
    "data_mb_m1",
    "data_change_pct_m1",
    "competitor_call_share_m1",
    "competitor_share_change_3m",
    "core_contacts_m1",
    "core_contacts_churned_m1",
    "complaints_90d",
    "bill_queries_60d",
    "portability_inquiries_30d",
    "fault_reports_30d",
    "tenure_months",
    "age",
    "days_to_contract_end",
]
MODEL_CATEGORICAL = ["brand", "payment_type"]
# The seed's factors: 高资费 (plan fee band), 品牌 (brand), 异网关联 (competitor-call share band),
# 号码 (number age: tenure band), plus complaints and bill change ("…").
SEED_FACTORS = [
    "plan_fee",
    "brand",
    "competitor_call_share_m1",
    "tenure_months",
    "complaints_90d",
    "bill_change_pct_m1",
]


def _month(offset: int) -> str:
    return f"strftime(date_trunc('month', a.as_of) - INTERVAL {offset} MONTH, '%Y-%m')"


def _pct(new: str, old: str) -> str:
    return f"100.0 * ({new} - {old}) / NULLIF({old}, 0)"


LIVE = "s.join_date <= a.as_of AND NOT (s.status = 'churned' AND s.status_date <= a.as_of)"


def feature_sql(
    anchors: str, only_live: bool = True, keys: str | None = None, per_date: bool = False
) -> str:
    """Features for every (subscriber, as_of) with as_of from relation ``anchors(as_of DATE)``.

    ``keys``: a relation of subscriber_id (the scoring scope) -- or of (subscriber_id, as_of)
    with ``per_date`` (the training sample) -- limiting the rows; history is read for them only.
    """
    live = f"AND {LIVE}" if only_live else ""
    only, narrow = "", ""
    if keys:
        on = " AND k.as_of = a.as_of" if per_date else ""
        only = f"JOIN {keys} k ON k.subscriber_id = s.subscriber_id{on}"
        narrow = f"subscriber_id IN (SELECT subscriber_id FROM {keys})"
    bill = ", ".join(
        f"sum({col}) FILTER (WHERE b.bill_month = {_month(k)}) AS {name}_m{k}"
        for col, name in (
            ("total_fee", "bill_total"),
            ("overage_fee", "overage_fee"),
            ("supplementary_fee", "supplementary_fee"),
            ("voice_minutes", "voice_minutes"),
            ("data_mb", "data_mb"),
            ("plan_fee", "bill_plan_fee"),
        )
        for k in (1, 2, 3)
    )
    circle = ", ".join(
        f"max({col}) FILTER (WHERE c.month = {_month(k)}) AS {col}_m{k}"
        for col in ("competitor_call_share", "core_contacts", "core_contacts_churned")
        for k in (1, 3)
    )

    def events(kind: str, days: int) -> str:
        return (
            f"count(*) FILTER (WHERE e.event_type = '{kind}'"
            f" AND e.event_time >= a.as_of - INTERVAL {days - 1} DAY)"
        )

    return f"""
    WITH a AS (SELECT DISTINCT CAST(as_of AS DATE) AS as_of FROM {anchors}),
    base AS (
        SELECT s.subscriber_id, a.as_of, s.brand, s.payment_type, s.city_id,
               s.plan_fee AS snapshot_plan_fee, s.join_date, s.birth_date, s.contract_end_date,
               s.balance, s.last_active_date, s.handset_5g
        FROM subscribers s CROSS JOIN a {only}
        WHERE TRUE {live}
    ),
    bills_a AS (
        SELECT b.subscriber_id, a.as_of, {bill}
        FROM bills b JOIN a ON b.bill_month BETWEEN {_month(3)} AND {_month(1)}
        {"WHERE b." + narrow if narrow else ""}
        GROUP BY b.subscriber_id, a.as_of
    ),
    circle_a AS (
        SELECT c.subscriber_id, a.as_of, {circle}
        FROM call_circle c JOIN a ON c.month BETWEEN {_month(3)} AND {_month(1)}
        {"WHERE c." + narrow if narrow else ""}
        GROUP BY c.subscriber_id, a.as_of
    ),
    events_a AS (
        SELECT e.subscriber_id, a.as_of,
               {events("complaint", 30)} AS complaints_30d,
               {events("complaint", 90)} AS complaints_90d,
               {events("bill_query", 60)} AS bill_queries_60d,
               {events("portability_inquiry", 30)} AS portability_inquiries_30d,
               {events("fault_report", 7)} AS fault_reports_7d,
               {events("fault_report", 30)} AS fault_reports_30d
        FROM events e JOIN a
          ON e.event_time >= a.as_of - INTERVAL 89 DAY AND e.event_time < a.as_of + INTERVAL 1 DAY
        WHERE e.event_type IN ('complaint', 'bill_query', 'portability_inquiry', 'fault_report')
        {"AND e." + narrow if narrow else ""}
        GROUP BY e.subscriber_id, a.as_of
    )
    SELECT base.subscriber_id, base.as_of, base.brand, base.payment_type, base.city_id,
           COALESCE(b.bill_plan_fee_m1, base.snapshot_plan_fee) AS plan_fee,
           b.bill_total_m1, b.bill_total_m2, b.bill_total_m3,
           (COALESCE(b.bill_total_m1, 0) + COALESCE(b.bill_total_m2, 0)
            + COALESCE(b.bill_total_m3, 0)) / 3.0 AS bill_avg_3m,
           {_pct("b.bill_total_m1", "b.bill_total_m2")} AS bill_change_pct_m1,
           {_pct("b.bill_total_m1", "b.bill_total_m3")} AS bill_trend_3m,
           COALESCE(b.overage_fee_m1, 0) AS overage_fee_m1,
           COALESCE(b.supplementary_fee_m1, 0) AS supplementary_fee_m1,
           b.voice_minutes_m1, b.voice_minutes_m2,
           {_pct("b.voice_minutes_m1", "b.voice_minutes_m2")} AS voice_change_pct_m1,
           b.data_mb_m1, b.data_mb_m2,
           {_pct("b.data_mb_m1", "b.data_mb_m2")} AS data_change_pct_m1,
           c.competitor_call_share_m1, c.competitor_call_share_m3,
           c.competitor_call_share_m1 - c.competitor_call_share_m3 AS competitor_share_change_3m,
           c.core_contacts_m1, COALESCE(c.core_contacts_churned_m1, 0) AS core_contacts_churned_m1,
           COALESCE(e.complaints_30d, 0) AS complaints_30d,
           COALESCE(e.complaints_90d, 0) AS complaints_90d,
           COALESCE(e.bill_queries_60d, 0) AS bill_queries_60d,
           COALESCE(e.portability_inquiries_30d, 0) AS portability_inquiries_30d,
           COALESCE(e.fault_reports_7d, 0) AS fault_reports_7d,
           COALESCE(e.fault_reports_30d, 0) AS fault_reports_30d,
           date_diff('month', base.join_date, base.as_of) AS tenure_months,
           date_diff('year', base.birth_date, base.as_of) AS age,
           date_diff('day', base.as_of, base.contract_end_date) AS days_to_contract_end,
           GREATEST(-COALESCE(base.balance, 0), 0) AS arrears_amount,
           GREATEST(date_diff('day', base.last_active_date, base.as_of), 0) AS days_silent,
           base.handset_5g
    FROM base
    LEFT JOIN bills_a b USING (subscriber_id, as_of)
    LEFT JOIN circle_a c USING (subscriber_id, as_of)
    LEFT JOIN events_a e USING (subscriber_id, as_of)"""


def label_sql(features: str) -> str:
    """Label per feature row: churn or downgrade within (as_of, as_of + 1 month]."""
    return f"""
    SELECT f.subscriber_id, f.as_of,
           (s.status = 'churned' AND s.status_date > f.as_of
                AND s.status_date <= f.as_of + INTERVAL 1 MONTH)
           OR EXISTS (
               SELECT 1 FROM events e
               WHERE e.subscriber_id = f.subscriber_id
                 AND e.event_time >= f.as_of + INTERVAL 1 DAY
                 AND e.event_time < f.as_of + INTERVAL 1 MONTH + INTERVAL 1 DAY
                 AND (e.event_type = 'churn'
                      OR (e.event_type = 'plan_change' AND e.amount < f.plan_fee - 0.5))
           ) AS label
    FROM {features} f JOIN subscribers s USING (subscriber_id)"""


def sample_labels_sql(anchors: str) -> str:
    """Label of every live subscriber with a bill in month m1, per as-of date -- the rows
    training may draw from -- without their features (cheap: one pass over the month-m1
    bills and the outcome month's events), so the sample is drawn before features are built.
    Same definition as ``label_sql``: churn, or a plan change below the m1 plan fee."""
    return f"""
    WITH a AS (SELECT DISTINCT CAST(as_of AS DATE) AS as_of FROM {anchors}),
    m1 AS (
        SELECT b.subscriber_id, a.as_of, sum(b.total_fee) AS bill_total_m1,
               sum(b.plan_fee) AS plan_fee_m1
        FROM bills b JOIN a ON b.bill_month = {_month(1)}
        GROUP BY b.subscriber_id, a.as_of
    ),
    outcome AS (
        SELECT e.subscriber_id, a.as_of,
               bool_or(e.event_type = 'churn') AS churn_event,
               min(e.amount) FILTER (WHERE e.event_type = 'plan_change') AS lowest_new_plan
        FROM events e JOIN a
          ON e.event_time >= a.as_of + INTERVAL 1 DAY
         AND e.event_time < a.as_of + INTERVAL 1 MONTH + INTERVAL 1 DAY
        WHERE e.event_type IN ('churn', 'plan_change')
        GROUP BY e.subscriber_id, a.as_of
    )
    SELECT s.subscriber_id, a.as_of,
           COALESCE(s.status = 'churned' AND s.status_date > a.as_of
                    AND s.status_date <= a.as_of + INTERVAL 1 MONTH, FALSE)
           OR COALESCE(o.churn_event, FALSE)
           OR COALESCE(o.lowest_new_plan < COALESCE(m.plan_fee_m1, s.plan_fee) - 0.5, FALSE)
           AS label
    FROM subscribers s CROSS JOIN a
    JOIN m1 m ON m.subscriber_id = s.subscriber_id AND m.as_of = a.as_of
    LEFT JOIN outcome o ON o.subscriber_id = s.subscriber_id AND o.as_of = a.as_of
    WHERE {LIVE} AND m.bill_total_m1 IS NOT NULL"""


def training_anchors_sql(business_date: str) -> str:
    """First days of months with three closed bill months before them and a full month of
    outcome after them, up to the business date."""
    return f"""
    WITH months AS (SELECT DISTINCT CAST(bill_month || '-01' AS DATE) AS m FROM bills)
    SELECT CAST(m + INTERVAL 1 MONTH AS DATE) AS as_of FROM months
    WHERE m >= (SELECT min(m) FROM months) + INTERVAL 2 MONTH
      AND m + INTERVAL 2 MONTH <= DATE '{business_date}'
    ORDER BY as_of"""
