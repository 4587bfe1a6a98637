"""The key-account archive of the synthetic operator: group revenue by month, products and
dedicated lines with their SLA, key persons and contracts. Pure numpy/pyarrow, no Django.

Drawn from its own RNG stream (seed, 6), after the key accounts exist, so adding these files
leaves every other file of a delivery as it was.
"""

from __future__ import annotations

from datetime import date

import numpy as np

from keycare.synth import identity
from keycare.synth.calendar import Calendar
from keycare.synth.world import KeyAccounts

ARCHIVE_FILES = [
    "key_account_revenue",
    "key_account_products",
    "key_persons",
    "key_account_contracts",
    "key_account_faults",
]
TIER_INDEX = {"A1": 0, "A2": 1, "B1": 2, "B2": 3, "C": 4}
# Per tier: product count range and the share of revenue from informatization products.
PRODUCT_COUNT = [(6, 11), (5, 9), (3, 7), (2, 5), (1, 3)]
INFO_SHARE = [0.45, 0.35, 0.25, 0.15, 0.08]
# type, display name, informatization, weight, monthly fee median (RMB)
PRODUCTS = [
    ("data_line", "数据专线", True, 0.16, 6_000),
    ("internet_line", "互联网专线", True, 0.18, 3_000),
    ("vpmn", "V网（集团虚拟网）", False, 0.18, 800),
    ("group_ring", "集团彩铃", False, 0.12, 300),
    ("mas", "MAS企业信息机", True, 0.10, 1_500),
    ("cloud", "移动云主机", True, 0.07, 4_000),
    ("iot", "物联网卡", True, 0.07, 1_200),
    ("idc", "IDC机柜租用", True, 0.04, 8_000),
    ("sms_platform", "行业短信", True, 0.05, 600),
    ("conference", "云视讯会议", False, 0.03, 500),
]
LINES = {"data_line", "internet_line"}
BANDWIDTHS = np.array([10, 20, 50, 100, 200, 500, 1000])
# Contracted restore hours of a dedicated line by tier (A1 fastest).
RESTORE_HOURS = [2.0, 4.0, 4.0, 8.0, 12.0]
RESPONSE_MINUTES = [15, 30, 30, 60, 120]
AVAILABILITY = [99.99, 99.95, 99.9, 99.9, 99.5]
PERSON_TITLES = {
    "decision_maker": ["总经理", "董事长", "局长", "院长", "校长"],
    "contact": ["办公室主任", "行政主管", "综合部经理"],
    "finance": ["财务总监", "财务部经理", "会计主管"],
    "it": ["信息中心主任", "IT经理", "网络管理员"],
    "other": ["副总经理", "采购经理", "工会主席"],
}
CONTRACT_TITLES = {
    "framework": "全业务合作框架协议",
    "line": "专线租用合同",
    "product": "信息化产品服务合同",
    "preferential": "集团优惠协议",
}


def build_archive(seed: int, kas: KeyAccounts, ka_table, cal: Calendar) -> dict[str, dict]:
    """{file name: columns} for the key-account archive files."""
    rng = np.random.default_rng([seed, 6])
    tiers = [TIER_INDEX.get(t, 4) for t in kas.tier]
    revenue = kas.revenue if kas.revenue is not None else np.full(len(kas.ids), 100_000.0)
    revenue_by_month = _revenue(rng, kas, tiers, revenue, cal)
    products = _products(rng, kas, tiers, cal.as_of)
    persons = _persons(rng, kas)
    contracts = _contracts(rng, kas, tiers, revenue, cal.as_of)
    # Drawn last, from a stream of their own, so the files above stay as they were.
    extra = np.random.default_rng([seed, 7])
    persons["mobile_changed_date"] = _number_changes(extra, len(persons["person_id"]), cal.as_of)
    return {
        "key_account_revenue": revenue_by_month,
        "key_account_products": products,
        "key_persons": persons,
        "key_account_contracts": contracts,
        "key_account_faults": _faults(extra, products, cal.as_of),
    }


