"""Execution backends. Differences between engines live here, as data plus a few overrides."""

from keycare.engine.backends.base import Backend
from keycare.errors import UserError

ENGINES = ("duckdb", "spark")


def connect(engine: str = "duckdb", **options) -> Backend:
    """Open a backend by name."""
    if engine == "duckdb":
        from keycare.engine.backends.duckdb import DuckDBBackend

        return DuckDBBackend(**options)
    if engine == "spark":
        try:
            from keycare.engine.backends.spark import SparkBackend
        except ImportError as exc:
            raise UserError("engine 'spark' needs PySpark: pip install 'keycare[spark]'") from exc
        return SparkBackend(**options)
    raise UserError(f"unknown engine {engine!r}; choose one of: {', '.join(ENGINES)}")
