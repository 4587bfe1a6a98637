"""Every built-in moment, on hand-built data: a case that fires, one that must not, the exact
threshold edge, and a per-city override (the same data fires in one city and not another).

All cases live in one dataset (one subscriber per case) evaluated by ONE detection run per
backend, so the module stays fast; each case is still its own test.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field

import pytest
from moment_data import bill, circle, event, sub, tables, week

from keycare.engine.definitions import load_definitions
from keycare.engine.detect import detect

D = dt.date(2026, 11, 3)  # a Tuesday; month 1 = 2026-10, week 1 starts 2026-10-26
M1, M2 = "2026-10", "2026-09"
W1, W2 = dt.date(2026, 10, 26), dt.date(2026, 10, 19)


def ago(days: int) -> dt.date:
    return D - dt.timedelta(days=days)


def ahead(days: int) -> dt.date:
    return D + dt.timedelta(days=days)


# Per-city overrides: city C02 gets different thresholds for every moment that has one.
C02 = {
    "F01": {"lookback_days": 365},
    "F02": {"recent_days": 3},
    "F03": {"lookback_days": 30},
    "F04": {"lookback_days": 14},
    "F05": {"lookback_days": 30},
    "F06": {"recent_days": 3},
    "F07": {"tier_min": 160},
    "A01": {"min_count": 2},
    "A02": {"rise_pct": 80},
    "A03": {"drop_pct": 50},
    "A04": {"min_balance": 10},
    "A05": {"min_days": 10},
    "A06": {"days": 7},
    "A07": {"minutes_drop_pct": 50},
    "A08": {"drop_pct": 60},
    "A09": {"min_overage": 50},
    "A10": {"days": 3},
    "A11": {"min_share": 0.35},
    "A12": {"min_churned": 4},
    "A13": {"days_ahead": 7},
    "A14": {"days": 3},
    "A15": {"days": 14},
    "A16": {"days": 7},
    "A17": {"min_roaming_fee": 200},
    "S01": {"days_before": 2},
    "S03": {"min_years": 3},
    "N01": {"service_start": "08:00"},
}


@dataclass
class Case:
    code: str
    label: str
    fires: bool
    subscriber: dict = field(default_factory=dict)
    rows: dict = field(default_factory=dict)  # source table -> list of row builders(sid)

    @property
    def sid(self) -> str:
        return f"{self.code}-{self.label}"


def case(code, label, fires, rows=None, **subscriber) -> Case:
    return Case(code, label, fires, subscriber, rows or {})


def events(*specs):
    """(event_type, days_ago[, category]) -> events rows for the case's subscriber."""
    return {
        "events": [
            (lambda sid, s=s: event(sid, s[0], ago(s[1]), category=s[2] if len(s) > 2 else None))
            for s in specs
        ]
    }


def bills(m1: float, m2: float, **columns_m1):
    return {
        "bills": [
            lambda sid: bill(sid, M1, m1, **columns_m1),
            lambda sid: bill(sid, M2, m2),
        ]
    }


def both_bills(bill_m1, bill_m2, voice_m1, voice_m2):
    return {
        "bills": [
            lambda sid: bill(sid, M1, bill_m1, voice_minutes=voice_m1),
            lambda sid: bill(sid, M2, bill_m2, voice_minutes=voice_m2),
        ]
    }


def weeks(w1: float, w2: float):
    return {"usage_weekly": [lambda sid: week(sid, W1, w1), lambda sid: week(sid, W2, w2)]}


def circles(m1: dict, m2: dict | None = None):
    rows = [lambda sid: circle(sid, M1, **m1)]
    if m2 is not None:
        rows.append(lambda sid: circle(sid, M2, **m2))
    return {"call_circle": rows}


C2 = {"city_id": "C02"}

