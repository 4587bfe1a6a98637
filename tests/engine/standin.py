"""A tiny stand-in detection step for pipeline/publish/kill tests.

It registers ``detections`` and ``suppressions`` with the agreed columns from the ingested
``subscribers`` only, so those tests exercise ingest, ordering, publication and the run
record without depending on the moment catalog (which has its own tests).
"""

from __future__ import annotations

from keycare.engine.pipeline import Step, step_ingest, step_write

DETECTIONS_SQL = """
SELECT subscriber_id, 'A03' AS moment_code, 'anomaly' AS category, 80 AS priority,
       'call' AS channel, '{"plan_fee": ' || CAST(plan_fee AS VARCHAR) || '}' AS params,
       '月费 ' || CAST(plan_fee AS VARCHAR) || ' 元，低于 100 元' AS explanation,
       city_id, DATE '{day}' AS business_date
FROM subscribers WHERE plan_fee < 100 AND NOT dnd
UNION ALL
SELECT subscriber_id, 'A04', 'anomaly', 60, 'sms', '{}', '余额不足', city_id, DATE '{day}'
FROM subscribers WHERE balance < 10 AND NOT dnd
"""
SUPPRESSIONS_SQL = """
SELECT subscriber_id, 'N01' AS moment_code, '客户在免打扰名单中' AS reason,
       DATE '{day}' AS business_date, '' AS suppressed_codes
FROM subscribers WHERE dnd
"""


def standin_detect(ctx) -> int:
    day = ctx.business_date.isoformat()
    ctx.backend.materialize("detections", DETECTIONS_SQL.replace("{day}", day))
    ctx.backend.materialize("suppressions", SUPPRESSIONS_SQL.replace("{day}", day))
    ctx.moment_codes = ["A03", "A04", "N01"]
    return ctx.backend.scalar("SELECT count(*) FROM detections")


def standin_steps() -> list[Step]:
    return [
        Step("ingest", step_ingest),
        Step("standin_detect", standin_detect),
        Step("write", step_write),
    ]
