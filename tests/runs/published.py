"""Write tiny published runs in the engine's layout (version directory + date symlink)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq


def detection(
    sid, code, priority=80, params=None, explanation="本月消费 86 元，较上月下降 43%（阈值 30%）"
):
    return {
        "subscriber_id": sid,
        "moment_code": code,
        "category": "anomaly",
        "priority": priority,
        "channel": "call",
        "params": json.dumps(params or {"bill_m1": 86, "drop_pct": 30}),
        "explanation": explanation,
        "city_id": "C025",
        "business_date": "2026-11-20",
    }


def task(sid, moments="A03", decision="call", score=70.0, manager="M001"):
    return {
        "subscriber_id": sid,
        "manager_id": manager,
        "city_id": "C025",
        "moments": moments,
        "moment_count": len(moments.split(",")),
        "priority": 80.0,
        "risk": 0.42,
        "value": 188.0,
        "priority_score": score,
        "age": 0,
        "decision": decision,
        "reason": "按优先级排入客户经理当日外呼容量",
    }


def risk_score(sid, probability, reasons="异网通话占比上升；近3月话费持续下降；近期咨询携号转网"):
    """One row of risk_scores.parquet as the engine publishes it."""
    return {
        "subscriber_id": sid,
        "business_date": "2026-11-20",
        "risk_probability": probability,
        "seed_score": 31.5,
        "health_tariff_brand": 70.0,
        "health_call_circle": 55.5,
        "health_service": 100.0,
        "health_business": 90.0,
        "reason_1": reasons.split("；")[0],
        "reasons": reasons,
        "model_version": "abc123",
    }


def decision(sid, code, value="call"):
    return {
        "subscriber_id": sid,
        "moment_code": code,
        "source": "new",
        "decision": value,
        "reason": "测试",
        "manager_id": "M001",
        "priority_score": 70.0,
        "age": 0,
    }


def publish_run(
    runs_dir: Path,
    version: str,
    *,
    detections=(),
    suppressions=(),
    quarantine=(),
    tasks=None,
    decisions=None,
    risk=None,
    business_date="2026-11-20",
    run_id=None,
    extra: dict | None = None,
    record: dict | None = None,
) -> Path:
    """Write one run version and point runs_dir/<date> at it (as engine.publish does);
    ``record``: more keys of run.json (e.g. ``indicators``)."""
    out = runs_dir / f"{business_date}.{version}"
    out.mkdir(parents=True)
    tables = {
        "detections": list(detections),
        "suppressions": list(suppressions),
        "quarantine": list(quarantine),
    }
    if tasks is not None:
        tables["tasks"] = list(tasks)
    if decisions is not None:
        tables["decisions"] = list(decisions)
    if risk is not None:
        tables["risk_scores"] = list(risk)
    tables.update({name: list(rows) for name, rows in (extra or {}).items()})
    for name, rows in tables.items():
        if rows or name in (extra or {}):
            pq.write_table(pa.Table.from_pylist(rows), out / f"{name}.parquet")
    record = {
        **(record or {}),
        "run_id": run_id or f"{business_date.replace('-', '')}-{version}",
        "business_date": business_date,
        "status": "published",
        "engine": "duckdb",
        "started_at": "2026-11-21T01:00:00+00:00",
        "finished_at": "2026-11-21T01:00:09+00:00",
        "inputs": {"subscribers": {"sha256": "ab" * 32, "rows": 5}},
        "definitions_version": "deadbeef",
        "steps": [{"name": "detect", "seconds": 0.5, "rows": len(tables["detections"])}],
        "counts": {"A03": sum(1 for d in detections if d["moment_code"] == "A03")},
        "suppressed": len(tables["suppressions"]),
        "quarantined": len(tables["quarantine"]),
    }
    (out / "run.json").write_text(json.dumps(record, ensure_ascii=False), encoding="utf-8")
    link = runs_dir / business_date
    tmp = runs_dir / f".link-{version}"
    os.symlink(out.name, tmp)
    os.replace(tmp, link)
    return out
