"""Detection: one pass, unpivot, suppressions by no-service moments, moment selection,
determinism, and reading a registered unified view."""

from __future__ import annotations

import copy
import datetime as dt
import json

import pytest
import yaml
from moment_data import bill, event, sub, tables

from keycare.engine.definitions import DEFAULT_PATH, load_definitions, parse_definitions
from keycare.engine.detect import DETECTIONS_ORDER, detect, hits_sql, plan_detection
from keycare.engine.view import build_view
from keycare.errors import UserError

D = dt.date(2026, 11, 3)  # Tuesday, day 3: daily and monthly moments are due
TUESDAY_4TH = dt.date(2026, 11, 4)  # only daily moments are due (weekly runs on Mondays)


@pytest.fixture
def data(backend):
    tables(
        backend,
        [
            sub("S1", payment_type="prepaid", balance=5.0),
            sub("S2", dnd=True, payment_type="prepaid", balance=5.0),
            sub("S3", status="suspended"),
            sub("S4", city_id="C02"),
            sub("S5", value_tier="mass", payment_type="prepaid", balance=5.0),
        ],
        bills=[
            bill(s, m, t)
            for s in ("S1", "S2", "S3", "S4")
            for m, t in (("2026-10", 86.0), ("2026-09", 151.0))
        ],
        events=[
            event("S1", "complaint", D),
            event("S3", "complaint", D),
            event("S4", "complaint", D),
        ],
    )
    return backend


def detections(backend) -> list[dict]:
    return backend.to_arrow(f"SELECT * FROM detections ORDER BY {DETECTIONS_ORDER}").to_pylist()


def pairs(backend) -> set[tuple[str, str]]:
    return {(r["subscriber_id"], r["moment_code"]) for r in detections(backend)}


def test_detections_and_suppressions(data):
    result = detect(data, D, load_definitions())
    assert pairs(data) == {
        ("S1", "A01"),
        ("S1", "A03"),
        ("S1", "A04"),
        ("S4", "A01"),
        ("S4", "A03"),
    }
    sup = {r["subscriber_id"]: r for r in data.to_arrow("SELECT * FROM suppressions").to_pylist()}
    assert set(sup) == {"S2", "S3"}
    assert sup["S2"]["moment_code"] == "N01" and sup["S2"]["suppressed_codes"] == "A03,A04"
    assert sup["S3"]["moment_code"] == "N02" and sup["S3"]["suppressed_codes"] == "A01,A03"
    assert "停机" in sup["S3"]["reason"]
    assert result.suppressed == 2 and result.suppressed_detections == 4
    assert result.counts["A01"] == 2 and result.counts["N01"] == 1 and result.counts["N02"] == 1
    assert result.detections == 5
    for row in detections(data):
        json.loads(row["params"])
        assert row["business_date"] == D and "{" not in row["explanation"]
    assert set(result.timings) >= {"compile", "evaluate", "unpivot", "total"}


def test_only_due_cycles_run_unless_codes_are_given(data):
    result = detect(data, TUESDAY_4TH, load_definitions())
    assert "A03" not in result.moments and "A08" not in result.moments
    assert {"A01", "A04", "N01", "N02"} <= set(result.moments)
    result = detect(data, TUESDAY_4TH, load_definitions(), moments=["A04"])
    assert result.moments == ["N01", "N02", "A04"]  # guards always run
    assert pairs(data) == {("S1", "A04")}


def test_unknown_moment_code(data):
    with pytest.raises(UserError, match="unknown moment code A99"):
        detect(data, D, load_definitions(), moments=["A99"])


def test_city_thresholds_argument(data):
    base = load_definitions()
    result = detect(
        data, D, base, moments=["A03"], city_thresholds={"C02": {"A03": {"drop_pct": 50}}}
    )
    assert result.definitions_version != base.version
    assert pairs(data) == {("S1", "A03")}  # S4 (C02) drops 43 % < 50 %


def test_same_input_same_output(data):
    defs = load_definitions()
    detect(data, D, defs, moments=["A01", "A03", "A04"])
    first = detections(data)
    assert len(first) == 5
    detect(data, D, defs, moments=["A04", "A03", "A01"])
    assert detections(data) == first


def test_reads_a_registered_unified_view(data):
    defs = load_definitions()
    build_view(data, D)  # without the moments' extra aggregates: detect rebuilds it
    detect(data, D, defs, moments=["A01"], view="unified_view")
    assert pairs(data) == {("S1", "A01"), ("S4", "A01")}
    plan = plan_detection(defs, D)
    assert "_moment_view" not in hits_sql(plan, "unified_view")


def test_disabled_guard_no_longer_suppresses(data):
    document = yaml.safe_load(DEFAULT_PATH.read_text(encoding="utf-8"))
    doc = copy.deepcopy(document)
    for entry in doc["moments"]:
        if entry["code"] == "N01":
            entry["enabled"] = False
    detect(data, D, parse_definitions(doc), moments=["A04"])
    assert ("S2", "A04") in pairs(data)


def test_nothing_to_evaluate(data):
    document = yaml.safe_load(DEFAULT_PATH.read_text(encoding="utf-8"))
    doc = {"moments": [m for m in document["moments"] if m["code"] == "A03"]}
    doc["defaults"] = document["defaults"]
    result = detect(data, TUESDAY_4TH, parse_definitions(doc))
    assert result.moments == [] and result.counts == {}
    assert detections(data) == []
    assert data.to_arrow("SELECT * FROM suppressions").num_rows == 0
