"""Ingest with quarantine: every rule, exact bookkeeping, the rate limit, CSV damage."""

from __future__ import annotations

import json
from datetime import date

import pytest
from builders import csv_line, row, write_delivery, write_raw_csv

from keycare.engine.ingest import ingest, load_contract_rules
from keycare.errors import UserError


def _ingest(backend, data_dir, tmp_path, limit=1.0, **kw):
    return ingest(backend, data_dir, staging_dir=tmp_path / "work", quarantine_limit=limit, **kw)


def _quarantine(backend, file=None):
    where = f"WHERE file = '{file}'" if file else ""
    return backend.to_arrow(
        f"SELECT * FROM quarantine {where} ORDER BY file, row_number"
    ).to_pylist()


def _assert_balanced(result):
    for f in result.files.values():
        assert f.rows_in == f.accepted + f.quarantined, f.name


def test_clean_delivery_is_accepted_with_contract_types(backend, tmp_path):
    data = write_delivery(
        tmp_path / "in",
        {
            "subscribers": [{}, {"plan_fee": 58.5, "balance": -3.0}],
            "bills": [{"bill_month": "2026-09"}, {"bill_month": "2026-10"}],
            "events": [{"event_time": "2026-11-20 08:30:00", "event_type": "complaint"}],
        },
    )
    result = _ingest(backend, data, tmp_path)
    _assert_balanced(result)
    assert result.quarantined == 0
    assert result.files["subscribers"].accepted == 2
    subs = backend.to_arrow("SELECT * FROM subscribers ORDER BY subscriber_id").to_pylist()
    assert [s["plan_fee"] for s in subs] == [128.0, 58.5]
    assert subs[0]["join_date"] == date(2020, 1, 1)
    assert subs[0]["dnd"] is False
    assert backend.scalar("SELECT count(*) FROM bills") == 2
    assert backend.scalar("SELECT count(*) FROM org") == 0
    assert len(result.files["subscribers"].sha256) == 64


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_each_row_rule_quarantines_the_row_with_a_reason(backend, tmp_path, fmt):
    subscribers = [
        {},  # 1 ok
        {"plan_fee": 12000.0},  # 2 range
        {"brand": "nokia"},  # 3 enum
        {"msisdn": "12345"},  # 4 pattern
        {"name": None},  # 5 required
        {"subscriber_id": "S000001"},  # 6 duplicate of row 1
        {"star_level": 9},  # 7 range (int)
    ]
    data = write_delivery(tmp_path / "in", {"subscribers": subscribers}, fmt=fmt)
    result = _ingest(backend, data, tmp_path)
    _assert_balanced(result)
    f = result.files["subscribers"]
    assert (f.rows_in, f.accepted, f.quarantined) == (7, 1, 6)
    by_row = {q["row_number"]: q for q in _quarantine(backend)}
    assert {n: q["rule"] for n, q in by_row.items()} == {
        2: "range",
        3: "enum",
        4: "pattern",
        5: "required",
        6: "duplicate_key",
        7: "range",
    }
    assert by_row[2]["reason"].startswith("字段 plan_fee 超出范围 [0, 10000]: 12000")
    assert "(range)" in by_row[2]["reason"]
    assert "首次出现在第 1 行" in by_row[6]["reason"]
    assert by_row[3]["file"] == f"subscribers.{fmt}"
    assert "nokia" in by_row[3]["raw"]
    if fmt == "parquet":
        assert json.loads(by_row[3]["raw"])["brand"] == "nokia"
    else:
        assert by_row[3]["raw"].split(",")[0] == "S000003"
    assert backend.scalar("SELECT count(*) FROM subscribers") == 1


def test_type_errors_in_csv_are_quarantined(backend, tmp_path):
    data = write_delivery(tmp_path / "in", {"subscribers": [{}]}, fmt="csv")
    lines = [
        csv_line("subscribers", 0),
        csv_line("subscribers", 1, plan_fee="abc"),
        csv_line("subscribers", 2, join_date="2026-13-45"),
        csv_line("subscribers", 3, dnd="maybe"),
    ]
    write_raw_csv(data, "subscribers", None, lines)
    bills = [csv_line("bills", 0, bill_month="2026-13"), csv_line("bills", 1)]
    write_raw_csv(data, "bills", None, bills)
    result = _ingest(backend, data, tmp_path)
    _assert_balanced(result)
    rules = {(q["file"], q["row_number"]): q["rule"] for q in _quarantine(backend)}
    assert rules == {
        ("subscribers.csv", 2): "type",
        ("subscribers.csv", 3): "type",
        ("subscribers.csv", 4): "type",
        ("bills.csv", 1): "type",
    }
    reasons = [q["reason"] for q in _quarantine(backend, "subscribers.csv")]
    assert reasons[0] == "字段 plan_fee 无法解析为 float: abc (type)"


