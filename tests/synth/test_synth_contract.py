"""The generated files follow the data contract exactly: columns, types, keys, enums, ranges,
patterns, required columns."""

import json

import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from keycare.catalog.delivery import load_contract
from keycare.synth.generator import ARROW_TYPES, TABLE_FILES

CONTRACT = load_contract()


def test_manifest_names_business_date_and_row_counts(delivery):
    manifest = json.loads((delivery / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["business_date"] == "2026-11-22"
    assert manifest["generator"]["subscribers"] == 5_000
    for name in TABLE_FILES:
        rows = pq.read_metadata(delivery / f"{name}.parquet").num_rows
        assert manifest["files"][name]["rows"] == rows


@pytest.mark.parametrize("name", TABLE_FILES)
def test_columns_and_types_match_contract(delivery, name):
    spec = CONTRACT.file(name)
    schema = pq.read_schema(delivery / f"{name}.parquet")
    expected = spec.core_columns + (spec.extended_columns if name == "subscribers" else [])
    assert schema.names == expected
    for column in expected:
        assert schema.field(column).type == ARROW_TYPES[spec.columns[column].type], column


@pytest.mark.parametrize("name", TABLE_FILES)
def test_values_respect_contract_constraints(delivery, name):
    spec = CONTRACT.file(name)
    table = pq.read_table(delivery / f"{name}.parquet")
    assert table.num_rows > 0
    keys = table.group_by(spec.key).aggregate([]).num_rows
    assert keys == table.num_rows, f"{name}: key {spec.key} not unique"
    for column, col in spec.columns.items():
        values = table[column]
        if col.required:
            assert values.null_count == 0, f"{name}.{column} has nulls"
        present = values.drop_null()
        if len(present) == 0:
            continue
        if col.enum is not None:
            bad = set(present.unique().to_pylist()) - set(col.enum)
            assert not bad, f"{name}.{column}: values outside the enum {bad}"
        if col.range is not None:
            assert pc.min(present).as_py() >= col.range[0], f"{name}.{column} below range"
            assert pc.max(present).as_py() <= col.range[1], f"{name}.{column} above range"
        if col.pattern is not None:
            ok = pc.match_substring_regex(present, col.pattern)
            assert pc.all(ok).as_py(), f"{name}.{column} does not match {col.pattern}"
        if col.type == "month":
            assert pc.all(pc.match_substring_regex(present, r"^\d{4}-\d{2}$")).as_py()


def test_references_between_files_resolve(duck):
    orphans = {
        "subscriber grid": "SELECT count(*) FROM subscribers s ANTI JOIN org o USING (grid_id)",
        "bill subscriber": "SELECT count(*) FROM bills ANTI JOIN subscribers USING (subscriber_id)",
        "event subscriber": "SELECT count(*) FROM events ANTI JOIN subscribers USING (subscriber_id)",
        "assignment manager": "SELECT count(*) FROM assignments ANTI JOIN managers USING (manager_id)",
        "member account": "SELECT count(*) FROM key_account_members ANTI JOIN key_accounts USING (key_account_id)",
        "account manager": "SELECT count(*) FROM key_accounts k ANTI JOIN managers m USING (manager_id)",
    }
    for what, sql in orphans.items():
        assert duck.execute(sql).fetchone()[0] == 0, what


def test_history_windows(duck):
    months = duck.execute(
        "SELECT min(bill_month), max(bill_month), count(DISTINCT bill_month) FROM bills"
    ).fetchone()
    assert months == ("2026-05", "2026-10", 6)
    circle = duck.execute("SELECT min(month), max(month) FROM call_circle").fetchone()
    assert circle == ("2026-05", "2026-10")
    weeks = duck.execute(
        "SELECT min(week_start), max(week_start), count(DISTINCT week_start) FROM usage_weekly"
    ).fetchone()
    assert str(weeks[1]) == "2026-11-16" and weeks[2] == 13
    assert (
        duck.execute(
            "SELECT count(*) FROM usage_weekly WHERE dayofweek(week_start) <> 1"
        ).fetchone()[0]
        == 0
    )
    first, last = duck.execute("SELECT min(event_time), max(event_time) FROM events").fetchone()
    assert str(first) >= "2026-05-01" and str(last) < "2026-11-23"
