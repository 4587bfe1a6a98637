"""The unified customer view catalog: content, validation and dependency order."""

import copy
import functools
import re
from pathlib import Path

import duckdb
import pytest
import yaml

from keycare.catalog.contract import load_core_contract
from keycare.catalog.fields import (
    DEFAULT_CATALOG_PATH,
    expr_dependency_order,
    load_catalog,
    sql_column_names,
)
from keycare.errors import UserError

CATEGORIES = [
    "basic",
    "brand_tariff",
    "billing",
    "spending",
    "voice",
    "data",
    "sms_mms",
    "vas",
    "handset",
    "roaming",
    "service_contact",
    "marketing",
    "call_circle",
    "credit_points",
    "key_account",
]
SQL_TYPES = {"string": "VARCHAR", "int": "BIGINT", "float": "DOUBLE", "bool": "BOOLEAN"}
SQL_TYPES |= {"date": "DATE", "timestamp": "TIMESTAMP", "month": "VARCHAR"}
LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


@pytest.fixture(scope="module")
def catalog():
    return load_catalog()


def test_size_and_categories(catalog):
    assert len(catalog.fields) >= 233
    assert list(catalog.categories) == CATEGORIES
    for code in CATEGORIES:
        assert len(catalog.in_category(code)) >= 10, code
    assert all(c.zh and c.en for c in catalog.categories.values())


def test_codes_unique_and_indexed(catalog):
    codes = [f.code for f in catalog.fields]
    assert len(codes) == len(set(codes))
    assert set(catalog.by_code) == set(codes)
    assert len(_catalog_data()["fields"]) == len(codes)


def test_default_load_is_cached(catalog):
    assert load_catalog() is catalog


def _window(f):
    w = f.derivation["window"]
    return (w["unit"], w["from"], w["to"])


def test_fields_other_parts_rely_on(catalog):
    by = catalog.by_code
    for k in range(1, 7):
        f = by[f"bill_total_m{k}"]
        assert (f.source, f.derivation["agg"], f.derivation["column"]) == (
            "bills",
            "sum",
            "total_fee",
        )
        assert _window(f) == ("month", k, k)
    assert set(by["bill_avg_3m"].depends_on) == {"bill_total_m1", "bill_total_m2", "bill_total_m3"}
    assert "NULLIF(bill_total_m2, 0)" in by["bill_change_pct_m1"].derivation["expr"]
    assert "NULLIF(voice_minutes_m2, 0)" in by["voice_change_pct_m1"].derivation["expr"]
    for code, column in [
        ("overage_fee_m1", "overage_fee"),
        ("supplementary_fee_m1", "supplementary_fee"),
        ("roaming_fee_m1", "roaming_fee"),
        ("intl_roaming_fee_m1", "intl_roaming_fee"),
    ]:
        f = by[code]
        assert (f.source, f.derivation["column"], _window(f)) == ("bills", column, ("month", 1, 1))
    for base in ("voice_minutes", "data_mb"):
        for k in (1, 2):
            assert _window(by[f"{base}_m{k}"]) == ("month", k, k)
            assert by[f"{base}_m{k}"].source == "bills"
            assert _window(by[f"{base}_w{k}"]) == ("week", k, k)
            assert by[f"{base}_w{k}"].source == "usage_weekly"
    assert by["competitor_calls_w1"].derivation["column"] == "competitor_calls"
    assert _window(by["competitor_calls_w1"]) == ("week", 1, 1)
    for k in (1, 2, 3):
        f = by[f"competitor_call_share_m{k}"]
        assert (f.source, f.derivation["column"], _window(f)) == (
            "call_circle",
            "competitor_call_share",
            ("month", k, k),
        )
    assert by["core_contacts_m1"].source == by["core_contacts_churned_m1"].source == "call_circle"
    for code, event, days in [
        ("complaints_30d", "complaint", 30),
        ("complaints_90d", "complaint", 90),
        ("bill_queries_60d", "bill_query", 60),
        ("portability_inquiries_30d", "portability_inquiry", 30),
        ("fault_reports_7d", "fault_report", 7),
    ]:
        f = by[code]
        assert f.source == "events" and f.derivation["agg"] == "count"
        assert f.derivation["where"] == f"event_type = '{event}'"
        assert _window(f) == ("day", 0, days - 1)
    for code, uses in [
        ("age", "birth_date"),
        ("tenure_months", "join_date"),
        ("days_silent", "last_active_date"),
        ("arrears_amount", "balance"),
        ("days_to_contract_end", "contract_end_date"),
    ]:
        assert by[code].is_expr and uses in by[code].depends_on
    assert by["arrears_amount"].derivation["expr"] == "GREATEST(-balance, 0)"


