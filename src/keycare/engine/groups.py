"""Group (key-account) moments: one row per group, the same condition language and detector.

The 29 customer moments read the unified view (one row per subscriber). Group moments
(集团关键时刻, ``group_moments.yaml``) read ``_group_view``: one row per active key account on
the business date, built here from the key-account files of the data contract (groups,
members, revenue by month, products and lines, key persons, contracts, line faults; the
archive files are optional and read as empty when not delivered). Its columns are described
by ``GROUP_FIELDS`` -- the group moments' "catalog" -- so ``parse_definitions`` checks the
definitions against them and ``keycare.engine.detect`` compiles and unpivots them unchanged,
with per-city thresholds and cycles, on DuckDB and Spark alike.

Windows are fixed in the view (30 days, the last closed bill months); what a moment counts as
recent, large or near is a threshold in the definitions.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass
from pathlib import Path

from keycare.engine import detect as det
from keycare.engine.conditions import DefinitionError
from keycare.engine.definitions import DefinitionSet, parse_definitions
from keycare.engine.view import FieldInfo, sql_date, sql_string
from keycare.yamlio import safe_load

DEFAULT_PATH = Path(__file__).with_name("group_moments.yaml")
GROUP_VIEW = "_group_view"
GROUP_HITS = "_group_moment_hits"
GROUP_DETECTIONS = "group_detections"
GROUP_DETECTIONS_ORDER = "key_account_id, moment_code"
KEY = "key_account_id"
WINDOW_DAYS = 30
LINE_TYPES = ("data_line", "internet_line")


def _f(code: str, type_: str, zh: str, unit: str | None = None) -> FieldInfo:
    return FieldInfo(code, type_, "derived", "group_view", zh=zh, unit=unit)


#: The columns of ``_group_view`` (what group moments may read and show).
GROUP_FIELDS: list[FieldInfo] = [
    _f("key_account_id", "string", "集团编码"),
    _f("city_id", "string", "归属地市"),
    _f("manager_id", "string", "客户经理"),
    _f("status", "string", "集团状态"),
    _f("tier", "string", "集团层级"),
    _f("industry", "string", "行业"),
    _f("strategic", "bool", "战略客户"),
    _f("revenue_m1", "float", "上月集团收入", "元"),
    _f("revenue_prev_avg", "float", "此前3月月均收入", "元"),
    _f("info_revenue_m1", "float", "上月信息化收入", "元"),
    _f("members_active", "int", "在网成员数"),
    _f("members_left_30d", "int", "近30天离网成员数"),
    _f("member_left_pct_30d", "float", "近30天成员流失率", "%"),
    _f("key_persons_churned_30d", "int", "近30天离网关键人数"),
    _f("days_since_key_person_churn", "int", "距关键人离网天数", "天"),
    _f("key_person_number_changes_30d", "int", "近30天关键人换号数"),
    _f("days_since_key_person_number_change", "int", "距关键人换号天数", "天"),
    _f("key_person_competitor_share", "float", "关键人上月最高异网通话占比", "%"),
    _f("key_person_competitor_rise_pp", "float", "关键人异网通话占比最大升幅", "个百分点"),
    _f("contracts_active", "int", "有效合同数"),
    _f("days_to_contract_end", "int", "最近合同到期天数", "天"),
    _f("line_faults_30d", "int", "单条专线近30天最多故障数"),
    _f("faulty_lines_30d", "int", "近30天有故障的专线数"),
    _f("info_products_cancelled_30d", "int", "近30天退订信息化产品数"),
    _f("days_since_info_cancel", "int", "距信息化产品退订天数", "天"),
]


def load_group_definitions(path=None, city_overrides: dict | None = None) -> DefinitionSet:
    """Read and validate the group moments (default: the built-in ``group_moments.yaml``)."""
    path = Path(path) if path is not None else DEFAULT_PATH
    try:
        document = safe_load(path.read_text(encoding="utf-8")) or {}
    except OSError as exc:
        raise DefinitionError(f"group moments {path}: cannot read ({exc.strerror})") from None
    return parse_group_definitions(document, city_overrides)


def parse_group_definitions(document, city_overrides: dict | None = None) -> DefinitionSet:
    return parse_definitions(document, city_overrides, fields=GROUP_FIELDS)


# --------------------------------------------------------------------------- the view


def _months_back(day: dt.date, n: int) -> str:
    """'YYYY-MM' of the bill month ``n`` months before ``day``'s month (1 = last closed)."""
    index = day.year * 12 + day.month - 1 - n
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def group_view_sql(business_date: dt.date) -> str:
    """One row per active key account: the facts the group moments read (canonical SQL)."""
    d = sql_date(business_date)
    since = sql_date(business_date - dt.timedelta(days=WINDOW_DAYS - 1))
    m1, m2, m3, m4 = (sql_string(_months_back(business_date, n)) for n in (1, 2, 3, 4))
    lines = ", ".join(sql_string(t) for t in LINE_TYPES)
    return f"""
WITH revenue AS (
  SELECT key_account_id,
    SUM(CASE WHEN month = {m1} THEN total_revenue END) AS revenue_m1,
    SUM(CASE WHEN month IN ({m2}, {m3}, {m4}) THEN total_revenue END)
      / NULLIF(COUNT(CASE WHEN month IN ({m2}, {m3}, {m4}) THEN 1 END), 0) AS revenue_prev_avg,
    SUM(CASE WHEN month = {m1} THEN info_revenue END) AS info_revenue_m1
  FROM key_account_revenue GROUP BY key_account_id
),
member_status AS (
  SELECT m.key_account_id, m.subscriber_id, m.role, s.status, s.status_date
  FROM key_account_members m JOIN subscribers s ON s.subscriber_id = m.subscriber_id
),
members AS (
  SELECT key_account_id,
    COUNT(CASE WHEN status <> 'churned' THEN 1 END) AS members_active,
    COUNT(CASE WHEN status = 'churned' AND status_date BETWEEN {since} AND {d} THEN 1 END)
      AS members_left_30d,
    COUNT(CASE WHEN role = 'key_person' AND status = 'churned'
               AND status_date BETWEEN {since} AND {d} THEN 1 END) AS key_persons_churned_30d,
    MAX(CASE WHEN role = 'key_person' AND status = 'churned' AND status_date <= {d}
             THEN status_date END) AS last_key_person_churn
  FROM member_status GROUP BY key_account_id
),
key_share AS (
  SELECT ms.key_account_id,
    MAX(CASE WHEN c.month = {m1} THEN c.competitor_call_share END) AS share_m1,
    MAX(CASE WHEN c.month = {m2} THEN c.competitor_call_share END) AS share_m2
  FROM member_status ms JOIN call_circle c ON c.subscriber_id = ms.subscriber_id
  WHERE ms.role = 'key_person' AND ms.status <> 'churned' AND c.month IN ({m1}, {m2})
  GROUP BY ms.key_account_id, ms.subscriber_id
),
key_shares AS (
  SELECT key_account_id, MAX(share_m1) AS share_m1, MAX(share_m1 - share_m2) AS share_rise
  FROM key_share GROUP BY key_account_id
),
persons AS (
  SELECT key_account_id,
    COUNT(CASE WHEN mobile_changed_date BETWEEN {since} AND {d} THEN 1 END) AS number_changes,
    MAX(CASE WHEN mobile_changed_date <= {d} THEN mobile_changed_date END) AS last_number_change
  FROM key_persons GROUP BY key_account_id
),
contracts AS (
  SELECT key_account_id, COUNT(*) AS contracts_active, MIN(end_date) AS next_end
  FROM key_account_contracts WHERE status = 'active' AND end_date >= {d}
  GROUP BY key_account_id
),
line_faults AS (
  SELECT f.key_account_id, f.product_id, COUNT(*) AS faults
  FROM key_account_faults f JOIN key_account_products p ON p.product_id = f.product_id
  WHERE p.product_type IN ({lines}) AND f.fault_date BETWEEN {since} AND {d}
  GROUP BY f.key_account_id, f.product_id
),
faults AS (
  SELECT key_account_id, MAX(faults) AS line_faults_30d, COUNT(*) AS faulty_lines_30d
  FROM line_faults GROUP BY key_account_id
),
cancels AS (
  SELECT key_account_id,
    COUNT(CASE WHEN end_date BETWEEN {since} AND {d} THEN 1 END) AS cancelled_30d,
    MAX(end_date) AS last_cancel
  FROM key_account_products
  WHERE informatization AND status = 'cancelled' AND end_date <= {d}
  GROUP BY key_account_id
)
SELECT g.key_account_id, g.city_id, g.manager_id, g.status, g.tier, g.industry,
  COALESCE(g.strategic, FALSE) AS strategic,
  r.revenue_m1, r.revenue_prev_avg, r.info_revenue_m1,
  COALESCE(m.members_active, 0) AS members_active,
  COALESCE(m.members_left_30d, 0) AS members_left_30d,
  CAST(ROUND(100.0 * COALESCE(m.members_left_30d, 0)
    / NULLIF(COALESCE(m.members_active, 0) + COALESCE(m.members_left_30d, 0), 0), 2) AS DOUBLE)
    AS member_left_pct_30d,
  COALESCE(m.key_persons_churned_30d, 0) AS key_persons_churned_30d,
  date_diff('day', m.last_key_person_churn, {d}) AS days_since_key_person_churn,
  COALESCE(p.number_changes, 0) AS key_person_number_changes_30d,
  date_diff('day', p.last_number_change, {d}) AS days_since_key_person_number_change,
  CAST(ROUND(100.0 * ks.share_m1, 2) AS DOUBLE) AS key_person_competitor_share,
  CAST(ROUND(100.0 * ks.share_rise, 2) AS DOUBLE) AS key_person_competitor_rise_pp,
  COALESCE(c.contracts_active, 0) AS contracts_active,
  date_diff('day', {d}, c.next_end) AS days_to_contract_end,
  COALESCE(f.line_faults_30d, 0) AS line_faults_30d,
  COALESCE(f.faulty_lines_30d, 0) AS faulty_lines_30d,
  COALESCE(x.cancelled_30d, 0) AS info_products_cancelled_30d,
  date_diff('day', x.last_cancel, {d}) AS days_since_info_cancel
FROM key_accounts g
LEFT JOIN revenue r ON r.key_account_id = g.key_account_id
LEFT JOIN members m ON m.key_account_id = g.key_account_id
LEFT JOIN key_shares ks ON ks.key_account_id = g.key_account_id
LEFT JOIN persons p ON p.key_account_id = g.key_account_id
LEFT JOIN contracts c ON c.key_account_id = g.key_account_id
LEFT JOIN faults f ON f.key_account_id = g.key_account_id
LEFT JOIN cancels x ON x.key_account_id = g.key_account_id
WHERE g.status = 'active'
"""


