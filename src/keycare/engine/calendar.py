"""Calendar facts the condition compiler turns into SQL literals at compile time.

Chinese public holidays come from the official-calendar package ``chinese_calendar``. It is
consulted when a condition is compiled for a business date, never inside SQL, so the generated
SQL stays portable across engines.
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


@dataclass(frozen=True)
class HolidayPeriod:
    name: str  # English name as the calendar package spells it
    start: dt.date
    end: dt.date
    official: bool = True  # False for the fixed-date fallback

    @property
    def name_zh(self) -> str:
        return HOLIDAY_ZH.get(self.name, self.name)


@cache
def _official_periods() -> tuple[tuple[HolidayPeriod, ...], frozenset[int]]:
    from chinese_calendar import constants

    periods: list[HolidayPeriod] = []
    for day in sorted(constants.holidays):
        name = getattr(constants.holidays[day], "value", constants.holidays[day])
        last = periods[-1] if periods else None
        # Same holiday within a few days (a weekend in between is not listed) -> one period.
        if last and last.name == name and (day - last.end).days <= 3:
            periods[-1] = HolidayPeriod(name, last.start, day)
        else:
            periods.append(HolidayPeriod(name, day, day))
    years = frozenset(day.year for day in constants.holidays)
    return tuple(periods), years


def holiday_periods(first: dt.date, last: dt.date) -> list[HolidayPeriod]:
    """Holiday periods whose first day lies in [first, last], in date order."""
    periods, covered = _official_periods()
    found = [p for p in periods if first <= p.start <= last]
    for year in range(first.year, last.year + 1):
        if year in covered:
            continue
        for (month, day), name in FIXED_DATE_HOLIDAYS:
            start = dt.date(year, month, day)
            if first <= start <= last:
                found.append(HolidayPeriod(name, start, start, official=False))
    return sorted(found, key=lambda p: p.start)


def nearest_holiday(business_date: dt.date, days_before: int, days_after: int):
    """The holiday starting in [D - days_after, D + days_before] closest to D, or None."""
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
