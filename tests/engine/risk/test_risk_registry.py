"""Training as its own job: bounded stratified sample, registry and promotion, the
champion/challenger rule, drift (PSI)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from keycare.engine.backends.duckdb import DuckDBBackend
from keycare.engine.risk import registry
from keycare.engine.risk.monitor import PSI_ALERT, drift, not_worse, psi, quality, reference
from keycare.engine.risk.operator import draw_sample, register_delivery, train_from_delivery
from keycare.errors import UserError


def test_sample_is_stratified_capped_and_recorded(delivery, business_date, tmp_path):
    with DuckDBBackend(threads=1) as backend:
        register_delivery(backend, delivery)
        full = draw_sample(backend, business_date, max_rows=10**7)
        assert full["positive_rate"] == full["negative_rate"] == 1.0
        assert full["rows"] == full["population_rows"]
        capped = draw_sample(backend, business_date, max_rows=2000)
        rows = backend.to_arrow("SELECT label, weight FROM _risk_sample").to_pylist()
    # All churners fit in half the cap here, the others are sampled to fill the rest.
    assert capped["positive_rate"] == 1.0 and capped["negative_rate"] < 0.5
    assert 1800 <= capped["rows"] <= 2200
    assert sum(r["label"] for r in rows) == full["population_positives"]
    weights = {round(r["weight"], 6) for r in rows if not r["label"]}
    assert weights == {round(1 / capped["negative_rate"], 6)}
    # The weights give back the population: sum of weights ~ every eligible row.
    total = sum(r["weight"] for r in rows)
    assert abs(total - full["population_rows"]) / full["population_rows"] < 0.1
    result = train_from_delivery(delivery, tmp_path, max_rows=2000)
    meta = json.loads((result.path / "metadata.json").read_text())
    assert meta["sample"]["max_rows"] == 2000 and meta["sample"]["rows"] == result.metrics["rows"]
    assert meta["sample"]["strata"] and meta["metrics"]["holdout"]["auc"] > 0.65


def test_first_model_is_promoted_and_a_worse_one_is_not(delivery, tmp_path):
    first = train_from_delivery(delivery, tmp_path)
    assert first.promotion["promoted"] and registry.promoted_version(tmp_path) == first.version
    # A tiny sample makes a weaker challenger; the champion saw the test month, so the rule
    # compares with the champion's own out-of-time figures.
    weak = train_from_delivery(delivery, tmp_path, max_rows=1000)
    holdout = weak.metrics["holdout"]
    assert holdout["champion"]["version"] == first.version
    assert holdout["champion"]["saw_test_month"] is True
    expected, _ = not_worse(holdout, first.metrics["holdout"])
    assert weak.promotion["promoted"] is expected
    assert registry.promoted_version(tmp_path) == (weak.version if expected else first.version)
    listed = registry.list_models(tmp_path)
    assert {m["version"] for m in listed} == {first.version, weak.version}
    assert sum(m["promoted"] for m in listed) == 1


def test_promote_by_hand_is_recorded_and_checks_the_version(delivery, tmp_path):
    first = train_from_delivery(delivery, tmp_path, promote_rule=False)
    assert registry.promoted_dir(tmp_path) is None
    assert not first.promotion["promoted"] and "--no-promote" in first.promotion["reason"]
    pointer = registry.promote(tmp_path, first.version, by="admin", reason="review")
    assert pointer["previous"] is None and registry.promoted_dir(tmp_path) == first.path
    assert registry.promotions(tmp_path)[0]["by"] == "admin"
    with pytest.raises(UserError, match="不存在"):
        registry.promote(tmp_path, "../etc", by="admin", reason="x")
    with pytest.raises(UserError, match="不存在"):
        registry.promote(tmp_path, "ffff0000ffff0000", by="admin", reason="x")


def test_not_worse_rule():
    champion = {"auc": 0.80, "precision_at_capacity": 0.30}
    assert not_worse({"auc": 0.797, "precision_at_capacity": 0.295}, champion)[0]
    assert not not_worse({"auc": 0.79, "precision_at_capacity": 0.40}, champion)[0]
    assert not not_worse({"auc": 0.85, "precision_at_capacity": 0.25}, champion)[0]
    assert not_worse({"auc": 0.5}, None)[0]


def test_quality_weights_and_capacity():
    y = np.array([1, 0, 0, 0, 1, 0, 0, 0, 0, 0])
    score = np.arange(10, 0, -1, dtype=float)  # row 0 highest
    plain = quality(y, score, capacity=2)
    assert plain["precision_at_capacity"] == 0.5 and plain["churn_rate"] == 0.2
    # Negatives sampled at 1/3: weight 3 restores the population's churn rate.
    w = np.where(y == 1, 1.0, 3.0)
    weighted = quality(y, score, w, capacity=4)
    assert weighted["population"] == 26 and weighted["churn_rate"] == round(2 / 26, 5)
    assert weighted["precision_at_capacity"] == 0.25  # rows 0 (w1) and 1 (w3): 1 churner of 4


def test_psi_is_zero_on_the_same_data_and_alerts_on_a_shift():
    rng = np.random.default_rng(0)
    base = rng.normal(size=20_000)
    ref = reference(base)
    assert psi(ref, rng.normal(size=20_000)) < 0.01
    assert psi(ref, rng.normal(1.0, 1.0, size=20_000)) > PSI_ALERT
    result = drift({"x": ref, "score": ref}, {"x": base + 2, "score": base})
    assert result["alert"] and result["alerts"] == ["x"] and result["max_input"] == "x"


def test_risk_tasks_fill_spare_capacity_only(tmp_path):
    """High-risk customers without a moment become calls in the capacity moments left."""
    from collections import Counter
    from datetime import date

    import pyarrow.parquet as pq

    from keycare.engine.pipeline import run_daily
    from keycare.synth.generator import generate

    day = date(2026, 11, 22)
    data = tmp_path / "data"
    generate(data, subscribers=3000, months=6, seed=1)
    train_from_delivery(data, tmp_path / "models", day)
    plain = run_daily(day, data, tmp_path / "a", models_dir=tmp_path / "models")
    raised = run_daily(
        day, data, tmp_path / "b", models_dir=tmp_path / "models", risk_tasks_above=0.0
    )
    tasks = pq.read_table(raised.path / "tasks.parquet").to_pylist()
    before = pq.read_table(plain.path / "tasks.parquet").to_pylist()
    risk_tasks = [t for t in tasks if t["reason_code"] == "risk_task"]
    assert risk_tasks and raised.record["risk_tasks"]["raised"] == len(risk_tasks)
    # Moments are not displaced: every task of the plain run is there, unchanged.
    assert [t for t in tasks if t["reason_code"] != "risk_task"] == before
    detected = {
        d["subscriber_id"] for d in pq.read_table(raised.path / "detections.parquet").to_pylist()
    }
    assert not detected & {t["subscriber_id"] for t in risk_tasks}
    capacity = {
        m["manager_id"]: m["daily_capacity"]
        for m in pq.read_table(data / "managers.parquet").to_pylist()
    }
    calls = Counter(t["manager_id"] for t in tasks if t["decision"] == "call")
    assert all(n <= capacity[m] for m, n in calls.items())
    decisions = pq.read_table(raised.path / "decisions.parquet").to_pylist()
    assert sum(d["source"] == "risk" and d["moment_code"] is None for d in decisions) == len(
        risk_tasks
    )
    assert raised.record["decisions"]["call"] == plain.record["decisions"]["call"] + len(risk_tasks)
    assert raised.run_id != plain.run_id
