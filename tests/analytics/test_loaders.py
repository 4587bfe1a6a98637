"""Loading a run's indicator rows (analytics.loaders.load_indicator_values): a closed bill
month is attributed as of the run that first published it (月报固化), so the first run
publishes every month and a later run only the newest; the loader replaces exactly the
periods a run publishes and leaves earlier months as they were loaded."""

from __future__ import annotations

from datetime import date

import pytest

from factories import indicator_row, load_indicator_rows, make_org
from keycare.analytics.models import IndicatorValue

pytestmark = pytest.mark.django_db
MONTHS = ["2026-08", "2026-09", "2026-10"]


def _run(day: str, months, revenue: float) -> list[dict]:
    rows = [indicator_row("customers", day, "C025", "C025", 7.0)]
    for month in months:
        rows.append(indicator_row("revenue", month, "C025", "C025", revenue))
        rows.append(indicator_row("revenue", month, "C0512", "C0512", revenue / 2))
    return rows


def _stored() -> dict:
    return {
        (v.period.isoformat(), v.city.code): (v.num, v.run_id)
        for v in IndicatorValue.objects.filter(indicator="revenue").select_related("city")
    }


@pytest.fixture
def first_run():
    make_org()  # C025 南京市, C0512 苏州市
    summary = load_indicator_rows(
        date(2026, 11, 20), _run("2026-11-20", MONTHS, 100.0), run_id="R1", bill_months=MONTHS
    )
    assert summary["indicator_values"] == 1 + 2 * len(MONTHS)


def test_the_first_run_publishes_every_month(first_run):
    stored = _stored()
    assert {p for p, _city in stored} == {"2026-08-01", "2026-09-01", "2026-10-01"}
    assert stored[("2026-09-01", "C0512")] == (50.0, "R1")
    assert IndicatorValue.objects.filter(indicator="customers", period=date(2026, 11, 20)).exists()


def test_a_later_run_publishes_the_newest_month_and_leaves_earlier_months(first_run):
    # The next month closes: the run publishes it alone, with other figures.
    rows = _run("2026-12-05", ["2026-11"], 300.0)
    load_indicator_rows(date(2026, 12, 5), rows, run_id="R2", bill_months=["2026-11"])
    stored = _stored()
    assert stored[("2026-11-01", "C025")] == (300.0, "R2")
    for month in MONTHS:  # as the first run loaded them, not restated
        assert stored[(f"{month}-01", "C025")] == (100.0, "R1")
        assert stored[(f"{month}-01", "C0512")] == (50.0, "R1")
    assert len(stored) == 2 * (len(MONTHS) + 1)
    days = set(
        IndicatorValue.objects.filter(indicator="customers").values_list("period", flat=True)
    )
    assert days == {date(2026, 11, 20), date(2026, 12, 5)}  # each run's own day


def test_a_run_replaces_a_month_it_publishes_even_without_rows_for_it(first_run):
    # Re-running with other definitions restates every month; a month the record names but
    # that has no rows any more is emptied, not left with the old figures.
    rows = _run("2026-11-21", MONTHS[1:], 10.0)
    load_indicator_rows(date(2026, 11, 21), rows, run_id="R3", bill_months=MONTHS)
    stored = _stored()
    assert not [k for k in stored if k[0] == "2026-08-01"]
    assert stored[("2026-10-01", "C025")] == (10.0, "R3")


def test_a_run_without_new_months_replaces_only_its_day(first_run):
    load_indicator_rows(
        date(2026, 11, 21), _run("2026-11-21", [], 0.0), run_id="R4", bill_months=[]
    )
    assert {v[1] for v in _stored().values()} == {"R1"}
    assert len(_stored()) == 2 * len(MONTHS)