CASES = [
    # F01 first service subscription in 180 days
    case("F01", "fires", True, events(("service_subscription", 0))),
    case(
        "F01",
        "earlier-one",
        False,
        events(("service_subscription", 0), ("service_subscription", 100)),
    ),
    case(
        "F01",
        "edge-prior-day-180",
        False,
        events(("service_subscription", 0), ("service_subscription", 180)),
    ),
    case(
        "F01",
        "edge-prior-day-181",
        True,
        events(("service_subscription", 0), ("service_subscription", 181)),
    ),
    case(
        "F01", "city-C01", True, events(("service_subscription", 0), ("service_subscription", 200))
    ),
    case(
        "F01",
        "city-C02",
        False,
        events(("service_subscription", 0), ("service_subscription", 200)),
        **C2,
    ),
    # F02 new handset (IMEI first seen today)
    case("F02", "fires", True, handset_since=D),
    case("F02", "edge-yesterday", False, handset_since=ago(1)),
    case("F02", "no-handset-date", False),
    case("F02", "city-C01", False, handset_since=ago(2)),
    case("F02", "city-C02", True, handset_since=ago(2), **C2),
    # F03 first international roaming in 365 days
    case("F03", "fires", True, events(("roaming_activation", 0, "international"))),
    case("F03", "domestic", False, events(("roaming_activation", 0, "domestic"))),
    case(
        "F03",
        "edge-prior-day-365",
        False,
        events(
            ("roaming_activation", 0, "international"), ("roaming_activation", 365, "international")
        ),
    ),
    case(
        "F03",
        "edge-prior-day-366",
        True,
        events(
            ("roaming_activation", 0, "international"), ("roaming_activation", 366, "international")
        ),
    ),
    case(
        "F03",
        "city-C01",
        False,
        events(
            ("roaming_activation", 0, "international"), ("roaming_activation", 100, "international")
        ),
    ),
    case(
        "F03",
        "city-C02",
        True,
        events(
            ("roaming_activation", 0, "international"), ("roaming_activation", 100, "international")
        ),
        **C2,
    ),
    # F04 first bill or balance query in 60 days
    case("F04", "fires", True, events(("balance_query", 0))),
    case("F04", "queried-before", False, events(("bill_query", 0), ("balance_query", 30))),
    case("F04", "edge-prior-day-60", False, events(("bill_query", 0), ("bill_query", 60))),
    case("F04", "edge-prior-day-61", True, events(("bill_query", 0), ("bill_query", 61))),
    case("F04", "city-C01", False, events(("bill_query", 0), ("bill_query", 30))),
    case("F04", "city-C02", True, events(("bill_query", 0), ("bill_query", 30)), **C2),
    # F05 first data overage in 180 days
    case("F05", "fires", True, events(("data_overage", 0))),
    case("F05", "yesterday-only", False, events(("data_overage", 1))),
    case("F05", "edge-prior-day-180", False, events(("data_overage", 0), ("data_overage", 180))),
    case("F05", "city-C01", False, events(("data_overage", 0), ("data_overage", 60))),
    case("F05", "city-C02", True, events(("data_overage", 0), ("data_overage", 60)), **C2),
    # F06 first 5G handset on a non-5G plan
    case("F06", "fires", True, handset_since=D, handset_5g=True),
    case("F06", "plan-already-5g", False, handset_since=D, handset_5g=True, plan_5g=True),
    case("F06", "not-5g", False, handset_since=D, handset_5g=False),
    case("F06", "edge-yesterday", False, handset_since=ago(1), handset_5g=True, plan_5g=False),
    case("F06", "city-C02", True, handset_since=ago(2), handset_5g=True, **C2),
    # F07 first month in the high-value tier (>= 120 after < 120), or joined in the last 31 days
    case("F07", "fires", True, bills(150.0, 100.0)),
    case("F07", "already-high", False, bills(150.0, 130.0)),
    case("F07", "edge-m1-equals-tier", True, bills(120.0, 100.0)),
    case("F07", "edge-m2-equals-tier", False, bills(150.0, 120.0)),
    case("F07", "joined-30-days-ago", True, join_date=ago(30)),
    case("F07", "joined-31-days-ago", False, join_date=ago(31)),
    case("F07", "city-C02", False, bills(150.0, 100.0), **C2),
    # A01 complaint
    case("A01", "fires", True, events(("complaint", 0))),
    case("A01", "yesterday", False, events(("complaint", 1))),
    case("A01", "mass-tier", False, events(("complaint", 0)), value_tier="mass"),
    case("A01", "churned", False, events(("complaint", 0)), status="churned"),
    case("A01", "city-C02-one", False, events(("complaint", 0)), **C2),
    case("A01", "city-C02-edge-two", True, events(("complaint", 0), ("complaint", 0)), **C2),
    # A02 bill surge >= 50 % and >= 100
    case("A02", "fires", True, bills(160.0, 100.0)),
    case("A02", "small-rise", False, bills(140.0, 100.0)),
    case("A02", "edge-exactly-50pct", True, bills(150.0, 100.0)),
    case("A02", "edge-just-below", False, bills(149.99, 100.0)),
    case("A02", "no-base", False, bills(300.0, 0.0)),
    case("A02", "city-C02", False, bills(160.0, 100.0), **C2),
    # A03 bill drop >= 30 %, from >= 120
    case("A03", "fires", True, bills(86.0, 151.0)),
    case("A03", "small-drop", False, bills(150.0, 200.0)),
    case("A03", "edge-exactly-30pct", True, bills(140.0, 200.0)),
    case("A03", "edge-base-equals-min", True, bills(84.0, 120.0)),
    case("A03", "edge-base-below-min", False, bills(80.0, 119.99)),
    case("A03", "city-C01", True, bills(120.0, 200.0)),
    case("A03", "city-C02", False, bills(120.0, 200.0), **C2),
    # A04 low prepaid balance < 20
    case("A04", "fires", True, payment_type="prepaid", balance=5.0),
    case("A04", "enough", False, payment_type="prepaid", balance=25.0),
    case("A04", "edge-equals-threshold", False, payment_type="prepaid", balance=20.0),
    case("A04", "edge-zero", True, payment_type="prepaid", balance=0.0),
    case("A04", "postpaid", False, payment_type="postpaid", balance=5.0),
    case("A04", "unknown-balance", False, payment_type="prepaid", balance=None),
    case("A04", "city-C01", True, payment_type="prepaid", balance=15.0),
    case("A04", "city-C02", False, payment_type="prepaid", balance=15.0, **C2),
    # A05 arrears about to be suspended
    case("A05", "fires", True, balance=-50.0, arrears_days=5),
    case("A05", "in-credit", False, balance=10.0, arrears_days=0),
    case("A05", "edge-one-day", True, balance=-1.0, arrears_days=1),
    case("A05", "edge-zero-days", False, balance=-50.0, arrears_days=0),
    case("A05", "city-C02", False, balance=-50.0, arrears_days=5, **C2),
    # A06 fault report
    case("A06", "fires", True, events(("fault_report", 0))),
    case("A06", "days-ago", False, events(("fault_report", 3))),
    case("A06", "city-C02", True, events(("fault_report", 3)), **C2),
    # A07 spend down >= 30 % stacked with minutes down >= 20 %
    case("A07", "fires", True, both_bills(100.0, 200.0, 300.0, 500.0)),
    case("A07", "spend-only", False, both_bills(100.0, 200.0, 450.0, 500.0)),
    case("A07", "minutes-only", False, both_bills(190.0, 200.0, 300.0, 500.0)),
    case("A07", "edge-both-exact", True, both_bills(140.0, 200.0, 400.0, 500.0)),
    case("A07", "city-C02", False, both_bills(100.0, 200.0, 300.0, 500.0), **C2),
    # A08 weekly call minutes down >= 40 %, from >= 60
    case("A08", "fires", True, weeks(50.0, 100.0)),
    case("A08", "small-drop", False, weeks(70.0, 100.0)),
    case("A08", "edge-exactly-40pct", True, weeks(60.0, 100.0)),
    case("A08", "edge-base-below-60", False, weeks(10.0, 59.0)),
    case("A08", "city-C02", False, weeks(50.0, 100.0), **C2),
    # A09 overage >= 20 or supplementary >= 10
    case("A09", "fires", True, bills(200.0, 200.0, overage_fee=30.0)),
    case("A09", "small", False, bills(200.0, 200.0, overage_fee=10.0, supplementary_fee=5.0)),
    case("A09", "edge-supplementary-equals", True, bills(200.0, 200.0, supplementary_fee=10.0)),
    case("A09", "edge-overage-below", False, bills(200.0, 200.0, overage_fee=19.99)),
    case("A09", "city-C02", False, bills(200.0, 200.0, overage_fee=30.0), **C2),
    # A10 handset change
    case("A10", "fires", True, events(("handset_change", 0))),
    case("A10", "days-ago", False, events(("handset_change", 2))),
    case("A10", "city-C02", True, events(("handset_change", 2)), **C2),
    # A11 competitor call share up >= 30 % and >= 0.2
    case(
        "A11",
        "fires",
        True,
        circles({"competitor_call_share": 0.3}, {"competitor_call_share": 0.2}),
    ),
    case(
        "A11",
        "small-rise",
        False,
        circles({"competitor_call_share": 0.3}, {"competitor_call_share": 0.25}),
    ),
    case(
        "A11",
        "edge-share-equals-min",
        True,
        circles({"competitor_call_share": 0.2}, {"competitor_call_share": 0.1}),
    ),
    case(
        "A11",
        "edge-share-below-min",
        False,
        circles({"competitor_call_share": 0.19}, {"competitor_call_share": 0.1}),
    ),
    case("A11", "no-previous-month", False, circles({"competitor_call_share": 0.5})),
    case(
        "A11",
        "city-C02",
        False,
        circles({"competitor_call_share": 0.3}, {"competitor_call_share": 0.2}),
        **C2,
    ),
    # A12 core contacts churned >= 2
    case("A12", "fires", True, circles({"core_contacts_churned": 3, "core_contacts": 20})),
    case("A12", "one", False, circles({"core_contacts_churned": 1})),
    case("A12", "edge-two", True, circles({"core_contacts_churned": 2})),
    case("A12", "city-C02", False, circles({"core_contacts_churned": 3}), **C2),
    # A13 contract ends within 30 days
    case("A13", "fires", True, contract_end_date=ahead(10)),
    case("A13", "far", False, contract_end_date=ahead(31)),
    case("A13", "edge-30-days", True, contract_end_date=ahead(30)),
    case("A13", "edge-today", True, contract_end_date=D),
    case("A13", "already-ended", False, contract_end_date=ago(1)),
    case("A13", "city-C02", False, contract_end_date=ahead(10), **C2),
    # A14 plan downgrade
    case("A14", "fires", True, events(("plan_change", 0)), plan_fee=88.0, previous_plan_fee=128.0),
    case(
        "A14", "upgrade", False, events(("plan_change", 0)), plan_fee=158.0, previous_plan_fee=128.0
    ),
    case(
        "A14",
        "edge-same-fee",
        False,
        events(("plan_change", 0)),
        plan_fee=128.0,
        previous_plan_fee=128.0,
    ),
    case("A14", "no-change-event", False, plan_fee=88.0, previous_plan_fee=128.0),
    case(
        "A14", "city-C01", False, events(("plan_change", 2)), plan_fee=88.0, previous_plan_fee=128.0
    ),
    case(
        "A14",
        "city-C02",
        True,
        events(("plan_change", 2)),
        plan_fee=88.0,
        previous_plan_fee=128.0,
        **C2,
    ),
    # A15 silent >= 7 days
    case("A15", "fires", True, last_active_date=ago(10)),
    case("A15", "recent", False, last_active_date=ago(3)),
    case("A15", "edge-7-days", True, last_active_date=ago(7)),
    case("A15", "edge-6-days", False, last_active_date=ago(6)),
    case("A15", "city-C02", False, last_active_date=ago(10), **C2),
    # A16 number-portability inquiry
    case("A16", "fires", True, events(("portability_inquiry", 0))),
    case("A16", "none", False, events(("bill_query", 0))),
    case("A16", "edge-yesterday", False, events(("portability_inquiry", 1))),
    case("A16", "city-C02", True, events(("portability_inquiry", 5)), **C2),
    # A17 roaming bill shock
    case("A17", "fires", True, bills(300.0, 200.0, roaming_fee=150.0)),
    case("A17", "small", False, bills(300.0, 200.0, roaming_fee=50.0, intl_roaming_fee=50.0)),
    case("A17", "edge-intl-equals", True, bills(300.0, 200.0, intl_roaming_fee=100.0)),
    case("A17", "city-C02", False, bills(300.0, 200.0, roaming_fee=150.0), **C2),
    # S01 birthday
    case("S01", "fires", True, birth_date=dt.date(1990, 11, 3)),
    case("S01", "tomorrow", False, birth_date=dt.date(1990, 11, 4)),
    case("S01", "born-today", False, birth_date=D),
    case("S01", "no-birth-date", False),
    case("S01", "city-C02-in-2-days", True, birth_date=dt.date(1990, 11, 5), **C2),
    case("S01", "city-C02-in-3-days", False, birth_date=dt.date(1990, 11, 6), **C2),
    # S03 network anniversary
    case("S03", "fires", True, join_date=dt.date(2020, 11, 3)),
    case("S03", "other-day", False, join_date=dt.date(2020, 11, 4)),
    case("S03", "edge-one-year", True, join_date=dt.date(2025, 11, 3)),
    case("S03", "joined-today", False, join_date=D),
    case("S03", "city-C01", True, join_date=dt.date(2024, 11, 3)),
    case("S03", "city-C02", False, join_date=dt.date(2024, 11, 3), **C2),
]

