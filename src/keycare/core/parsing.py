"""Parsing of values posted by users (ids, versions, row indexes, date-times, JSON bodies).

``str.isdigit()`` also accepts characters such as "²" or "①" that ``int()`` refuses, and
``int()`` refuses strings longer than 4300 digits: both would be a server error on a
hostile request. Every posted id goes through here instead.

Date-times: ``0001-01-01T00:00`` or ``9999-12-31T23:59`` parse fine but overflow when shifted
to UTC (for the database) or to local time (for display), a server error again. Every posted
date-time is held to the years ``EARLIEST_YEAR``..``LATEST_YEAR`` in local time
(``sane_datetime``): the API fields and filters and the web forms apply the same rule.

JSON: a body nested thousands of levels deep makes ``json.loads`` raise RecursionError, and a
structure that parses just under the limit can still exhaust the stack in later code;
``json_too_deep`` tells whether a parsed value is nested deeper than ``MAX_JSON_DEPTH``.
"""

from datetime import datetime

from django.utils import timezone
from django.utils.dateparse import parse_datetime

EARLIEST_YEAR = 1900
LATEST_YEAR = 2100
DATETIME_OUT_OF_RANGE = (
    f"日期时间须在 {EARLIEST_YEAR} 至 {LATEST_YEAR} 年之间 "
    f"Date-time must be between the years {EARLIEST_YEAR} and {LATEST_YEAR}"
)
MAX_JSON_DEPTH = 32


class DateTimeOutOfRange(ValueError):
    """A date-time outside the years EARLIEST_YEAR..LATEST_YEAR (local time)."""


def posted_int(raw, max_digits: int = 18) -> int | None:
    """The ASCII decimal number in ``raw`` (surrounding blanks ignored), or None."""
    text = str(raw).strip()
    if text.isascii() and text.isdigit() and len(text) <= max_digits:
        return int(text)
    return None


def sane_datetime(value: datetime) -> datetime:
    """``value`` as an aware date-time in the current time zone (a naive one is local time).

    Raises DateTimeOutOfRange unless its local year is within EARLIEST_YEAR..LATEST_YEAR. The
    year as written is checked first, one year wider, so the shift to local time (at most a
    day) cannot overflow.
    """
    if not EARLIEST_YEAR - 1 <= value.year <= LATEST_YEAR + 1:
        raise DateTimeOutOfRange(value.isoformat())
    if timezone.is_naive(value):
        value = timezone.make_aware(value)
    local = timezone.localtime(value)
    if not EARLIEST_YEAR <= local.year <= LATEST_YEAR:
        raise DateTimeOutOfRange(value.isoformat())
    return local


def posted_datetime(raw) -> datetime | None:
    """The ISO 8601 date-time in ``raw`` (``sane_datetime``), or None when it is not one.

    Raises DateTimeOutOfRange for a well-formed date-time outside the allowed years.
    """
    try:
        parsed = parse_datetime(str(raw).strip())
    except ValueError:  # well-formed but impossible, such as 2026-02-30
        return None
    return None if parsed is None else sane_datetime(parsed)


def json_too_deep(value, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether ``value`` (parsed JSON) nests lists and objects more than ``limit`` levels.

    Iterative, so a value of any depth is measured without recursion.
    """
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False
