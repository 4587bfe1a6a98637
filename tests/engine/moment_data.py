"""Hand-built source tables for view and moment tests, registered straight on a backend.

    tables(backend, subscribers=[sub("S1", balance=5.0)], bills=[bill("S1", "2026-10", 86.0)])

Subscribers carry every raw catalog field (None unless given; a few required ones have
defaults that put the subscriber in scope: mid/high tier, active, city C01). Other tables
carry the contract's columns. Tables not given are registered empty, so the unified view
always builds.
"""

from __future__ import annotations

import datetime as dt

import pyarrow as pa

from keycare.catalog.delivery import load_contract
from keycare.engine.view import catalog_fields

ARROW = {
    "string": pa.string(),
    "month": pa.string(),
    "int": pa.int64(),
    "float": pa.float64(),
    "bool": pa.bool_(),
    "date": pa.date32(),
    "timestamp": pa.timestamp("us"),
}
SOURCES = ("bills", "usage_weekly", "events", "call_circle", "assignments", "key_account_members")
SUBSCRIBER_DEFAULTS = {
    "msisdn": "13800000000",
    "name": "测试客户",
    "join_date": dt.date(2020, 1, 15),
    "city_id": "C01",
    "county_id": "C01-01",
    "grid_id": "C01-01-01",
    "brand": "gotone",
    "plan_code": "P128",
    "plan_fee": 128.0,
    "payment_type": "postpaid",
    "status": "active",
    "status_date": dt.date(2020, 1, 15),
    "value_tier": "mid_high",
    "dnd": False,
}


def _schema(name: str) -> pa.Schema:
    if name == "subscribers":
        fields = [f for f in catalog_fields() if f.kind == "raw" and f.source == "subscribers"]
        return pa.schema([(f.column or f.code, ARROW[f.type]) for f in fields])
    spec = load_contract().files[name]
    return pa.schema([(c.name, ARROW[c.type]) for c in spec.columns.values()])


def table(name: str, rows: list[dict]) -> pa.Table:
    schema = _schema(name)
    unknown = {k for r in rows for k in r} - set(schema.names)
    if unknown:
        raise KeyError(f"{name}: no column {sorted(unknown)}")
    return pa.Table.from_pylist([{c: r.get(c) for c in schema.names} for r in rows], schema=schema)


def sub(subscriber_id: str, **values) -> dict:
    return {"subscriber_id": subscriber_id, **SUBSCRIBER_DEFAULTS, **values}


def bill(subscriber_id: str, month: str, total: float, **values) -> dict:
    return {
        "subscriber_id": subscriber_id,
        "bill_month": month,
        "total_fee": total,
        "paid": True,
        **values,
    }


def week(subscriber_id: str, week_start: dt.date, voice_minutes: float, **values) -> dict:
    return {
        "subscriber_id": subscriber_id,
        "week_start": week_start,
        "voice_minutes": voice_minutes,
        "data_mb": values.pop("data_mb", 0.0),
        **values,
    }


_event_ids = iter(range(1, 10**9))


def event(subscriber_id: str, event_type: str, when, **values) -> dict:
    if isinstance(when, dt.date) and not isinstance(when, dt.datetime):
        when = dt.datetime.combine(when, dt.time(10, 30))
    return {
        "event_id": f"E{next(_event_ids):08d}",
        "subscriber_id": subscriber_id,
        "event_time": when,
        "event_type": event_type,
        **values,
    }


def circle(subscriber_id: str, month: str, **values) -> dict:
    return {
        "subscriber_id": subscriber_id,
        "month": month,
        "contacts": values.pop("contacts", 50),
        **values,
    }


def tables(backend, subscribers: list[dict], **sources: list[dict]) -> None:
    """Register subscribers and every source table (empty unless given)."""
    unknown = set(sources) - set(SOURCES)
    if unknown:
        raise KeyError(f"unknown source {sorted(unknown)}")
    backend.register_arrow("subscribers", table("subscribers", subscribers))
    for name in SOURCES:
        backend.register_arrow(name, table(name, sources.get(name, [])))
