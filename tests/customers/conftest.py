"""A tiny contract-conforming delivery (Parquet or CSV) that tests can edit and rewrite."""

from __future__ import annotations

import copy
import json
from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from keycare.customers.delivery import ARROW_TYPES, contract

D = date.fromisoformat
# Columns outside the contract's fixed list (catalog raw fields) land in Customer.attributes.
EXTRA_TYPES = {"vip_card": pa.string()}


def _org():
    rows = []
    for city_id, city, counties in [
        ("C025", "南京市", [("X0251", "玄武区"), ("X0252", "鼓楼区")]),
        ("C0512", "苏州市", [("X5121", "姑苏区"), ("X5122", "吴中区")]),
    ]:
        for county_id, county in counties:
            rows.append(
                {
                    "grid_id": f"G{county_id[1:]}",
                    "grid_name": f"{county}一网格",
                    "county_id": county_id,
                    "county_name": county,
                    "city_id": city_id,
                    "city_name": city,
                    "province_id": "JS",
                    "province_name": "江苏省",
                }
            )
    return rows


def _manager(mid, name, city, grid):
    return {
        "manager_id": mid,
        "name": name,
        "mobile": "13800000" + mid[-3:],
        "city_id": city,
        "grid_id": grid,
        "role": "phone_manager",
        "daily_capacity": 40,
        "active": True,
    }


def _subscriber(n, tier="mid_high", status="active", city="C025", county="X0251", ka=None):
    return {
        "subscriber_id": f"S{n:03d}",
        "msisdn": f"1390000{n:04d}",
        "name": f"测试{n}",
        "id_number": f"32010219800101{n:03d}X",
        "gender": "M" if n % 2 else "F",
        "birth_date": D("1980-01-01"),
        "address": f"南京市玄武区{n}号",
        "join_date": D("2015-03-01"),
        "city_id": city,
        "county_id": county,
        "grid_id": f"G{county[1:]}",
        "brand": "gotone",
        "plan_code": "GT188",
        "plan_fee": 188.0,
        "payment_type": "postpaid",
        "status": status,
        "status_date": D("2026-10-01") if status == "churned" else D("2015-03-01"),
        "value_tier": tier,
        "balance": 52.5 + n,
        "arrears_days": 0,
        "handset_5g": True,
        "dnd": False,
        "star_level": 5,
        "credit_score": 700,
        "points": 1000 * n,
        "key_account_id": ka,
        "vip_card": "gold" if n % 2 else None,
    }


def default_rows() -> dict[str, list[dict]]:
    subscribers = [_subscriber(n) for n in range(1, 7)]
    subscribers[3].update(city_id="C0512", county_id="X5121", grid_id="G5121")
    subscribers[4].update(city_id="C0512", county_id="X5122", grid_id="G5122")
    subscribers += [
        _subscriber(7, tier="mass", ka="K001"),  # key-account member: archived
        _subscriber(8, tier="mass"),  # mass, no key account: not archived
        _subscriber(9, status="churned"),  # high-value who left: retained archive
        _subscriber(10, tier="mass"),
    ]
    assigned = D("2026-01-01")
    return {
        "org": _org(),
        "managers": [
            _manager("M001", "王经理", "C025", "G0251"),
            _manager("M002", "李经理", "C025", None),
            _manager("M003", "赵经理", "C0512", "G5121"),
        ],
        "subscribers": subscribers,
        "assignments": [
            {"subscriber_id": s, "manager_id": m, "assigned_date": assigned}
            for s, m in [
                ("S001", "M001"),
                ("S002", "M001"),
                ("S003", "M002"),
                ("S004", "M003"),
                ("S005", "M003"),
                ("S009", "M001"),
                ("S008", "M002"),  # outside the archive: ignored
            ]
        ],
        "key_accounts": [
            {
                "key_account_id": "K001",
                "name": "南京某科技有限公司",
                "industry": "IT",
                "tier": "A",
                "city_id": "C025",
                "manager_id": "M002",
                "annual_revenue": 1_200_000.0,
                "credit_rating": "AA",
                "points": 5000,
                "status": "active",
                "created_date": D("2018-05-01"),
            },
            {
                "key_account_id": "K002",
                "name": "苏州某制造厂",
                "industry": "制造",
                "tier": "B",
                "city_id": "C0512",
                "manager_id": None,
                "annual_revenue": None,
                "credit_rating": None,
                "points": None,
                "status": "active",
                "created_date": D("2019-07-01"),
            },
        ],
        "key_account_members": [
            {"key_account_id": "K001", "subscriber_id": "S007", "role": "key_person"},
            {"key_account_id": "K001", "subscriber_id": "S001", "role": "member"},
            {"key_account_id": "K002", "subscriber_id": "S004", "role": "member"},
        ],
    }


def _schema(name: str, rows: list[dict]) -> pa.Schema:
    fields = contract()["files"][name]["fields"]
    columns = list(rows[0]) if rows else list(fields)
    return pa.schema(
        [(c, ARROW_TYPES[fields[c]["type"]] if c in fields else EXTRA_TYPES[c]) for c in columns]
    )


class DeliveryBuilder:
    """``rows`` maps file name -> list of dicts; ``write()`` writes them to ``path``."""

    def __init__(self, path: Path):
        self.path = path
        self.rows = default_rows()
        for member in self.rows["key_account_members"]:
            member["joined_date"] = D("2020-01-01")

    def write(self, fmt: str = "parquet") -> Path:
        self.path.mkdir(parents=True, exist_ok=True)
        for old in self.path.glob("*.*"):
            old.unlink()
        for name, rows in self.rows.items():
            table = pa.Table.from_pylist(rows, schema=_schema(name, rows))
            if fmt == "parquet":
                pq.write_table(table, self.path / f"{name}.parquet")
            else:
                pacsv.write_csv(table, self.path / f"{name}.csv")
        manifest = {"business_date": "2026-11-22", "operator": "江苏"}
        (self.path / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False))
        return self.path

    def subscriber(self, sid: str) -> dict:
        return next(r for r in self.rows["subscribers"] if r["subscriber_id"] == sid)

    def copy(self, path: Path) -> DeliveryBuilder:
        other = DeliveryBuilder(path)
        other.rows = copy.deepcopy(self.rows)
        return other


@pytest.fixture
def delivery(tmp_path) -> DeliveryBuilder:
    builder = DeliveryBuilder(tmp_path / "delivery")
    builder.write()
    return builder
