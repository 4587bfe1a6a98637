"""日常事务提醒 (§7.2.3): one list of what needs the user's attention soon.

For an account manager: visits due by the service standards and not yet made, appointments
due, key persons' birthdays, contract renewals, work orders about to breach their SLA, plans
to submit or returned, and assigned tasks near or past their deadline. For an administrator:
plans awaiting their approval, assigned tasks overdue and work orders about to breach in
their scope. Every source is read through ``restrict`` and capped, so the list costs a fixed
number of queries whatever the portfolio size.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.core.cache import cache
from django.db import models
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from keycare.access import roles
from keycare.access.masking import mask_field
from keycare.access.presenter import free_text, masked_customer
from keycare.access.querysets import user_scope
from keycare.keyaccounts.models import ContractStatus, KeyAccount, KeyAccountContract, KeyPerson
from keycare.managers import plans
from keycare.managers.models import (
    AssignmentStatus,
    PlanPeriod,
    PlanStatus,
    TaskAssignment,
    WorkKind,
    WorkPlan,
    WorkRecord,
)
from keycare.tasks.models import Appointment
from keycare.workorders.models import WorkOrder, WorkOrderStatus

PER_KIND = 10
VISIT_HORIZON = timedelta(days=7)
APPOINTMENT_HORIZON = timedelta(days=1)
BIRTHDAY_HORIZON = 7
RENEWAL_HORIZON = timedelta(days=60)
SLA_HORIZON = timedelta(hours=4)
DEADLINE_HORIZON = timedelta(days=3)
# Reminders read from slow-moving data (standards, key persons, contracts) are cached this long.
DAILY_CACHE_SECONDS = 600
OPEN_ORDERS = (WorkOrderStatus.OPEN, WorkOrderStatus.IN_PROGRESS, WorkOrderStatus.ESCALATED)


class ReminderKind(models.TextChoices):
    VISIT = "visit_due", _("走访到期")
    APPOINTMENT = "appointment", _("预约")
    BIRTHDAY = "birthday", _("关键人生日")
    RENEWAL = "renewal", _("合同续签")
    SLA = "sla", _("SLA 即将超时")
    PLAN = "plan", _("工作计划")
    ASSIGNED = "assigned_task", _("下达任务")


@dataclass
class Reminder:
    kind: str
    when: datetime
    text: str
    # (url name, args, query string) of the page to act on; the page resolves it.
    target: tuple = ()
    overdue: bool = False

    @property
    def kind_label(self) -> str:
        return ReminderKind(self.kind).label


def reminders_for(user, now: datetime | None = None) -> list[Reminder]:
    now = now or timezone.now()
    role, scope = user_scope(user)
    if role == roles.ROLE_MANAGER and scope:
        found = (
            _visits_due(scope, now)
            + _appointments(user, now)
            + _daily(user, now)
            + _own_plans(user, now)
        )
    elif role in (roles.ROLE_PROVINCE_ADMIN, roles.ROLE_CITY_ADMIN):
        found = _plans_to_approve(user, now)
    else:
        return []
    found += _sla(user, now) + _assigned(user, now, admin=role != roles.ROLE_MANAGER)
    return sorted(found, key=lambda r: r.when)


def _daily(user, now) -> list[Reminder]:
    """Birthdays and renewals: they move with the date and the daily load of key persons and
    contracts, not with the manager's work, so they are read once per user, language and day
    and kept for ``DAILY_CACHE_SECONDS`` (the panel is loaded after every workbench view)."""
    today = timezone.localtime(now).date()
    key = f"reminders-daily:{user.pk}:{get_language()}:{today.isoformat()}"
    return cache.get_or_set(
        key, lambda: _birthdays(user, now) + _renewals(user, now), DAILY_CACHE_SECONDS
    )


def _at(day: date) -> datetime:
    return timezone.make_aware(datetime(day.year, day.month, day.day))


def _visits_due(manager_pk, now) -> list[Reminder]:
    """Visits owed this month by the standards, by their due date, not yet made."""
    today = timezone.localtime(now).date()
    start, end = plans.period_bounds(PlanPeriod.MONTH, today)
    due = _standard_visits(manager_pk, start, end)
    visited = set(
        WorkRecord.objects.filter(
            manager_id=manager_pk, kind=WorkKind.VISIT, at__date__gte=start
        ).values_list("key_account_id", flat=True)
    )
    return [
        Reminder(
            ReminderKind.VISIT,
            _at(by),
            str(_("走访 %(name)s（%(by)s 前）")) % {"name": name, "by": by},
            ("web:work-new", (), f"key_account={pk}"),
            overdue=by < today,
        )
        for pk, name, by in due
        if pk not in visited and by - today <= VISIT_HORIZON
    ][:PER_KIND]


def _standard_visits(manager_pk, start, end) -> list[tuple[int, str, date]]:
    """(key account, name, due by) the standards ask of the manager this month. The standards
    and portfolio change with a published version or the daily load, so this is kept for
    ``DAILY_CACHE_SECONDS``; the visits made are read live by the caller."""

    def read():
        due = list(plans.standard_visits(manager_pk, start, end))
        names = dict(
            KeyAccount.objects.filter(pk__in=[pk for pk, _by in due]).values_list("pk", "name")
        )
        return [(pk, names.get(pk, ""), by) for pk, by in due]

    key = f"reminders-visits:{manager_pk}:{start.isoformat()}:{end.isoformat()}"
    return cache.get_or_set(key, read, DAILY_CACHE_SECONDS)


def _appointments(user, now) -> list[Reminder]:
    rows = (
        Appointment.objects.restrict(user)
        .filter(done_at__isnull=True, due_at__lte=now + APPOINTMENT_HORIZON)
        .order_by("due_at")
        .values("due_at", "customer__name", "customer__msisdn")[:PER_KIND]
    )
    return [
        Reminder(
            ReminderKind.APPOINTMENT,
            r["due_at"],
            str(_("预约回访 %(name)s %(msisdn)s")) % masked_customer(r, prefix="customer__"),
            ("web:appointment-list", (), ""),
            overdue=r["due_at"] < now,
        )
        for r in rows
    ]


def _birthdays(user, now) -> list[Reminder]:
    today = timezone.localtime(now).date()
    days = [today + timedelta(days=n) for n in range(BIRTHDAY_HORIZON + 1)]
    wanted = models.Q()
    for day in days:
        wanted |= models.Q(birth_date__month=day.month, birth_date__day=day.day)
    people = (
        KeyPerson.objects.restrict(user)
        .filter(wanted)
        .select_related("key_account")
        .order_by("key_account__name")[:PER_KIND]
    )
    reminders = []
    for person in people:
        day = next(
            d for d in days if (d.month, d.day) == (person.birth_date.month, person.birth_date.day)
        )
        text = str(_("%(group)s %(name)s 生日（%(day)s）")) % {
            "group": person.key_account.name,
            "name": mask_field("name", person.name),
            "day": day.strftime("%m-%d"),
        }
        reminders.append(Reminder(ReminderKind.BIRTHDAY, _at(day), text))
    return reminders


def _renewals(user, now) -> list[Reminder]:
    today = timezone.localtime(now).date()
    contracts = (
        KeyAccountContract.objects.restrict(user)
        .filter(status=ContractStatus.ACTIVE, end_date__lte=today + RENEWAL_HORIZON)
        .select_related("key_account")
        .order_by("end_date")[:PER_KIND]
    )
    return [
        Reminder(
            ReminderKind.RENEWAL,
            _at(c.renewal_date or c.end_date),
            str(_("%(group)s《%(title)s》%(end)s 到期，请安排续签"))
            % {"group": c.key_account.name, "title": c.title, "end": c.end_date},
            overdue=c.end_date < today,
        )
        for c in contracts
    ]


def _sla(user, now) -> list[Reminder]:
    orders = (
        WorkOrder.objects.restrict(user)
        .filter(status__in=OPEN_ORDERS, due_at__lte=now + SLA_HORIZON)
        .order_by("due_at")[:PER_KIND]
    )
    return [
        Reminder(
            ReminderKind.SLA,
            o.due_at,
            str(_("工单 WO-%(pk)s %(title)s")) % {"pk": o.pk, "title": free_text(o.title[:40])},
            ("web:workorder-detail", (o.pk,), ""),
            overdue=o.due_at < now,
        )
        for o in orders
    ]


def _own_plans(user, now) -> list[Reminder]:
    today = timezone.localtime(now).date()
    rows = (
        WorkPlan.objects.restrict(user)
        .filter(status__in=(PlanStatus.DRAFT, PlanStatus.RETURNED), end__gte=today)
        .order_by("start")[:PER_KIND]
    )
    return [
        Reminder(
            ReminderKind.PLAN,
            _at(p.start),
            str(_("%(period)s %(start)s：%(status)s，请提交审批"))
            % {
                "period": p.get_period_display(),
                "start": p.start,
                "status": p.get_status_display(),
            },
            ("web:plan-detail", (p.pk,), ""),
            overdue=p.status == PlanStatus.RETURNED,
        )
        for p in rows
    ]


def _plans_to_approve(user, now) -> list[Reminder]:
    rows = (
        WorkPlan.objects.restrict(user)
        .filter(status=PlanStatus.SUBMITTED)
        .select_related("manager")
        .order_by("submitted_at")[:PER_KIND]
    )
    return [
        Reminder(
            ReminderKind.PLAN,
            p.submitted_at or now,
            str(_("%(manager)s 的%(period)s（%(start)s）待审批"))
            % {"manager": p.manager.name, "period": p.get_period_display(), "start": p.start},
            ("web:plan-detail", (p.pk,), ""),
        )
        for p in rows
    ]


def _assigned(user, now, *, admin: bool) -> list[Reminder]:
    shares = (
        TaskAssignment.objects.restrict(user)
        .exclude(status=AssignmentStatus.DONE)
        .filter(task__deadline__lte=now if admin else now + DEADLINE_HORIZON)
        .select_related("task", "manager")
        .order_by("task__deadline")[:PER_KIND]
    )
    return [
        Reminder(
            ReminderKind.ASSIGNED,
            s.task.deadline,
            (f"{s.manager.name}：" if admin else "") + free_text(s.task.title[:60]),
            ("web:assigned-task-detail", (s.task_id,), ""),
            overdue=s.task.deadline < now,
        )
        for s in shares
    ]
