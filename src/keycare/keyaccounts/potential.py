"""潜在大客户 (004 §4.4): subscribers of no group who share a company (单位, the delivery's
``employer_name``) or a V网 (``vpmn_id``) are a candidate key account when enough of them spend
enough together, under the potential rule in force. ``find`` computes the candidates (nothing
written); ``apply`` (the rule's publication, ``keycare grouprules potential``) stores new ones
and refreshes the counts of known ones; the pipeline is in keycare.keyaccounts.actions."""

from __future__ import annotations

import hashlib
import math
from collections import Counter
from dataclasses import dataclass, field

from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from keycare.errors import UserError
from keycare.keyaccounts import rules
from keycare.keyaccounts.models import PotentialKeyAccount, PotentialSource

SOURCES = {PotentialSource.COMPANY: "employer_name", PotentialSource.VPMN: "vpmn_id"}


def validate(data) -> dict:
    if not isinstance(data, dict):
        raise UserError("规则须为一个映射")
    rules.number("最少用户数", data.get("min_subscribers"), 2, 100_000)
    rules.number("最低月消费", data.get("min_monthly_spend"), 0)
    refs = rules.section(data, "references", ("subscribers", "monthly_spend"))
    for name in ("subscribers", "monthly_spend"):
        rules.number(f"满分参考值 {name}", refs[name], 1)
    return data


def _customers():
    """The subscriber model (declared by this app's own foreign key, not imported)."""
    return PotentialKeyAccount._meta.get_field("contact").related_model


@dataclass
class Found:
    candidate_id: str
    source: str
    name: str
    subscribers: int = 0
    monthly_spend: float = 0.0
    cities: Counter = field(default_factory=Counter)
    contact: tuple[float, int] = (-1.0, 0)  # (spend, customer pk) of the top spender

    @property
    def city_id(self) -> int:
        return self.cities.most_common(1)[0][0]


def _candidate_id(source: str, key: str) -> str:
    return f"{source}-{hashlib.sha1(key.encode(), usedforsecurity=False).hexdigest()[:16]}"


def _collect() -> dict[str, Found]:
    """Every company and V网 shared by subscribers of no group, with their counts."""
    rows = (
        _customers()
        .objects.filter(archive="active", key_account__isnull=True, memberships__isnull=True)
        .filter(Q(attributes__has_key="employer_name") | Q(attributes__has_key="vpmn_id"))
        .values_list("pk", "city_id", "plan_fee", *(f"attributes__{k}" for k in SOURCES.values()))
    )
    found: dict[str, Found] = {}
    for pk, city, fee, *keys in rows.iterator(chunk_size=20_000):
        for (source, _attr), key in zip(SOURCES.items(), keys, strict=True):
            if not key:
                continue
            cid = _candidate_id(source, str(key))
            f = found.setdefault(cid, Found(cid, source, str(key)))
            f.subscribers += 1
            f.monthly_spend += float(fee)
            f.cities[city] += 1
            f.contact = max(f.contact, (float(fee), pk))
    return found


def score(f: Found, data: dict) -> float:
    refs = data["references"]
    return round(
        50 * min(1.0, math.sqrt(f.subscribers / refs["subscribers"]))
        + 50 * min(1.0, math.sqrt(f.monthly_spend / refs["monthly_spend"])),
        1,
    )


def find(data: dict) -> list[tuple[Found, float]]:
    """The candidates qualifying under ``data``, best first (nothing written)."""
    qualified = [
        (f, score(f, data))
        for f in _collect().values()
        if f.subscribers >= data["min_subscribers"] and f.monthly_spend >= data["min_monthly_spend"]
    ]
    return sorted(qualified, key=lambda x: (-x[1], x[0].candidate_id))


LABELS = {"found": _("符合资格"), "not": _("不符合资格")}


def preview(data: dict) -> dict:
    """How many companies / V网 qualify now and under ``data``."""
    data = validate(data)
    pool = _collect()
    now = rules.current("potential")[1]

    def qualifies(f, d):
        ok = f.subscribers >= d["min_subscribers"] and f.monthly_spend >= d["min_monthly_spend"]
        return "found" if ok else "not"

    before = {i: qualifies(f, now) for i, f in enumerate(pool.values())}
    after = {i: qualifies(f, data) for i, f in enumerate(pool.values())}
    return rules.compare(before, after, LABELS)


def apply(actor, version: int, data: dict, reason: str) -> dict:
    from keycare.keyaccounts.actions import store_potential

    return store_potential(actor, find(data), version)
