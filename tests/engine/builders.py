"""Tiny contract-conforming deliveries for engine tests, built from Python dicts.

    from builders import row, write_delivery, write_raw_csv

    data = write_delivery(
        tmp_path / "in",
        {
            "subscribers": [{"subscriber_id": "S1", "plan_fee": 58.0}, {"subscriber_id": "S2"}],
            "bills": [{"subscriber_id": "S1", "bill_month": "2026-10", "total_fee": 86.0}],
        },
    )

* ``row(file, i=0, **overrides)`` -> one complete row: every contract column of ``file``
  (required ones filled with valid defaults derived from ``i``, optional ones None), with
  ``overrides`` on top. Overrides may name columns outside the contract (e.g. catalog raw
  fields carried by ``subscribers``); they are written as given.
* ``write_delivery(dir, tables=None, *, fmt="parquet", business_date=None, encodings=None)``
  writes every contract file into ``dir``: the rows of ``tables[name]`` (partial dicts merged
  over ``row(name, i)``) or, for files not given, an empty file with the contract's columns.
  ``fmt`` is "parquet", "csv" or a dict file -> format. ``business_date`` (date or
  "YYYY-MM-DD") also writes manifest.json; ``encodings`` (file -> codec) re-encodes CSVs
  and goes into the manifest. Returns ``dir``.
* ``write_raw_csv(dir, file, header, lines, *, final_newline=True, encoding="utf-8")``
  writes a hand-made (possibly broken) CSV; ``lines`` are str (encoded) or bytes (as is).
* ``contract_files()`` -> the contract file names; ``columns(file)`` -> ColumnRule list.

Defaults are consistent across files: row i of any file refers to subscriber
``S{i+1:06d}`` and manager ``M{i+1:04d}``, so a subscriber, its bill and its assignment built
with the same i line up.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import date, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from keycare.engine.ingest import ColumnRule, load_contract_rules

ARROW_TYPES = {
    "string": pa.string(),
    "month": pa.string(),
    "int": pa.int64(),
    "float": pa.float64(),
    "bool": pa.bool_(),
    "date": pa.date32(),
    "timestamp": pa.timestamp("us"),
}
# Valid defaults for columns whose contract needs more than a type (patterns, ids).
NAMED_DEFAULTS = {
    "subscriber_id": lambda i: f"S{i + 1:06d}",
    "manager_id": lambda i: f"M{i + 1:04d}",
    "event_id": lambda i: f"E{i + 1:08d}",
    "key_account_id": lambda i: f"K{i + 1:04d}",
    "msisdn": lambda i: f"138{i:08d}",
    "mobile": lambda i: f"139{i:08d}",
    "id_number": lambda i: f"32010219800101{i % 1000:03d}X",
    "city_id": lambda i: "C01",
    "county_id": lambda i: "C01-01",
    "grid_id": lambda i: "C01-01-01",
    "plan_code": lambda i: "P128",
    "plan_fee": lambda i: 128.0,
    "bill_month": lambda i: "2026-10",
    "month": lambda i: "2026-10",
    "week_start": lambda i: date(2026, 11, 16),
    "dnd_start": lambda i: "22:00",
    "dnd_end": lambda i: "08:00",
}
TYPE_DEFAULTS = {
    "string": lambda col, i: f"{col}_{i + 1}",
    "month": lambda col, i: "2026-10",
    "int": lambda col, i: 0,
    "float": lambda col, i: 0.0,
    "bool": lambda col, i: False,
    "date": lambda col, i: date(2020, 1, 1),
    "timestamp": lambda col, i: datetime(2026, 11, 20, 9, 0, 0),
}


def _rules():
    return {rule.name: rule for rule in load_contract_rules()}


def contract_files() -> list[str]:
    return list(_rules())


def columns(file: str) -> list[ColumnRule]:
    return list(_rules()[file].columns)


def _default(col: ColumnRule, i: int):
    if col.name in NAMED_DEFAULTS:
        return NAMED_DEFAULTS[col.name](i)
    if col.enum:
        return col.enum[0]
    if col.range and col.type in ("int", "float"):
        lo, hi = col.range
        value = max(lo, min(hi, 0))
        return int(value) if col.type == "int" else float(value)
    return TYPE_DEFAULTS[col.type](col.name, i)


def row(file: str, i: int = 0, **overrides) -> dict:
    """One complete, valid row of ``file`` (required columns filled), then ``overrides``."""
    out = {c.name: (_default(c, i) if c.required else None) for c in columns(file)}
    out.update(overrides)
    return out


def write_delivery(
    directory: Path,
    tables: dict[str, list[dict]] | None = None,
    *,
    fmt: str | dict[str, str] = "parquet",
    business_date: date | str | None = None,
    encodings: dict[str, str] | None = None,
) -> Path:
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    tables = tables or {}
    unknown = set(tables) - set(contract_files())
    if unknown:
        raise ValueError(f"not contract files: {sorted(unknown)}")
    encodings = encodings or {}
    for file in contract_files():
        rows = [row(file, i, **given) for i, given in enumerate(tables.get(file, []))]
        file_fmt = fmt.get(file, "parquet") if isinstance(fmt, dict) else fmt
        if file_fmt == "parquet":
            _write_parquet(directory / f"{file}.parquet", file, rows)
        else:
            _write_csv(directory / f"{file}.csv", file, rows, encodings.get(file, "utf-8"))
    if business_date is not None or encodings:
        manifest = {"encodings": {f"{k}.csv": v for k, v in encodings.items()}}
        if business_date is not None:
            manifest["business_date"] = str(business_date)
        (directory / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    return directory


def _names(file: str, rows: list[dict]) -> list[str]:
    names = [c.name for c in columns(file)]
    for r in rows:
        names += [k for k in r if k not in names]
    return names


def _write_parquet(path: Path, file: str, rows: list[dict]) -> None:
    types = {c.name: ARROW_TYPES[c.type] for c in columns(file)}
    fields = []
    for name in _names(file, rows):
        values = [r.get(name) for r in rows]
        if name in types:
            values = [_coerce(v, types[name]) for v in values]
            fields.append((name, pa.array(values, type=types[name])))
        else:
            fields.append((name, pa.array(values)))
    schema = pa.schema([(n, a.type) for n, a in fields])
    table = pa.Table.from_arrays([a for _, a in fields], schema=schema)
    pq.write_table(table, path)


def _coerce(value, atype: pa.DataType):
    if isinstance(value, str) and pa.types.is_date(atype):
        return date.fromisoformat(value)
    if isinstance(value, str) and pa.types.is_timestamp(atype):
        return datetime.fromisoformat(value)
    return value


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    return str(value)


def _write_csv(path: Path, file: str, rows: list[dict], encoding: str) -> None:
    names = _names(file, rows)
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(names)
    for r in rows:
        writer.writerow([_text(r.get(n)) for n in names])
    path.write_bytes(buf.getvalue().encode(encoding))


def write_raw_csv(
    directory: Path,
    file: str,
    header: list[str] | None,
    lines: list[str | bytes],
    *,
    final_newline: bool = True,
    encoding: str = "utf-8",
) -> Path:
    """A hand-made CSV (header defaults to the contract's columns); replaces ``file``."""
    directory = Path(directory)
    header = header or [c.name for c in columns(file)]
    (directory / f"{file}.parquet").unlink(missing_ok=True)
    parts = [",".join(header).encode(encoding)]
    parts += [line if isinstance(line, bytes) else line.encode(encoding) for line in lines]
    data = b"\n".join(parts) + (b"\n" if final_newline else b"")
    path = directory / f"{file}.csv"
    path.write_bytes(data)
    return path


def csv_line(file: str, i: int = 0, **overrides) -> str:
    """``row(file, i, **overrides)`` as one CSV line in contract column order."""
    r = row(file, i, **overrides)
    buf = io.StringIO()
    csv.writer(buf, lineterminator="").writerow([_text(r.get(c.name)) for c in columns(file)])
    return buf.getvalue()
