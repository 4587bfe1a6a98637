"""Capacity-aware allocation of detected moments to account managers (DESIGN §4 step 5).

Input: one row per candidate (a detection of one moment for one subscriber), optionally
previously deferred candidates carried over, and the managers with their daily capacity.
Output: exactly one decision per candidate row -- call, sms, deferred, capped, suppressed or
control -- with a Chinese reason, and one task per customer (all of the customer's remaining
moments merged, highest priority first).

Decision order (first match wins), so that the control group is drawn from customers who
could actually have been served:
  0. expired     a carried-over row first detected ``carry_over_days`` or more days ago: it
                 waited too long to be served (recorded, then dropped from the carry-over)
  1. suppressed  any of the customer's rows is flagged do-not-disturb / suspended
  2. capped      the customer had a proactive contact in the last ``contact_cap_days`` days
                 (the cool-down), unless one of their rows is an urgent moment (``urgent``,
                 set from the moment definitions): then the whole task goes ahead -- the
                 customer is contacted anyway, and the other moments ride along in that
                 one contact instead of waiting for a second one
  3. control     random hold-out, per moment type, from md5(seed:subscriber_id); see
                 "Control group" below
  4. the remaining moments form one task, ranked per manager by priority score:
       call      rank <= manager's daily capacity
       sms       every moment of the task is an SMS moment, or it overflowed / has no
                 usable manager and every moment allows SMS
       deferred  otherwise; its age (cycles deferred) is counted and raises its priority later

Deferred and capped rows are carried over to the next run (keycare.engine.history) with the
date they were first detected (``first_date``), until they are served or expire.

Priority score (0-100):
    score = 100 * (w_risk * risk + w_value * min(value, value_cap) / value_cap
                   + w_moment * min(priority, priority_max) / priority_max
                   + w_age * min(age, age_cap) / age_cap) / (w_risk + w_value + w_moment + w_age)
with risk in [0, 1] (missing -> 0), value = monthly spend (RMB), priority = the highest moment
priority of the task, age = cycles the task has already been deferred.

Control group. A customer is held out when their draw is below the moment's share. The
draw is ``control_draw(seed, subscriber_id)``, uniform in [0, 1) and deterministic:
  * ``control_rotation_days = 0``: seed = ``control_seed``; the same customers stay held out
    for as long as the seed and shares are unchanged.
  * ``control_rotation_days = N``: seed = ``control_seed:p<k>`` with period
    k = (business_date - 2024-01-01) // N days (2024-01-01 is a Monday, so 7-day periods run
    Monday to Sunday). Within a period the group is fixed (a customer held out on Monday is
    held out all week); the next period draws a new group, so no customer is left unserved
    for long and the effect estimate is not tied to one set of customers.
  * ``control_persistent_share = p > 0``: a persistent hold-out on top, drawn once with seed
    ``control_seed:persistent`` (no period): customers whose persistent draw is below p are
    held out for every moment in every period, giving a long-run comparison group for
    measuring effects over months (churn at 90 days) that a rotating group cannot give.
Changing ``control_seed`` redraws both groups.

Filling each manager's capacity by descending score is optimal for "total score served by
calls": managers are independent and each takes at most ``capacity`` tasks, so the best
subset is the ``capacity`` highest scores (exchange argument; tests check it by brute force).

The main implementation is DuckDB SQL (window functions); ``allocate_reference`` is a
pure-Python implementation of the same rules used by the tests.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta

import pyarrow as pa

from keycare.errors import UserError

# Seed slide 8: ~1,250 phone managers can serve ~5.6M mid/high-end customers, i.e. ~4,480
# customers each; one proactive contact per customer per month over ~22 working days gives
# ~204 tasks per manager per working day. Used only when a manager has no capacity set.
SEED_CUSTOMERS_PER_MANAGER = 5_600_000 // 1_250
WORKING_DAYS_PER_MONTH = 22
DEFAULT_DAILY_CAPACITY = round(SEED_CUSTOMERS_PER_MANAGER / WORKING_DAYS_PER_MONTH)

DECISIONS = ("call", "sms", "deferred", "capped", "suppressed", "control", "expired")
# Decisions whose candidates come back the next day (until served or expired).
CARRIED_DECISIONS = ("deferred", "capped")

REASONS = {
    "suppressed": "免服务时刻（免打扰或停机），不主动服务",
    "capped": "频次控制：近期已主动接触过该客户",
    "control": "随机对照组，暂不服务，用于评估服务效果",
    "call": "按优先级排入客户经理当日外呼容量",
    "sms_channel": "时刻默认短信渠道",
    "sms_overflow": "客户经理当日容量已满，转短信",
    "sms_no_manager": "无可用客户经理，转短信",
    "deferred_overflow": "客户经理当日容量已满且时刻不允许短信，顺延至下一周期",
    "deferred_no_manager": "无可用客户经理且时刻不允许短信，顺延至下一周期",
    "expired": "顺延或频控等待超过期限仍未服务，已过期",
}

CANDIDATE_COLUMNS = {
    "subscriber_id": pa.string(),
    "moment_code": pa.string(),
    "priority": pa.float64(),
    "channel": pa.string(),
    "sms_allowed": pa.bool_(),
    "city_id": pa.string(),
    "manager_id": pa.string(),
    "risk": pa.float64(),
    "value": pa.float64(),
    "last_contact_date": pa.date32(),
    "suppressed": pa.bool_(),
}
OPTIONAL_CANDIDATE_COLUMNS = {"age": pa.int64(), "urgent": pa.bool_(), "first_date": pa.date32()}
MANAGER_COLUMNS = {"manager_id": pa.string(), "daily_capacity": pa.int64(), "active": pa.bool_()}


@dataclass(frozen=True)
class AllocationConfig:
    contact_cap_days: int = 7  # at most one proactive contact per customer per N days (0: off)
    control_share: float = 0.05  # default hold-out share per moment type
    control_share_by_moment: dict[str, float] = field(default_factory=dict)
    control_seed: str = "keycare"
    control_rotation_days: int = 0  # 0: the group never rotates; N: a new group every N days
    control_persistent_share: float = 0.0  # customers held out in every period (0: none)
    w_risk: float = 0.5
    w_value: float = 0.3
    w_moment: float = 0.2
    w_age: float = 0.1
    value_cap: float = 500.0  # RMB/month at which value counts fully
    priority_max: float = 100.0  # moment priorities are on a 0-100 scale
    age_cap: int = 5  # deferral cycles at which the age bonus is full
    default_capacity: int = DEFAULT_DAILY_CAPACITY
    # A carried-over candidate first detected this many days ago or more expires.
    carry_over_days: int = 7
    # The version of the administrators' allocation settings this came from (run.json).
    settings_version: int | None = None

    def __post_init__(self):
        weights = (self.w_risk, self.w_value, self.w_moment, self.w_age)
        if min(weights) < 0 or sum(weights) <= 0:
            raise UserError("allocation config: weights must be >= 0 with a positive sum")
        shares = [
            self.control_share,
            self.control_persistent_share,
            *self.control_share_by_moment.values(),
        ]
        if any(not 0 <= s < 1 for s in shares):
            raise UserError("allocation config: control shares must be in [0, 1)")
        if self.contact_cap_days < 0 or self.value_cap <= 0 or self.priority_max <= 0:
            raise UserError(
                "allocation config: contact_cap_days >= 0, value_cap and priority_max > 0"
            )
        if self.age_cap <= 0 or self.default_capacity < 0:
            raise UserError("allocation config: age_cap > 0 and default_capacity >= 0")
        if self.carry_over_days < 1:
            raise UserError("allocation config: carry_over_days >= 1")
        if self.control_rotation_days < 0:
            raise UserError("allocation config: control_rotation_days >= 0")

    def share_for(self, moment_code: str) -> float:
        return self.control_share_by_moment.get(moment_code, self.control_share)

    def contact_cutoff(self, business_date: date) -> date:
        """A contact after this date caps the customer (rule 2); the SQL uses the same date."""
        return business_date - timedelta(days=self.contact_cap_days)

    def is_capped(self, contacts, business_date: date) -> bool:
        """Rule 2 for one customer: a proactive contact (dates) within the cap window.
        Also applied when an SMS is sent (``keycare.messaging.rules``)."""
        contacts = [c for c in contacts if c]
        cutoff = self.contact_cutoff(business_date)
        return self.contact_cap_days > 0 and bool(contacts) and max(contacts) > cutoff


@dataclass
class AllocationResult:
    decisions: pa.Table | None  # one row per candidate row
    tasks: pa.Table | None  # one row per customer with a task (call, sms or deferred)
    counts: dict[str, int]  # decision -> number of candidate rows


# --- shared pieces of the rules --------------------------------------------------------------


def control_draw(seed: str, subscriber_id: str) -> float:
    """Uniform [0, 1) draw per customer: the first 13 hex digits (52 bits) of md5("seed:id").

    Portable (any engine with md5 computes it; the SQL uses the same expression) and stable
    across runs and row order. One draw per customer, not per moment, so that with equal
    shares a held-out customer is held out for all of their moments and the control group
    stays uncontaminated by other moments' calls.
    """
    digest = hashlib.md5(f"{seed}:{subscriber_id}".encode(), usedforsecurity=False).hexdigest()
    return int(digest[:13], 16) / 4503599627370496.0


ROTATION_EPOCH = date(2024, 1, 1)  # a Monday: 7-day control periods run Monday to Sunday


def control_period(config: AllocationConfig, business_date: date) -> dict | None:
    """The rotating control group's period for ``business_date`` (None: no rotation)."""
    n = config.control_rotation_days
    if not n:
        return None
    index = (business_date - ROTATION_EPOCH).days // n
    start = ROTATION_EPOCH + timedelta(days=index * n)
    return {"index": index, "start": start, "end": start + timedelta(days=n - 1)}


