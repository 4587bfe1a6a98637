"""Holiday periods and the S02 holiday moment over every year the calendar package covers.

A holiday period is the official one: statutory holiday days joined into one period when only
days off lie between them, whatever names the package gives them (a combined National Day and
Mid-autumn holiday is one period). S02 greets before a period's first day, never inside one.

The periods here are derived independently of ``keycare.engine.calendar``, from the package's
public API only (``is_holiday`` / ``get_holiday_detail``), and the supported years are probed
from the package itself, so a new package release is checked without editing this file.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re

import chinese_calendar
import pytest

from keycare.engine import calendar as cal
from keycare.engine.conditions import Compiler, evaluate
from keycare.engine.definitions import load_definitions
from keycare.engine.view import sql_date, sql_string

ONE_DAY = dt.timedelta(days=1)


def _supported(year: int) -> bool:
    try:
        chinese_calendar.is_holiday(dt.date(year, 7, 1))
    except NotImplementedError:
        return False
    return True


def supported_years() -> range:
    """The years the package has data for, found by asking it (it raises outside them)."""
    years = [y for y in range(1900, 2201) if _supported(y)]
    assert years, "the calendar package supports no year at all"
    assert years == list(range(years[0], years[-1] + 1)), "supported years are not contiguous"
    return range(years[0], years[-1] + 1)


YEARS = supported_years()
FIRST_DAY, LAST_DAY = dt.date(YEARS[0], 1, 1), dt.date(YEARS[-1], 12, 31)


def _days(first: dt.date, last: dt.date):
    day = first
    while day <= last:
        yield day
        day += ONE_DAY


def oracle_periods() -> list[tuple[dt.date, dt.date]]:
    """From the first to the last statutory holiday day of each run of days off (weekends
    count unless made working days), from the package's public API.

    A weekend the package labels with the holiday is part of the period, and so is an
    unlabelled one between two holiday days (2015-06-21); an unlabelled weekend merely next
    to a holiday is not (2005-12-31 before New Year's Day 2006, officially Jan 1-3).
    """
    periods, labelled = [], []
    for day in _days(FIRST_DAY, LAST_DAY):
        off, name = chinese_calendar.get_holiday_detail(day)
        if off and name is not None:
            labelled.append(day)
        elif not off:
            if labelled:
                periods.append((labelled[0], labelled[-1]))
            labelled = []
    if labelled:
        periods.append((labelled[0], labelled[-1]))
    return periods


PERIODS = oracle_periods()
DAYS_OFF_IN_PERIODS = {d for start, end in PERIODS for d in _days(start, end)}


@pytest.fixture(scope="module")
def s02():
    return load_definitions().by_code["S02"]


def _compile(moment, day: dt.date, days_before: int):
    spec = dataclasses.replace(moment.threshold_specs["days_before"], default=days_before)
    return Compiler(day, {"days_before": spec}).compile(moment.condition)


def _firing(moment, days_before: int) -> dict[dt.date, dt.date]:
    """business date -> the first day of the holiday S02 greets for, on every day covered.

    The compiled SQL (what DuckDB and Spark both run) and the Python evaluator must agree.
    """
    fired = {}
    for day in _days(FIRST_DAY - dt.timedelta(days=20), LAST_DAY):
        compiled = _compile(moment, day, days_before)
        python = evaluate(moment.condition, {}, day, {"days_before": days_before})
        assert compiled.sql in ("TRUE", "FALSE"), compiled.sql
        assert (compiled.sql == "TRUE") is python, day
        if python:
            (iso,) = re.findall(r"'(\d{4}-\d\d-\d\d)'", compiled.params["holiday_date"].sql)
            fired[day] = dt.date.fromisoformat(iso)
    return fired


def test_supported_years_come_from_the_package():
    assert 2025 in YEARS and not _supported(YEARS[0] - 1) and not _supported(YEARS[-1] + 1)


def test_engine_periods_are_the_official_contiguous_blocks():
    found = [(p.start, p.end) for p in cal.holiday_periods(FIRST_DAY, LAST_DAY) if p.official]
    assert found == PERIODS


def test_2025_national_day_and_mid_autumn_is_one_period():
    periods = cal.holiday_periods(dt.date(2025, 9, 1), dt.date(2025, 10, 31))
    assert [(p.start, p.end) for p in periods] == [(dt.date(2025, 10, 1), dt.date(2025, 10, 8))]
    (period,) = periods
    # The package labels 10-06 Mid-autumn and the other days National Day.
    assert period.name_zh == "国庆节、中秋节" and period.official
    for day in _days(period.start, period.end):
        assert cal.holiday_on(day) == period


@pytest.mark.parametrize("day", list(_days(dt.date(2025, 10, 1), dt.date(2025, 10, 8))))
def test_s02_does_not_fire_inside_2025_national_day(s02, day):
    # 2025-10-07 was the reported case: it followed the 10-06 Mid-autumn label.
    assert _compile(s02, day, 3).sql == "FALSE"
    assert evaluate(s02.condition, {}, day, {"days_before": 3}) is False


def test_s02_fires_in_the_three_days_before_2025_national_day(s02):
    for day, days_to in ((dt.date(2025, 9, 28), 3), (dt.date(2025, 9, 30), 1)):
        params = _compile(s02, day, 3).params
        assert params["holiday_date"].sql == sql_date(dt.date(2025, 10, 1))
        assert params["days_to_holiday"].sql == str(days_to)
        assert params["holiday_name"].sql == sql_string("国庆节、中秋节")
    assert _compile(s02, dt.date(2025, 9, 27), 3).sql == "FALSE"


@pytest.mark.parametrize("days_before", [1, 3, 15])
def test_s02_fires_only_before_official_periods_every_supported_year(s02, days_before):
    fired = _firing(s02, days_before)
    starts = {start for start, _ in PERIODS}
    # Never on a day off of a holiday period.
    assert not [d for d in fired if d in DAYS_OFF_IN_PERIODS]
    # Always about a period that starts 1..days_before days later.
    for day, start in fired.items():
        assert 1 <= (start - day).days <= days_before, (day, start)
        assert start in starts or start.year not in YEARS, (day, start)  # else: fixed date
    # Per period: its firing days lie before its first day, and its eve always greets it
    # (the eve is never inside a period: periods are at least a working day apart).
    for start, end in PERIODS:
        greeting = [d for d, s in fired.items() if s == start]
        assert all(d < start for d in greeting), (start, greeting)
        assert fired.get(start - ONE_DAY) == start, (start, end)
