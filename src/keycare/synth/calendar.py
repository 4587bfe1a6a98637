"""The history windows the generator writes, all derived from the as-of date and M months."""

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np

# Weekly usage covers at most this many ISO weeks (a quarter), ending with the as-of week.
MAX_WEEKS = 13


@dataclass(frozen=True)
class Calendar:
    """Simulated months t = 0..M: t < M are closed bill months, t = M is the as-of month
    (simulated up to and including the as-of day)."""

    as_of: date
    months: int
    month_starts: np.ndarray  # datetime64[D], length M + 1
    month_days: np.ndarray  # days in each calendar month
    avail_days: np.ndarray  # simulated days in each month (as_of.day for t = M)
    week_starts: np.ndarray  # datetime64[D] Mondays of the weekly window

    @property
    def n_steps(self) -> int:
        return self.months + 1

    @property
    def span_start(self) -> np.datetime64:
        return self.month_starts[0]

    @property
    def as_of64(self) -> np.datetime64:
        return np.datetime64(self.as_of, "D")

    def month_labels(self) -> list[str]:
        return [str(m)[:7] for m in self.month_starts]


def build_calendar(as_of: date, months: int) -> Calendar:
    current = np.datetime64(as_of, "M")
    month_starts = (current - np.arange(months, -1, -1)).astype("datetime64[D]")
    next_starts = (current - np.arange(months, -1, -1) + 1).astype("datetime64[D]")
    month_days = (next_starts - month_starts).astype(np.int64)
    avail = month_days.copy()
    avail[-1] = as_of.day
    as_of_monday = as_of - timedelta(days=as_of.weekday())
    first_monday = as_of_monday - timedelta(weeks=MAX_WEEKS - 1)
    span_start = month_starts[0].astype(date)
    while first_monday < span_start:
        first_monday += timedelta(weeks=1)
    n_weeks = (as_of_monday - first_monday).days // 7 + 1
    week_starts = np.datetime64(first_monday, "D") + 7 * np.arange(n_weeks)
    return Calendar(as_of, months, month_starts, month_days, avail, week_starts)
