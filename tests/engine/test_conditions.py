"""The condition language: parsing and checking, SQL compilation details, Python evaluation."""

from __future__ import annotations

import datetime as dt

import pytest

from keycare.engine import calendar as cal
from keycare.engine.conditions import (
    Compiler,
    DefinitionError,
    Schema,
    evaluate,
    param_names,
    parse_condition,
    parse_threshold,
    referenced_fields,
    used_thresholds,
)
from keycare.errors import UserError

TYPES = {
    "bill_total_m1": "float",
    "bill_total_m2": "float",
    "complaints_30d": "int",
    "brand": "string",
    "join_date": "date",
    "birth_date": "date",
    "dnd": "bool",
    "city_id": "string",
}
THRESHOLDS = {
    "drop_pct": parse_threshold("drop_pct", {"default": 30, "min": 5, "max": 100}, "moment T"),
    "days": parse_threshold("days", {"default": 3, "min": 1, "max": 30}, "moment T"),
    "label": parse_threshold("label", "x", "moment T"),
}
SCHEMA = Schema(
    TYPES, THRESHOLDS, frozenset({"complaint", "bill_query"}), frozenset({"birth_date"}), "moment T"
)
D = dt.date(2026, 11, 3)


def parse(raw):
    return parse_condition(raw, SCHEMA)


@pytest.mark.parametrize(
    "raw,message",
    [
        ({"gte": ["bill_totl_m1", 10]}, "unknown field 'bill_totl_m1'"),
        ({"gte": ["join_date", 10]}, "field join_date is date; 10 is not"),
        ({"gte": ["bill_total_m1", "$nope"]}, "unknown threshold $nope"),
        ({"gte": ["brand", "$drop_pct"]}, "brand is string but threshold $drop_pct is int"),
        ({"gte": ["dnd", True]}, "only eq / ne apply"),
        (
            {"lt": ["bill_total_m1", {"field": "brand"}]},
            "cannot compare bill_total_m1 (number) with brand",
        ),
        ({"approx": ["bill_total_m1", 1]}, "unknown operator 'approx'"),
        ({"all": []}, "needs a non-empty list"),
        ({"gte": ["bill_total_m1", 1], "lt": ["bill_total_m1", 2]}, "one operator per mapping"),
        (
            {
                "change": {
                    "field": "brand",
                    "base": "bill_total_m2",
                    "direction": "down",
                    "at_least_pct": 30,
                }
            },
            "field brand is string; this needs number",
        ),
        (
            {
                "change": {
                    "field": "bill_total_m1",
                    "base": "bill_total_m2",
                    "direction": "sideways",
                    "at_least_pct": 30,
                }
            },
            "direction must be down or up",
        ),
        (
            {"event_count": {"type": "complain", "days": 3}, "gte": 1},
            "unknown event type 'complain'",
        ),
        (
            {"event_count": {"type": "complaint", "days": 0}, "gte": 1},
            "days must be a whole number in [1, 366]",
        ),
        ({"event_count": {"type": "complaint", "days": 3}}, "needs exactly one comparison"),
        (
            {"first_time": {"event": "complaint", "within_days": "$label"}},
            "needs a whole-number threshold",
        ),
        (
            {"anniversary": {"field": "brand", "days_before": 1}},
            "field brand is string; this needs date",
        ),
        ({"in": ["brand", []]}, "needs [field, [value, ...]]"),
        ({"eq": ["brand", None]}, "use is_null"),
        ({"gte": ["join_date", "2024-13-01"]}, "is not YYYY-MM-DD"),
    ],
)
def test_invalid_conditions_name_the_problem(raw, message):
    with pytest.raises(DefinitionError) as info:
        parse(raw)
    assert isinstance(info.value, UserError)
    assert str(info.value).startswith("moment T: condition")
    assert message in str(info.value)


