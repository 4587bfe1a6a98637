"""大客户优惠 (004 §4.5): the offers each tier is entitled to, as versioned data."""

from __future__ import annotations

from keycare.errors import UserError
from keycare.keyaccounts import rules
from keycare.keyaccounts.models import Tier

MAX_OFFERS = 20


def validate(data) -> dict:
    if not isinstance(data, dict):
        raise UserError("规则须为一个映射")
    missing = [t for t in Tier.values if t not in data]
    if missing:
        raise UserError(f"优惠规则缺少层级：{'、'.join(missing)}")
    for tier in Tier.values:
        offers = data[tier]
        if not isinstance(offers, list) or len(offers) > MAX_OFFERS:
            raise UserError(f"{tier}：优惠须为不超过 {MAX_OFFERS} 项的列表")
        for offer in offers:
            _check_offer(tier, offer)
    return data


def _check_offer(tier: str, offer) -> None:
    if not isinstance(offer, dict) or not all(
        isinstance(offer.get(k), str) and offer[k].strip() for k in ("code", "name")
    ):
        raise UserError(f"{tier}：每项优惠须有 code 和 name")
    rules.number(f"{tier} {offer['name']} 折扣", offer.get("discount_pct", 0), 0, 100)


def offers(tier: str, data: dict | None = None) -> list[dict]:
    return list((data or rules.current("preferential")[1]).get(tier, []))


def _key(offer_list) -> str:
    return ",".join(sorted(f"{o['code']}:{o.get('discount_pct', 0)}" for o in offer_list))


def preview(data: dict, groups=None) -> dict:
    """Groups per tier whose offers would change, and the offers per tier before/after."""
    data = validate(data)
    now = rules.current("preferential")[1]
    tiers = dict(rules.active_groups(groups).values_list("pk", "tier"))
    changed_tiers = {t for t in Tier.values if _key(now.get(t, [])) != _key(data[t])}
    labels = dict(Tier.choices)
    before = {pk: t for pk, t in tiers.items()}
    after = {pk: t for pk, t in tiers.items()}
    result = rules.compare(before, after, labels)
    result["changed"] = sum(t in changed_tiers for t in tiers.values())
    result["counts"] = [
        {"value": str(labels[t]), "before": len(now.get(t, [])), "after": len(data[t])}
        for t in Tier.values
    ]
    return result
