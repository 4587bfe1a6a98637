"""``keycare catalog`` in each format, for the catalog and for the contract (no database)."""

import csv
import io
import json

import pytest
from django.core.management import CommandError, call_command

from keycare.catalog.fields import load_catalog


def _run(*args) -> str:
    out = io.StringIO()
    call_command("catalog", *args, stdout=out)
    return out.getvalue()


def test_markdown_has_a_table_per_category_with_counts():
    text = _run()
    catalog = load_catalog()
    assert text.startswith("# 客户统一视图字段目录")
    for cat in catalog.categories.values():
        assert f"## {cat.zh} ({cat.en}) — {len(catalog.in_category(cat.code))}" in text
    assert f"**{len(catalog.fields)} fields**" in text


def test_csv_lists_every_field():
    rows = list(csv.DictReader(io.StringIO(_run("--format", "csv"))))
    assert [r["code"] for r in rows] == [f.code for f in load_catalog().fields]
    by_code = {r["code"]: r for r in rows}
    assert by_code["msisdn"]["personal"] == "true"
    assert by_code["complaints_30d"]["derivation"].startswith("count(*) from events")


def test_json_round_trips():
    data = json.loads(_run("--format", "json"))
    assert len(data["categories"]) == 15
    assert sum(c["fields"] for c in data["categories"]) == len(data["fields"]) >= 233
    field = next(f for f in data["fields"] if f["code"] == "bill_total_m1")
    assert field["derivation"]["window"] == {"unit": "month", "from": 1, "to": 1}


def test_contract_formats():
    assert _run("--contract").startswith("# 数据接口规范")
    rows = list(csv.DictReader(io.StringIO(_run("--contract", "--format", "csv"))))
    subs = [r for r in rows if r["file"] == "subscribers"]
    assert any(r["column"] == "plan_name" and r["extended"] == "true" for r in subs)
    assert any(r["column"] == "subscriber_id" and r["key"] == "true" for r in subs)
    data = json.loads(_run("--contract", "--format", "json"))
    assert data["files"]["subscribers"]["columns"]["plan_fee"]["range"] == [0, 10000]
    assert data["files"]["subscribers"]["columns"]["real_name_verified"]["extended"] is True


def test_unknown_format_is_a_clean_error():
    with pytest.raises(CommandError, match="format"):
        _run("--format", "xml")