def test_every_subscribers_contract_column_is_a_raw_field(catalog):
    contract = load_core_contract()
    for column in contract.files["subscribers"].columns:
        f = catalog.by_code[column]
        assert f.is_raw and f.source == "subscribers" and f.column == column and not f.extended


def test_extended_fields_cover_every_category_that_needs_them(catalog):
    extended = catalog.extended_fields
    assert len(extended) >= 100
    assert all(f.is_raw and f.source == "subscribers" for f in extended)
    assert {f.category for f in extended} == set(CATEGORIES)


def test_personal_fields(catalog):
    personal = {f.code for f in catalog.fields if f.personal}
    assert {"msisdn", "name", "id_number", "birth_date", "address"} <= personal
    assert "age" not in personal


def test_dependency_order_puts_dependencies_first(catalog):
    order = [f.code for f in expr_dependency_order(catalog)]
    assert set(order) == {f.code for f in catalog.fields if f.is_expr}
    position = {code: i for i, code in enumerate(order)}
    for code in order:
        for dep in catalog.by_code[code].depends_on:
            if dep in position:
                assert position[dep] < position[code], (dep, code)


def test_every_derivation_runs_in_duckdb(catalog):
    """Expressions evaluate over a typed row, in dependency order; where clauses and
    aggregate columns bind against the contract file they read."""
    con = duckdb.connect()
    base = ", ".join(
        f"NULL::{SQL_TYPES[f.type]} AS {f.code}" for f in catalog.fields if not f.is_expr
    )
    con.execute(f"CREATE TABLE v AS SELECT DATE '2026-11-23' AS business_date, {base}")
    for f in expr_dependency_order(catalog):
        expr = f.derivation["expr"]
        con.execute(f"ALTER TABLE v ADD COLUMN {f.code} {SQL_TYPES[f.type]}")
        con.execute(f"UPDATE v SET {f.code} = CAST(({expr}) AS {SQL_TYPES[f.type]})")
    contract = load_core_contract()
    for name in {f.source for f in catalog.fields if f.is_agg}:
        cols = ", ".join(
            f"NULL::{SQL_TYPES[c.type]} AS {c.name}" for c in contract.files[name].columns.values()
        )
        con.execute(f"CREATE TABLE {name} AS SELECT {cols} LIMIT 0")
    for f in catalog.fields:
        if f.is_agg:
            d = f.derivation
            target = "*" if d["agg"] == "count" else d["column"]
            where = f" WHERE {d['where']}" if d["where"] else ""
            con.execute(f"SELECT count({target}) FROM {f.source}{where}")


# --------------------------------------------------------------------------- validation


@functools.cache
def _pristine_catalog_data():
    return yaml.load(DEFAULT_CATALOG_PATH.read_text(encoding="utf-8"), Loader=LOADER)


def _catalog_data():
    return copy.deepcopy(_pristine_catalog_data())


def _field(data, code):
    return next(f for f in data["fields"] if f["code"] == code)


def _load_modified(tmp_path: Path, data) -> None:
    path = tmp_path / "fields.yaml"
    path.write_text(yaml.dump(data, Dumper=DUMPER, allow_unicode=True), encoding="utf-8")
    load_catalog(path)


def _expect_error(tmp_path, data, *needles):
    with pytest.raises(UserError) as info:
        _load_modified(tmp_path, data)
    message = str(info.value)
    assert "\n" not in message
    for needle in needles:
        assert needle in message, message
    return message


def test_modified_copy_loads(tmp_path):
    _load_modified(tmp_path, _catalog_data())


def test_unknown_field_in_expr(tmp_path):
    data = _catalog_data()
    _field(data, "bill_avg_3m")["derivation"]["expr"] = "bill_total_m1 + no_such_field"
    _expect_error(tmp_path, data, "'bill_avg_3m'", "no_such_field")


def test_expr_that_does_not_parse(tmp_path):
    data = _catalog_data()
    _field(data, "bill_avg_3m")["derivation"]["expr"] = "(bill_total_m1 +"
    _expect_error(tmp_path, data, "'bill_avg_3m'", "parse")


def test_expr_with_aggregate_is_rejected(tmp_path):
    data = _catalog_data()
    _field(data, "bill_avg_3m")["derivation"]["expr"] = "sum(bill_total_m1)"
    _expect_error(tmp_path, data, "'bill_avg_3m'", "aggregate")


