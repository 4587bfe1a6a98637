"""Fixtures for the backend-layer tests: one backend per engine for a whole test module.

The Spark backend shares one JVM for the whole test run (keycare.engine.backends.spark keeps
it), so only the first Spark test pays the ~20 s start-up.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import os
import shutil

import pyarrow as pa
import pytest

from keycare.engine.backends import connect


def spark_missing() -> str | None:
    """Why Spark cannot run here, or None."""
    if importlib.util.find_spec("pyspark") is None:
        return "PySpark is not installed (pip install -e '.[spark]')"
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        return "no Java runtime (Spark needs Java 17)"
    return None


ENGINES = [
    pytest.param("duckdb", id="duckdb"),
    pytest.param("spark", id="spark", marks=pytest.mark.spark),
]

#: The shared test table: every contract type and the awkward values (nulls, ties, month ends).
SAMPLE = pa.table(
    {
        "sid": ["S1", "S2", "S3", "S4", "S5"],
        "city": ["A", "A", "B", None, "B"],
        "fee": [86.0, 0.25, None, 2.675, 120.5],
        "n": pa.array([1, 2, None, 40, -7], pa.int64()),
        "ok": [True, False, None, True, True],
        "d": pa.array(
            [
                dt.date(2024, 1, 31),
                dt.date(2024, 2, 29),
                None,
                dt.date(2023, 12, 31),
                dt.date(2024, 3, 4),
            ],
            pa.date32(),
        ),
        "ts": pa.array(
            [
                dt.datetime(2024, 1, 1, 23, 30),
                dt.datetime(2024, 1, 2, 0, 15),
                None,
                dt.datetime(2024, 3, 10, 8, 0),
                dt.datetime(2024, 3, 3, 23, 59, 59),
            ],
            pa.timestamp("us"),
        ),
        "m": ["2024-01", "2024-02", None, "2023-12", "2024-03"],
    }
)


@pytest.fixture(scope="session")
def sample() -> pa.Table:
    return SAMPLE


@pytest.fixture(scope="module", params=ENGINES)
def engine(request):
    """A backend of each engine with ``t`` = SAMPLE registered."""
    if request.param == "spark" and (reason := spark_missing()):
        pytest.skip(reason)
    backend = connect(request.param)
    backend.register_arrow("t", SAMPLE)
    try:
        yield backend
    finally:
        backend.close()
