"""Work plans, read side: plan periods, what a plan should hold (visits due by the tier
service standards, due appointments) and plan versus actual.

The visits due come from the tier service standards
(``keycare.keyaccounts.standards.planned_visits``, the account manager's visiting role): a
visit is due by the end of its cycle, so consecutive plans never count a visit twice.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, timedelta

from django.db.models import Q

from keycare.errors import UserError
from keycare.keyaccounts.models import KeyAccount
from keycare.keyaccounts.standards import planned_visits
from keycare.managers.models import PlanItem, PlanPeriod, WorkKind, WorkPlan, WorkRecord
from keycare.tasks.models import Appointment

# The visiting role of the account manager in the tier service standards.
MANAGER_VISIT_ROLE = "manager"


def period_bounds(period: str, day: date) -> tuple[date, date]:
    """The month or the Monday-to-Sunday week holding ``day``."""
    if period == PlanPeriod.MONTH:
        return day.replace(day=1), day.replace(day=calendar.monthrange(day.year, day.month)[1])
    if period == PlanPeriod.WEEK:
        start = day - timedelta(days=day.weekday())
        return start, start + timedelta(days=6)
    raise UserError(f"未知的计划周期：{period}")


def standard_visits(manager, start: date, end: date) -> list[tuple[int, date]]:
    """(key account pk, due by) of the visits the manager owes in [start, end]."""
    accounts = KeyAccount.objects.filter(manager=manager)
    return [
        (v.key_account_pk, v.due_by)
        for v in planned_visits(start, end, accounts)
        if v.role == MANAGER_VISIT_ROLE
    ]


def due_appointments(manager, end: date):
    """Open appointments of the manager due by ``end`` (overdue ones included)."""
    return Appointment.objects.filter(
        manager=manager, done_at__isnull=True, due_at__date__lte=end
    ).order_by("due_at")


@dataclass
class PlanActual:
    done: dict  # item pk -> bool
    planned: dict  # kind -> items
    achieved: dict  # kind -> items done
    recorded: dict  # kind -> work records in the period (planned or not)

    @property
    def completion(self) -> float | None:
        total = sum(self.planned.values())
        return sum(self.achieved.values()) / total if total else None


def plan_actual(plan: WorkPlan, items=None) -> PlanActual:
    """Which items were done: a visit or call recorded for the item's key account or
    customer within the plan's period, or the item's appointment marked done."""
    items = list(items if items is not None else plan.items.all())
    records = WorkRecord.objects.filter(
        manager_id=plan.manager_id, at__date__gte=plan.start, at__date__lte=plan.end
    )
    accounts = set(records.exclude(key_account=None).values_list("key_account_id", flat=True))
    persons = set(
        WorkRecord.persons.through.objects.filter(workrecord__in=records).values_list(
            "customer_id", flat=True
        )
    )
    done_appointments = set(
        Appointment.objects.filter(
            Q(pk__in=[i.appointment_id for i in items if i.appointment_id]),
            done_at__isnull=False,
        ).values_list("pk", flat=True)
    )
    done = {
        i.pk: (i.key_account_id in accounts)
        or (i.customer_id in persons)
        or (i.appointment_id in done_appointments)
        for i in items
    }
    kinds = WorkKind.values
    return PlanActual(
        done=done,
        planned={k: sum(1 for i in items if i.kind == k) for k in kinds},
        achieved={k: sum(1 for i in items if i.kind == k and done[i.pk]) for k in kinds},
        recorded={k: records.filter(kind=k).count() for k in kinds},
    )


def plan_items(plan: WorkPlan):
    return PlanItem.objects.filter(plan=plan).select_related("key_account", "customer")