def test_bad_agg(tmp_path):
    data = _catalog_data()
    _field(data, "bill_total_m2")["derivation"]["agg"] = "median"
    _expect_error(tmp_path, data, "'bill_total_m2'", "median")


def test_agg_column_missing_from_source(tmp_path):
    data = _catalog_data()
    _field(data, "bill_total_m2")["derivation"]["column"] = "total_amount"
    _expect_error(tmp_path, data, "'bill_total_m2'", "total_amount", "bills")


def test_sum_needs_numeric_column(tmp_path):
    data = _catalog_data()
    _field(data, "bill_total_m2")["derivation"]["column"] = "bill_month"
    _expect_error(tmp_path, data, "'bill_total_m2'", "numeric")


@pytest.mark.parametrize(
    "window, needle",
    [
        ({"unit": "month", "from": 3, "to": 2}, "after"),
        ({"unit": "week", "from": 1, "to": 1}, "unit"),
        ({"unit": "month", "from": "one", "to": 2}, "whole number"),
        ({"unit": "month", "from": -1, "to": 2}, "whole number"),
        ({"unit": "month", "from": 1}, "window"),
    ],
)
def test_bad_window(tmp_path, window, needle):
    data = _catalog_data()
    _field(data, "bill_total_m2")["derivation"]["window"] = window
    _expect_error(tmp_path, data, "'bill_total_m2'", needle)


def test_where_must_parse_and_use_source_columns(tmp_path):
    data = _catalog_data()
    _field(data, "complaints_90d")["derivation"]["where"] = "event_kind = 'complaint'"
    _expect_error(tmp_path, data, "'complaints_90d'", "event_kind")
    _field(data, "complaints_90d")["derivation"]["where"] = "event_type = = 'x'"
    _expect_error(tmp_path, data, "'complaints_90d'", "parse")


def test_cycle(tmp_path):
    data = _catalog_data()
    _field(data, "bill_avg_3m")["derivation"]["expr"] = "bill_avg_6m * 2"
    _field(data, "bill_avg_6m")["derivation"]["expr"] = "bill_avg_3m / 2"
    message = _expect_error(tmp_path, data, "cycle")
    assert re.search(r"'bill_avg_[36]m'", message)


def test_self_reference_is_a_cycle(tmp_path):
    data = _catalog_data()
    _field(data, "tenure_years")["derivation"]["expr"] = "tenure_years + 1"
    _expect_error(tmp_path, data, "'tenure_years'", "cycle")


def test_duplicate_code(tmp_path):
    data = _catalog_data()
    data["fields"].append(dict(_field(data, "age")))
    _expect_error(tmp_path, data, "'age'", "duplicate")


@pytest.mark.parametrize(
    "key, value, needle",
    [
        ("category", "misc", "category"),
        ("type", "decimal", "type"),
        ("kind", "computed", "kind"),
        ("source", "crm", "source"),
        ("color", "red", "unknown key"),
    ],
)
def test_unknown_category_type_kind_source(tmp_path, key, value, needle):
    data = _catalog_data()
    _field(data, "complaints_90d")[key] = value
    _expect_error(tmp_path, data, "'complaints_90d'", needle)


def test_raw_column_must_exist_in_contract(tmp_path):
    data = _catalog_data()
    _field(data, "manager_id")["column"] = "manager_code"
    _expect_error(tmp_path, data, "'manager_id'", "manager_code", "assignments")


def test_raw_field_type_must_match_contract(tmp_path):
    data = _catalog_data()
    _field(data, "plan_fee")["type"] = "int"
    _expect_error(tmp_path, data, "'plan_fee'", "float")


def test_contract_column_needs_a_raw_field(tmp_path):
    data = _catalog_data()
    data["fields"] = [f for f in data["fields"] if f["code"] != "dnd_end"]
    _expect_error(tmp_path, data, "subscribers.dnd_end")


def test_extended_enum_must_fit_type(tmp_path):
    data = _catalog_data()
    _field(data, "family_members")["enum"] = ["one", "two"]
    _expect_error(tmp_path, data, "'family_members'", "enum")


def test_invalid_yaml(tmp_path):
    path = tmp_path / "fields.yaml"
    path.write_text("fields: [\n  {code: x", encoding="utf-8")
    with pytest.raises(UserError, match="invalid YAML"):
        load_catalog(path)


def test_sql_column_names():
    assert sql_column_names("a + COALESCE(b, 0) > date_diff('day', c, business_date)") == {
        "a",
        "b",
        "c",
        "business_date",
    }
