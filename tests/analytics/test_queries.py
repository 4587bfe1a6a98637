"""Indicator values: loading a run's rows, one query for tables and trends, scope by role,
month on month and year on year, and clear refusals of bad parameters."""

from __future__ import annotations

from datetime import date

import pytest

from factories import indicator_row, load_indicator_rows, make_org, make_user
from keycare.access import roles
from keycare.analytics import queries
from keycare.analytics.models import IndicatorValue

pytestmark = pytest.mark.django_db


@pytest.fixture
def org():
    return make_org()  # C025 南京市, C0512 苏州市


def _revenue(month, nanjing, suzhou):
    return [
        indicator_row("revenue", month, "C025", "C025", nanjing),
        indicator_row("revenue", month, "C0512", "C0512", suzhou),
        indicator_row("revenue", month, "all", "C025", nanjing, dimension="province"),
        indicator_row("revenue", month, "all", "C0512", suzhou, dimension="province"),
        indicator_row("arpu", month, "C025", "C025", nanjing, 10.0),
        indicator_row("arpu", month, "C0512", "C0512", suzhou, 20.0),
    ]


@pytest.fixture
def loaded(org):
    rows = _revenue("2025-10", 500.0, 100.0) + _revenue("2026-09", 800.0, 300.0)
    rows += _revenue("2026-10", 1000.0, 400.0)
    rows.append(indicator_row("customers", "2026-11-20", "C025", "C025", 7.0))
    summary = load_indicator_rows(date(2026, 11, 20), rows)
    assert summary["indicator_values"] == len(rows)
    return org


def _query(user, **params):
    defs = queries.definitions()
    indicators = [defs.indicators[c] for c in ("revenue", "arpu", "customers")]
    return queries.parse_query(user, indicators, ("city", "province"), params)


def test_a_table_has_values_month_on_month_and_year_on_year(loaded):
    analyst = make_user("analyst", roles.ROLE_ANALYST)
    result = queries.table(analyst, _query(analyst, period="2026-10"))
    rows = {r["label"]: r["cells"] for r in result.rows}
    revenue, arpu, _customers = rows["南京市"]
    assert revenue.value == 1000.0
    assert revenue.mom == pytest.approx(25.0)  # 800 -> 1000
    assert revenue.yoy == pytest.approx(100.0)  # 500 -> 1000
    assert arpu.value == pytest.approx(100.0)
    assert [r["label"] for r in result.rows] == ["南京市", "苏州市"]  # largest first
    assert result.total[0].value == 1400.0


def test_a_snapshot_indicator_reads_the_months_last_day(loaded):
    analyst = make_user("analyst", roles.ROLE_ANALYST)
    result = queries.table(analyst, _query(analyst, period="2026-11"))
    nanjing = next(r for r in result.rows if r["member"] == "C025")
    assert nanjing["cells"][2].value == 7.0


def test_a_city_administrator_sees_only_their_city(loaded):
    city = loaded["C0512"].city
    admin = make_user("admin", roles.ROLE_CITY_ADMIN, city=city)
    result = queries.table(admin, _query(admin, period="2026-10"))
    assert [r["member"] for r in result.rows] == ["C0512"]
    assert result.total[0].value == 400.0
    with pytest.raises(queries.BadQuery, match="city"):
        _query(admin, city="C025")


def test_a_manager_sees_no_indicator_values(loaded):
    manager = make_user("m", roles.ROLE_MANAGER)
    assert not IndicatorValue.objects.restrict(manager).exists()


def test_trend_has_one_point_per_month(loaded):
    analyst = make_user("analyst", roles.ROLE_ANALYST)
    query = _query(analyst, period="2026-10")
    points = queries.trend(analyst, query, queries.indicator_named("revenue"))
    assert len(points) == queries.TREND_MONTHS
    assert points[-1] == {"month": "2026-10", "value": 1400.0}
    assert points[-2] == {"month": "2026-09", "value": 1100.0}
    assert points[0] == {"month": "2025-10", "value": 600.0}


@pytest.mark.parametrize(
    ("params", "names"),
    [
        ({"dimension": "planet"}, "dimension"),
        ({"dimension": "county"}, "dimension"),  # not offered by this analysis
        ({"period": "2026-13"}, "period"),
        ({"period": "<script>"}, "period"),
        ({"city": "NOPE"}, "city"),
    ],
)
def test_bad_parameters_are_refused_naming_the_parameter(loaded, params, names):
    analyst = make_user("analyst", roles.ROLE_ANALYST)
    with pytest.raises(queries.BadQuery, match=names):
        _query(analyst, **params)


def test_reloading_a_period_replaces_it(loaded):
    load_indicator_rows(date(2026, 11, 20), _revenue("2026-10", 1.0, 2.0), run_id="R2")
    assert IndicatorValue.objects.filter(period=date(2026, 10, 1)).count() == 6
    assert IndicatorValue.objects.filter(period=date(2026, 9, 1)).count() == 6  # kept
    assert not IndicatorValue.objects.filter(period=date(2026, 11, 20)).exists()  # its day


