"""Risk tasks: high-risk customers without a moment today, raised as calls in the spare
capacity the day's moments left (seed 001: serve the high-risk mid/high-end customers, those
with a moment first).

Runs after allocation, so moments are never displaced: per manager, spare = daily capacity -
calls already allocated; the customers of that manager scored at or above the threshold, with
no detection, suppression or carried-over task today and no proactive contact in the contact
window, are ranked by risk and the first ``spare`` become calls. They are published with the
day's tasks (no moment; reason ``risk_task``) and decisions (``source = risk``), so loading,
the contact cap and the effect measurement treat them like any other call.
"""

from __future__ import annotations

RISK_SOURCE = "risk"
REASON_CODE = "risk_task"
REASON = "离网风险高且当日无关键时刻，利用客户经理剩余外呼容量主动维系"
RISK_TASKS = "_risk_tasks"
RISK_DECISIONS = "_risk_decisions"


def pool_sql(
    threshold: float, managers: str, contacts: str, candidates: str, carry, default_capacity: int
) -> str:
    """The risk tasks: subscriber, manager, city, risk, value, the manager's rank and spare."""
    carried = f"UNION SELECT subscriber_id FROM {carry}" if carry else ""
    return f"""
    WITH busy AS (
        SELECT subscriber_id FROM {candidates} {carried}
    ),
    calls AS (
        SELECT manager_id, count(*) AS n FROM allocation_tasks WHERE decision = 'call'
        GROUP BY manager_id
    ),
    spare AS (
        SELECT m.manager_id, COALESCE(m.daily_capacity, {int(default_capacity)}) AS capacity,
               GREATEST(COALESCE(m.daily_capacity, {int(default_capacity)}) - COALESCE(c.n, 0), 0)
               AS spare
        FROM {managers} m LEFT JOIN calls c USING (manager_id)
        WHERE m.active
    ),
    assigned AS (
        SELECT subscriber_id, max(manager_id) AS manager_id FROM assignments GROUP BY subscriber_id
    ),
    pool AS (
        SELECT r.subscriber_id, a.manager_id, CAST(s.city_id AS VARCHAR) AS city_id,
               r.risk_probability AS risk, CAST(s.plan_fee AS DOUBLE) AS value,
               p.capacity, p.spare,
               row_number() OVER (PARTITION BY a.manager_id
                                  ORDER BY r.risk_probability DESC, r.subscriber_id) AS rank
        FROM risk_scores r
        JOIN assigned a USING (subscriber_id)
        JOIN spare p USING (manager_id)
        JOIN subscribers s USING (subscriber_id)
        WHERE r.risk_probability >= {float(threshold)!r}
          AND r.subscriber_id NOT IN (SELECT subscriber_id FROM busy)
          AND r.subscriber_id NOT IN (SELECT subscriber_id FROM {contacts})
    )
    SELECT * FROM pool WHERE rank <= spare"""


def _select(columns: list[str], values: dict[str, str], types: dict[str, str]) -> str:
    """A SELECT giving exactly ``columns`` (NULL of the column's type where no value)."""
    return ", ".join(f"CAST({values.get(c, 'NULL')} AS {types[c]}) AS {c}" for c in columns)


def register(
    backend, threshold: float, managers, contacts, candidates, carry, default_capacity: int
) -> int:
    """Register ``_risk_tasks`` and ``_risk_decisions`` in the columns of allocation_tasks and
    allocation_decisions; returns how many risk tasks were raised."""
    backend.materialize(
        "_risk_pool",
        pool_sql(threshold, managers, contacts, candidates, carry, default_capacity),
    )
    common = {
        "subscriber_id": "subscriber_id",
        "manager_id": "manager_id",
        "priority_score": "round(100 * risk, 4)",
        "manager_rank": "rank",
        "capacity": "capacity",
        "age": "0",
        "decision": "'call'",
        "reason": f"'{REASON}'",
        "reason_code": f"'{REASON_CODE}'",
    }
    task_values = {
        **common,
        "city_id": "city_id",
        "moments": "''",
        "moment_count": "0",
        "risk": "risk",
        "value": "value",
    }
    decision_values = {**common, "source": f"'{RISK_SOURCE}'"}
    for target, source, values in (
        (RISK_TASKS, "allocation_tasks", task_values),
        (RISK_DECISIONS, "allocation_decisions", decision_values),
    ):
        schema = backend.to_arrow(f"SELECT * FROM {source} LIMIT 0").schema
        types = {f.name: _sql_type(f.type) for f in schema}
        backend.materialize(
            target, f"SELECT {_select(schema.names, values, types)} FROM _risk_pool"
        )
    return backend.scalar(f"SELECT count(*) FROM {RISK_TASKS}")


def _sql_type(arrow_type) -> str:
    import pyarrow as pa

    if pa.types.is_integer(arrow_type):
        return "BIGINT"
    if pa.types.is_floating(arrow_type):
        return "DOUBLE"
    if pa.types.is_boolean(arrow_type):
        return "BOOLEAN"
    if pa.types.is_date(arrow_type):
        return "DATE"
    return "VARCHAR"
