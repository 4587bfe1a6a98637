"""积分 (004 §4.2): the points a group earns for a closed month under the points rule in force:
the month's revenue (total and 信息化) and the group's tenure, times its tier's multiplier.
The ledger is ``PointsEntry``; earning and redeeming are in keycare.keyaccounts.actions."""

from __future__ import annotations

import math

from keycare.errors import UserError
from keycare.keyaccounts import rules
from keycare.keyaccounts.models import KeyAccountRevenue, Tier

RATES = ("per_100_yuan", "info_per_100_yuan", "tenure_per_year")


def validate(data) -> dict:
    if not isinstance(data, dict):
        raise UserError("规则须为一个映射")
    for name in RATES:
        rules.number(f"积分规则 {name}", data.get(name), 0, 10_000)
    multipliers = rules.section(data, "tier_multiplier", Tier.values)
    for tier in Tier.values:
        rules.number(f"{tier} 积分倍数", multipliers[tier], 0, 10)
    return data


def latest_month() -> str | None:
    return KeyAccountRevenue.objects.order_by("-month").values_list("month", flat=True).first()


def earned(f: dict, total: float, info: float, data: dict) -> int:
    """Points of one group (facts from rules.group_facts) for a month's revenue."""
    base = total / 100 * data["per_100_yuan"] + info / 100 * data["info_per_100_yuan"]
    base += math.floor(f["tenure_years"]) * data["tenure_per_year"]
    return max(0, math.floor(base * data["tier_multiplier"].get(f["tier"], 1)))


def month_points(data: dict, month: str, groups=None) -> dict[int, int]:
    """{group pk: points} earned for ``month`` by the active groups with revenue in it."""
    facts = rules.group_facts(groups)
    revenue = KeyAccountRevenue.objects.filter(key_account_id__in=list(facts), month=month)
    return {
        pk: earned(facts[pk], float(total), float(info), data)
        for pk, total, info in revenue.values_list(
            "key_account_id", "total_revenue", "info_revenue"
        ).iterator(chunk_size=20_000)
    }


def _band(points: int) -> str:
    for low, name in ((10_000, "10000+"), (1_000, "1000-9999"), (1, "1-999")):
        if points >= low:
            return name
    return "0"


BANDS = {name: name for name in ("10000+", "1000-9999", "1-999", "0")}


def preview(data: dict, groups=None) -> dict:
    """The last closed month's points under the rule in force and under ``data``."""
    data = validate(data)
    month = latest_month()
    if month is None:
        return {**rules.compare({}, {}, BANDS), "month": None, "total_before": 0, "total_after": 0}
    before = month_points(rules.current("points")[1], month, groups)
    after = month_points(data, month, groups)
    result = rules.compare(
        {pk: _band(p) for pk, p in before.items()},
        {pk: _band(p) for pk, p in after.items()},
        BANDS,
    )
    result["changed"] = sum(before.get(pk) != p for pk, p in after.items())
    return {
        **result,
        "month": month,
        "total_before": sum(before.values()),
        "total_after": sum(after.values()),
    }
