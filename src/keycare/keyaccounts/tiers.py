"""The value score of key accounts and their tier (集团客户分层分级, seed 002).

A policy (weights, reference values, cut-offs, key industries) is versioned data: the built-in
first one is tiers.yaml, later ones are ``TierPolicy`` rows; the newest active one is in force.
``score_groups`` computes every group's score and tier under a policy without writing;
``preview`` says how many groups would move; ``apply`` (keycare.keyaccounts.actions) writes.
"""

from __future__ import annotations

import functools
import math
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from django.db.models import Count, Q

from keycare.errors import UserError
from keycare.keyaccounts.models import (
    KeyAccount,
    KeyAccountArchive,
    KeyAccountRevenue,
    ProductStatus,
    Tier,
    TierPolicy,
    TierPolicyStatus,
)
from keycare.yamlio import safe_load

DEFAULT_PATH = Path(__file__).with_name("tiers.yaml")
NUMERIC = ("employees", "monthly_revenue", "info_revenue", "info_products")
FLAGS = ("key_industry", "strategic")
CUT_TIERS = ("A1", "A2", "B1", "B2")  # descending; below B2 is C


@functools.cache
def default_policy() -> dict:
    return validate(safe_load(DEFAULT_PATH.read_text(encoding="utf-8")))


def current() -> tuple[int, dict]:
    """(version, policy) in force; version 0 is the built-in first policy."""
    active = TierPolicy.objects.filter(status=TierPolicyStatus.ACTIVE).order_by("-version").first()
    return (active.version, active.data) if active else (0, default_policy())


def _number(where: str, value, low: float = 0) -> float:
    if not isinstance(value, int | float) or isinstance(value, bool) or value < low:
        raise UserError(f"{where} 须为不小于 {low} 的数，不是 {value!r}")
    return float(value)


def validate(data) -> dict:
    """The policy if well formed, else a UserError naming what is wrong."""
    if not isinstance(data, dict):
        raise UserError("分层策略须为一个映射")
    for key in ("weights", "references", "cutoffs"):
        if not isinstance(data.get(key), dict):
            raise UserError(f"分层策略缺少 {key}")
    weights = data["weights"]
    for name in NUMERIC + FLAGS:
        _number(f"权重 {name}", weights.get(name))
    if not math.isclose(sum(weights[n] for n in NUMERIC + FLAGS), 100, abs_tol=0.01):
        raise UserError("各项权重之和须为 100")
    for name in NUMERIC:
        _number(f"满分参考值 {name}", data["references"].get(name), 1)
    cuts = [_number(f"{t} 分界线", data["cutoffs"].get(t)) for t in CUT_TIERS]
    if any(a <= b for a, b in zip(cuts, cuts[1:], strict=False)) or cuts[0] > 100:
        raise UserError("分界线须满足 100 ≥ A1 > A2 > B1 > B2")
    industries = data.get("key_industries", [])
    if not isinstance(industries, list) or not all(isinstance(i, str) for i in industries):
        raise UserError("重点行业须为行业名称列表")
    months = data.get("revenue_months", 3)
    if not isinstance(months, int) or not 1 <= months <= 12:
        raise UserError("收入取数月数须为 1 到 12")
    return data


@dataclass(frozen=True)
class Scored:
    pk: int
    key_account_id: str
    tier: str  # the tier today
    score: float
    new_tier: str


def _facts(groups) -> list[dict]:
    """Per group: the criteria's raw values (revenue averaged over the last closed months)."""
    rows = list(
        groups.annotate(
            info_products=Count(
                "products",
                filter=Q(products__informatization=True, products__status=ProductStatus.ACTIVE),
            )
        ).values(
            "pk",
            "key_account_id",
            "tier",
            "employees",
            "industry",
            "strategic",
            "annual_revenue",
            "info_products",
        )
    )
    return rows