def test_a_broken_row_sharing_a_valid_rows_key_is_no_duplicate(backend, tmp_path):
    # DuckDB looks for repeated key hashes among all rows, broken ones included; the repeat
    # here is only a candidate, and the valid row must be kept.
    bills = [
        {"subscriber_id": "S1", "bill_month": "2026-09", "total_fee": -99999.0},  # range
        {"subscriber_id": "S1", "bill_month": "2026-09"},
        {"subscriber_id": "S2", "bill_month": "2026-09"},
    ]
    data = write_delivery(tmp_path / "in", {"bills": bills})
    result = _ingest(backend, data, tmp_path)
    _assert_balanced(result)
    rules = {q["row_number"]: q["rule"] for q in _quarantine(backend, "bills.parquet")}
    assert rules == {1: "range"}
    assert result.files["bills"].accepted == 2


def test_duplicates_keep_first_valid_occurrence_multi_column_key(backend, tmp_path):
    bills = [
        {"subscriber_id": "S1", "bill_month": "2026-09"},
        {"subscriber_id": "S1", "bill_month": "2026-10"},
        {"subscriber_id": "S1", "bill_month": "2026-09", "total_fee": 5.0},
        {"subscriber_id": "S2", "bill_month": "2026-09", "total_fee": -99999.0},  # range
        {"subscriber_id": "S2", "bill_month": "2026-09"},  # first *valid* S2 row
        {"subscriber_id": "S1", "bill_month": "2026-09"},
    ]
    data = write_delivery(tmp_path / "in", {"bills": bills})
    result = _ingest(backend, data, tmp_path)
    _assert_balanced(result)
    rules = {q["row_number"]: q["rule"] for q in _quarantine(backend, "bills.parquet")}
    assert rules == {3: "duplicate_key", 4: "range", 6: "duplicate_key"}
    kept = backend.to_arrow("SELECT subscriber_id, bill_month, total_fee FROM bills").to_pylist()
    assert sorted((r["subscriber_id"], r["bill_month"]) for r in kept) == [
        ("S1", "2026-09"),
        ("S1", "2026-10"),
        ("S2", "2026-09"),
    ]


def test_gbk_file_declared_utf8_quarantines_only_the_bad_rows(backend, tmp_path):
    data = write_delivery(tmp_path / "in", {"subscribers": [{}]}, fmt="csv")
    lines = [
        csv_line("subscribers", 0, name="王小明"),
        csv_line("subscribers", 1, name="张三").encode("gbk"),
        csv_line("subscribers", 2, name="Li Si"),
        csv_line("subscribers", 3, address="南京市玄武区").encode("gbk"),
    ]
    write_raw_csv(data, "subscribers", None, lines)
    result = _ingest(backend, data, tmp_path)
    _assert_balanced(result)
    q = _quarantine(backend, "subscribers.csv")
    assert [(r["row_number"], r["rule"]) for r in q] == [(2, "encoding"), (4, "encoding")]
    names = backend.to_arrow("SELECT name FROM subscribers ORDER BY subscriber_id").to_pylist()
    assert [n["name"] for n in names] == ["王小明", "Li Si"]


def test_gbk_file_declared_gbk_in_manifest_is_read(backend, tmp_path):
    data = write_delivery(
        tmp_path / "in",
        {"subscribers": [{"name": "张三"}, {"name": "李四"}]},
        fmt="csv",
        encodings={"subscribers": "gbk"},
    )
    result = _ingest(backend, data, tmp_path)
    assert result.quarantined == 0
    names = backend.to_arrow("SELECT name FROM subscribers ORDER BY subscriber_id").to_pylist()
    assert [n["name"] for n in names] == ["张三", "李四"]