def control_seeds(config: AllocationConfig, business_date: date) -> tuple[str, str | None]:
    """(rotating seed for the day, persistent seed or None)."""
    period = control_period(config, business_date)
    seed = config.control_seed if period is None else f"{config.control_seed}:p{period['index']}"
    persistent = f"{config.control_seed}:persistent" if config.control_persistent_share else None
    return seed, persistent


def effective_draw(config: AllocationConfig, business_date: date, subscriber_id: str) -> float:
    """The customer's control draw for the day: -1 (always held out) in the persistent
    hold-out, else the rotating draw; compared with the moment's share."""
    seed, persistent = control_seeds(config, business_date)
    if persistent and control_draw(persistent, subscriber_id) < config.control_persistent_share:
        return -1.0
    return control_draw(seed, subscriber_id)


def priority_score(config: AllocationConfig, risk, value, priority, age) -> float:
    """The documented score; the SQL in ``_score_sql`` computes the same expression."""
    total = config.w_risk + config.w_value + config.w_moment + config.w_age
    risk = 0.0 if risk is None else min(max(float(risk), 0.0), 1.0)
    value_norm = min(max(float(value or 0.0), 0.0), config.value_cap) / config.value_cap
    prio_norm = min(max(float(priority or 0.0), 0.0), config.priority_max) / config.priority_max
    age_norm = min(int(age or 0), config.age_cap) / config.age_cap
    weighted = (
        config.w_risk * risk
        + config.w_value * value_norm
        + config.w_moment * prio_norm
        + config.w_age * age_norm
    )
    return weighted * (100.0 / total)