# No-service cases: (code, label, suppressed, subscriber, rows, suppressed codes expected)
GUARD_CASES = [
    case("N01", "dnd-list", True, events(("complaint", 0)), dnd=True),
    case("N01", "window-covers", True, dnd_start="08:00", dnd_end="22:00"),
    case("N01", "edge-window-equals-service", True, dnd_start="09:00", dnd_end="21:00"),
    case(
        "N01",
        "edge-window-starts-late",
        False,
        events(("complaint", 0)),
        dnd_start="09:01",
        dnd_end="21:00",
    ),
    case("N01", "overnight-short", False, dnd_start="22:00", dnd_end="08:00"),
    case("N01", "overnight-long", True, dnd_start="08:00", dnd_end="07:00"),
    case("N01", "city-C01", True, dnd_start="08:30", dnd_end="22:00"),
    case("N01", "city-C02", False, dnd_start="08:30", dnd_end="22:00", **C2),
    case("N02", "suspended", True, events(("complaint", 0)), status="suspended"),
    case("N02", "active", False, events(("complaint", 0))),
    case("N02", "mass-tier", False, status="suspended", value_tier="mass"),
]


def _dataset():
    subscribers, sources = [], {}
    for c in [*CASES, *GUARD_CASES]:
        subscribers.append(sub(c.sid, **c.subscriber))
        for source, builders in c.rows.items():
            sources.setdefault(source, []).extend(b(c.sid) for b in builders)
    return subscribers, sources


