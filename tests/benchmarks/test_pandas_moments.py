"""The pandas baseline of benchmarks/daily_run.py finds exactly what the engine finds.

A small synthetic operator (a business date two days before National Day, so the holiday
moment S02 fires too); every moment is requested, whatever its cycle.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from keycare.engine.definitions import load_definitions
from keycare.engine.pipeline import run_daily
from keycare.synth.generator import generate

BASELINE = Path(__file__).resolve().parents[2] / "benchmarks" / "pandas_moments.py"


def load_baseline():
    spec = importlib.util.spec_from_file_location("pandas_moments", BASELINE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def delivery(tmp_path_factory) -> tuple[Path, dt.date]:
    data = tmp_path_factory.mktemp("pandas-baseline") / "data"
    generate(data, subscribers=3000, months=7, seed=5, as_of=dt.date(2026, 9, 29))
    day = dt.date.fromisoformat(json.loads((data / "manifest.json").read_text())["business_date"])
    return data, day


def pairs(table) -> set[tuple[str, str]]:
    rows = table.select(["subscriber_id", "moment_code"]).to_pylist()
    return {(r["subscriber_id"], r["moment_code"]) for r in rows}


def test_pandas_baseline_matches_the_engine(delivery, tmp_path):
    data, day = delivery
    codes = sorted(m.code for m in load_definitions().moments)
    summary = run_daily(day, data, tmp_path / "runs", moments=codes)
    assert summary.quarantined == 0  # the baseline trusts the delivery
    engine_detections = pairs(pq.read_table(summary.path / "detections.parquet"))
    engine_suppressions = pairs(pq.read_table(summary.path / "suppressions.parquet"))

    detections, suppressions = load_baseline().detect(data, day)

    assert (
        set(zip(detections.subscriber_id, detections.moment_code, strict=True)) == engine_detections
    )
    assert (
        set(zip(suppressions.subscriber_id, suppressions.moment_code, strict=True))
        == engine_suppressions
    )
    # Not vacuous: many moments fire, the holiday one and a guard among them.
    fired = {code for _, code in engine_detections}
    assert len(fired) >= 12 and "S02" in fired
    assert engine_suppressions
