"""A tiny operator delivery with planted churn signals, written as contract Parquet files."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

BUSINESS_DATE = date(2026, 11, 22)
MONTHS = ["2026-04", "2026-05", "2026-06", "2026-07", "2026-08", "2026-09", "2026-10"]


def _month_start(month: str) -> date:
    return date.fromisoformat(month + "-01")


def write_delivery(path, n: int = 1500, seed: int = 3) -> None:
    rng = np.random.default_rng(seed)
    risk = rng.random(n)  # latent risk drives the signals and the outcome
    churn_month = np.where(
        rng.random(n) < 0.35 * risk**2, rng.integers(3, len(MONTHS) + 1, n), -1
    )  # index of the month in which the customer leaves (-1: stays)
    subs, bills, circle, events = [], [], [], []
    for i in range(n):
        sid = f"S{i:05d}"
        fee = float(rng.choice([58, 88, 128, 188, 288]))
        leave = churn_month[i]
        status, status_date = "active", date(2025, 1, 1)
        if leave >= 0:
            status = "churned"
            left_in = (
                _month_start(MONTHS[leave]) if leave < len(MONTHS) else date(2026, 11, 1)
            ) + timedelta(days=int(rng.integers(1, 27)))
            status_date = left_in
        subs.append(
            {
                "subscriber_id": sid,
                "brand": ["gotone", "mzone", "easyown"][i % 3],
                "payment_type": "postpaid" if i % 4 else "prepaid",
                "city_id": "3201",
                "plan_fee": fee,
                "join_date": date(2020, 1, 1) + timedelta(days=int(rng.integers(0, 2000))),
                "birth_date": date(1970, 1, 1) + timedelta(days=int(rng.integers(0, 12000))),
                "contract_end_date": BUSINESS_DATE + timedelta(days=int(rng.integers(-100, 300))),
                "status": status,
                "status_date": status_date,
                "balance": float(rng.normal(50, 40)),
                "last_active_date": BUSINESS_DATE - timedelta(days=int(rng.integers(0, 5))),
                "handset_5g": bool(i % 2),
            }
        )
        for k, month in enumerate(MONTHS):
            if leave >= 0 and k >= leave:
                break
            decline = 1.0 - 0.25 * risk[i] * (k >= leave - 2 if leave >= 0 else rng.random() < 0.2)
            total = fee * decline * rng.uniform(0.9, 1.2)
            bills.append(
                {
                    "subscriber_id": sid,
                    "bill_month": month,
                    "total_fee": round(total, 2),
                    "plan_fee": fee,
                    "overage_fee": round(max(0.0, total - fee), 2),
                    "supplementary_fee": 0.0,
                    "voice_minutes": round(300 * decline * rng.uniform(0.8, 1.2), 1),
                    "data_mb": round(5000 * rng.uniform(0.7, 1.3), 1),
                    "paid": True,
                }
            )
            share = min(1.0, 0.1 + 0.5 * risk[i] * (k / len(MONTHS)) + rng.uniform(0, 0.1))
            circle.append(
                {
                    "subscriber_id": sid,
                    "month": month,
                    "contacts": 40,
                    "core_contacts": 8,
                    "core_contacts_churned": int(rng.random() < 0.3 * risk[i]),
                    "competitor_call_share": round(share, 3),
                }
            )
            if rng.random() < 0.4 * risk[i]:
                day = _month_start(month) + timedelta(days=int(rng.integers(0, 27)))
                events.append(
                    {
                        "event_id": f"E{len(events):06d}",
                        "subscriber_id": sid,
                        "event_time": datetime.combine(day, datetime.min.time()),
                        "event_type": "complaint",
                        "amount": None,
                    }
                )
    path.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(subs), path / "subscribers.parquet")
    pq.write_table(pa.Table.from_pylist(bills), path / "bills.parquet")
    pq.write_table(pa.Table.from_pylist(circle), path / "call_circle.parquet")
    schema = pa.schema(
        [
            ("event_id", pa.string()),
            ("subscriber_id", pa.string()),
            ("event_time", pa.timestamp("us")),
            ("event_type", pa.string()),
            ("amount", pa.float64()),
        ]
    )
    pq.write_table(pa.Table.from_pylist(events, schema), path / "events.parquet")
    (path / "manifest.json").write_text(json.dumps({"business_date": BUSINESS_DATE.isoformat()}))


@pytest.fixture(scope="session")
def business_date():
    return BUSINESS_DATE


@pytest.fixture(scope="session")
def delivery(tmp_path_factory):
    path = tmp_path_factory.mktemp("risk_delivery")
    write_delivery(path)
    return path


@pytest.fixture(scope="session")
def trained(delivery, tmp_path_factory):
    from keycare.engine.risk.operator import train_from_delivery

    models = tmp_path_factory.mktemp("risk_models")
    return train_from_delivery(delivery, models), models