_RESULTS: dict[str, dict] = {}


def run(backend) -> dict:
    """Detection over all cases, once per backend (the slow part is planning, not data)."""
    if backend.name not in _RESULTS:
        subscribers, sources = _dataset()
        tables(backend, subscribers, **sources)
        defs = load_definitions(city_overrides={"C02": C02})
        codes = sorted({c.code for c in CASES} | {"N01", "N02"})
        result = detect(backend, D, defs, moments=codes)
        detections = backend.to_arrow("SELECT * FROM detections").to_pylist()
        suppressions = backend.to_arrow("SELECT * FROM suppressions").to_pylist()
        _RESULTS[backend.name] = {
            "result": result,
            "detections": {(r["subscriber_id"], r["moment_code"]): r for r in detections},
            "suppressions": {(r["subscriber_id"], r["moment_code"]): r for r in suppressions},
        }
    return _RESULTS[backend.name]


@pytest.mark.parametrize("c", CASES, ids=lambda c: c.sid)
def test_moment_case(backend, c):
    out = run(backend)
    hit = out["detections"].get((c.sid, c.code))
    assert (hit is not None) == c.fires, f"{c.sid}: expected fires={c.fires}"
    if hit:
        params = json.loads(hit["params"])
        assert hit["explanation"] and "{" not in hit["explanation"]
        assert hit["city_id"] == c.subscriber.get("city_id", "C01")
        if c.subscriber.get("city_id") == "C02":
            assert params["city_override"] == "C02"
            for name, value in C02[c.code].items():
                assert params[name] == value


