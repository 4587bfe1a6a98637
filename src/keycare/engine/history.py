"""What earlier published runs tell today's allocation: recent contacts and deferred tasks.

Only runs for dates strictly BEFORE the business date are read, so re-running a date reads
the same history and publishes the same content (the run of the date itself, or of later
dates, never feeds back into it).

* ``previous_contacts`` -> subscriber_id, last_contact_date: the latest date in the window
  on which the customer was decided ``call`` or ``sms`` (a proactive contact), for the
  contact-frequency cap.
* ``previous_deferred`` -> the deferred candidate rows of the most recent earlier run that
  allocated, in allocate's candidate columns plus ``age``. The published ``age`` of a
  deferred decision already counts that deferral (allocate adds 1 when it defers), so it is
  carried as is: a candidate deferred once arrives the next cycle with age 1.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from keycare.engine import publish as pub

CONTACT_DECISIONS = ("call", "sms")
DECISIONS_FILE = "decisions"
TASKS_FILE = "tasks"

CONTACT_SCHEMA = pa.schema([("subscriber_id", pa.string()), ("last_contact_date", pa.date32())])
CARRY_OVER_SCHEMA = pa.schema(
    [
        ("subscriber_id", pa.string()),
        ("moment_code", pa.string()),
        ("priority", pa.float64()),
        ("channel", pa.string()),
        ("sms_allowed", pa.bool_()),
        ("city_id", pa.string()),
        ("manager_id", pa.string()),
        ("risk", pa.float64()),
        ("value", pa.float64()),
        ("last_contact_date", pa.date32()),
        ("suppressed", pa.bool_()),
        ("age", pa.int64()),
    ]
)


def _earlier_runs(runs_dir: Path, business_date: date, since: date | None = None):
    """Published runs before ``business_date`` (newest first) that wrote decisions."""
    for day in sorted(pub.published_dates(runs_dir), reverse=True):
        if day >= business_date or (since is not None and day < since):
            continue
        run = pub.read_published(runs_dir, day)
        if run is not None and (run.path / f"{DECISIONS_FILE}.parquet").is_file():
            yield run


def previous_contacts(runs_dir: Path, business_date: date, days: int) -> pa.Table:
    """Latest call/SMS date per customer over the ``days`` dates before ``business_date``."""
    latest: dict[str, date] = {}
    if days > 0:
        since = business_date - timedelta(days=days)
        for run in _earlier_runs(runs_dir, business_date, since):
            decisions = run.table(DECISIONS_FILE).select(["subscriber_id", "decision"])
            contacted = decisions.filter(
                pc.is_in(decisions["decision"], pa.array(CONTACT_DECISIONS))
            )
            for sid in set(contacted["subscriber_id"].to_pylist()):
                if sid is not None and sid not in latest:  # newest run first
                    latest[sid] = run.business_date
    ids = sorted(latest)
    return pa.table(
        {"subscriber_id": ids, "last_contact_date": [latest[s] for s in ids]},
        schema=CONTACT_SCHEMA,
    )


def previous_deferred(
    runs_dir: Path, business_date: date, moments: Mapping[str, Any] | None = None
) -> tuple[pa.Table, str | None]:
    """(carry-over rows, source run id) from the newest earlier run that allocated.

    ``moments`` (code -> definition with ``priority``, ``channel``, ``sms_allowed``) gives
    today's moment attributes; a code it does not know keeps the task's priority and is
    treated as call-only (it was deferred, so it could not go to SMS). Risk, value and city
    come from the earlier task; one row per customer and moment (the oldest age wins).
    """
    run = next(_earlier_runs(runs_dir, business_date), None)
    if run is None:
        return CARRY_OVER_SCHEMA.empty_table(), None
    decisions = run.table(DECISIONS_FILE).to_pylist()
    tasks_path = run.path / f"{TASKS_FILE}.parquet"
    tasks = (
        {t["subscriber_id"]: t for t in run.table(TASKS_FILE).to_pylist()}
        if tasks_path.is_file()
        else {}
    )
    rows: dict[tuple[str, str], dict] = {}
    for d in decisions:
        if d["decision"] != "deferred":
            continue
        key = (d["subscriber_id"], d["moment_code"])
        age = int(d.get("age") or 0)
        if key in rows and rows[key]["age"] >= age:
            continue
        rows[key] = _carry_row(
            d, tasks.get(d["subscriber_id"], {}), (moments or {}).get(key[1]), age
        )
    ordered = [rows[k] for k in sorted(rows)]
    return pa.Table.from_pylist(ordered, schema=CARRY_OVER_SCHEMA), run.run_id


def _carry_row(decision: dict, task: dict, moment: Any, age: int) -> dict:
    if moment is not None:
        priority, channel, sms = float(moment.priority), moment.channel, bool(moment.sms_allowed)
    else:
        priority, channel, sms = task.get("priority"), "call", False
    return {
        "subscriber_id": decision["subscriber_id"],
        "moment_code": decision["moment_code"],
        "priority": priority,
        "channel": channel,
        "sms_allowed": sms,
        "city_id": task.get("city_id"),
        "manager_id": decision.get("manager_id") or task.get("manager_id"),
        "risk": task.get("risk"),
        "value": task.get("value"),
        "last_contact_date": None,
        "suppressed": False,
        "age": age,
    }
