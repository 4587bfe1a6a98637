"""信誉度 (004 §4.1): a group's credit score and grade from its members' payment history,
its tenure and its revenue, under the credit rule in force (keycare.keyaccounts.rules)."""

from __future__ import annotations

import math

from keycare.errors import UserError
from keycare.keyaccounts import rules
from keycare.keyaccounts.models import CreditRating

WEIGHTS = ("payment", "arrears_days", "tenure", "revenue")
REFERENCES = ("arrears_share", "arrears_days", "tenure_years", "monthly_revenue")
GRADES = ("AAA", "AA", "A", "B")  # descending; below B is C


def validate(data) -> dict:
    weights = rules.section(data, "weights", WEIGHTS)
    refs = rules.section(data, "references", REFERENCES)
    grades = rules.section(data, "grades", GRADES)
    total = sum(rules.number(f"权重 {w}", weights[w]) for w in WEIGHTS)
    if not math.isclose(total, 100, abs_tol=0.01):
        raise UserError("信誉度各项权重之和须为 100")
    for name in REFERENCES:
        rules.number(f"参考值 {name}", refs[name], 0.0001)
    cuts = [rules.number(f"{g} 分界线", grades[g], 0, 100) for g in GRADES]
    if any(a <= b for a, b in zip(cuts, cuts[1:], strict=False)):
        raise UserError("信誉度分界线须满足 AAA > AA > A > B")
    rules.months(data)
    return data


def score(f: dict, data: dict) -> float:
    """The 0-100 credit score of one group's facts (rules.group_facts)."""
    w, ref = data["weights"], data["references"]
    share = f["arrears_members"] / f["member_count"] if f["member_count"] else 0.0
    total = w["payment"] * max(0.0, 1 - share / ref["arrears_share"])
    total += w["arrears_days"] * max(0.0, 1 - f["arrears_days"] / ref["arrears_days"])
    total += w["tenure"] * min(1.0, f["tenure_years"] / ref["tenure_years"])
    total += w["revenue"] * min(1.0, math.sqrt(f["monthly_revenue"] / ref["monthly_revenue"]))
    return round(total, 1)


def grade(value: float, data: dict) -> str:
    for name in GRADES:
        if value >= data["grades"][name]:
            return name
    return CreditRating.C.value


def rate(data: dict, groups=None) -> dict[int, dict]:
    """{group pk: {credit_score, credit_rating}} under ``data`` (nothing written)."""
    facts = rules.group_facts(groups, rules.months(data))
    out = {}
    for pk, f in facts.items():
        s = score(f, data)
        out[pk] = {"credit_score": s, "credit_rating": grade(s, data)}
    return out


def preview(data: dict, groups=None) -> dict:
    data = validate(data)
    facts = rules.group_facts(groups, rules.months(data))
    before = {pk: f["credit_rating"] for pk, f in facts.items()}
    after = {pk: grade(score(f, data), data) for pk, f in facts.items()}
    return rules.compare(before, after, dict(CreditRating.choices))


def apply(actor, version: int, data: dict, reason: str) -> dict:
    rated = rate(data)
    moved = rules.write_computed(actor, rated, tracked=("credit_rating",), reason=reason)
    return {"groups": len(rated), "changed": moved}
