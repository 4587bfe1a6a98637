"""The unified view: windows relative to the business date, defaults, expressions in
dependency order, extra aggregates, and the narrow view detection uses."""

from __future__ import annotations

import datetime as dt

import pytest
from moment_data import bill, circle, event, sub, tables, week

from keycare.engine import view as view_module
from keycare.engine.ingest import load_contract_rules
from keycare.engine.view import (
    AGGREGATES,
    ONE_ROW_PER,
    TIME_COLUMNS,
    AggSpec,
    FieldInfo,
    Window,
    build_view,
    catalog_fields,
    expr_layers,
    required_fields,
    view_sql,
)
from keycare.errors import UserError

D = dt.date(2026, 11, 3)  # Tuesday; its ISO week starts Monday 2026-11-02


def at(day: dt.date, hour=10, minute=0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute))


def rows(backend, sql: str) -> dict:
    return {r["subscriber_id"]: r for r in backend.to_arrow(sql).to_pylist()}


_CACHE: dict[str, dict] = {}


@pytest.fixture
def view(backend):
    """The unified view's rows and columns, built once per backend (building is the slow part)."""
    if backend.name not in _CACHE:
        _build(backend)
        _CACHE[backend.name] = {
            "rows": rows(backend, "SELECT * FROM unified_view"),
            "columns": set(backend.to_arrow("SELECT * FROM unified_view LIMIT 0").column_names),
        }
    return _CACHE[backend.name]


def _build(backend):
    tables(
        backend,
        [
            sub(
                "S1", birth_date=dt.date(1990, 11, 4), join_date=dt.date(2016, 11, 3), balance=-30.0
            ),
            sub("S2"),
        ],
        bills=[
            bill("S1", "2026-11", 999.0),  # the current month is not closed: in no m-window
            bill("S1", "2026-10", 86.0, voice_minutes=300.0),
            bill("S1", "2026-09", 151.0, voice_minutes=500.0),
            bill("S1", "2026-05", 120.0),  # month 6
            bill("S1", "2026-04", 500.0),  # month 7: outside the 6-month windows
        ],
        usage_weekly=[
            week("S1", dt.date(2026, 11, 2), 999.0),  # week 0 (contains D)
            week("S1", dt.date(2026, 10, 26), 40.0),  # week 1
            week("S1", dt.date(2026, 10, 19), 100.0),  # week 2
        ],
        events=[
            event("S1", "complaint", at(D, 23, 59)),  # day 0, last minute
            event("S1", "complaint", at(D + dt.timedelta(days=1), 0, 0)),  # the future
            event("S1", "complaint", at(D - dt.timedelta(days=29), 0, 0)),  # day 29: in 30d
            event("S1", "complaint", at(D - dt.timedelta(days=30), 12)),  # day 30: out of 30d
            event("S1", "bill_query", at(D)),
        ],
        call_circle=[circle("S1", "2026-10", core_contacts=12, core_contacts_churned=3)],
        assignments=[
            {"subscriber_id": "S1", "manager_id": "M0001", "assigned_date": dt.date(2025, 1, 1)}
        ],
    )
    extra = [
        AggSpec(
            "_x_queries",
            "events",
            "count",
            where="event_type = 'bill_query'",
            window=Window("day", 0, 0),
        )
    ]
    build_view(backend, D, extra)


def test_month_windows(view):
    s1, s2 = view["rows"]["S1"], view["rows"]["S2"]
    assert (s1["bill_total_m1"], s1["bill_total_m2"], s1["bill_total_m6"]) == (86.0, 151.0, 120.0)
    assert s1["bill_total_6m"] == 86.0 + 151.0 + 120.0
    assert s1["months_billed_6m"] == 3
    assert s1["bill_max_6m"] == 151.0
    assert s1["voice_minutes_m1"] == 300.0
    # no rows: sums and counts default to 0, max stays unknown
    assert (s2["bill_total_m1"], s2["months_billed_6m"], s2["bill_max_6m"]) == (0.0, 0, None)


def test_week_and_day_windows(view):
    s1 = view["rows"]["S1"]
    assert (s1["voice_minutes_w1"], s1["voice_minutes_w2"]) == (40.0, 100.0)
    assert s1["complaints_30d"] == 2
    assert s1["complaints_90d"] == 3
    assert s1["_x_queries"] == 1