# --- the months a scope has (every page asks: index probes and a cache, not a scan) -------


def test_the_months_are_every_month_of_either_grain_newest_first(loaded):
    analyst = make_user("analyst", roles.ROLE_ANALYST)
    months = [date(2026, 11, 1), date(2026, 10, 1), date(2026, 9, 1), date(2025, 10, 1)]
    assert queries.months_available(analyst) == months  # 2025-11..2026-08: no rows, not listed
    assert queries.latest_month(analyst) == date(2026, 11, 1)  # the day row's month


def test_a_city_has_the_months_of_its_own_rows(loaded):
    suzhou = make_user("suzhou", roles.ROLE_CITY_ADMIN, city=loaded["C0512"].city)
    nanjing = make_user("nanjing", roles.ROLE_ANALYST, city=loaded["C025"].city)
    # Only Nanjing has the day row of 2026-11-20.
    assert queries.months_available(suzhou) == [
        date(2026, 10, 1),
        date(2026, 9, 1),
        date(2025, 10, 1),
    ]
    assert queries.latest_month(suzhou) == date(2026, 10, 1)
    assert queries.latest_month(nanjing) == date(2026, 11, 1)
    assert queries.months_available(make_user("m", roles.ROLE_MANAGER)) == []


def test_the_months_scan_finds_what_a_distinct_over_every_row_finds(org):
    days = ["2025-01-31", "2025-02-01", "2025-02-28", "2025-05-15", "2026-01-01", "2026-01-31"]
    rows = [indicator_row("customers", d, "C025", "C025", 1.0) for d in days]
    rows += [indicator_row("revenue", m, "C0512", "C0512", 1.0) for m in ("2024-12", "2025-05")]
    for n, row in enumerate(rows):  # one load per period, as daily runs load them
        load_indicator_rows(date.fromisoformat(row["period"][:7] + "-01"), [row], run_id=f"R{n}")
    analyst = make_user("analyst", roles.ROLE_ANALYST)
    periods = IndicatorValue.objects.values_list("period", flat=True)
    expected = sorted({p.replace(day=1) for p in periods}, reverse=True)
    assert queries.months_available(analyst) == expected
    assert expected[0] == date(2026, 1, 1) and expected[-1] == date(2024, 12, 1)


def test_the_months_come_from_the_cache_until_the_next_load(loaded, django_assert_num_queries):
    analyst = make_user("analyst", roles.ROLE_ANALYST)
    queries.months_available(analyst)
    with django_assert_num_queries(1):  # the newest row's id: the cache key
        assert queries.months_available(analyst)[0] == date(2026, 11, 1)
    load_indicator_rows(
        date(2026, 12, 1), [indicator_row("customers", "2026-12-01", "C025", "C025", 8.0)]
    )
    assert queries.months_available(analyst)[0] == date(2026, 12, 1)  # shown at once
    assert queries.latest_month(analyst) == date(2026, 12, 1)


def test_an_analysis_opens_on_the_newest_month_of_its_own_indicators(
    loaded, django_assert_num_queries
):
    # The survey job published December's satisfaction; revenue's newest month is October.
    survey = indicator_row("survey_index", "2026-12", "all", "C025", 80.0, 1.0, "province")
    load_indicator_rows(date(2026, 12, 7), [survey], run_id="S1")
    analyst = make_user("analyst", roles.ROLE_ANALYST)
    revenue, index = queries.indicator_named("revenue"), queries.indicator_named("survey_index")
    assert queries.latest_month(analyst) == date(2026, 12, 1)
    assert queries.latest_month(analyst, [revenue]) == date(2026, 10, 1)
    assert queries.parse_query(analyst, [revenue], ("city",), {}).month == date(2026, 10, 1)
    assert queries.parse_query(analyst, [revenue, index], ("province",), {}).month == date(
        2026, 12, 1
    )
    # Never published: the newest month of all (the page shows its empty table).
    assert queries.latest_month(analyst, [queries.indicator_named("sms_count")]) == date(
        2026, 12, 1
    )
    # Cached months, then one index probe per month, newest first, until one has a value.
    with django_assert_num_queries(2):  # the cache key; December
        assert queries.latest_month(analyst, [index]) == date(2026, 12, 1)
    with django_assert_num_queries(4):  # the cache key; December, November, October
        assert queries.latest_month(analyst, [revenue]) == date(2026, 10, 1)
    # In Suzhou's scope December has no row at all.
    suzhou = make_user("suzhou", roles.ROLE_CITY_ADMIN, city=loaded["C0512"].city)
    assert queries.latest_month(suzhou, [revenue, index]) == date(2026, 10, 1)
