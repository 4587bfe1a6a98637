"""Engine test fixtures: one ``backend`` fixture parametrised over every available engine.

Modelled on Ibis ``ibis/backends/tests/conftest.py``: a test that takes ``backend`` (or
``backend_name``) runs once per engine, so the same test bodies prove the same answers on
DuckDB and, once ``keycare.engine.backends.spark`` exists and PySpark imports, on Spark.
"""

from __future__ import annotations

import importlib.util

import pytest

from keycare.engine.backends import connect


def _importable(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:
        return False


def available_backends() -> list[str]:
    names = ["duckdb"]
    if _importable("pyspark") and _importable("keycare.engine.backends.spark"):
        names.append("spark")
    return names


BACKEND_PARAMS = [
    pytest.param(name, id=name, marks=[pytest.mark.spark] if name == "spark" else [])
    for name in available_backends()
]


@pytest.fixture(params=BACKEND_PARAMS)
def backend_name(request) -> str:
    """The engine name, for code that opens its own backend (``run_daily(engine=...)``)."""
    return request.param


@pytest.fixture
def backend(backend_name):
    """A fresh backend of each available engine."""
    con = connect(backend_name)
    try:
        yield con
    finally:
        con.close()
