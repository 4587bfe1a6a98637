"""Calendar facts the condition compiler turns into SQL literals at compile time.

Chinese public holidays come from the official-calendar package ``chinese_calendar``. It is
consulted when a condition is compiled for a business date, never inside SQL, so the generated
SQL stays portable across engines (DuckDB and Spark run the same literals).

A holiday period is the official one, as the State Council publishes it: the statutory holiday
days the package lists, joined into one period when only days off lie between them. The package
names each day (a combined holiday has days of both names, e.g. 2025-10-06 is Mid-autumn inside
National Day 10-01..10-08), so names never split a period. Weekends the package lists with the
holiday belong to it, and so does an unlisted weekend between two holiday days (2015-06-21); an
unlisted weekend merely next to a holiday does not (2005-12-31 before New Year's Day 2006).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import cache

HOLIDAY_ZH = {
    "New Year's Day": "元旦",
    "Spring Festival": "春节",
    "Tomb-sweeping Day": "清明节",
    "Labour Day": "劳动节",
    "Dragon Boat Festival": "端午节",
    "National Day": "国庆节",
    "Mid-autumn Festival": "中秋节",
    "Anti-Fascist 70th Day": "抗战胜利纪念日",
}

# Gregorian-fixed statutory holidays, used only for years the calendar package does not
# cover yet (the State Council publishes each year's schedule in November or December).
FIXED_DATE_HOLIDAYS = (
    ((1, 1), "New Year's Day"),
    ((5, 1), "Labour Day"),
    ((10, 1), "National Day"),
)

_ONE_DAY = dt.timedelta(days=1)


@dataclass(frozen=True)
class HolidayPeriod:
    names: tuple[str, ...]  # English names as the calendar package spells them, in date order
    start: dt.date
    end: dt.date
    official: bool = True  # False for the fixed-date fallback

    @property
    def name(self) -> str:
        return ", ".join(self.names)

    @property
    def name_zh(self) -> str:
        """As the State Council writes a combined holiday: 国庆节、中秋节."""
        return "、".join(HOLIDAY_ZH.get(n, n) for n in self.names)

    def __contains__(self, day: dt.date) -> bool:
        return self.start <= day <= self.end


def _label(value) -> str:
    return getattr(value, "value", value)


@cache
def _official_periods() -> tuple[tuple[HolidayPeriod, ...], frozenset[int]]:
    import chinese_calendar

    periods: list[HolidayPeriod] = []
    names: list[str] = []
    days: list[dt.date] = []

    def close() -> None:
        if days:
            periods.append(HolidayPeriod(tuple(dict.fromkeys(names)), days[0], days[-1]))
        names.clear()
        days.clear()

    listed = chinese_calendar.constants.holidays
    first, last = min(listed), max(listed)
    day = dt.date(first.year, 1, 1)
    while day <= dt.date(last.year, 12, 31):
        off, name = chinese_calendar.get_holiday_detail(day)
        if off and name is not None:  # a statutory holiday day (weekends with it included)
            days.append(day)
            names.append(_label(name))
        elif not off:  # a working day ends the period; a plain weekend day does not
            close()
        day += _ONE_DAY
    close()
    years = frozenset(range(first.year, last.year + 1))
    return tuple(periods), years


def _fallback_periods(first_year: int, last_year: int) -> list[HolidayPeriod]:
    _, covered = _official_periods()
    return [
        HolidayPeriod((name,), start, start, official=False)
        for year in range(first_year, last_year + 1)
        if year not in covered
        for (month, day), name in FIXED_DATE_HOLIDAYS
        for start in [dt.date(year, month, day)]
    ]


def holiday_periods(first: dt.date, last: dt.date) -> list[HolidayPeriod]:
    """Holiday periods whose first day lies in [first, last], in date order."""
    periods, _ = _official_periods()
    found = [p for p in periods if first <= p.start <= last]
    found += [p for p in _fallback_periods(first.year, last.year) if first <= p.start <= last]
    return sorted(found, key=lambda p: p.start)


def holiday_on(day: dt.date) -> HolidayPeriod | None:
    """The holiday period ``day`` lies in (first and last day included), or None."""
    periods, _ = _official_periods()
    for period in [*periods, *_fallback_periods(day.year, day.year)]:
        if day in period:
            return period
    return None


def nearest_holiday(business_date: dt.date, days_before: int, days_after: int):
    """The holiday to greet on D: the one starting in [D - days_after, D + days_before]
    closest to D, or None. Always None on a day inside a holiday period: greetings go out
    before a holiday (or after it, with days_after), never during one, so with days_after 0
    the holiday starts 1..days_before days after D."""
    if holiday_on(business_date) is not None:
        return None
    window_start = business_date - dt.timedelta(days=days_after)
    window_end = business_date + dt.timedelta(days=days_before)
    candidates = holiday_periods(window_start, window_end)
    if not candidates:
        return None
    return min(candidates, key=lambda p: (abs((p.start - business_date).days), p.start))


def month_day(day: dt.date) -> int:
    """March 5 -> 305: the key anniversaries are matched on."""
    return day.month * 100 + day.day


def is_leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def anniversary_window(
    business_date: dt.date, days_before: int, days_after: int
) -> dict[int, tuple[int, int]]:
    """month_day -> (offset in days from D, year) for anniversaries in [D - after, D + before].

    A Feb 29 date is celebrated on Feb 28 in common years. When a month-day occurs twice in
    the window (only possible for long windows), the occurrence nearest D wins.
    """
    offsets = sorted(range(-days_after, days_before + 1), key=lambda k: (abs(k), k))
    window: dict[int, tuple[int, int]] = {}
    for offset in offsets:
        day = business_date + dt.timedelta(days=offset)
        window.setdefault(month_day(day), (offset, day.year))
        if day.month == 2 and day.day == 28 and not is_leap(day.year):
            window.setdefault(229, (offset, day.year))
    return window


def month_offset(day: dt.date, months_back: int) -> tuple[int, int]:
    """(year, month) of the calendar month ``months_back`` before the month of ``day``."""
    index = day.year * 12 + (day.month - 1) - months_back
    return index // 12, index % 12 + 1


def month_label(day: dt.date, months_back: int) -> str:
    year, month = month_offset(day, months_back)
    return f"{year:04d}-{month:02d}"


def month_first_day(day: dt.date, months_back: int) -> dt.date:
    year, month = month_offset(day, months_back)
    return dt.date(year, month, 1)


def month_last_day(day: dt.date, months_back: int) -> dt.date:
    year, month = month_offset(day, months_back - 1)
    return dt.date(year, month, 1) - dt.timedelta(days=1)


def week_monday(day: dt.date, weeks_back: int = 0) -> dt.date:
    return day - dt.timedelta(days=day.weekday() + 7 * weeks_back)
