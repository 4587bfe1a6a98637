"""Group (key-account) moments: the built-in eight, on a small hand-built operator where each
group is made to hold exactly the moments listed in EXPECTED. One test body per backend
(the ``backend`` fixture runs it on DuckDB and, marked ``spark``, on Spark): same answers."""

from __future__ import annotations

import json
from datetime import date

import pyarrow as pa
import pytest

from keycare.engine.conditions import DefinitionError
from keycare.engine.groups import (
    GROUP_DETECTIONS,
    detect_groups,
    load_group_definitions,
    parse_group_definitions,
)
from keycare.yamlio import safe_load

DAY = date(2026, 11, 3)  # the monthly day: G01 and G05 are due, and every daily moment
EXPECTED = {
    ("KA1", "G01"),  # last month 5,000 against 10,000 before: -50%
    ("KA2", "G02"),  # 3 of 13 members left in 30 days
    ("KA2", "G03"),  # one of them a key person, 2 days ago
    ("KA3", "G04"),  # a key person changed number 4 days ago
    ("KA3", "G05"),  # a key person's competitor share 20% -> 50%
    ("KA4", "G06"),  # a contract ends in 28 days
    ("KA6", "G07"),  # 3 faults on one data line this month
    ("KA7", "G08"),  # an informatization product cancelled 2 days ago
}


def d(text: str) -> date:
    return date.fromisoformat(text)


def _groups() -> pa.Table:
    ids = ["KA1", "KA2", "KA3", "KA4", "KA5", "KA6", "KA7", "KA8"]
    return pa.table(
        {
            "key_account_id": ids,
            "name": [f"集团{i}" for i in ids],
            "industry": ["制造业"] * 8,
            "tier": ["B1"] * 8,
            "city_id": ["C1", "C1", "C1", "C1", "C2", "C1", "C1", "C1"],
            "manager_id": [f"M{i}" for i in ids],
            "status": ["active"] * 7 + ["churned"],
            "strategic": [False] * 8,
        }
    )


def _members_and_subscribers() -> tuple[pa.Table, pa.Table]:
    members, subscribers, circle = [], [], []
    for n in range(10):  # KA2: ten members in network
        members.append(("KA2", f"S2{n}", "member"))
        subscribers.append((f"S2{n}", "active", d("2020-01-01")))
    for n, when in enumerate(["2026-10-20", "2026-10-25", "2026-11-01"]):  # ... three left
        members.append(("KA2", f"S2L{n}", "key_person" if n == 2 else "member"))
        subscribers.append((f"S2L{n}", "churned", d(when)))
    members.append(("KA3", "S30", "key_person"))  # KA3's key person calls competitors more
    subscribers.append(("S30", "active", d("2020-01-01")))
    circle += [("S30", "2026-10", 0.5), ("S30", "2026-09", 0.2)]
    members.append(("KA8", "S80", "key_person"))  # a churned group: out of scope
    subscribers.append(("S80", "churned", d("2026-11-02")))
    member_table = pa.table(
        {
            k: [m[i] for m in members]
            for i, k in enumerate(["key_account_id", "subscriber_id", "role"])
        }
    )
    subscriber_table = pa.table(
        {
            k: pa.array([s[i] for s in subscribers], t)
            for i, (k, t) in enumerate(
                [
                    ("subscriber_id", pa.string()),
                    ("status", pa.string()),
                    ("status_date", pa.date32()),
                ]
            )
        }
    )
    circle_table = pa.table(
        {
            "subscriber_id": [c[0] for c in circle],
            "month": [c[1] for c in circle],
            "competitor_call_share": [c[2] for c in circle],
        }
    )
    return member_table, subscriber_table, circle_table


def _archive() -> dict[str, pa.Table]:
    revenue = [("KA1", m, v) for m, v in [("2026-10", 5000.0), ("2026-09", 10000.0)]]
    revenue += [("KA1", m, 10000.0) for m in ("2026-08", "2026-07")]
    revenue += [("KA4", m, 10000.0) for m in ("2026-10", "2026-09", "2026-08", "2026-07")]
    products = [  # id, group, type, informatization, status, end_date
        ("P61", "KA6", "data_line", True, "active", None),
        ("P62", "KA6", "cloud", True, "active", None),
        ("P71", "KA7", "mas", True, "cancelled", d("2026-11-01")),
        ("P72", "KA4", "vpmn", False, "cancelled", d("2026-11-01")),
    ]
    faults = [("F1", "KA6", "P61", d("2026-10-10")), ("F2", "KA6", "P61", d("2026-10-20"))]
    faults += [("F3", "KA6", "P61", d("2026-11-02"))]
    faults += [(f"F{9 + n}", "KA6", "P62", d("2026-10-15")) for n in range(5)]  # not a line
    faults += [("F20", "KA4", "P61", d("2026-08-01"))]  # long ago
    contracts = [
        ("HT4", "KA4", "active", d("2026-12-01")),
        ("HT5", "KA5", "active", d("2026-12-01")),  # city C2 is reminded 10 days ahead
        ("HT1", "KA1", "expired", d("2026-10-01")),
    ]
    persons = [("KP3", "KA3", d("2026-10-30")), ("KP1", "KA1", d("2025-01-01"))]
    return {
        "key_account_revenue": _columns(
            revenue, ["key_account_id", "month", "total_revenue"], extra={"info_revenue": 0.0}
        ),
        "key_account_products": _columns(
            products,
            [
                "product_id",
                "key_account_id",
                "product_type",
                "informatization",
                "status",
                "end_date",
            ],
            types={"end_date": pa.date32()},
        ),
        "key_account_faults": _columns(
            faults, ["fault_id", "key_account_id", "product_id", "fault_date"]
        ),
        "key_account_contracts": _columns(
            contracts, ["contract_id", "key_account_id", "status", "end_date"]
        ),
        "key_persons": _columns(persons, ["person_id", "key_account_id", "mobile_changed_date"]),
    }