def average_revenue(pks: list[int], months: int) -> dict[int, tuple[float, float]]:
    """{group pk: (average monthly total, average monthly 信息化)} over its last ``months``."""
    recent = sorted(set(KeyAccountRevenue.objects.values_list("month", flat=True)))[-months:]
    sums: dict[int, list[float]] = {}
    for pk, total, info in (
        KeyAccountRevenue.objects.filter(key_account_id__in=pks, month__in=recent)
        .values_list("key_account_id", "total_revenue", "info_revenue")
        .iterator(chunk_size=20_000)
    ):
        acc = sums.setdefault(pk, [0.0, 0.0, 0])
        acc[0] += float(total)
        acc[1] += float(info)
        acc[2] += 1
    return {pk: (t / n, i / n) for pk, (t, i, n) in sums.items()}


def score(values: dict, policy: dict) -> float:
    """The 0-100 value score of one group's criteria under ``policy``."""
    weights, refs = policy["weights"], policy["references"]
    total = 0.0
    for name in NUMERIC:
        x = max(float(values.get(name) or 0), 0.0)
        total += weights[name] * min(1.0, math.sqrt(x / refs[name]))
    total += weights["key_industry"] * (values.get("industry") in policy.get("key_industries", []))
    total += weights["strategic"] * bool(values.get("strategic"))
    return round(total, 2)


def tier_of(value_score: float, strategic: bool, policy: dict) -> str:
    cuts = policy["cutoffs"]
    for tier in CUT_TIERS:
        if value_score >= cuts[tier]:
            break
    else:
        tier = Tier.C.value
    if strategic and tier == Tier.B1:
        return Tier.A2.value  # a strategic group is a 战略客户 once it scores B1
    return tier


def score_groups(policy: dict, groups=None) -> list[Scored]:
    """Every active-archive group's score and tier under ``policy`` (nothing written)."""
    groups = (groups if groups is not None else KeyAccount.objects.all()).filter(
        archive=KeyAccountArchive.ACTIVE
    )
    facts = _facts(groups)
    revenue = average_revenue([f["pk"] for f in facts], policy.get("revenue_months", 3))
    out = []
    for f in facts:
        fallback = float(f["annual_revenue"] or 0) / 12
        monthly, info = revenue.get(f["pk"], (fallback, 0.0))
        values = {**f, "monthly_revenue": monthly, "info_revenue": info}
        s = score(values, policy)
        out.append(
            Scored(f["pk"], f["key_account_id"], f["tier"], s, tier_of(s, f["strategic"], policy))
        )
    return out


def scored_from_rows(rows: list[dict]) -> list[Scored]:
    """The daily run's scores and tiers (engine/group_tiers.py) as ``Scored`` for the groups
    in the archive (active ones; a group the run scored but the archive lacks is left out)."""
    current = {
        key: (pk, tier)
        for pk, key, tier in KeyAccount.objects.filter(
            archive=KeyAccountArchive.ACTIVE
        ).values_list("pk", "key_account_id", "tier")
    }
    out = []
    for row in rows:
        known = current.get(row["key_account_id"])
        if known is not None and row.get("tier") in Tier.values:
            pk, tier = known
            out.append(
                Scored(pk, row["key_account_id"], tier, float(row["value_score"]), row["tier"])
            )
    return out


def preview(policy: dict, groups=None) -> dict:
    """How the groups would move under ``policy``: counts per (from, to), per new tier."""
    policy = validate(policy)
    scored = score_groups(policy, groups)
    moves = Counter((s.tier, s.new_tier) for s in scored if s.tier != s.new_tier)
    return {
        "groups": len(scored),
        "moved": sum(moves.values()),
        "moves": [{"from": a, "to": b, "count": n} for (a, b), n in sorted(moves.items())],
        "by_tier": {t: sum(s.new_tier == t for s in scored) for t in Tier.values},
        "before": {t: sum(s.tier == t for s in scored) for t in Tier.values},
    }