def test_wrong_column_count_and_truncated_last_line(backend, tmp_path):
    data = write_delivery(tmp_path / "in", {}, fmt="csv")
    lines = [
        csv_line("subscribers", 0),
        "S000002,13800000001",  # too few fields
        csv_line("subscribers", 2) + ",surplus",  # too many
        csv_line("subscribers", 3),
        csv_line("subscribers", 4)[:45],  # cut off, no final newline
    ]
    write_raw_csv(data, "subscribers", None, lines, final_newline=False)
    result = _ingest(backend, data, tmp_path)
    _assert_balanced(result)
    f = result.files["subscribers"]
    assert (f.rows_in, f.accepted, f.quarantined) == (5, 2, 3)
    q = _quarantine(backend, "subscribers.csv")
    assert [(r["row_number"], r["rule"]) for r in q] == [
        (2, "column_count"),
        (3, "column_count"),
        (5, "truncated"),
    ]
    assert q[0]["raw"] == "S000002,13800000001"
    assert "截断" in q[2]["reason"]
    ids = backend.to_arrow("SELECT subscriber_id FROM subscribers ORDER BY 1").to_pylist()
    assert [r["subscriber_id"] for r in ids] == ["S000001", "S000004"]


@pytest.mark.parametrize("paid", ["true", "t"])
def test_a_valid_last_line_without_final_newline_is_quarantined_as_truncated(
    backend, tmp_path, paid
):
    """``...,t`` is a valid boolean: a cut-off ``true`` would load silently as true."""
    data = write_delivery(tmp_path / "in", {}, fmt="csv")
    months = ["2026-06", "2026-07", "2026-08"]
    lines = [csv_line("bills", 0, bill_month=m, paid=True) for m in months[:2]]
    lines.append(csv_line("bills", 0, bill_month=months[2], paid=True).rsplit(",", 1)[0])
    lines[-1] += f",{paid}"
    write_raw_csv(data, "bills", None, lines, final_newline=False)
    result = _ingest(backend, data, tmp_path)
    _assert_balanced(result)
    f = result.files["bills"]
    assert (f.rows_in, f.accepted, f.quarantined) == (3, 2, 1)
    assert f.rules == {"truncated": 1}
    [q] = _quarantine(backend, "bills.csv")
    assert (q["row_number"], q["rule"]) == (3, "truncated")
    assert q["raw"].endswith(f",{paid}")
    assert "截断" in q["reason"] and "no final newline" in q["reason"]
    accepted = backend.to_arrow("SELECT bill_month FROM bills ORDER BY 1").to_pylist()
    assert [r["bill_month"] for r in accepted] == months[:2]


def test_the_same_file_with_a_final_newline_is_accepted_whole(backend, tmp_path):
    data = write_delivery(tmp_path / "in", {}, fmt="csv")
    lines = [csv_line("bills", 0, bill_month=m) for m in ("2026-07", "2026-08")]
    write_raw_csv(data, "bills", None, lines, final_newline=True)
    result = _ingest(backend, data, tmp_path)
    f = result.files["bills"]
    assert (f.rows_in, f.accepted, f.quarantined) == (2, 2, 0)


def test_a_header_only_file_without_final_newline_has_no_rows(backend, tmp_path):
    data = write_delivery(tmp_path / "in", {}, fmt="csv")
    write_raw_csv(data, "bills", None, [], final_newline=False)
    f = _ingest(backend, data, tmp_path).files["bills"]
    assert (f.rows_in, f.accepted, f.quarantined) == (0, 0, 0)


def test_a_truncated_last_line_that_repeats_a_key_is_truncated_not_duplicate(backend, tmp_path):
    data = write_delivery(tmp_path / "in", {}, fmt="csv")
    lines = [csv_line("subscribers", 0), csv_line("subscribers", 1), csv_line("subscribers", 0)]
    write_raw_csv(data, "subscribers", None, lines, final_newline=False)
    result = _ingest(backend, data, tmp_path)
    _assert_balanced(result)
    q = _quarantine(backend, "subscribers.csv")
    assert [(r["row_number"], r["rule"]) for r in q] == [(3, "truncated")]


def test_row_numbers_after_rejected_lines_stay_exact(backend, tmp_path):
    data = write_delivery(tmp_path / "in", {}, fmt="csv")
    lines = []
    for i in range(40):
        if i % 7 == 3:
            lines.append(f"S{i:06d},broken")
        elif i % 11 == 5:
            lines.append(csv_line("subscribers", i, plan_fee="-1"))
        else:
            lines.append(csv_line("subscribers", i))
    write_raw_csv(data, "subscribers", None, lines)
    _ingest(backend, data, tmp_path)
    q = _quarantine(backend, "subscribers.csv")
    expected = sorted(
        [(i + 1, "column_count") for i in range(40) if i % 7 == 3]
        + [(i + 1, "range") for i in range(40) if i % 11 == 5 and i % 7 != 3]
    )
    assert [(r["row_number"], r["rule"]) for r in q] == expected


