"""Moment definitions: the built-in 29, validation messages, versions, per-city overrides,
and which cycles are due on a date."""

from __future__ import annotations

import copy
import datetime as dt

import pytest
import yaml

from keycare.engine.definitions import (
    DEFAULT_PATH,
    due_moments,
    load_definitions,
    parse_definitions,
)
from keycare.errors import UserError

EXPECTED_CODES = (
    [f"F0{i}" for i in range(1, 8)]
    + [f"A{i:02d}" for i in range(1, 18)]
    + ["S01", "S02", "S03", "N01", "N02"]
)


@pytest.fixture(scope="module")
def document():
    return yaml.safe_load(DEFAULT_PATH.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def defs():
    return load_definitions()


def with_moment(document, code, **changes):
    doc = copy.deepcopy(document)
    entry = next(m for m in doc["moments"] if m["code"] == code)
    for key, value in changes.items():
        if value is None:
            entry.pop(key, None)
        else:
            entry[key] = value
    return doc


def test_the_29_builtin_moments(defs):
    assert sorted(m.code for m in defs.moments) == sorted(EXPECTED_CODES)
    counts = {}
    for m in defs.moments:
        counts[m.category] = counts.get(m.category, 0) + 1
        assert m.zh and m.en and m.strategy and m.explanation
        assert 1 <= m.priority <= 100
        assert m.channel in ("call", "sms")
        if m.category != "no_service":
            assert m.script and m.sms_template
            assert m.scope is not None  # mid/high-end scope from the defaults
    assert counts == {"first": 7, "anomaly": 17, "special": 3, "no_service": 2}
    by_code = defs.by_code
    # the seed's cycle examples: handset change daily, weekly call duration weekly,
    # plan overage / supplementary monthly
    assert by_code["A10"].cycle == "daily"
    assert by_code["A08"].cycle == "weekly"
    assert by_code["A09"].cycle == "monthly"
    assert by_code["A03"].thresholds == {"drop_pct": 30, "min_base": 120}
    assert by_code["A03"].threshold_specs["drop_pct"].min == 5


def test_version_is_a_content_hash(document, defs):
    assert load_definitions().version == defs.version
    assert parse_definitions(copy.deepcopy(document)).version == defs.version
    changed = with_moment(document, "A03", priority=77)
    assert parse_definitions(changed).version != defs.version
    overridden = load_definitions(city_overrides={"C02": {"A03": {"drop_pct": 40}}})
    assert overridden.version != defs.version
    again = defs.with_city_overrides({"C02": {"A03": {"drop_pct": 40}}})
    assert again.version == overridden.version
    assert again.by_code["A03"].thresholds_for("C02")["drop_pct"] == 40
    assert again.by_code["A03"].thresholds_for("C01")["drop_pct"] == 30


@pytest.mark.parametrize(
    "code,changes,message",
    [
        (
            "A03",
            {"condition": {"gte": ["bill_totl_m1", 1]}},
            "moment A03: condition.gte: unknown field 'bill_totl_m1'",
        ),
        (
            "A03",
            {"condition": {"gte": ["join_date", 5]}},
            "moment A03: condition.gte: field join_date is date; 5 is not",
        ),
        (
            "A03",
            {"condition": {"like": ["brand", "g%"]}},
            "moment A03: condition: unknown operator 'like'",
        ),
        (
            "A03",
            {"thresholds": {"drop_pct": {"default": 300, "min": 5, "max": 100}, "min_base": 120}},
            "moment A03: threshold drop_pct = 300 is out of its range [5, 100]",
        ),
        (
            "A03",
            {"thresholds": {"drop_pct": 30}},
            "moment A03: condition.all[1].gte: unknown threshold $min_base",
        ),
        (
            "A03",
            {"thresholds": {"drop_pct": 30, "min_base": 120, "spare": 1}},
            "moment A03: threshold spare is declared but never used",
        ),
        ("A03", {"category": "odd"}, "moment A03: category must be one of"),
        ("A03", {"cycle": "hourly"}, "moment A03: cycle must be one of daily, weekly, monthly"),
        ("A03", {"priority": 0}, "moment A03: priority must be a whole number in [1, 100]"),
        ("A03", {"channel": None}, "moment A03: missing channel"),
        (
            "A03",
            {"explanation": "下降 {drop_percent}%"},
            "moment A03: explanation: unknown placeholder {drop_percent}",
        ),
        ("A03", {"script": "上月 {bill_total_m1:.3f} 元"}, "unknown format '.3f'"),
        ("A03", {"colour": "red"}, "moment A03: unknown key 'colour'"),
        ("F02", {"show": ["msisdn"]}, "moment F02: show: field msisdn is personal data"),
    ],
)
def test_invalid_definitions_are_rejected_with_a_clear_message(document, code, changes, message):
    with pytest.raises(UserError) as info:
        parse_definitions(with_moment(document, code, **changes))
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_duplicate_codes_and_bad_documents(document):
    doc = copy.deepcopy(document)
    doc["moments"].append(copy.deepcopy(doc["moments"][0]))
    with pytest.raises(UserError, match="defined twice"):
        parse_definitions(doc)
    with pytest.raises(UserError, match="expected a mapping with a `moments` list"):
        parse_definitions({"nothing": 1})


def test_unreadable_or_broken_files(tmp_path):
    with pytest.raises(UserError, match="cannot read"):
        load_definitions(tmp_path / "missing.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("moments: [ {code: A01", encoding="utf-8")
    with pytest.raises(UserError, match="not valid YAML"):
        load_definitions(broken)


@pytest.mark.parametrize(
    "overrides,message",
    [
        ({"C02": {"A99": {"x": 1}}}, "city C02, moment A99: unknown moment"),
        (
            {"C02": {"A03": {"drop_percent": 40}}},
            "city C02, moment A03: unknown threshold drop_percent",
        ),
        (
            {"C02": {"A03": {"drop_pct": 101}}},
            "city C02, moment A03: threshold drop_pct = 101 is out of its range [5, 100]",
        ),
        (
            {"C02": {"A03": {"drop_pct": "40"}}},
            "city C02, moment A03: threshold drop_pct must be a number",
        ),
        ({"C02": {"N01": {"service_start": "9am"}}}, "does not match"),
        ({"C02": ["A03"]}, "city C02: expected"),
    ],
)
def test_invalid_city_overrides(overrides, message):
    with pytest.raises(UserError) as info:
        load_definitions(city_overrides=overrides)
    assert message in str(info.value)


def test_due_moments_by_cycle(defs):
    monday_the_3rd = dt.date(2025, 11, 3)
    codes = {m.code for m in due_moments(defs, monday_the_3rd)}
    assert {"A08", "A13", "A15"} <= codes  # weekly, Monday
    assert {"A02", "A03", "A07", "A09", "A11", "A12", "A17", "F07"} <= codes  # monthly, day 3
    tuesday = dt.date(2025, 11, 4)
    codes = {m.code for m in due_moments(defs, tuesday)}
    assert codes == {m.code for m in defs.moments if m.cycle == "daily"}
    codes = {m.code for m in due_moments(defs, tuesday, weekly_weekday=1, monthly_day=4)}
    assert codes == {m.code for m in defs.moments}


def test_disabled_moments_are_not_due(document):
    defs = parse_definitions(with_moment(document, "A01", enabled=False))
    assert "A01" not in {m.code for m in due_moments(defs, dt.date(2025, 11, 4))}