def _revenue(rng, kas: KeyAccounts, tiers, annual, cal: Calendar) -> dict:
    months = cal.month_labels()[:-1]  # closed bill months
    m = len(months)
    out = {"key_account_id": [], "month": [], "total_revenue": [], "info_revenue": []}
    for k, ka in enumerate(kas.ids):
        level = (
            annual[k] / 12 * rng.lognormal(0, 0.08, m) * (1 + rng.normal(0.01, 0.01) * np.arange(m))
        )
        if not kas.active[k]:
            level[m // 2 :] *= np.linspace(0.6, 0.0, m - m // 2)  # wound down before leaving
        elif rng.random() < 0.08:
            level[-2:] *= 0.55  # a sudden drop (a group moment to find)
        share = np.clip(INFO_SHARE[tiers[k]] * rng.lognormal(0, 0.2), 0.01, 0.9)
        total = np.round(np.maximum(level, 0), 2)
        out["key_account_id"] += [ka] * m
        out["month"] += months
        out["total_revenue"] += total.tolist()
        out["info_revenue"] += np.round(total * share, 2).tolist()
    return out


def _products(rng, kas: KeyAccounts, tiers, as_of: date) -> dict:
    weights = np.array([p[3] for p in PRODUCTS])
    weights /= weights.sum()
    as_of64 = np.datetime64(as_of, "D")
    cols = {
        k: []
        for k in (
            "product_id key_account_id product_type name informatization bandwidth_mbps quantity "
            "monthly_fee sla_availability sla_response_minutes sla_restore_hours start_date "
            "end_date status"
        ).split()
    }
    serial = 0
    for k, ka in enumerate(kas.ids):
        lo, hi = PRODUCT_COUNT[tiers[k]]
        for p in rng.choice(len(PRODUCTS), int(rng.integers(lo, hi)), p=weights):
            code, label, info, _w, fee = PRODUCTS[p]
            serial += 1
            line = code in LINES
            start = max(kas.created[k], as_of64 - int(rng.integers(30, 2_500)))
            cancelled = (not kas.active[k]) or rng.random() < 0.05
            status = (
                "cancelled" if cancelled else ("suspended" if rng.random() < 0.02 else "active")
            )
            bandwidth = int(rng.choice(BANDWIDTHS)) if line else None
            cols["product_id"].append(f"P{serial:09d}")
            cols["key_account_id"].append(ka)
            cols["product_type"].append(code)
            cols["name"].append(f"{label}{'（' + str(bandwidth) + 'M）' if line else ''}")
            cols["informatization"].append(info)
            cols["bandwidth_mbps"].append(bandwidth)
            cols["quantity"].append(None if line else int(rng.integers(5, 2_000)))
            cols["monthly_fee"].append(round(float(fee * rng.lognormal(0, 0.4)), 2))
            cols["sla_availability"].append(AVAILABILITY[tiers[k]] if line else None)
            cols["sla_response_minutes"].append(RESPONSE_MINUTES[tiers[k]])
            cols["sla_restore_hours"].append(RESTORE_HOURS[tiers[k]] if line else 24.0)
            cols["start_date"].append(_day(start))
            end = min(as_of64, start + int(rng.integers(30, 900))) if cancelled else None
            cols["end_date"].append(_day(end))
            cols["status"].append(status)
    return cols


def _persons(rng, kas: KeyAccounts) -> dict:
    cols = {
        k: []
        for k in (
            "person_id key_account_id role name title mobile birth_date subscriber_id reports_to "
            "influence attitude"
        ).split()
    }
    serial = 0
    for ka in kas.ids:
        roles = ["decision_maker", "contact", "finance"]
        roles += ["it"] if rng.random() < 0.75 else []
        roles += ["other"] * int(rng.integers(0, 3))
        boss = None
        for role in roles:
            serial += 1
            pid = f"KP{serial:08d}"
            boss = boss or pid
            cols["person_id"].append(pid)
            cols["key_account_id"].append(ka)
            cols["role"].append(role)
            cols["title"].append(str(rng.choice(PERSON_TITLES[role])))
            cols["reports_to"].append(None if pid == boss else boss)
            top = role == "decision_maker"
            cols["influence"].append(5 if top else int(rng.integers(1, 5)))
            cols["attitude"].append(
                str(rng.choice(["supporter", "neutral", "opponent"], p=[0.5, 0.4, 0.1]))
            )
            cols["subscriber_id"].append(None)
            cols["birth_date"].append(
                _day(np.datetime64("1960-01-01") + int(rng.integers(0, 35 * 365)))
            )
    n = len(cols["person_id"])
    cols["name"] = identity.chinese_names(rng, rng.random(n) < 0.6).tolist()
    # Salt 2: numbers of their own, never a subscriber's (0) or a manager's (1).
    cols["mobile"] = identity.mobile_numbers(np.arange(n), salt=2).tolist()
    return cols


def _contracts(rng, kas: KeyAccounts, tiers, annual, as_of: date) -> dict:
    as_of64 = np.datetime64(as_of, "D")
    cols = {
        k: []
        for k in (
            "contract_id key_account_id title contract_type signed_date start_date end_date "
            "renewal_date amount status"
        ).split()
    }
    serial = 0
    for k, ka in enumerate(kas.ids):
        kinds = ["framework"] + list(
            rng.choice(["line", "product", "preferential"], int(rng.integers(0, 3)))
        )
        for kind in kinds:
            serial += 1
            years = int(rng.integers(1, 4))
            # Ends spread from half a year ago to three years ahead: some are due for renewal.
            end = as_of64 + int(rng.integers(-180, 3 * 365))
            start = end - 365 * years
            status = "active" if end >= as_of64 else "expired"
            if not kas.active[k]:
                status = "terminated"
            cols["contract_id"].append(f"HT{serial:08d}")
            cols["key_account_id"].append(ka)
            cols["title"].append(CONTRACT_TITLES[kind])
            cols["contract_type"].append(str(kind))
            cols["signed_date"].append(_day(start - int(rng.integers(5, 60))))
            cols["start_date"].append(_day(start))
            cols["end_date"].append(_day(end))
            cols["renewal_date"].append(_day(end - 60))
            cols["amount"].append(round(float(annual[k] * years * rng.uniform(0.2, 0.8)), 2))
            cols["status"].append(status)
    return cols


def _number_changes(rng, n: int, as_of: date) -> list:
    """Most key persons never changed number; 8% did, 1 to 700 days ago (a few this month)."""
    as_of64 = np.datetime64(as_of, "D")
    changed = rng.random(n) < 0.08
    ago = rng.integers(0, 700, n)
    return [_day(as_of64 - int(a)) if c else None for c, a in zip(changed, ago, strict=True)]


FAULT_CLASSES = ["outage", "degraded", "intermittent", "other"]
FAULT_CLASS_P = [0.3, 0.35, 0.3, 0.05]


def _faults(rng, products: dict, as_of: date) -> dict:
    """Faults on active dedicated lines over the last 90 days: most lines have none, 4% are
    troubled (several faults in a month: the repeated-faults group moment)."""
    as_of64 = np.datetime64(as_of, "D")
    cols = {
        k: []
        for k in "fault_id key_account_id product_id fault_date fault_class restore_hours".split()
    }
    serial = 0
    for pid, ka, kind, status in zip(
        products["product_id"],
        products["key_account_id"],
        products["product_type"],
        products["status"],
        strict=True,
    ):
        if kind not in LINES or status != "active":
            continue
        troubled = rng.random() < 0.04
        count = int(rng.integers(3, 7)) if troubled else int(rng.poisson(0.3))
        span = 30 if troubled else 90
        for ago in sorted(rng.integers(0, span, count).tolist(), reverse=True):
            serial += 1
            cols["fault_id"].append(f"GZ{serial:09d}")
            cols["key_account_id"].append(ka)
            cols["product_id"].append(pid)
            cols["fault_date"].append(_day(as_of64 - int(ago)))
            cols["fault_class"].append(str(rng.choice(FAULT_CLASSES, p=FAULT_CLASS_P)))
            cols["restore_hours"].append(round(float(rng.lognormal(1.0, 0.7)), 1))
    return cols


def _day(value) -> date | None:
    """A numpy day as a Python date (what pyarrow takes for date32), None for None."""
    return None if value is None else np.datetime64(value, "D").item()
