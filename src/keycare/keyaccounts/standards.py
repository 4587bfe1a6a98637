"""Per-tier service standards (seed 002's 服务标准表) as versioned data, and what they plan.

``current()`` is the version in force (the newest ``ServiceStandardSet``, or the built-in
first version of standards.yaml while none was published). ``planned_visits`` turns the visit
intervals into the visits due per group, manager and visiting role in a period: the managers'
work plans read it. ``response_minutes`` / ``restore_hours`` are the SLA targets of a group's
faults by class.
"""

from __future__ import annotations

import calendar
import functools
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from keycare.errors import UserError
from keycare.keyaccounts.models import KeyAccount, KeyAccountArchive, ServiceStandardSet, Tier
from keycare.yamlio import safe_load

DEFAULT_PATH = Path(__file__).with_name("standards.yaml")
SECTIONS = ("visit_months", "response_minutes", "restore_hours", "manager_level", "green_channel")


@functools.cache
def default_standards() -> dict:
    return validate(safe_load(DEFAULT_PATH.read_text(encoding="utf-8")))


def current() -> tuple[int, dict]:
    """(version, standards) in force; version 0 is the built-in first version."""
    latest = ServiceStandardSet.objects.order_by("-version").first()
    return (latest.version, latest.data) if latest else (0, default_standards())


def validate(data) -> dict:
    """The standards if well formed, else a UserError naming what is wrong."""
    if not isinstance(data, dict) or not all(
        k in data for k in ("roles", "fault_classes", "tiers")
    ):
        raise UserError("服务标准须包含 roles、fault_classes 和 tiers")
    roles, faults, tiers = data["roles"], data["fault_classes"], data["tiers"]
    missing = [t for t in Tier.values if t not in tiers]
    if missing:
        raise UserError(f"服务标准缺少层级：{'、'.join(missing)}")
    for tier in Tier.values:
        _check_tier(tier, tiers[tier], roles, faults)
    return data


def _check_tier(tier: str, spec, roles: dict, faults: dict) -> None:
    if not isinstance(spec, dict) or any(s not in spec for s in SECTIONS):
        raise UserError(f"{tier}：须包含 {'、'.join(SECTIONS)}")
    for role, months in spec["visit_months"].items():
        if role not in roles:
            raise UserError(f"{tier}：未知的走访角色 {role!r}")
        if not isinstance(months, int) or isinstance(months, bool) or not 1 <= months <= 12:
            raise UserError(f"{tier}：{roles[role]}的走访间隔须为 1 到 12 个月，不是 {months!r}")
    for section in ("response_minutes", "restore_hours"):
        for fault in faults:
            value = spec[section].get(fault)
            if not isinstance(value, int | float) or isinstance(value, bool) or value <= 0:
                raise UserError(f"{tier}：{faults[fault]}的{section}须为正数，不是 {value!r}")
    if not isinstance(spec["green_channel"], list):
        raise UserError(f"{tier}：绿色通道须为列表")


def response_minutes(tier: str, fault_class: str, standards: dict | None = None) -> float:
    return (standards or current()[1])["tiers"][tier]["response_minutes"][fault_class]


def restore_hours(tier: str, fault_class: str, standards: dict | None = None) -> float:
    return (standards or current()[1])["tiers"][tier]["restore_hours"][fault_class]


@dataclass(frozen=True)
class PlannedVisit:
    key_account_pk: int
    key_account_id: str
    name: str
    tier: str
    manager_pk: int | None
    manager_id: str
    role: str
    cycle_start: date
    due_by: date


def _month_end(year: int, month: int) -> date:
    return date(year, month, calendar.monthrange(year, month)[1])


def _cycles_ending(period_start: date, period_end: date, months: int):
    """(start, end) of every n-month cycle of the calendar year ending within the period."""
    for year in range(period_start.year, period_end.year + 1):
        for first in range(1, 13, months):
            last = min(first + months - 1, 12)
            end = _month_end(year, last)
            if period_start <= end <= period_end:
                yield date(year, first, 1), end


def planned_visits(
    period_start: date, period_end: date, accounts=None, *, data: dict | None = None
) -> list[PlannedVisit]:
    """The visits due in [period_start, period_end] per active group, its manager and role.

    A role visiting every n months owes one visit per n-month cycle of the calendar year
    (Jan-Mar, Apr-Jun... for 3), due by the cycle's last day; the visits due in a period are
    those of the cycles ending in it, so consecutive periods never count a visit twice.
    ``accounts``: a KeyAccount queryset (e.g. restricted to a user), default all; ``data``:
    standards to plan under (a preview), default those in force.
    """
    if period_end < period_start:
        raise UserError("计划结束日期早于开始日期")
    tiers = (data or current()[1])["tiers"]
    groups = (accounts if accounts is not None else KeyAccount.objects.all()).filter(
        archive=KeyAccountArchive.ACTIVE
    )
    rows = groups.values_list(
        "pk", "key_account_id", "name", "tier", "manager_id", "manager__manager_id"
    )
    visits = []
    for pk, code, name, tier, manager_pk, manager_id in rows.order_by("key_account_id"):
        for role, months in tiers.get(tier, {}).get("visit_months", {}).items():
            for start, end in _cycles_ending(period_start, period_end, months):
                visits.append(
                    PlannedVisit(
                        pk, code, name, tier, manager_pk, manager_id or "", role, start, end
                    )
                )
    return visits


# Fault class of a work order raised without one, by its priority.
FAULT_OF_PRIORITY = {"urgent": "critical", "high": "major", "normal": "minor", "low": "minor"}


def group_tier_of(customer_id: int) -> str:
    """The tier of the active group ``customer_id`` belongs to ("" when none)."""
    tier = (
        KeyAccount.objects.filter(
            archive=KeyAccountArchive.ACTIVE, members__customer_id=customer_id
        )
        .order_by("tier")
        .values_list("tier", flat=True)
        .first()
    )
    return tier or ""


def group_sla(customer_id: int, priority: str, fault_class: str, now) -> dict | None:
    """The SLA of a group member's work order from the tier standard in force: the restore
    time of the fault class sets ``due_at``, the response time ``response_due_at``. None when
    the customer belongs to no active group. A bad fault class is a UserError."""
    tier = group_tier_of(customer_id)
    if not tier:
        return None
    version, data = current()
    fault = fault_class or FAULT_OF_PRIORITY.get(priority, "minor")
    if fault not in data["fault_classes"]:
        raise UserError(f"未知的故障等级：{fault!r}")
    return {
        "due_at": now + timedelta(hours=restore_hours(tier, fault, data)),
        "response_due_at": now + timedelta(minutes=response_minutes(tier, fault, data)),
        "fault_class": fault,
        "sla_tier": tier,
        "sla_standards_version": version,
    }
