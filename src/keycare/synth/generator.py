"""``generate()``: write a synthetic operator's delivery per the data contract. No Django.

Subscribers are generated in fixed-size chunks, each with its own RNG derived from
(seed, chunk index), so the output depends only on the arguments, never on timing, and
memory stays bounded by the chunk size. Files are written incrementally into a temporary
directory next to the target, which is renamed into place at the end.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable
from datetime import date
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from keycare.catalog.delivery import load_contract
from keycare.errors import UserError
from keycare.synth import keyaccounts as ka_archive
from keycare.synth import reference as ref
from keycare.synth import sim, world
from keycare.synth.calendar import build_calendar

DEFAULT_AS_OF = date(2026, 11, 22)
CHUNK_SIZE = 200_000
MIN_MONTHS, MAX_MONTHS = 2, 36
MAX_SUBSCRIBERS = 200_000_000
FORMATS = ("parquet", "csv")
GENERATOR_NAME = "keycare synth"
GENERATOR_VERSION = 1
TABLE_FILES = [
    "org",
    "managers",
    "subscribers",
    "bills",
    "usage_weekly",
    "events",
    "call_circle",
    "assignments",
    "key_accounts",
    "key_account_members",
    *ka_archive.ARCHIVE_FILES,
]
ARROW_TYPES = {
    "string": pa.string(),
    "int": pa.int64(),
    "float": pa.float64(),
    "bool": pa.bool_(),
    "date": pa.date32(),
    "month": pa.string(),
    # Parquet has no second unit: timestamps are stored as milliseconds (values are whole
    # seconds, local Asia/Shanghai time without a zone, as the contract says).
    "timestamp": pa.timestamp("ms"),
}

Progress = Callable[[int, int], None]

# The true cause and need of every complaint / consultation text: written beside the
# delivery for evaluation, never part of it (no contract file, not in manifest "files").
TRUTH_FILE = "truth_complaints"
TRUTH_SCHEMA = pa.schema([("event_id", pa.string()), ("cause", pa.string()), ("need", pa.string())])


def parse_as_of(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except (TypeError, ValueError):
        raise UserError(f"--as-of: '{text}' is not a date (YYYY-MM-DD)") from None


def validate_args(subscribers: int, months: int, seed: int, as_of: date, fmt: str) -> None:
    if not isinstance(subscribers, int) or not 0 < subscribers <= MAX_SUBSCRIBERS:
        raise UserError(
            f"--subscribers must be between 1 and {MAX_SUBSCRIBERS:,}, not {subscribers}"
        )
    if not isinstance(months, int) or not MIN_MONTHS <= months <= MAX_MONTHS:
        raise UserError(f"--months must be between {MIN_MONTHS} and {MAX_MONTHS}, not {months}")
    if not isinstance(seed, int) or not 0 <= seed < 2**63:
        raise UserError(f"--seed must be a non-negative integer, not {seed}")
    if not date(2000, 1, 1) <= as_of <= date(2099, 12, 31):
        raise UserError(f"--as-of {as_of.isoformat()} is outside 2000-01-01..2099-12-31")
    if fmt not in FORMATS:
        raise UserError(f"--format must be one of {', '.join(FORMATS)}, not '{fmt}'")


def generate(
    out: str | Path,
    *,
    subscribers: int,
    months: int,
    seed: int,
    as_of: date = DEFAULT_AS_OF,
    fmt: str = "parquet",
    chunk_size: int = CHUNK_SIZE,
    progress: Progress | None = None,
) -> dict:
    """Write the delivery into ``out`` and return its manifest.

    ``out`` must be missing, empty, or a previous synth output (which is replaced).
    Same arguments -> byte-identical files. Raises UserError for bad arguments.
    """
    validate_args(subscribers, months, seed, as_of, fmt)
    target = Path(out)
    _check_target(target)
    tmp = _make_temp_dir(target)
    try:
        manifest = _write_delivery(tmp, subscribers, months, seed, as_of, fmt, chunk_size, progress)
        _swap_into_place(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return manifest


# --- target directory handling ---------------------------------------------------------


def _is_synth_output(path: Path) -> bool:
    try:
        manifest = json.loads((path / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return (
        isinstance(manifest, dict)
        and (manifest.get("generator") or {}).get("name") == GENERATOR_NAME
    )


def _check_target(target: Path) -> None:
    if target.exists() and not target.is_dir():
        raise UserError(f"--out {target}: exists and is not a directory")
    if target.is_dir() and any(target.iterdir()) and not _is_synth_output(target):
        raise UserError(
            f"--out {target}: directory is not empty and is not a previous synth output"
        )
    parent = target.absolute().parent
    if not parent.exists():
        try:
            parent.mkdir(parents=True)
        except OSError as exc:
            raise UserError(
                f"--out {target}: cannot create {parent}: {exc.strerror or exc}"
            ) from None
    if not parent.is_dir():
        raise UserError(f"--out {target}: {parent} is not a directory")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise UserError(f"--out {target}: parent directory {parent} is not writable")


def _make_temp_dir(target: Path) -> Path:
    parent = target.absolute().parent
    try:
        return Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=parent))
    except OSError as exc:
        raise UserError(
            f"--out {target}: cannot create a directory in {parent}: {exc.strerror}"
        ) from None


def _swap_into_place(tmp: Path, target: Path) -> None:
    old = None
    if target.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{target.name}.old-", dir=target.absolute().parent))
        os.rename(target, old / "previous")
    os.rename(tmp, target)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


# --- writing ---------------------------------------------------------------------------


class TableWriter:
    """Writes one contract file incrementally (Parquet or CSV) and counts its rows."""

    def __init__(self, directory: Path, name: str, schema: pa.Schema, fmt: str):
        self.path = directory / f"{name}.{fmt}"
        self.schema = schema
        self.fmt = fmt
        self.rows = 0
        self._writer = None

    def write(self, table: pa.Table) -> None:
        table = table.select(self.schema.names).cast(self.schema)
        if self._writer is None:
            if self.fmt == "parquet":
                self._writer = pq.ParquetWriter(self.path, self.schema, compression="zstd")
            else:
                self._writer = pacsv.CSVWriter(self.path, self.schema)
        self._writer.write_table(table)
        self.rows += table.num_rows

    def close(self) -> None:
        if self._writer is None:  # empty file: still write the header / schema
            self.write(self.schema.empty_table())
        self._writer.close()


def contract_schemas(extended: dict[str, pa.DataType] | None = None) -> dict[str, pa.Schema]:
    """Arrow schemas of the table files: the contract's core columns, plus the subscribers'
    extended catalog columns that the extended-column generator provides."""
    contract = load_contract()
    schemas = {}
    for name in TABLE_FILES:
        spec = contract.file(name)
        fields = [pa.field(c, ARROW_TYPES[spec.columns[c].type]) for c in spec.core_columns]
        if name == "subscribers" and extended:
            for col in spec.extended_columns:
                if col in extended:
                    fields.append(pa.field(col, ARROW_TYPES[spec.columns[col].type]))
        schemas[name] = pa.schema(fields)
    return schemas


def _extended_generator():
    """keycare.synth.extended.extended_columns, or None while it does not exist."""
    try:
        from keycare.synth.extended import extended_columns
    except ImportError:
        return None
    return extended_columns


def _table(schema: pa.Schema, columns: dict) -> pa.Table:
    arrays = []
    for field in schema:
        value = columns[field.name]
        if isinstance(value, pa.Array | pa.ChunkedArray):
            arrays.append(value.cast(field.type))
        else:
            arrays.append(pa.array(value, field.type, from_pandas=True))
    return pa.Table.from_arrays(arrays, schema=schema)


def _write_delivery(tmp, n_subscribers, months, seed, as_of, fmt, chunk_size, progress) -> dict:
    cal = build_calendar(as_of, months)
    rng = np.random.default_rng([seed, 0])
    org = world.build_org(rng)
    plans = world.build_plans()
    ka_counts = world.key_account_counts(org, n_subscribers)
    staff = world.build_staff(rng, org, n_subscribers, ka_counts)
    kas, ka_table = world.build_key_accounts(rng, org, staff, ka_counts, as_of)
    the_world = sim.World(cal, org, plans, staff, kas)
    extend = _extended_generator()

    writers: dict[str, TableWriter] = {}
    schemas: dict[str, pa.Schema] | None = None
    done = 0
    for chunk, first in enumerate(range(0, n_subscribers, chunk_size)):
        n = min(chunk_size, n_subscribers - first)
        tables = _chunk_tables(the_world, seed, chunk, first, n, extend)
        if schemas is None:
            ext_types = {c: tables["subscribers_ext"][c] for c in tables["subscribers_ext"]}
            schemas = contract_schemas(ext_types)
            writers = {name: TableWriter(tmp, name, schemas[name], fmt) for name in TABLE_FILES}
            writers["org"].write(_table(schemas["org"], org.table.to_pydict()))
            writers["managers"].write(staff.table)
            writers["key_accounts"].write(ka_table)
            archive = ka_archive.build_archive(seed, kas, ka_table, cal)
            for name, columns in archive.items():
                writers[name].write(_table(schemas[name], columns))
            writers[TRUTH_FILE] = TableWriter(tmp, TRUTH_FILE, TRUTH_SCHEMA, fmt)
        writers[TRUTH_FILE].write(_truth_table(tables["events"]))
        for name, columns in tables.items():
            if name in writers:
                writers[name].write(_table(schemas[name], columns))
        done += n
        if progress is not None:
            progress(done, n_subscribers)
    for writer in writers.values():
        writer.close()
    truth = writers.pop(TRUTH_FILE)
    manifest = _manifest(cal, n_subscribers, months, seed, as_of, fmt, chunk_size, writers)
    manifest["truth"] = {"complaints": {"path": truth.path.name, "rows": truth.rows}}
    (tmp / "manifest.json").write_text(
        json.dumps(manifest, ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
    )
    return manifest


def _truth_table(events: dict) -> pa.Table:
    cause = events["cause"]
    keep = pc.is_valid(cause)
    table = pa.table(
        {
            "event_id": pa.array(events["event_id"], pa.string()),
            "cause": cause,
            "need": events["need"],
        }
    )
    return table.filter(keep)


def _chunk_tables(the_world, seed, chunk, first, n, extend) -> dict:
    out = sim.simulate_chunk(the_world, seed, chunk, first, n)
    s, snap = out["static"], out["snapshot"]
    rng = np.random.default_rng([seed, 3, chunk])
    sub_ids = pa.array(snap["subscriber_id"], pa.string())
    subscribers = dict(snap)
    ext: dict = {}
    if extend is not None:
        ext = extend(np.random.default_rng([seed, 4, chunk]), snap, the_world.calendar.as_of)
        subscribers.update(ext)
    labels = pa.array(the_world.calendar.month_labels(), pa.string())
    bills = sim.bills_table(the_world, s, out["bills"], sub_ids)
    weekly = out["usage_weekly"]
    weekly["subscriber_id"] = sub_ids.take(pa.array(weekly.pop("rows")))
    circle = out["call_circle"]
    circle["subscriber_id"] = sub_ids.take(pa.array(circle.pop("rows")))
    circle["month"] = labels.take(pa.array(circle.pop("months")))
    events = out["events"]
    events["subscriber_id"] = sub_ids.take(pa.array(events.pop("sub")))
    return {
        "subscribers_ext": {k: pa.array(v).type for k, v in ext.items()},
        "subscribers": subscribers,
        "bills": bills,
        "usage_weekly": weekly,
        "events": events,
        "call_circle": circle,
        "assignments": sim.assignments_table(rng, the_world, s, snap),
        "key_account_members": _concat(
            sim.members_table(rng, the_world, s, snap),
            sim.recent_leavers(np.random.default_rng([seed, 8, chunk]), the_world, s, snap),
        ),
    }


def _concat(first: dict, second: dict) -> dict:
    return {k: np.concatenate([np.asarray(first[k]), np.asarray(second[k])]) for k in first}


def _manifest(cal, n_subscribers, months, seed, as_of, fmt, chunk_size, writers) -> dict:
    labels = cal.month_labels()
    manifest = {
        "business_date": as_of.isoformat(),
        "operator": ref.OPERATOR_NAME,
        "generator": {
            "name": GENERATOR_NAME,
            "version": GENERATOR_VERSION,
            "subscribers": n_subscribers,
            "months": months,
            "seed": seed,
            "as_of": as_of.isoformat(),
            "format": fmt,
            "chunk_size": chunk_size,
        },
        "history": {
            "bill_months": [labels[0], labels[-2]],
            "call_circle_months": [labels[0], labels[-2]],
            "usage_weeks": [str(cal.week_starts[0]), str(cal.week_starts[-1])],
            "events": [str(cal.span_start), as_of.isoformat()],
        },
        "files": {name: {"path": w.path.name, "rows": w.rows} for name, w in writers.items()},
    }
    if fmt == "csv":
        manifest["encodings"] = {w.path.name: "utf-8" for w in writers.values()}
    return manifest
