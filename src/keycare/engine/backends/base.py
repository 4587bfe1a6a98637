"""The backend interface every engine implements.

Pipeline code writes SQL in the DuckDB dialect (the canonical dialect of this project) and
hands it to a backend, which renders it for its own engine with SQLGlot. Tables are named
relations registered on the backend (files, or results of earlier steps).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path

import pyarrow as pa
import sqlglot

CANONICAL_DIALECT = "duckdb"


class Backend(ABC):
    #: SQLGlot dialect name of the engine.
    dialect: str = CANONICAL_DIALECT
    name: str = "base"

    def render(self, sql: str) -> str:
        """Render canonical (DuckDB) SQL for this backend."""
        if self.dialect == CANONICAL_DIALECT:
            return sql
        return ";\n".join(sqlglot.transpile(sql, read=CANONICAL_DIALECT, write=self.dialect))

    @abstractmethod
    def register_file(self, name: str, path: Path, fmt: str = "parquet") -> None:
        """Expose a Parquet file (or a directory of them) as relation ``name``."""

    @abstractmethod
    def register_arrow(self, name: str, table: pa.Table) -> None:
        """Expose an in-memory Arrow table as relation ``name``."""

    @abstractmethod
    def create_view(self, name: str, sql: str) -> None:
        """Define relation ``name`` as the result of ``sql`` (lazily where the engine can)."""

    @abstractmethod
    def materialize(self, name: str, sql: str) -> None:
        """Compute ``sql`` once and keep the result as relation ``name``."""

    @abstractmethod
    def to_arrow(self, sql: str) -> pa.Table:
        """Run a query and return its result."""

    @abstractmethod
    def write_parquet(self, sql: str, path: Path) -> int:
        """Write the result of ``sql`` to one Parquet file at ``path``; return the row count."""

    def arrow_reader(self, sql: str, batch_rows: int) -> pa.RecordBatchReader:
        """Run a query and read its result in batches of at most ``batch_rows`` rows; an
        engine that can stream overrides this so the result is never held whole."""
        table = self.to_arrow(sql)
        return pa.RecordBatchReader.from_batches(table.schema, table.to_batches(batch_rows))

    def scalar(self, sql: str):
        table = self.to_arrow(sql)
        return table.column(0)[0].as_py() if table.num_rows else None

    def close(self) -> None:  # noqa: B027 - optional hook
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
