"""Service rules of key accounts (004 §4) as versioned data: credit rating, points, the
key-customer definition and levels, potential key accounts and preferential offers.

Each rule kind is a module (``credit``, ``points``, ``definition``, ``potential``,
``preferential``) with ``validate(data)``, ``preview(data)`` (what would change, nothing
written) and optionally ``apply(actor, version, data, reason)``; the built-in first version of
every rule is rules.yaml, later ones are ``ServiceRule`` rows published with
``actions.publish_rule`` (the newest active one is in force). Tier policies follow the same
versioning on ``TierPolicy`` (``activate_next`` serves both).
"""

from __future__ import annotations

import functools
import importlib
import math
from collections import Counter
from pathlib import Path

from django.db.models import Count
from django.utils import timezone

from keycare.core.workflow import user_or_none
from keycare.errors import UserError
from keycare.keyaccounts.models import (
    ChangeSource,
    KeyAccount,
    KeyAccountArchive,
    KeyAccountChange,
    KeyAccountMember,
    RuleKind,
    ServiceRule,
    TierPolicyStatus,
)
from keycare.keyaccounts.tiers import average_revenue
from keycare.yamlio import safe_load

DEFAULT_PATH = Path(__file__).with_name("rules.yaml")
BATCH = 2000


@functools.cache
def _defaults() -> dict:
    return safe_load(DEFAULT_PATH.read_text(encoding="utf-8"))


def module(kind: str):
    """The module computing rule ``kind`` (a UserError for an unknown kind)."""
    if kind not in RuleKind.values:
        raise UserError(f"未知的服务规则：{kind!r}")
    return importlib.import_module(f"keycare.keyaccounts.{kind}")


def default(kind: str) -> dict:
    return module(kind).validate(_defaults()[kind])


def current(kind: str) -> tuple[int, dict]:
    """(version, data) of rule ``kind`` in force; version 0 is the built-in first version."""
    active = (
        ServiceRule.objects.filter(kind=kind, status=TierPolicyStatus.ACTIVE)
        .order_by("-version")
        .first()
    )
    return (active.version, active.data) if active else (0, default(kind))


def activate_next(queryset, actor, **fields):
    """Retire the active version in ``queryset`` and create the next version, active.

    Call inside a transaction: the newest row is locked so two publishers number apart."""
    latest = queryset.select_for_update().order_by("-version").first()
    queryset.filter(status=TierPolicyStatus.ACTIVE).update(status=TierPolicyStatus.RETIRED)
    return queryset.model.objects.create(
        version=(latest.version if latest else 0) + 1,
        status=TierPolicyStatus.ACTIVE,
        created_by=user_or_none(actor),
        activated_at=timezone.now(),
        **fields,
    )


# --- checking rule data -----------------------------------------------------------------------


def number(where: str, value, low: float = 0, high: float | None = None) -> float:
    """``value`` as a float in [low, high], else a UserError naming ``where``."""
    ok = isinstance(value, int | float) and not isinstance(value, bool)
    if not ok or value < low or (high is not None and value > high) or math.isnan(value):
        bound = f"{low} 到 {high}" if high is not None else f"不小于 {low}"
        raise UserError(f"{where} 须为 {bound} 的数，不是 {value!r}")
    return float(value)


def section(data, name: str, keys) -> dict:
    """``data[name]`` as a mapping holding every key of ``keys``."""
    if not isinstance(data, dict):
        raise UserError("规则须为一个映射")
    part = data.get(name)
    if not isinstance(part, dict):
        raise UserError(f"规则缺少 {name}")
    missing = [k for k in keys if k not in part]
    if missing:
        raise UserError(f"{name} 缺少 {'、'.join(missing)}")
    return part


def months(data) -> int:
    value = data.get("revenue_months", 3)
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 12:
        raise UserError("收入取数月数须为 1 到 12")
    return value


# --- what the rules compute from --------------------------------------------------------------