def test_quarantine_rate_above_limit_names_file_and_rate(backend, tmp_path):
    subs = [{} for _ in range(19)] + [{"plan_fee": -5.0}]  # 1 of 20 = 5%: at the limit
    data = write_delivery(tmp_path / "in", {"subscribers": subs})
    assert _ingest(backend, data, tmp_path, limit=0.05).quarantined == 1
    subs.append({"brand": "x"})  # 2 of 21 = 9.5%
    data = write_delivery(tmp_path / "in2", {"subscribers": subs})
    with pytest.raises(UserError) as err:
        _ingest(backend, data, tmp_path, limit=0.05)
    message = str(err.value)
    assert "subscribers.parquet" in message and "9.52%" in message and "5.00%" in message
    assert "\n" not in message


def test_missing_required_file_and_missing_required_column(backend, tmp_path):
    data = write_delivery(tmp_path / "in", {"subscribers": [{}]})
    (data / "events.parquet").unlink()
    with pytest.raises(UserError, match="events.parquet"):
        _ingest(backend, data, tmp_path)
    data = write_delivery(tmp_path / "in2", {"subscribers": [{}]}, fmt="csv")
    header = [c.name for c in load_contract_rules()[2].columns if c.name != "msisdn"]
    write_raw_csv(data, "subscribers", header, [])
    with pytest.raises(UserError, match="msisdn"):
        _ingest(backend, data, tmp_path)


def test_manifest_date_must_match_the_run(backend, tmp_path):
    data = write_delivery(tmp_path / "in", {"subscribers": [{}]}, business_date="2026-11-22")
    result = _ingest(backend, data, tmp_path, business_date=date(2026, 11, 22))
    assert result.business_date == date(2026, 11, 22)
    with pytest.raises(UserError, match="2026-11-23"):
        _ingest(backend, data, tmp_path, business_date=date(2026, 11, 23))


def test_optional_columns_may_be_absent(backend, tmp_path):
    required = [c.name for c in load_contract_rules()[2].columns if c.required]
    data = write_delivery(tmp_path / "in", {}, fmt="csv")
    r = row("subscribers", 0)
    write_raw_csv(data, "subscribers", required, [",".join(_csv(r[c]) for c in required)])
    result = _ingest(backend, data, tmp_path)
    assert result.files["subscribers"].accepted == 1
    assert backend.scalar("SELECT balance IS NULL FROM subscribers") is True


def _csv(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def test_only_the_named_files_are_required_and_read(backend, tmp_path):
    data = write_delivery(tmp_path / "in", {"managers": [{}, {"daily_capacity": 900}]})
    for name in ("bills", "events", "usage_weekly", "call_circle"):
        (data / f"{name}.parquet").unlink()
    result = _ingest(backend, data, tmp_path, files=["managers", "org"])
    assert set(result.files) == {"managers", "org"}
    assert (result.files["managers"].accepted, result.files["managers"].quarantined) == (1, 1)
    with pytest.raises(UserError, match="bills"):
        _ingest(backend, data, tmp_path)
    with pytest.raises(ValueError, match="nonsense"):
        _ingest(backend, data, tmp_path, files=["nonsense"])


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_extra_columns_are_kept_as_delivered_on_request(backend, tmp_path, fmt):
    data = write_delivery(tmp_path / "in", {}, fmt=fmt)
    [rule] = [r for r in load_contract_rules() if r.name == "assignments"]
    names = [c.name for c in rule.columns] + ["note"]
    lines = [csv_line("assignments", i) + f",note {i}" for i in range(2)]
    write_raw_csv(data, "assignments", names, lines)
    if fmt == "parquet":
        import pyarrow.csv as pacsv
        import pyarrow.parquet as pq

        table = pacsv.read_csv(data / "assignments.csv")
        (data / "assignments.csv").unlink()
        pq.write_table(table, data / "assignments.parquet")
    _ingest(backend, data, tmp_path, files=["assignments"])
    assert "note" not in backend.to_arrow("SELECT * FROM assignments").column_names
    _ingest(backend, data, tmp_path, files=["assignments"], keep_extra_columns=True)
    kept = backend.to_arrow("SELECT note FROM assignments ORDER BY note").to_pylist()
    assert [r["note"] for r in kept] == ["note 0", "note 1"]


def test_an_unreadable_parquet_file_is_a_user_error(backend, tmp_path):
    data = write_delivery(tmp_path / "in", {})
    (data / "bills.parquet").write_bytes(b"PAR1 this is not parquet")
    with pytest.raises(UserError, match="bills.parquet.*unreadable Parquet"):
        _ingest(backend, data, tmp_path)
