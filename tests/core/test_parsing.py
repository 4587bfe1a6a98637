from datetime import datetime

import pytest
from django.utils import timezone

from keycare.core.parsing import (
    EARLIEST_YEAR,
    LATEST_YEAR,
    MAX_JSON_DEPTH,
    DateTimeOutOfRange,
    json_too_deep,
    posted_datetime,
    posted_int,
    sane_datetime,
)


@pytest.mark.parametrize(
    "raw, expected",
    [("42", 42), (" 7 ", 7), ("0", 0), ("", None), ("-1", None), ("1.5", None), ("²", None),
     ("①", None), ("٣", None), ("9" * 19, None), ("9" * 5000, None), (None, None), ("1e3", None)],
)  # fmt: skip
def test_posted_int_takes_only_small_ascii_numbers(raw, expected):
    assert posted_int(raw) == expected


def test_posted_int_digit_limit():
    assert posted_int("123456789", max_digits=9) == 123456789
    assert posted_int("1234567890", max_digits=9) is None


@pytest.mark.parametrize(
    "raw, local",
    [("1900-01-01T00:00:00", "1900-01-01 00:00"), ("2100-12-31T23:59:59", "2100-12-31 23:59"),
     ("2026-11-23T15:30", "2026-11-23 15:30"), ("2026-11-23T07:30:00Z", "2026-11-23 15:30"),
     ("2100-12-31T12:00:00-08:00", None), (" 2026-11-23 ", "2026-11-23 00:00")],
)  # fmt: skip
def test_posted_datetime_is_local_and_aware_within_the_allowed_years(raw, local):
    if local is None:  # 2101 in local time: refused although 2100 as written
        with pytest.raises(DateTimeOutOfRange):
            posted_datetime(raw)
        return
    value = posted_datetime(raw)
    assert timezone.is_aware(value)
    assert f"{value:%Y-%m-%d %H:%M}" == local
    assert value.utcoffset() == timezone.localtime(value).utcoffset()


@pytest.mark.parametrize(
    "raw",
    ["0001-01-01T00:00:00", "0001-01-01T00:00:00Z", "0001-01-01", "9999-12-31T23:59:59",
     "9999-12-31T23:59:59-23:59", "9999-12-31T23:59:59.999999+08:00", "1899-12-31T23:59:59",
     "2101-01-01T00:00:00", "1899-12-31T15:00:00Z"],
)  # fmt: skip
def test_posted_datetime_refuses_years_outside_1900_2100_without_overflowing(raw):
    with pytest.raises(DateTimeOutOfRange):
        posted_datetime(raw)


@pytest.mark.parametrize("raw", ["", "yesterday", "2026-02-30T10:00", "2026-13-01", None, "٢٠٢٦"])
def test_posted_datetime_is_none_for_what_is_not_a_datetime(raw):
    assert posted_datetime(raw) is None


def test_sane_datetime_takes_naive_values_as_local_time():
    value = sane_datetime(datetime(2026, 11, 23, 15, 30))
    assert timezone.localtime(value) == value and value.hour == 15
    assert (EARLIEST_YEAR, LATEST_YEAR) == (1900, 2100)


def test_json_depth_is_measured_without_recursion():
    assert not json_too_deep({"a": [1, {"b": "c"}]}, limit=3)
    assert json_too_deep({"a": [1, {"b": ["c"]}]}, limit=3)
    assert not json_too_deep("[[[[", limit=1)  # a string is not nested
    deep = []
    for _ in range(100_000):  # far beyond the recursion limit
        deep = [deep]
    assert json_too_deep(deep)
    flat = [[0] * 10 for _ in range(MAX_JSON_DEPTH)]
    assert not json_too_deep(flat)