def _double(x: float) -> str:
    """A DOUBLE literal. A bare ``0.1`` is a DECIMAL in DuckDB and Spark alike, and the two
    engines mix DECIMAL and DOUBLE arithmetic differently (DuckDB divides decimals in
    DOUBLE, Spark in DECIMAL): spelling the weights as doubles keeps the score the same
    IEEE computation everywhere, so ranks and ties agree across engines."""
    return f"CAST('{float(x)!r}' AS DOUBLE)"


def _score_sql(config: AllocationConfig) -> str:
    total = config.w_risk + config.w_value + config.w_moment + config.w_age
    d = _double
    zero, one = d(0.0), d(1.0)
    return (
        f"({d(config.w_risk)} * LEAST(GREATEST(COALESCE(risk, {zero}), {zero}), {one})"
        f" + {d(config.w_value)} * (LEAST(GREATEST(COALESCE(value, {zero}), {zero}),"
        f" {d(config.value_cap)}) / {d(config.value_cap)})"
        f" + {d(config.w_moment)} * (LEAST(GREATEST(COALESCE(priority, {zero}), {zero}),"
        f" {d(config.priority_max)}) / {d(config.priority_max)})"
        f" + {d(config.w_age)} * (CAST(LEAST(age, {int(config.age_cap)}) AS DOUBLE)"
        f" / {d(config.age_cap)}))"
        f" * {d(100.0 / total)}"
    )