def test_threshold_specs_are_checked():
    spec = parse_threshold("drop_pct", {"default": 30, "min": 5, "max": 100}, "moment A03")
    assert spec.check(5, "x") == 5 and spec.check(100, "x") == 100
    with pytest.raises(
        UserError, match=r"moment A03: threshold drop_pct = 150 is out of its range \[5, 100\]"
    ):
        parse_threshold("drop_pct", {"default": 150, "min": 5, "max": 100}, "moment A03")
    with pytest.raises(UserError, match="must be a whole number"):
        spec.check(30.5, "city C02")
    with pytest.raises(UserError, match="must be a number"):
        spec.check("30", "city C02")
    with pytest.raises(UserError, match="needs a default"):
        parse_threshold("x", {"min": 1}, "moment T")
    with pytest.raises(UserError, match="does not match"):
        parse_threshold("t", {"default": "9am", "pattern": "^[0-2][0-9]:[0-5][0-9]$"}, "moment T")


def test_literals_escape_and_dates():
    node = parse({"all": [{"eq": ["brand", "$$gotone"]}, {"gte": ["join_date", "2020-01-01"]}]})
    compiled = Compiler(D, THRESHOLDS, {}, TYPES).compile(node)
    assert "'$gotone'" in compiled.sql
    assert "CAST('2020-01-01' AS DATE)" in compiled.sql
    assert evaluate(node, {"brand": "$gotone", "join_date": dt.date(2021, 5, 1)}, D) is True


def test_float_literals_are_exact_doubles():
    sql = Compiler(D, THRESHOLDS, {}, TYPES).compile(parse({"gt": ["bill_total_m1", 0.1]})).sql
    assert "CAST('0.1' AS DOUBLE)" in sql


def test_city_thresholds_compile_to_case():
    node = parse(
        {
            "change": {
                "field": "bill_total_m1",
                "base": "bill_total_m2",
                "direction": "down",
                "at_least_pct": "$drop_pct",
            }
        }
    )
    compiled = Compiler(
        D, THRESHOLDS, {"C02": {"drop_pct": 50}, "C03": {"drop_pct": 30}}, TYPES
    ).compile(node)
    # C03 repeats the default, so only C02 needs a branch
    assert """(CASE "city_id" WHEN 'C02' THEN 50 ELSE 30 END)""" in compiled.sql
    assert "C03" not in compiled.sql


def test_window_thresholds_compile_once_per_distinct_value():
    node = parse({"event_count": {"type": "complaint", "days": "$days"}, "gte": 1})
    compiled = Compiler(D, THRESHOLDS, {"C02": {"days": 7}, "C04": {"days": 7}}, TYPES).compile(
        node
    )
    assert sorted(compiled.aggs) == ["_ev_complaint_d0_2", "_ev_complaint_d0_6"]
    assert """WHEN "city_id" IN ('C02', 'C04') THEN""" in compiled.sql
    assert set(compiled.params) == {"complaint_count"}


def test_event_windows_are_literal_day_ranges():
    node = parse({"first_time": {"event": ["bill_query", "complaint"], "within_days": 60}})
    compiled = Compiler(D, THRESHOLDS, {}, TYPES).compile(node)
    recent, prior = (
        compiled.aggs["_ev_bill_query_complaint_d0_0"],
        compiled.aggs["_ev_bill_query_complaint_d1_60"],
    )
    assert recent.window.date_range(D) == (D, D)
    assert prior.window.date_range(D) == (D - dt.timedelta(days=60), D - dt.timedelta(days=1))
    assert "event_type IN ('bill_query', 'complaint')" in prior.where


def test_personal_fields_are_not_parameters():
    node = parse({"all": [{"is_null": "birth_date"}, {"gte": ["bill_total_m1", 1]}]})
    assert param_names(node, SCHEMA.personal) == ["bill_total_m1"]
    assert referenced_fields(node) == ["birth_date", "bill_total_m1"]


def test_used_thresholds_in_order():
    node = parse(
        {
            "any": [
                {"event_count": {"type": "complaint", "days": "$days"}, "gte": 1},
                {
                    "change": {
                        "field": "bill_total_m1",
                        "base": "bill_total_m2",
                        "direction": "up",
                        "at_least_pct": "$drop_pct",
                    }
                },
            ]
        }
    )
    assert used_thresholds(node) == ["days", "drop_pct"]


# --------------------------------------------------------------------------- evaluator semantics


