"""大客户界定与级别 (004 §4.3): whether a group is a key customer and at which management
level, computed by KeyCare under the definition rule in force (not taken as delivered)."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from keycare.errors import UserError
from keycare.keyaccounts import rules
from keycare.keyaccounts.models import KeyLevel

QUALIFY = ("monthly_revenue", "members", "employees")
LEVELS = ("provincial", "city")  # descending revenue thresholds; below city is county
NOT_KEY = "none"
LABELS = {**dict(KeyLevel.choices), NOT_KEY: _("非大客户")}


def validate(data) -> dict:
    qualify = rules.section(data, "qualify", QUALIFY)
    for name in QUALIFY:
        rules.number(f"界定门槛 {name}", qualify[name])
    levels = rules.section(data, "levels", LEVELS)
    provincial, city = (rules.number(f"级别门槛 {n}", levels[n]) for n in LEVELS)
    if provincial <= city:
        raise UserError("省级大客户的收入门槛须高于市级")
    if not isinstance(data.get("strategic_qualifies", True), bool):
        raise UserError("strategic_qualifies 须为 true 或 false")
    rules.months(data)
    return data


def classify(f: dict, data: dict) -> tuple[bool, str]:
    """(key customer?, level) of one group's facts (rules.group_facts)."""
    q = data["qualify"]
    key = (
        f["monthly_revenue"] >= q["monthly_revenue"]
        or f["member_count"] >= q["members"]
        or (f["employees"] or 0) >= q["employees"]
        or (data.get("strategic_qualifies", True) and f["strategic"])
    )
    if not key:
        return False, ""
    for level in LEVELS:
        if f["monthly_revenue"] >= data["levels"][level]:
            return True, level
    return True, KeyLevel.COUNTY.value


def _shown(key, level) -> str:
    return level if key else NOT_KEY


def preview(data: dict, groups=None) -> dict:
    data = validate(data)
    facts = rules.group_facts(groups, rules.months(data))
    before = {
        pk: _shown(f["key_customer"], f["key_level"])
        for pk, f in facts.items()
        if f["key_customer"] is not None
    }
    after = {pk: _shown(*classify(f, data)) for pk, f in facts.items()}
    return rules.compare(before, after, LABELS)


def apply(actor, version: int, data: dict, reason: str) -> dict:
    facts = rules.group_facts(None, rules.months(data))
    values = {}
    for pk, f in facts.items():
        key, level = classify(f, data)
        values[pk] = {"key_customer": key, "key_level": level}
    moved = rules.write_computed(
        actor, values, tracked=("key_customer", "key_level"), reason=reason
    )
    return {"groups": len(values), "changed": moved}