def _columns(rows, names, types=None, extra=None) -> pa.Table:
    types = types or {}
    data = {n: pa.array([r[i] for r in rows], types.get(n)) for i, n in enumerate(names)}
    for name, value in (extra or {}).items():
        data[name] = [value] * len(rows)
    return pa.table(data)


@pytest.fixture
def operator(backend):
    members, subscribers, circle = _members_and_subscribers()
    backend.register_arrow("key_accounts", _groups())
    backend.register_arrow("key_account_members", members)
    backend.register_arrow("subscribers", subscribers)
    backend.register_arrow("call_circle", circle)
    for name, table in _archive().items():
        backend.register_arrow(name, table)
    return backend


def _found(backend) -> set[tuple[str, str]]:
    rows = backend.to_arrow(f"SELECT key_account_id, moment_code FROM {GROUP_DETECTIONS}")
    return {(r["key_account_id"], r["moment_code"]) for r in rows.to_pylist()}


def test_each_group_gets_exactly_its_moments(operator):
    defs = load_group_definitions(city_overrides={"C2": {"G06": {"days": 10}}})
    result = detect_groups(operator, DAY, defs)
    assert _found(operator) == EXPECTED
    assert result.groups == 7  # the churned group is not in the view
    assert result.counts["G06"] == 1  # KA5 (city C2) is 28 days out, beyond its 10


def test_detections_carry_manager_parameters_and_explanation(operator):
    detect_groups(operator, DAY)
    rows = operator.to_arrow(
        f"SELECT * FROM {GROUP_DETECTIONS} WHERE moment_code IN ('G01', 'G02') ORDER BY moment_code"
    ).to_pylist()
    drop, attrition = rows
    assert drop["manager_id"] == "MKA1" and drop["category"] == "group"
    params = json.loads(drop["params"])
    assert params["revenue_m1"] == 5000 and params["revenue_prev_avg"] == 10000
    assert params["drop_pct"] == 20
    assert drop["explanation"] == (
        "集团上月收入 5000 元，较此前三个月月均 10000 元下降 50%（阈值 20%）"
    )
    assert json.loads(attrition["params"])["members_left_30d"] == 3
    assert "流失率 23.1%" in attrition["explanation"]


def test_cycles_monthly_moments_wait_for_their_day(operator):
    result = detect_groups(operator, date(2026, 11, 4))
    assert "G01" not in result.moments and "G05" not in result.moments
    expected = {p for p in EXPECTED if p[1] not in ("G01", "G05")}
    assert _found(operator) == expected | {("KA5", "G06")}  # no city override here


def test_missing_archive_files_mean_no_archive_moments(backend):
    """Ingest registers an optional file that was not delivered as an empty relation."""
    members, subscribers, circle = _members_and_subscribers()
    backend.register_arrow("key_accounts", _groups())
    backend.register_arrow("key_account_members", members)
    backend.register_arrow("subscribers", subscribers)
    backend.register_arrow("call_circle", circle)
    for name, table in _archive().items():
        backend.register_arrow(name, table.slice(0, 0))
    detect_groups(backend, DAY)
    assert _found(backend) == {("KA2", "G02"), ("KA2", "G03"), ("KA3", "G05")}


def test_definitions_are_checked_against_the_group_fields():
    document = safe_load(
        """
moments:
  - {code: G99, zh: 测试, en: Test, category: group, cycle: daily, priority: 50,
     channel: call, condition: {gte: [bill_total_m1, 10]}}
"""
    )
    with pytest.raises(DefinitionError, match="bill_total_m1"):
        parse_group_definitions(document)
    with pytest.raises(DefinitionError, match="city C1, moment G06: threshold days"):
        load_group_definitions(city_overrides={"C1": {"G06": {"days": 9999}}})
