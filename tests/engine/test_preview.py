"""Preview of a changed moment: the daily run's own detection over the latest published delivery."""

from __future__ import annotations

import shutil
from collections import Counter
from datetime import date

import pyarrow.parquet as pq
import pytest

from keycare.engine.definitions import load_definitions
from keycare.engine.pipeline import run_daily
from keycare.engine.preview import latest_source, preview_moment
from keycare.synth.generator import generate

DAY = date(2026, 11, 22)
CODE = "A04"  # daily low-balance alert: due on every date, so the run evaluated it


@pytest.fixture(scope="module")
def published(tmp_path_factory):
    base = tmp_path_factory.mktemp("preview")
    generate(base / "data", subscribers=800, months=3, seed=3)
    summary = run_daily(DAY, base / "data", base / "runs")
    return summary, base


def _changed(threshold: int):
    defs = load_definitions()
    document = {**defs.document, "moments": [dict(m) for m in defs.document["moments"]]}
    for entry in document["moments"]:
        if entry["code"] == CODE:
            entry["thresholds"] = {"min_balance": {**entry["thresholds"]["min_balance"]}}
            entry["thresholds"]["min_balance"]["default"] = threshold
    from keycare.engine.definitions import parse_definitions

    return parse_definitions(document)


def test_latest_source_names_the_run_and_its_delivery(published):
    summary, base = published
    source = latest_source(base / "runs")
    assert source.business_date == DAY and source.run_id == summary.run_id
    assert source.data_dir == (base / "data").resolve()


def test_no_published_run_means_no_source(tmp_path):
    assert latest_source(tmp_path / "runs") is None
    assert latest_source(tmp_path) is None


def test_current_counts_equal_what_the_daily_run_detected(published):
    summary, base = published
    defs = load_definitions()
    result = preview_moment(latest_source(base / "runs"), CODE, defs, defs)
    detections = pq.read_table(summary.path / "detections.parquet").to_pylist()
    expected = Counter(d["city_id"] for d in detections if d["moment_code"] == CODE)
    assert expected, "the synthetic delivery has low-balance customers"
    assert {c.city_id: c.current for c in result.cities} == dict(expected)
    assert all(c.changed == c.current for c in result.cities)


def test_a_looser_threshold_fires_on_more_customers_and_nothing_is_published(published):
    summary, base = published
    before = sorted(p.name for p in (base / "runs").iterdir())
    defs = load_definitions()
    result = preview_moment(latest_source(base / "runs"), CODE, defs, _changed(500))
    assert result.total_changed > result.total_current
    assert all(c.changed >= c.current for c in result.cities)
    assert sorted(p.name for p in (base / "runs").iterdir()) == before
    assert not (base / "data" / ".keycare-ingest").exists()


def test_a_disabled_moment_fires_on_nobody(published):
    _, base = published
    defs = load_definitions()
    document = {**defs.document, "moments": [dict(m) for m in defs.document["moments"]]}
    next(m for m in document["moments"] if m["code"] == CODE)["enabled"] = False
    from keycare.engine.definitions import parse_definitions

    result = preview_moment(latest_source(base / "runs"), CODE, defs, parse_definitions(document))
    assert result.total_changed == 0 and result.total_current > 0
    assert not result.changed_enabled


def test_a_run_whose_delivery_was_removed_is_not_a_source(published, tmp_path):
    _, base = published
    runs = tmp_path / "runs"
    shutil.copytree(base / "runs", runs, symlinks=True)
    data = tmp_path / "gone"
    data.mkdir()
    # Point the copied run at a directory, then remove it: the preview must say "no data".
    record_path = next(p for p in runs.iterdir() if p.is_dir() and not p.is_symlink())
    record_file = record_path / "run.json"
    record_file.write_text(
        record_file.read_text(encoding="utf-8").replace(str((base / "data").resolve()), str(data)),
        encoding="utf-8",
    )
    data.rmdir()
    assert latest_source(runs) is None


def test_a_reused_delivery_gives_the_same_answer_and_a_new_run_replaces_it(published):
    from keycare.engine import preview

    _, base = published
    source = latest_source(base / "runs")
    defs, looser = load_definitions(), _changed(500)
    preview.clear_cache()
    fresh = preview_moment(source, CODE, defs, looser, reuse=False)
    assert preview._CACHE.entry is None
    first = preview_moment(source, CODE, defs, looser)
    assert "ingest" in first.timings and preview._CACHE.entry is not None
    again = preview_moment(source, CODE, defs, looser)
    assert "ingest" not in again.timings, "the second preview reuses the ingested delivery"
    assert [(c.city_id, c.current, c.changed) for c in again.cities] == [
        (c.city_id, c.current, c.changed) for c in fresh.cities
    ]
    kept = preview._CACHE.entry
    newer = type(source)(source.business_date, source.data_dir, "another-run")
    assert "ingest" in preview_moment(newer, CODE, defs, looser).timings
    assert preview._CACHE.entry is not kept
    preview.clear_cache()
    assert preview._CACHE.entry is None
