"""Read an operator delivery for ``keycare load`` through the engine's ingest (no Django).

The load reads a delivery exactly as ``keycare run`` does: ``keycare.engine.ingest`` checks
every row against the data contract, quarantines the rows that break it (file, row number,
raw text, rule, reason) and keeps the rest, so both commands accept and refuse the same
rows. A missing file or required column, an unreadable file or a file whose quarantined
share exceeds the limit raises ``UserError`` before anything is written.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from functools import cache
from importlib import resources
from pathlib import Path

import pyarrow as pa

from keycare.engine.backends import connect
from keycare.engine.backends.base import Backend
from keycare.engine.ingest import DEFAULT_QUARANTINE_LIMIT, FileResult, ingest
from keycare.yamlio import safe_load

# Arrow types of the contract's column types (tests write deliveries with them).
ARROW_TYPES = {
    "string": pa.string(),
    "int": pa.int64(),
    "float": pa.float64(),
    "bool": pa.bool_(),
    "date": pa.date32(),
    "timestamp": pa.timestamp("s"),
    "month": pa.string(),
}
# Quarantined row numbers kept per file in the load record (the counts are always complete).
ROW_NUMBERS_KEPT = 100


@cache
def contract() -> dict:
    text = resources.files("keycare.catalog").joinpath("contract.yaml").read_text("utf-8")
    return safe_load(text)


def file_key(name: str) -> list[str]:
    return list(contract()["files"][name].get("key", []))


@dataclass
class Delivery:
    """An ingested delivery: the accepted rows of each file on a DuckDB backend."""

    root: Path
    backend: Backend
    files: dict[str, FileResult]
    quarantine: pa.Table
    business_date: date | None

    @property
    def paths(self) -> dict[str, Path]:
        return {name: Path(f.path) for name, f in self.files.items()}

    def checksums(self) -> dict[str, str]:
        return {Path(f.path).name: f.sha256 for f in self.files.values()}

    def table(self, name: str, where: str = "") -> pa.Table:
        """The accepted rows of ``name`` (contract types, plus undeclared columns as
        delivered), in key order."""
        order = ", ".join(f'"{k}"' for k in file_key(name))
        sql = f'SELECT * FROM "{name}"' + (f" WHERE {where}" if where else "")
        return self.backend.to_arrow(sql + (f" ORDER BY {order}" if order else ""))

    def register(self, name: str, table: pa.Table) -> None:
        self.backend.register_arrow(name, table)

    def quarantine_summary(self) -> dict[str, dict]:
        """Per delivered file: rows in, accepted, quarantined, by rule, the first row numbers."""
        rows: dict[str, list[int]] = {}
        for file, row in zip(
            self.quarantine.column("file").to_pylist(),
            self.quarantine.column("row_number").to_pylist(),
            strict=True,
        ):
            rows.setdefault(file, []).append(row)
        summary = {}
        for f in self.files.values():
            name = Path(f.path).name
            summary[name] = {
                "rows_in": f.rows_in,
                "accepted": f.accepted,
                "quarantined": f.quarantined,
                "by_rule": dict(sorted(f.rules.items())),
                "row_numbers": sorted(rows.get(name, []))[:ROW_NUMBERS_KEPT],
            }
        return summary


@contextmanager
def open_delivery(
    directory: str | Path,
    names: list[str],
    quarantine_limit: float = DEFAULT_QUARANTINE_LIMIT,
) -> Iterator[Delivery]:
    """Ingest the contract files ``names`` of a delivery directory (the run's rules)."""
    root = Path(directory)
    backend = connect("duckdb")
    try:
        with tempfile.TemporaryDirectory(prefix="keycare-load-") as staging:
            result = ingest(
                backend,
                root,
                staging_dir=Path(staging),
                quarantine_limit=quarantine_limit,
                files=names,
                keep_extra_columns=True,
            )
            yield Delivery(
                root=root,
                backend=backend,
                files=result.files,
                quarantine=result.quarantine,
                business_date=result.business_date,
            )
    finally:
        backend.close()