@pytest.mark.parametrize("c", GUARD_CASES, ids=lambda c: c.sid)
def test_no_service_case(backend, c):
    out = run(backend)
    suppression = out["suppressions"].get((c.sid, c.code))
    assert (suppression is not None) == c.fires
    if suppression is not None:
        assert suppression["reason"]
        # a suppressed customer gets no work at all
        assert not [k for k in out["detections"] if k[0] == c.sid]
        if "events" in c.rows:  # the complaint it would have raised is reported as suppressed
            assert "A01" in suppression["suppressed_codes"].split(",")
    elif "events" in c.rows:
        assert (c.sid, "A01") in out["detections"]


def test_every_moment_has_cases():
    defs = load_definitions()
    covered = {c.code for c in [*CASES, *GUARD_CASES]} | {"S02"}  # S02: test_holiday below
    assert covered == set(defs.by_code)
    for code in covered - {"S02", "N02"}:
        labels = [c for c in [*CASES, *GUARD_CASES] if c.code == code]
        assert any(c.fires for c in labels) and any(not c.fires for c in labels), code
        assert any(c.subscriber.get("city_id") == "C02" for c in labels), code


def test_counts_and_explanation_example(backend):
    out = run(backend)
    result = out["result"]
    for code in {c.code for c in CASES}:
        assert result.counts[code] == sum(1 for k in out["detections"] if k[1] == code)
    a03 = out["detections"][("A03-fires", "A03")]
    assert a03["explanation"] == "上月消费 86 元，较前月下降 43%（阈值 30%）"
    params = json.loads(a03["params"])
    assert params["bill_total_m1"] == 86.0 and params["drop_pct"] == 30
    assert round(params["bill_total_m1_drop_pct"], 2) == 43.05
    assert params["city_override"] is None
    assert result.suppressed == sum(1 for c in GUARD_CASES if c.fires)
    assert result.suppressed_detections >= 2  # the complaints of N01-dnd-list and N02-suspended


