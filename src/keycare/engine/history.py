"""What earlier published runs tell today's allocation: recent contacts and deferred tasks.

Only runs for dates strictly BEFORE the business date are read, so re-running a date reads
the same history and publishes the same content (the run of the date itself, or of later
dates, never feeds back into it).

* ``previous_contacts`` -> subscriber_id, last_contact_date: the latest date in the window
  on which the customer was actually contacted (a reached call, a delivered SMS), for the
  contact cool-down. Read from the contact log (``contact_log_path``), which the application
  writes from task outcomes and SMS delivery receipts before each run; the log's sha256 is
  a run input (run.json ``allocation.history.contact_log`` and the run id).
* ``previous_deferred`` -> the deferred and capped (cool-down) candidate rows of the most
  recent earlier run that allocated, in allocate's candidate columns plus ``age`` and
  ``first_date`` (the day first detected; allocate expires the row ``carry_over_days`` later). The published ``age`` of a
  deferred decision already counts that deferral (allocate adds 1 when it defers), so it is
  carried as is: a candidate deferred once arrives the next cycle with age 1.
* ``previous_indicators`` -> what the newest earlier run with indicators had published (its
  definitions' version and the bill months published so far): today's run publishes only the
  bill months new since then (``indicators.months_to_publish``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from keycare.engine import publish as pub
from keycare.engine.allocate import CARRIED_DECISIONS
from keycare.engine.indicators import Published

DECISIONS_FILE = "decisions"
CANDIDATES_FILE = "candidates"
TASKS_FILE = "tasks"
INDICATORS_FILE = "indicators"

CONTACT_LOG_DIR = "contact_log"
CONTACT_LOG_FILE = "contacts.parquet"
# One row per contact made: the customer, the day, and how (call / sms).
CONTACT_LOG_SCHEMA = pa.schema(
    [("subscriber_id", pa.string()), ("contact_date", pa.date32()), ("channel", pa.string())]
)
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
        ("urgent", pa.bool_()),
        ("first_date", pa.date32()),
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


def contact_log_path(runs_dir: Path) -> Path:
    """The contact log: contacts actually made (reached calls, delivered SMS), written by the
    application before each run (keycare.tasks.contacts), read here."""
    return Path(runs_dir) / CONTACT_LOG_DIR / CONTACT_LOG_FILE


def write_contact_log(runs_dir: Path, contacts: pa.Table) -> Path:
    """Replace the contact log atomically (a run reading it sees the old or the new file)."""
    path = contact_log_path(runs_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    table = contacts.select(CONTACT_LOG_SCHEMA.names).cast(CONTACT_LOG_SCHEMA)
    order = [
        ("contact_date", "ascending"),
        ("subscriber_id", "ascending"),
        ("channel", "ascending"),
    ]
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    pub.write_table(table.sort_by(order), tmp)
    os.replace(tmp, path)
    return path


def contact_log_info(runs_dir: Path) -> dict | None:
    """The log as a run input: sha256 and rows (None when no log was ever written)."""
    path = contact_log_path(runs_dir)
    if not path.is_file():
        return None
    rows = pq.ParquetFile(path).metadata.num_rows
    return {"sha256": pub.sha256_file(path), "rows": rows}


def previous_contacts(runs_dir: Path, business_date: date, days: int) -> pa.Table:
    """Latest contact date per customer over the ``days`` dates before ``business_date``.

    Contacts come from the contact log only: an allocation decision is not a contact (an
    SMS may bounce, a call may not connect). No log, no known contacts.
    """
    path = contact_log_path(runs_dir)
    if days <= 0 or not path.is_file():
        return CONTACT_SCHEMA.empty_table()
    log = pq.read_table(path, columns=["subscriber_id", "contact_date"])
    since = pa.scalar(business_date - timedelta(days=days), pa.date32())
    until = pa.scalar(business_date, pa.date32())
    window = log.filter(
        pc.and_(
            pc.and_(
                pc.greater_equal(log["contact_date"], since), pc.less(log["contact_date"], until)
            ),
            pc.is_valid(log["subscriber_id"]),
        )
    )
    latest = window.group_by("subscriber_id").aggregate([("contact_date", "max")])
    latest = latest.rename_columns(["subscriber_id", "last_contact_date"])
    return latest.sort_by("subscriber_id").cast(CONTACT_SCHEMA)


def previous_deferred(
    runs_dir: Path, business_date: date, moments: Mapping[str, Any] | None = None
) -> tuple[pa.Table, str | None]:
    """(carry-over rows, source run id) from the newest earlier run that allocated.

    ``moments`` (code -> definition with ``priority``, ``channel``, ``sms_allowed``) gives
    today's moment attributes; a code it does not know keeps the task's priority and is
    treated as call-only (it was deferred, so it could not go to SMS). Risk, value and city
    come from the earlier run's allocation input (``candidates``; from its tasks for runs
    written before it existed); one row per customer and moment (the oldest age and first
    date win).
    """
    run = next(_earlier_runs(runs_dir, business_date), None)
    if run is None:
        return CARRY_OVER_SCHEMA.empty_table(), None
    table = run.table(DECISIONS_FILE)
    table = table.filter(pc.is_in(table["decision"], pa.array(CARRIED_DECISIONS)))
    decisions = table.to_pylist()
    tasks = _facts(run, table["subscriber_id"].unique())
    rows: dict[tuple[str, str], dict] = {}
    for d in decisions:
        if d["decision"] not in CARRIED_DECISIONS:
            continue
        key = (d["subscriber_id"], d["moment_code"])
        age = int(d.get("age") or 0)
        first = d.get("first_date") or run.business_date
        if key in rows:  # detected anew and carried: the oldest age and first date win
            rows[key]["age"] = max(rows[key]["age"], age)
            rows[key]["first_date"] = min(rows[key]["first_date"], first)
            continue
        rows[key] = _carry_row(
            d, tasks.get(d["subscriber_id"], {}), (moments or {}).get(key[1]), age
        )
        rows[key]["first_date"] = first
    ordered = [rows[k] for k in sorted(rows)]
    return pa.Table.from_pylist(ordered, schema=CARRY_OVER_SCHEMA), run.run_id


def _facts(run, subscribers: pa.Array) -> dict[str, dict]:
    """subscriber -> {risk, value, city_id, manager_id, priority} of the carried customers."""
    for stem in (CANDIDATES_FILE, TASKS_FILE):
        if (run.path / f"{stem}.parquet").is_file():
            table = run.table(stem)
            table = table.filter(pc.is_in(table["subscriber_id"], subscribers))
            return {row["subscriber_id"]: row for row in table.to_pylist()}
    return {}


def _carry_row(decision: dict, task: dict, moment: Any, age: int) -> dict:
    urgent = bool(getattr(moment, "urgent", False))
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
        "urgent": urgent,
    }


def previous_indicators(runs_dir: Path, business_date: date) -> tuple[Published | None, str | None]:
    """(what was published, run id) of the newest run before ``business_date`` that
    published indicators; (None, None) when there is none, (None, run id) when its record
    or output cannot be read (today's run then publishes every bill month)."""
    for day in sorted(pub.published_dates(runs_dir), reverse=True):
        if day >= business_date:
            continue
        run = pub.read_published(runs_dir, day)
        if run is None:
            continue
        info = run.record.get("indicators")
        path = run.path / f"{INDICATORS_FILE}.parquet"
        if info is None and not path.is_file():
            continue  # a detection-only run: no indicators
        if not isinstance(info, dict) or not info.get("version") or not path.is_file():
            return None, run.run_id
        months = info.get("months")
        if months is None:  # written before the rule: it published every month it held
            try:
                table = pq.read_table(path, columns=["grain", "period"])
            except (OSError, pa.ArrowInvalid):
                return None, run.run_id
            table = table.filter(pc.equal(table["grain"], "month"))
            months = table["period"].unique().to_pylist()
        return Published(str(info["version"]), frozenset(months)), run.run_id
    return None, None