def test_expressions_in_dependency_order(view):
    s1 = view["rows"]["S1"]
    assert s1["business_date"] == D
    assert s1["bill_change_pct_m1"] == pytest.approx(100.0 * (86 - 151) / 151)
    assert s1["bill_avg_3m"] == pytest.approx((86 + 151) / 3)
    assert s1["age"] == 35  # birthday tomorrow
    assert (s1["tenure_months"], s1["tenure_years"]) == (120, 10)
    assert s1["arrears_amount"] == 30.0
    assert s1["core_contacts_churned_m1"] == 3 and s1["core_contacts_m1"] == 12
    assert s1["manager_id"] == "M0001"
    s2 = view["rows"]["S2"]
    assert s2["bill_change_pct_m1"] is None  # no base month: NULLIF


def test_every_catalog_field_is_a_column(view):
    assert {f.code for f in catalog_fields()} <= view["columns"]
    assert set(view["rows"]) == {"S1", "S2"}


def test_one_grouped_scan_per_source_table():
    sql = view_sql(D, [AggSpec("_x", "events", "count", window=Window("day", 0, 6))])
    for source in ("bills", "usage_weekly", "events", "call_circle", "key_account_members"):
        assert sql.count(f'FROM "{source}"') == 1, source
    assert "SUM(CASE WHEN" in sql and "GROUP BY" in sql


def test_narrow_view_keeps_only_what_is_needed():
    fields = required_fields(catalog_fields(), {"subscriber_id", "bill_avg_3m"})
    codes = {f.code for f in fields}
    assert codes == {
        "subscriber_id",
        "bill_total_m1",
        "bill_total_m2",
        "bill_total_m3",
        "bill_avg_3m",
    }
    sql = view_sql(D, fields=fields)
    assert 'FROM "events"' not in sql and 'FROM "bills"' in sql


def test_window_date_ranges():
    assert Window("day", 0, 29).date_range(D) == (dt.date(2026, 10, 5), D)
    assert Window("week", 1, 1).date_range(D) == (dt.date(2026, 10, 26), dt.date(2026, 11, 1))
    assert Window("month", 1, 3).date_range(D) == (dt.date(2026, 8, 1), dt.date(2026, 10, 31))
    assert Window("month", 0, 0).date_range(dt.date(2024, 2, 10)) == (
        dt.date(2024, 2, 1),
        dt.date(2024, 2, 29),
    )


def test_circular_expressions_are_rejected():
    a = FieldInfo("a", "int", "derived", "view", derivation={"expr": "b + 1"})
    b = FieldInfo("b", "int", "derived", "view", derivation={"expr": "a + 1"})
    with pytest.raises(UserError, match="circular expression"):
        expr_layers([a, b])


def test_extra_aggregate_name_clash():
    with pytest.raises(UserError, match="clashes with a catalog field"):
        view_sql(D, [AggSpec("bill_total_m1", "bills", "count")])


def test_one_row_sources_are_keyed_by_subscriber_and_period():
    """ONE_ROW_PER reads a period's row without grouping: only true for these contract keys."""
    keys = {rule.name: rule.key for rule in load_contract_rules()}
    for source in ONE_ROW_PER:
        assert keys[source] == ("subscriber_id", TIME_COLUMNS[source][0]), source


def test_one_period_of_a_keyed_source_reads_its_row_as_grouping_would(backend, monkeypatch):
    """Every aggregate over one month of call_circle, with and without a condition that the
    row fails or a NULL value: the same values as the grouped scan, without GROUP BY."""
    tables(
        backend,
        [sub("S1"), sub("S2"), sub("S3"), sub("S4")],
        call_circle=[
            circle("S1", "2026-10", core_contacts=12, competitor_contacts=2),
            circle("S1", "2026-09", core_contacts=7, competitor_contacts=1),  # another month
            circle("S2", "2026-10", core_contacts=None, competitor_contacts=9),
            circle("S3", "2026-10", core_contacts=3, competitor_contacts=0),
        ],  # S4: no row
    )
    month = Window("month", 1, 1)
    specs = [
        AggSpec(
            f"_x_{agg}_{n}", "call_circle", agg, column="core_contacts", where=where, window=month
        )
        for agg in sorted(AGGREGATES)
        for n, where in enumerate((None, "competitor_contacts > 1"))
    ]
    only = required_fields(catalog_fields(), {"subscriber_id"})
    one_row = view_sql(D, specs, fields=only)
    monkeypatch.setattr(view_module, "ONE_ROW_PER", {})
    grouped = view_sql(D, specs, fields=only)
    assert "GROUP BY" not in one_row and "GROUP BY" in grouped
    got, expected = rows(backend, one_row), rows(backend, grouped)
    assert got == expected
    assert (got["S1"]["_x_sum_0"], got["S2"]["_x_count_distinct_0"]) == (12, 0)
    assert (got["S3"]["_x_count_1"], got["S4"]["_x_count_0"], got["S4"]["_x_max_0"]) == (0, 0, None)