# --------------------------------------------------------------------------- S02 holidays

HOLIDAY_CASES = [
    # Dragon Boat Festival 2026 starts on June 19.
    (dt.date(2026, 6, 16), "C01", True, "端午节"),  # 3 days ahead: the edge (days_before 3)
    (dt.date(2026, 6, 15), "C01", False, None),  # 4 days ahead
    (dt.date(2026, 6, 15), "C02", True, "端午节"),  # C02 greets 5 days ahead
    (dt.date(2026, 12, 30), "C01", True, "元旦"),  # 2027 not yet in the calendar: fixed date
    # National Day + Mid-autumn 2025 is one period, 10-01..10-08 (the calendar package labels
    # 10-06 Mid-autumn): greeted before 10-01, never inside, not even on its first day.
    (dt.date(2025, 9, 28), "C01", True, "国庆节、中秋节"),
    (dt.date(2025, 10, 1), "C01", False, None),
    (dt.date(2025, 10, 7), "C01", False, None),  # fired here when names split the period
]


@pytest.mark.parametrize("day,city,fires,name", HOLIDAY_CASES)
def test_holiday(backend, day, city, fires, name):
    tables(backend, [sub("S1", city_id=city)])
    defs = load_definitions(city_overrides={"C02": {"S02": {"days_before": 5}}})
    result = detect(backend, day, defs, moments=["S02"])
    rows = backend.to_arrow("SELECT * FROM detections").to_pylist()
    assert bool(rows) == fires
    if fires:
        params = json.loads(rows[0]["params"])
        assert params["holiday_name"] == name
        assert name in rows[0]["explanation"]
        if day.year == 2026 and day.month == 12:
            assert any("fixed date" in w for w in result.warnings)
