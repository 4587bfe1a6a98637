"""Parity: one full day (ingest -> view -> detect -> risk -> allocate -> write) of a
50,000-subscriber synthetic operator on DuckDB and on Spark (local) gives the same answers.

Both runs score with the same model (trained once, on DuckDB, before either run), so risk
scores compare the scoring features each engine computes. Published files that carry no
floating-point model output must be byte-identical (same sha256 in run.json); risk scores
must agree within float tolerance. Part of `make test-spark`; the Spark run dominates the
time (see docs/spark.md for the measured figure).
"""

from __future__ import annotations

import json
import time
from collections import Counter
from datetime import date

import numpy as np
import pyarrow.parquet as pq
import pytest

from keycare.engine import publish as pub
from keycare.engine.allocate import DECISIONS
from keycare.engine.pipeline import run_daily
from keycare.engine.risk.health import HEALTH_COLUMNS
from keycare.engine.risk.operator import train_from_delivery
from keycare.synth.generator import generate

pytest.importorskip("pyspark", reason="PySpark is not installed (pip install -e '.[spark]')")

pytestmark = pytest.mark.spark

SUBSCRIBERS = 50_000
MONTHS = 6
SEED = 2026
DAY = date(2026, 11, 22)  # the generator's default as-of date
# Outputs without model floats: the bytes must match exactly.
EXACT_OUTPUTS = (
    "detections.parquet",
    "suppressions.parquet",
    "quarantine.parquet",
    "moment_counts.parquet",
    "tasks.parquet",
    "decisions.parquet",
)
RISK_FLOATS = ("risk_probability", "seed_score", *HEALTH_COLUMNS)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    base = tmp_path_factory.mktemp("parity")
    delivery = base / "delivery"
    generate(delivery, subscribers=SUBSCRIBERS, months=MONTHS, seed=SEED)
    models = base / "models"
    train_from_delivery(delivery, models, DAY)
    summaries, seconds = {}, {}
    for engine in ("duckdb", "spark"):
        started = time.perf_counter()
        summaries[engine] = run_daily(
            DAY, delivery, base / engine, engine=engine, models_dir=models
        )
        seconds[engine] = time.perf_counter() - started
    # Shown with `pytest -s`; docs/spark.md quotes it.
    print(f"\nparity run seconds: {json.dumps({k: round(v, 1) for k, v in seconds.items()})}")
    for engine, summary in summaries.items():
        print(engine, json.dumps(summary.as_json()["timings"]))
    return summaries


def _record(summary) -> dict:
    return json.loads((summary.path / pub.RUN_RECORD).read_text())


def _table(summary, stem: str):
    return pq.read_table(summary.path / f"{stem}.parquet")


def test_the_day_is_substantial(runs):
    """The comparison means something: many detections of several moments, every kind of
    allocation decision that this operator's data produces, and scored subscribers."""
    duck = runs["duckdb"]
    assert sum(duck.counts.values()) > 1_000
    assert sum(1 for n in duck.counts.values() if n) >= 5
    decisions = Counter(_table(duck, "decisions").column("decision").to_pylist())
    assert {"call", "sms", "suppressed", "control"} <= set(decisions)
    assert _table(duck, "risk_scores").num_rows > 1_000
    assert _record(duck)["risk_model"]["source"] == "promoted"  # the model `risk train` promoted


def test_identical_detections_and_allocations(runs):
    duck, spark = (_record(runs[e]) for e in ("duckdb", "spark"))
    assert duck["engine"] == "duckdb" and spark["engine"] == "spark"
    for name in EXACT_OUTPUTS:
        assert spark["outputs"][name] == duck["outputs"][name], name
    assert spark["counts"] == duck["counts"]
    assert spark["decisions"] == duck["decisions"]
    assert set(spark["decisions"]) == set(DECISIONS)
    assert spark["allocation"] == duck["allocation"]


def test_identical_tables_row_by_row(runs):
    """The same check without hashes, so a failure names the first differing table."""
    for stem in ("detections", "suppressions", "tasks", "decisions"):
        duck, spark = (_table(runs[e], stem) for e in ("duckdb", "spark"))
        assert spark.schema == duck.schema, stem
        assert spark.equals(duck), stem


def test_risk_scores_equal_within_float_tolerance(runs):
    duck, spark = (_table(runs[e], "risk_scores") for e in ("duckdb", "spark"))
    assert spark.schema == duck.schema
    for column in ("subscriber_id", "business_date", "model_version"):
        assert spark.column(column).equals(duck.column(column)), column
    for column in RISK_FLOATS:
        a = duck.column(column).to_numpy(zero_copy_only=False).astype(float)
        b = spark.column(column).to_numpy(zero_copy_only=False).astype(float)
        np.testing.assert_allclose(b, a, rtol=1e-9, atol=1e-12, equal_nan=True, err_msg=column)
    # Reasons come from the same features; ties between contributions are what could move
    # them, so allow none and see.
    for column in ("reason_1", "reason_2", "reason_3"):
        assert spark.column(column).equals(duck.column(column)), column