def _sql_str(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _share_sql(config: AllocationConfig) -> str:
    if not config.control_share_by_moment:
        return _double(config.control_share)
    whens = " ".join(
        f"WHEN {_sql_str(code)} THEN {_double(share)}"
        for code, share in sorted(config.control_share_by_moment.items())
    )
    return f"CASE moment_code {whens} ELSE {_double(config.control_share)} END"


# --- input normalisation ---------------------------------------------------------------------

_SQL_TYPES = {
    pa.string(): "VARCHAR",
    pa.float64(): "DOUBLE",
    pa.bool_(): "BOOLEAN",
    pa.date32(): "DATE",
    pa.int64(): "BIGINT",
}


def _input_relation(backend, obj, internal: str, what: str) -> list[str]:
    """Expose ``obj`` (Arrow table or relation name) as relation ``internal``; its columns."""
    if isinstance(obj, pa.Table):
        backend.register_arrow(internal, obj)
        return obj.column_names
    if isinstance(obj, str):
        return backend.to_arrow(f'SELECT * FROM "{obj}" LIMIT 0').column_names
    raise UserError(f"allocation {what}: expected an Arrow table or a relation name")


def _conformed_select(source: str, present: list[str], columns: dict, optional: dict, what: str):
    missing = [name for name in columns if name not in present]
    if missing:
        raise UserError(f"allocation {what}: missing column(s) {', '.join(missing)}")
    casts = [
        f'CAST("{name}" AS {_SQL_TYPES[typ]}) AS "{name}"'
        for name, typ in {**columns, **optional}.items()
        if name in present
    ]
    return f'SELECT {", ".join(casts)} FROM "{source}"'


# --- the SQL implementation ------------------------------------------------------------------


MAX_MOMENT_CODES = 63  # moment sets are BIGINT bitmasks: one bit per distinct moment code


def _moment_order(backend) -> list[str]:
    """Distinct moment codes, highest (max) priority first, then code: the order of a task's
    moment list. A task's moments are a bitmask over this order (bit_or dedupes and is cheap)."""
    rows = backend.to_arrow(
        "SELECT moment_code FROM _alloc_all GROUP BY moment_code"
        " ORDER BY max(COALESCE(priority, 0.0)) DESC, moment_code"
    ).column(0)
    codes = [c for c in rows.to_pylist() if c is not None]
    if len(codes) < len(rows):
        raise UserError("allocation candidates: moment_code must not be empty")
    if len(codes) > MAX_MOMENT_CODES:
        raise UserError(
            f"allocation candidates: {len(codes)} distinct moment codes, at most {MAX_MOMENT_CODES}"
        )
    return codes


def _draw_sql(seed: str) -> str:
    """``control_draw`` in SQL: 13 hex digits = 52 bits, exact in a DOUBLE, divided as DOUBLE
    on every engine."""
    return (
        f"CAST(CAST('0x' || md5({_sql_str(seed + ':')} || subscriber_id)[1:13]"
        " AS BIGINT) AS DOUBLE) / CAST('4503599627370496.0' AS DOUBLE)"
    )


def _allocation_sql(
    config: AllocationConfig, business_date: date, codes: list[str]
) -> list[tuple[str, str]]:
    """(relation, SQL) steps; relations prefixed ``_alloc_`` are internal."""
    cap = int(config.contact_cap_days)
    # The cut-off is a date computed here: DATE - INTERVAL is a TIMESTAMP in DuckDB, a DATE
    # in Spark.
    cutoff = config.contact_cutoff(business_date)
    capped = f"last_contact > DATE '{cutoff.isoformat()}' AND NOT any_urgent" if cap else "FALSE"
    seed, persistent = control_seeds(config, business_date)
    draw = _draw_sql(seed)
    if persistent:
        draw = (
            f"CASE WHEN {_draw_sql(persistent)} < {_double(config.control_persistent_share)}"
            f" THEN {_double(-1.0)} ELSE {draw} END"
        )
    share = _share_sql(config)
    bit = (
        "CASE moment_code "
        + " ".join(f"WHEN {_sql_str(code)} THEN {1 << i}" for i, code in enumerate(codes))
        + " END"
    )
    # With per-moment shares a customer can be control for some moments only: those rows are
    # left out of the task (needs the draw per row; without overrides it is per customer).
    live = f" FILTER (WHERE {draw} >= {share})" if config.control_share_by_moment else ""
    customers = f"""
        SELECT subscriber_id,
               bool_or(COALESCE(suppressed, FALSE)) AS any_suppressed,
               bool_or(COALESCE(urgent, FALSE)) AS any_urgent,
               max(last_contact_date) AS last_contact,
               {draw} AS draw,
               count(*) AS total_rows, count(*){live} AS live_rows,
               bit_or({bit}){live} AS moment_mask,
               max(COALESCE(priority, 0.0)){live} AS priority,
               max(risk){live} AS risk, max(value){live} AS value, max(age){live} AS age,
               max(manager_id){live} AS manager_id, max(city_id){live} AS city_id,
               bool_and(COALESCE(sms_allowed, FALSE)){live} AS sms_allowed,
               bool_and(COALESCE(channel, 'call') = 'sms'){live} AS sms_channel
        FROM _alloc_candidates GROUP BY subscriber_id"""
    flags = f"""
        SELECT *, CASE WHEN any_suppressed THEN 'suppressed' WHEN {capped} THEN 'capped'
                       WHEN live_rows = 0 OR live_rows IS NULL THEN 'control' END AS pre_decision
        FROM _alloc_customers"""
    if not config.control_share_by_moment:
        flags = flags.replace("WHEN live_rows = 0 OR live_rows IS NULL", f"WHEN draw < {share}")
    codes_literal = "[" + ", ".join(_sql_str(c) for c in codes) + "]"
    masks = f"""
        SELECT moment_mask,
               array_to_string(list_transform(
                   list_filter(range({len(codes)}), lambda i: (moment_mask >> i) & 1 = 1),
                   lambda i: {codes_literal}[i + 1]), ',') AS moments,
               CAST(bit_count(moment_mask) AS BIGINT) AS moment_count
        FROM (SELECT DISTINCT moment_mask FROM _alloc_flags WHERE pre_decision IS NULL)"""
    scored = f"""
        SELECT f.*, {_score_sql(config)} AS priority_score,
               m.manager_id IS NOT NULL AS has_manager,
               COALESCE(m.daily_capacity, {int(config.default_capacity)}) AS capacity
        FROM _alloc_flags f
        LEFT JOIN (SELECT * FROM _alloc_managers WHERE active) m USING (manager_id)
        WHERE f.pre_decision IS NULL"""
    # Rank only the tasks that compete for a manager's calls; narrow rows keep the sort cheap.
    ranked = """
        SELECT subscriber_id, CAST(ROW_NUMBER() OVER (
                   PARTITION BY manager_id ORDER BY priority_score DESC, subscriber_id
               ) AS BIGINT) AS manager_rank
        FROM _alloc_scored WHERE has_manager AND NOT sms_channel"""
    # One row per customer: the pre-decision, or the task's decision (reasons as short codes;
    # the Chinese text is added by the public views, keeping the big tables narrow).
    outcomes = """
        SELECT f.subscriber_id, f.draw, f.pre_decision, f.total_rows, f.live_rows,
               COALESCE(f.pre_decision, t.decision) AS decision,
               COALESCE(f.pre_decision, t.reason_code) AS reason_code,
               t.manager_id, t.city_id, t.moments, t.moment_count, t.priority, t.risk, t.value,
               t.priority_score, t.manager_rank, t.capacity, t.age
        FROM _alloc_flags f
        LEFT JOIN (
            SELECT s.subscriber_id, s.manager_id, s.city_id, k.moments, k.moment_count,
                   s.priority, s.risk, s.value, s.priority_score, r.manager_rank, s.capacity,
                   CASE WHEN s.sms_channel THEN 'sms'
                        WHEN r.manager_rank <= s.capacity THEN 'call'
                        WHEN s.sms_allowed THEN 'sms'
                        ELSE 'deferred' END AS decision,
                   CASE WHEN s.sms_channel THEN 'sms_channel'
                        WHEN r.manager_rank <= s.capacity THEN 'call'
                        WHEN s.sms_allowed AND s.has_manager THEN 'sms_overflow'
                        WHEN s.sms_allowed THEN 'sms_no_manager'
                        WHEN s.has_manager THEN 'deferred_overflow'
                        ELSE 'deferred_no_manager' END AS reason_code,
                   CASE WHEN NOT s.sms_channel AND NOT COALESCE(r.manager_rank <= s.capacity, FALSE)
                             AND NOT s.sms_allowed THEN s.age + 1 ELSE s.age END AS age
            FROM _alloc_scored s
            JOIN _alloc_masks k USING (moment_mask)
            LEFT JOIN _alloc_ranked r USING (subscriber_id)
        ) t USING (subscriber_id)"""
    if config.control_share_by_moment:
        # A customer with a task can still be in the control group for some moments.
        row_control = (
            f"o.pre_decision IS NULL AND o.draw < {share.replace('moment_code', 'c.moment_code')}"
        )
        decision = f"CASE WHEN {row_control} THEN 'control' ELSE o.decision END"
        reason = f"CASE WHEN {row_control} THEN 'control' ELSE o.reason_code END"

        def task_only(col):
            return f"CASE WHEN {row_control} THEN NULL ELSE o.{col} END"

        age = f"CASE WHEN {row_control} THEN c.age ELSE COALESCE(o.age, c.age) END"
    else:
        decision, reason = "o.decision", "o.reason_code"

        def task_only(col):
            return f"o.{col}"

        age = "COALESCE(o.age, c.age)"
    decisions = f"""
        SELECT c.subscriber_id, c.moment_code, c.source, {decision} AS decision,
               {reason} AS reason_code, c.manager_id,
               {task_only("priority_score")} AS priority_score,
               {task_only("manager_rank")} AS manager_rank,
               {task_only("capacity")} AS capacity, {age} AS age, c.first_date
        FROM _alloc_candidates c JOIN _alloc_outcomes o USING (subscriber_id)
        UNION ALL
        SELECT subscriber_id, moment_code, source, 'expired', 'expired', manager_id,
               CAST(NULL AS DOUBLE), CAST(NULL AS BIGINT), CAST(NULL AS BIGINT), age, first_date
        FROM _alloc_all WHERE expired"""
    # (relation, SQL, materialise?): cheap row-wise steps and the final per-candidate join
    # stay views, so the 10M-row result is computed once, by whoever reads or writes it.
    return [
        ("_alloc_customers", customers, True),
        ("_alloc_flags", flags, False),
        ("_alloc_masks", masks, True),
        ("_alloc_scored", scored, True),
        ("_alloc_ranked", ranked, True),
        ("_alloc_outcomes", outcomes, True),
        ("_alloc_decisions", decisions, False),
    ]


def _reason_text_sql() -> str:
    whens = " ".join(f"WHEN {_sql_str(k)} THEN {_sql_str(v)}" for k, v in REASONS.items())
    return f"CASE reason_code {whens} END"


DECISION_VIEW = f"""
    SELECT subscriber_id, moment_code, source, decision, {_reason_text_sql()} AS reason,
           reason_code, manager_id, priority_score, manager_rank, capacity, age, first_date
    FROM _alloc_decisions"""
TASK_VIEW = f"""
    SELECT subscriber_id, manager_id, city_id, moments, moment_count, priority, risk, value,
           priority_score, manager_rank, capacity, age, decision,
           {_reason_text_sql()} AS reason, reason_code
    FROM _alloc_outcomes WHERE decision IN ('call', 'sms', 'deferred')"""


def allocate(
    candidates,
    managers,
    config: AllocationConfig | None = None,
    *,
    business_date: date,
    carry_over=None,
    backend=None,
    fetch: bool = True,
) -> AllocationResult:
    """Allocate candidates to managers.

    ``candidates``, ``managers`` and ``carry_over`` are Arrow tables, or relation names on
    ``backend`` (a keycare.engine.backends Backend). ``carry_over`` holds previously deferred
    candidate rows with their ``age``. Results are registered on the backend as
    ``allocation_decisions`` (one row per candidate row) and ``allocation_tasks`` (one row per
    customer with a task); with ``fetch`` they are also returned as Arrow tables.
    """
    config = config or AllocationConfig()
    own_backend = backend is None
    if own_backend:
        from keycare.engine.backends.duckdb import DuckDBBackend

        backend = DuckDBBackend()
    try:
        _register_inputs(backend, candidates, managers, carry_over, config, business_date)
        codes = _moment_order(backend)
        for name, sql, materialise in _allocation_sql(config, business_date, codes):
            (backend.materialize if materialise else backend.create_view)(name, sql)
        backend.create_view("allocation_decisions", DECISION_VIEW)
        backend.create_view("allocation_tasks", TASK_VIEW)
        # Per-candidate counts from the per-customer table (no pass over the candidates):
        # rows of a customer with a task that are control for their moment count as control.
        rows = backend.to_arrow(
            "SELECT decision, sum(n) AS n FROM ("
            " SELECT decision, live_rows AS n FROM _alloc_outcomes WHERE pre_decision IS NULL"
            " UNION ALL SELECT 'control', total_rows - live_rows FROM _alloc_outcomes"
            " WHERE pre_decision IS NULL"
            " UNION ALL SELECT decision, total_rows FROM _alloc_outcomes"
            " WHERE pre_decision IS NOT NULL"
            " UNION ALL SELECT 'expired', count(*) FROM _alloc_all WHERE expired)"
            " GROUP BY decision"
        ).to_pylist()
        found = {row["decision"]: row["n"] for row in rows}
        counts = {d: int(found.get(d) or 0) for d in DECISIONS}
        decisions = tasks = None
        if fetch:
            decisions = backend.to_arrow("SELECT * FROM allocation_decisions")
            tasks = backend.to_arrow("SELECT * FROM allocation_tasks")
        return AllocationResult(decisions=decisions, tasks=tasks, counts=counts)
    finally:
        if own_backend:
            backend.close()


def _register_inputs(
    backend, candidates, managers, carry_over, config: AllocationConfig, business_date: date
) -> None:
    parts = []
    for obj, internal, source in (
        (candidates, "_alloc_in_candidates", "new"),
        (carry_over, "_alloc_in_carry_over", "carry_over"),
    ):
        if obj is None:
            continue
        present = _input_relation(backend, obj, internal, source)
        relation = obj if isinstance(obj, str) else internal
        inner = _conformed_select(
            relation, present, CANDIDATE_COLUMNS, OPTIONAL_CANDIDATE_COLUMNS, source
        )
        age = "age" if "age" in present else "CAST(0 AS BIGINT) AS age"
        urgent = "urgent" if "urgent" in present else "FALSE AS urgent"
        first = "first_date" if "first_date" in present else "CAST(NULL AS DATE) AS first_date"
        cols = ", ".join(CANDIDATE_COLUMNS)
        parts.append(
            f"SELECT {cols}, {age}, {urgent}, {first}, '{source}' AS source FROM ({inner})"
        )
    today = f"DATE '{business_date.isoformat()}'"
    expires = f"DATE '{(business_date - timedelta(days=config.carry_over_days)).isoformat()}'"
    backend.create_view(
        "_alloc_all",
        f"SELECT {', '.join(CANDIDATE_COLUMNS)}, age, urgent,"
        f" COALESCE(first_date, {today}) AS first_date, source,"
        f" source = 'carry_over' AND COALESCE(first_date, {today}) <= {expires} AS expired"
        f" FROM ({' UNION ALL '.join(parts)})",
    )
    backend.create_view("_alloc_candidates", "SELECT * FROM _alloc_all WHERE NOT expired")
    present = _input_relation(backend, managers, "_alloc_in_managers", "managers")
    relation = managers if isinstance(managers, str) else "_alloc_in_managers"
    backend.create_view(
        "_alloc_managers", _conformed_select(relation, present, MANAGER_COLUMNS, {}, "managers")
    )


# --- the pure-Python reference ---------------------------------------------------------------


def allocate_reference(
    candidates: list[dict],
    managers: list[dict],
    config: AllocationConfig | None = None,
    *,
    business_date: date,
    carry_over: list[dict] | None = None,
) -> tuple[list[dict], list[dict]]:
    """Same rules as ``allocate``, row by row: (decisions in input order, tasks)."""
    config = config or AllocationConfig()
    rows = [{"age": 0, **c, "source": "new"} for c in candidates]
    rows += [{"age": 0, **c, "source": "carry_over"} for c in (carry_over or [])]
    expires = business_date - timedelta(days=config.carry_over_days)
    for row in rows:
        row["first_date"] = row.get("first_date") or business_date
        row["expired"] = row["source"] == "carry_over" and row["first_date"] <= expires
    by_customer: dict[str, list[dict]] = defaultdict(list)
    for row in rows:
        if not row["expired"]:
            by_customer[row["subscriber_id"]].append(row)
    pre: dict[int, str | None] = {}
    for sid, crow in by_customer.items():
        suppressed = any(bool(r.get("suppressed")) for r in crow)
        urgent = any(bool(r.get("urgent")) for r in crow)
        contacts = [r.get("last_contact_date") for r in crow]
        capped = config.is_capped(contacts, business_date) and not urgent
        draw = effective_draw(config, business_date, sid)
        for r in crow:
            if suppressed:
                pre[id(r)] = "suppressed"
            elif capped:
                pre[id(r)] = "capped"
            elif draw < config.share_for(r["moment_code"]):
                pre[id(r)] = "control"
            else:
                pre[id(r)] = None
    active = {m["manager_id"]: m for m in managers if m.get("active")}
    order = _reference_moment_order(rows)
    tasks = {}
    for sid, crow in by_customer.items():
        live = [r for r in crow if pre[id(r)] is None]
        if live:
            tasks[sid] = _reference_task(sid, live, active, config, order)
    per_manager: dict[str, list[dict]] = defaultdict(list)
    for task in tasks.values():
        if not task["sms_channel"] and task["has_manager"]:
            per_manager[task["manager_id"]].append(task)
    for queue in per_manager.values():
        queue.sort(key=lambda t: (-t["priority_score"], t["subscriber_id"]))
        for rank, task in enumerate(queue, start=1):
            task["manager_rank"] = rank
    for task in tasks.values():
        _reference_decide(task)
    decisions = []
    for r in rows:
        if r["expired"]:
            decisions.append(_reference_expired(r))
            continue
        decision = pre[id(r)]
        task = tasks.get(r["subscriber_id"]) if decision is None else None
        decisions.append(
            {
                "subscriber_id": r["subscriber_id"],
                "moment_code": r["moment_code"],
                "source": r["source"],
                "decision": decision or task["decision"],
                "reason": REASONS[decision] if decision else task["reason"],
                "manager_id": r.get("manager_id"),
                "priority_score": task["priority_score"] if task else None,
                "manager_rank": task["manager_rank"] if task else None,
                "capacity": task["capacity"] if task else None,
                "age": task["age"] if task else r["age"],
                "first_date": r["first_date"],
            }
        )
    return decisions, list(tasks.values())


def _reference_expired(r: dict) -> dict:
    return {
        "subscriber_id": r["subscriber_id"],
        "moment_code": r["moment_code"],
        "source": r["source"],
        "decision": "expired",
        "reason": REASONS["expired"],
        "manager_id": r.get("manager_id"),
        "priority_score": None,
        "manager_rank": None,
        "capacity": None,
        "age": r["age"],
        "first_date": r["first_date"],
    }


def _reference_moment_order(rows: list[dict]) -> dict[str, int]:
    best: dict[str, float] = {}
    for r in rows:
        p = float(r.get("priority") or 0.0)
        best[r["moment_code"]] = max(p, best.get(r["moment_code"], p))
    ordered = sorted(best, key=lambda code: (-best[code], code))
    return {code: i for i, code in enumerate(ordered)}


def _reference_task(
    sid: str, live: list[dict], active: dict, config: AllocationConfig, order: dict[str, int]
) -> dict:
    merged: dict[str, dict] = {}
    for r in live:
        m = merged.setdefault(r["moment_code"], {"rows": []})
        m["rows"].append(r)
    moments = []
    for code, m in merged.items():
        rs = m["rows"]
        moments.append(
            {
                "code": code,
                "priority": max(float(r.get("priority") or 0.0) for r in rs),
                "sms_allowed": all(bool(r.get("sms_allowed")) for r in rs),
                "sms_channel": all((r.get("channel") or "call") == "sms" for r in rs),
            }
        )
    moments.sort(key=lambda m: order[m["code"]])
    manager_ids = [r["manager_id"] for r in live if r.get("manager_id") is not None]
    manager_id = max(manager_ids) if manager_ids else None
    risks = [r["risk"] for r in live if r.get("risk") is not None]
    values = [r["value"] for r in live if r.get("value") is not None]
    cities = [r["city_id"] for r in live if r.get("city_id") is not None]
    age = max(r["age"] for r in live)
    priority = max(m["priority"] for m in moments)
    risk = max(risks) if risks else None
    value = max(values) if values else None
    manager = active.get(manager_id)
    capacity = manager.get("daily_capacity") if manager else None
    return {
        "subscriber_id": sid,
        "manager_id": manager_id,
        "city_id": max(cities) if cities else None,
        "moments": ",".join(m["code"] for m in moments),
        "moment_count": len(moments),
        "priority": priority,
        "risk": risk,
        "value": value,
        "priority_score": priority_score(config, risk, value, priority, age),
        "manager_rank": None,
        "capacity": config.default_capacity if capacity is None else capacity,
        "age": age,
        "has_manager": manager is not None,
        "sms_allowed": all(m["sms_allowed"] for m in moments),
        "sms_channel": all(m["sms_channel"] for m in moments),
    }


def _reference_decide(task: dict) -> None:
    r = REASONS
    if task["sms_channel"]:
        task["decision"], task["reason"] = "sms", r["sms_channel"]
    elif task["manager_rank"] is not None and task["manager_rank"] <= task["capacity"]:
        task["decision"], task["reason"] = "call", r["call"]
    elif task["sms_allowed"]:
        task["decision"] = "sms"
        task["reason"] = r["sms_overflow"] if task["has_manager"] else r["sms_no_manager"]
    else:
        task["decision"] = "deferred"
        task["reason"] = r["deferred_overflow"] if task["has_manager"] else r["deferred_no_manager"]
        task["age"] += 1
    del task["has_manager"], task["sms_allowed"], task["sms_channel"]