# --------------------------------------------------------------------------- detection


@dataclass
class GroupDetectResult:
    business_date: dt.date
    definitions_version: str
    moments: list[str]
    counts: dict[str, int]
    groups: int
    timings: dict[str, float]

    @property
    def detections(self) -> int:
        return sum(self.counts.values())


def _keyed(sql: str) -> str:
    """The subscriber detector's SQL, keyed by group instead of subscriber."""
    return sql.replace("subscriber_id", KEY)


def group_detections_sql(plan: det.DetectionPlan) -> str:
    """One row per group and moment, with the group's manager (whom the task goes to)."""
    body = _keyed(det.detections_sql(plan)).replace(det.HITS, GROUP_HITS)
    body = body.rsplit("\nORDER BY", 1)[0]
    return f"SELECT d.*, v.manager_id FROM ({body}) d LEFT JOIN {GROUP_VIEW} v ON v.{KEY} = d.{KEY}"


def detect_groups(
    backend,
    business_date: dt.date,
    defs: DefinitionSet | None = None,
    moments: list[str] | None = None,
    *,
    weekly_weekday: int = 0,
    monthly_day: int = 3,
) -> GroupDetectResult:
    """Evaluate the due (or given) group moments; register ``group_detections``.

    Reads the relations ingest registered (key_accounts, key_account_members, subscribers,
    call_circle and the optional archive files).
    """
    started = time.perf_counter()
    defs = defs if defs is not None else load_group_definitions()
    plan = det.plan_detection(
        defs, business_date, moments, weekly_weekday=weekly_weekday, monthly_day=monthly_day
    )
    backend.materialize(GROUP_VIEW, group_view_sql(business_date))
    timings = {"view": time.perf_counter() - started}
    step = time.perf_counter()
    if plan.all:
        backend.materialize(GROUP_HITS, _keyed(det.hits_sql(plan, GROUP_VIEW)))
    backend.materialize(GROUP_DETECTIONS, group_detections_sql(plan))
    timings["evaluate"] = time.perf_counter() - step
    rows = backend.to_arrow(
        f"SELECT moment_code, COUNT(*) AS n FROM {GROUP_DETECTIONS} GROUP BY moment_code"
    ).to_pylist()
    counts = {cm.moment.code: 0 for cm in plan.all}
    counts.update({r["moment_code"]: r["n"] for r in rows})
    groups = backend.scalar(f"SELECT COUNT(*) FROM {GROUP_VIEW}") or 0
    timings["total"] = time.perf_counter() - started
    return GroupDetectResult(
        business_date,
        defs.version,
        [cm.moment.code for cm in plan.all],
        dict(sorted(counts.items())),
        int(groups),
        timings,
    )