def test_three_valued_logic():
    missing = {"bill_total_m1": None, "complaints_30d": 2}
    assert evaluate(parse({"gt": ["bill_total_m1", 1]}), missing, D) is None
    assert evaluate(parse({"not": {"gt": ["bill_total_m1", 1]}}), missing, D) is None
    assert (
        evaluate(
            parse({"all": [{"gt": ["bill_total_m1", 1]}, {"lt": ["complaints_30d", 1]}]}),
            missing,
            D,
        )
        is False
    )
    assert (
        evaluate(
            parse({"any": [{"gt": ["bill_total_m1", 1]}, {"gte": ["complaints_30d", 1]}]}),
            missing,
            D,
        )
        is True
    )
    assert evaluate(parse({"is_null": "bill_total_m1"}), missing, D) is True


def test_change_semantics():
    down = parse(
        {
            "change": {
                "field": "bill_total_m1",
                "base": "bill_total_m2",
                "direction": "down",
                "at_least_pct": 30,
            }
        }
    )
    assert (
        evaluate(down, {"bill_total_m1": 70.0, "bill_total_m2": 100.0}, D) is True
    )  # exactly 30 %
    assert evaluate(down, {"bill_total_m1": 70.01, "bill_total_m2": 100.0}, D) is False
    assert evaluate(down, {"bill_total_m1": 0.0, "bill_total_m2": 0.0}, D) is False  # no base
    assert evaluate(down, {"bill_total_m1": None, "bill_total_m2": 100.0}, D) is None


def test_event_counts_from_a_list_of_events():
    node = parse({"first_time": {"event": "bill_query", "within_days": 60}})
    today = {"event_type": "bill_query", "event_time": dt.datetime(2026, 11, 3, 9)}
    old = {"event_type": "bill_query", "event_time": dt.datetime(2026, 9, 4, 9)}  # 60 days ago
    older = {"event_type": "bill_query", "event_time": dt.datetime(2026, 9, 3, 9)}  # 61 days ago
    assert evaluate(node, {}, D, events=[today]) is True
    assert evaluate(node, {}, D, events=[today, old]) is False
    assert evaluate(node, {}, D, events=[today, older]) is True


def test_anniversary_handles_leap_days():
    node = parse({"anniversary": {"field": "birth_date", "days_before": 0}})
    leap_born = {"birth_date": dt.date(2000, 2, 29)}
    assert evaluate(node, leap_born, dt.date(2025, 2, 28)) is True  # common year: Feb 28
    assert evaluate(node, leap_born, dt.date(2024, 2, 28)) is False  # leap year: Feb 29
    assert evaluate(node, leap_born, dt.date(2024, 2, 29)) is True
    assert evaluate(node, {"birth_date": dt.date(2000, 2, 28)}, dt.date(2025, 2, 28)) is True
    ahead = parse({"anniversary": {"field": "join_date", "days_before": 3, "min_years": 1}})
    assert (
        evaluate(ahead, {"join_date": dt.date(2020, 1, 1)}, dt.date(2025, 12, 29)) is True
    )  # across New Year
    assert evaluate(ahead, {"join_date": dt.date(2025, 1, 1)}, dt.date(2025, 12, 29)) is True
    assert (
        evaluate(ahead, {"join_date": dt.date(2025, 12, 30)}, dt.date(2025, 12, 29)) is False
    )  # 0 years


def test_anniversary_window_offsets():
    window = cal.anniversary_window(dt.date(2025, 2, 27), days_before=2, days_after=0)
    assert window[227] == (0, 2025) and window[228] == (1, 2025) and window[229] == (1, 2025)
    assert window[301] == (2, 2025)


def test_holiday_calendar():
    period = cal.nearest_holiday(dt.date(2026, 9, 28), days_before=5, days_after=0)
    assert period.name_zh == "国庆节" and period.start == dt.date(2026, 10, 1) and period.official
    assert cal.nearest_holiday(dt.date(2026, 9, 20), days_before=3, days_after=0) is None
    fallback = cal.nearest_holiday(dt.date(2027, 4, 29), days_before=3, days_after=0)
    assert fallback.name_zh == "劳动节" and not fallback.official
