"""The daily run with risk scoring and allocation: tasks and decisions are published."""

from __future__ import annotations

import json
from collections import Counter
from datetime import date

import pyarrow.parquet as pq
import pytest

from keycare.engine import publish as pub
from keycare.engine.allocate import DECISIONS
from keycare.engine.pipeline import allocation_steps, run_daily
from keycare.engine.risk import DEFAULT_HIGH_RISK
from keycare.engine.risk.operator import train_from_delivery
from keycare.synth.generator import generate

DAY = date(2026, 11, 22)


@pytest.fixture(scope="module")
def delivery(tmp_path_factory):
    out = tmp_path_factory.mktemp("synth") / "data"
    generate(out, subscribers=3000, months=6, seed=1)
    return out


@pytest.fixture(scope="module")
def published(delivery, tmp_path_factory):
    base = tmp_path_factory.mktemp("run")
    train_from_delivery(delivery, base / "models", DAY)  # the monthly job, before the run
    first = run_daily(DAY, delivery, base / "runs", models_dir=base / "models")
    return first, base


def _table(summary, name):
    return pq.read_table(summary.path / f"{name}.parquet").to_pylist()


def test_steps_and_outputs(published):
    first, _ = published
    assert [s.name for s in first.steps] == [s.name for s in allocation_steps()]
    names = {p.name for p in first.path.iterdir()}
    assert {"tasks.parquet", "decisions.parquet", "risk_scores.parquet"} <= names
    assert _table(first, "tasks"), "a 3000-subscriber delivery allocates some tasks"


def test_every_candidate_has_exactly_one_decision(published):
    first, _ = published
    detections = {(d["subscriber_id"], d["moment_code"]) for d in _table(first, "detections")}
    suppressions = {(s["subscriber_id"], s["moment_code"]) for s in _table(first, "suppressions")}
    decisions = Counter((d["subscriber_id"], d["moment_code"]) for d in _table(first, "decisions"))
    assert set(decisions) == detections | suppressions
    assert set(decisions.values()) == {1}
    assert all(d["decision"] in DECISIONS and d["reason"] for d in _table(first, "decisions"))


def test_suppressed_subscribers_are_decided_as_suppressed(published):
    first, _ = published
    by_key = {(d["subscriber_id"], d["moment_code"]): d for d in _table(first, "decisions")}
    for row in _table(first, "suppressions"):
        assert by_key[(row["subscriber_id"], row["moment_code"])]["decision"] == "suppressed"


def test_capacity_is_not_exceeded_and_one_task_per_customer(published, delivery):
    first, _ = published
    tasks = _table(first, "tasks")
    customers = Counter(t["subscriber_id"] for t in tasks)
    assert set(customers.values()) == {1}
    capacity = {
        m["manager_id"]: m["daily_capacity"]
        for m in pq.read_table(delivery / "managers.parquet").to_pylist()
    }
    calls = Counter(t["manager_id"] for t in tasks if t["decision"] == "call")
    assert calls, "some tasks go to a manager's calls"
    assert all(n <= capacity[manager] for manager, n in calls.items())


def test_record_has_model_version_and_decision_counts(published):
    first, _ = published
    record = json.loads((first.path / pub.RUN_RECORD).read_text())
    assert record["model_version"] and record["risk_model"]["source"] == "promoted"
    decisions = _table(first, "decisions")
    assert record["decisions"] == {d: sum(r["decision"] == d for r in decisions) for d in DECISIONS}
    risk = _table(first, "risk_scores")
    assert risk and {r["model_version"] for r in risk} == {record["model_version"]}
    assert record["outputs"]["tasks.parquet"]["rows"] == len(_table(first, "tasks"))
    # Reasons for the scores at or above the floor only (the high-risk list's default).
    floor = record["risk_model"]["reasons_above"]
    assert floor == DEFAULT_HIGH_RISK
    explained = [r for r in risk if r["risk_probability"] >= floor]
    assert record["risk_model"]["explained"] == len(explained)
    assert all(r["reason_1"] for r in explained)
    assert not any(r["reason_1"] for r in risk if r["risk_probability"] < floor)


def test_rerun_gives_the_same_content(published, delivery):
    first, base = published
    second = run_daily(DAY, delivery, base / "runs", models_dir=base / "models")
    assert second.run_id == first.run_id
    assert second.content_hash == first.content_hash
    assert second.record["risk_model"]["source"] == "promoted"
    assert len(list((base / "models").glob("*/metadata.json"))) == 1  # the run never trains


def test_unified_view_holds_every_catalog_field_of_the_archived_customers(published, delivery):
    """The run publishes the full unified view (raw and derived fields) of the customers the
    application archives: the high-value tier and every key-account member."""
    from keycare.catalog.fields import load_catalog

    _, base = published
    run = pub.read_published(base / "runs", DAY)  # a re-run above replaced first's version
    view = run.table("unified_view")
    catalog = load_catalog()
    assert set(view.column_names) >= {f.code for f in catalog.fields}
    derived = [f.code for f in catalog.fields if not f.is_raw]
    assert len(derived) > 100 and all(code in view.column_names for code in derived)
    subscribers = pq.read_table(delivery / "subscribers.parquet").to_pylist()
    members = pq.read_table(delivery / "key_account_members.parquet")
    members = set(members.column("subscriber_id").to_pylist())
    expected = {
        s["subscriber_id"]
        for s in subscribers
        if s["value_tier"] == "mid_high" or s["key_account_id"] or s["subscriber_id"] in members
    }
    ids = view.column("subscriber_id").to_pylist()
    assert ids == sorted(expected), "one row per archived customer, in subscriber order"
    assert run.record["outputs"]["unified_view.parquet"]["rows"] == len(expected)
    assert any(v is not None for v in view.column("bill_avg_3m").to_pylist())