def active_groups(groups=None):
    return (groups if groups is not None else KeyAccount.objects.all()).filter(
        archive=KeyAccountArchive.ACTIVE
    )


def group_facts(groups=None, revenue_months: int = 3) -> dict[int, dict]:
    """Per active group: its own columns, member count, average monthly revenue (total and
    信息化, over the last closed months; the annual revenue / 12 when none), tenure in years,
    members in arrears and the longest arrears (days) among them."""
    groups = active_groups(groups)
    rows = groups.annotate(member_count=Count("members")).values(
        "pk", "tier", "created_date", "employees", "strategic", "annual_revenue",
        "member_count", "credit_rating", "credit_score", "key_customer", "key_level",
    )  # fmt: skip
    facts = {r["pk"]: r for r in rows}
    revenue = average_revenue(list(facts), revenue_months)
    today = timezone.localdate()
    for pk, f in facts.items():
        fallback = float(f["annual_revenue"] or 0) / 12
        f["monthly_revenue"], f["info_revenue"] = revenue.get(pk, (fallback, 0.0))
        f["tenure_years"] = max((today - f["created_date"]).days, 0) / 365.25
        f["arrears_members"], f["arrears_days"] = 0, 0
    in_arrears = KeyAccountMember.objects.filter(
        key_account__in=groups, customer__attributes__arrears_days__gt=0
    ).values_list("key_account_id", "customer__attributes__arrears_days")
    for pk, days in in_arrears.iterator(chunk_size=20_000):
        f = facts[pk]
        f["arrears_members"] += 1
        f["arrears_days"] = max(f["arrears_days"], int(days or 0))
    return facts


# --- previews and writes ----------------------------------------------------------------------


def compare(before: dict[int, str], after: dict[int, str], labels: dict) -> dict:
    """How values move from ``before`` to ``after`` (per group): the preview of a rule."""
    moves = Counter((before.get(pk, ""), new) for pk, new in after.items() if before.get(pk) != new)

    def named(value) -> str:
        return str(labels.get(value, value)) if value not in ("", None) else "—"

    return {
        "groups": len(after),
        "changed": sum(moves.values()),
        "moves": [
            {"from": named(a), "to": named(b), "count": n}
            for (a, b), n in sorted(moves.items(), key=lambda m: (-m[1], str(m[0])))
        ],
        "counts": [
            {
                "value": named(v),
                "before": sum(x == v for x in before.values()),
                "after": sum(x == v for x in after.values()),
            }
            for v in labels
        ],
    }


def write_computed(actor, values: dict[int, dict], *, tracked: tuple, reason: str) -> int:
    """Write each group's computed fields; a change of a ``tracked`` field bumps the group's
    version and is kept in its history. Returns the number of groups whose tracked fields moved.
    Call inside a transaction."""
    by = user_or_none(actor)
    groups = KeyAccount.objects.in_bulk(list(values))
    fields = sorted({name for v in values.values() for name in v})
    dirty, history = [], []
    for pk, new in values.items():
        g = groups[pk]
        moved = [n for n in tracked if n in new and getattr(g, n) != new[n]]
        if not moved and all(getattr(g, n) == v for n, v in new.items()):
            continue
        if moved:
            g.version += 1
        history += [
            KeyAccountChange(
                key_account_id=pk, version=g.version, source=ChangeSource.RULES, field=n,
                old_value=_text(getattr(g, n)), new_value=_text(new[n]), reason=reason, by=by,
            )
            for n in moved
        ]  # fmt: skip
        for name, value in new.items():
            setattr(g, name, value)
        dirty.append(g)
    KeyAccount.objects.bulk_update(dirty, [*fields, "version"], BATCH)
    KeyAccountChange.objects.bulk_create(history, batch_size=BATCH)
    return len({c.key_account_id for c in history})


def _text(value) -> str:
    return "" if value is None else str(value)
