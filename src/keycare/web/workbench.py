"""电话经理工作台: today's tasks by priority, appointments, campaigns and the portfolio at a glance.

Today's list is the manager's call list: SMS tasks never enter it (nor its counts), and a
finished task leaves the top (open tasks first, then priority). Due appointments can be marked
done from here (``keycare.web.appointments``).

Everything is read through ``restrict(request.user)`` so a manager sees only their portfolio;
the page issues a fixed number of queries whatever the portfolio size.
"""

from django.contrib.auth.decorators import login_required
from django.db.models import Count, Max, Q
from django.shortcuts import render
from django.utils import timezone

from keycare.access.presenter import masked_customer
from keycare.campaigns.models import CampaignTask
from keycare.customers.models import Customer, ValueTier
from keycare.tasks.models import Appointment, AppointmentKind, ServiceTask, TaskState
from keycare.web.task_rows import (
    CALL_LIST_ORDER,
    call_tasks,
    labels,
    pk_urls,
    task_detail_urls,
    task_rows,
    with_row_columns,
)

TODAY_TASK_LIMIT = 50
DUE_APPOINTMENT_LIMIT = 20
# A task whose churn probability reaches this is counted as high risk on the workbench.
HIGH_RISK_PROBABILITY = 0.6


@login_required
def manager_workbench(request):
    user = request.user
    tasks = call_tasks(ServiceTask.objects.restrict(user))
    day = tasks.aggregate(day=Max("business_date"))["day"]
    today = tasks.filter(business_date=day) if day else tasks.none()
    counts = _today_counts(today)
    return render(
        request,
        "web/workbench.html",
        {
            "day": day,
            "states": [(value, label, counts[value]) for value, label in TaskState.choices],
            "rows": _today_rows(today),
            "appointments": _appointments(user),
            "campaigns": _campaigns(user),
            "portfolio": _portfolio(user, counts["high_risk"]),
        },
    )


def _today_counts(today):
    """Tasks per state and the high-risk count, in one query."""
    counts = {value: Count("id", filter=Q(state=value)) for value in TaskState.values}
    high_risk = Count("id", filter=Q(risk_probability__gte=HIGH_RISK_PROBABILITY))
    return today.aggregate(**counts, high_risk=high_risk)


def _today_rows(today):
    ranked = with_row_columns(today).order_by(*CALL_LIST_ORDER)[:TODAY_TASK_LIMIT]
    return task_rows(ranked)


def _appointments(user):
    now = timezone.now()
    scoped = Appointment.objects.restrict(user)
    counts = scoped.aggregate(
        handled=Count("id", filter=Q(done_at__isnull=False)),
        due=Count("id", filter=Q(done_at__isnull=True, due_at__lte=now)),
        upcoming=Count("id", filter=Q(done_at__isnull=True, due_at__gt=now)),
    )
    due = scoped.filter(done_at__isnull=True, due_at__lte=now).order_by("due_at")
    upcoming = scoped.filter(done_at__isnull=True, due_at__gt=now).order_by("due_at")
    return {
        **counts,
        "due_rows": _appointment_rows(due[:DUE_APPOINTMENT_LIMIT]),
        "upcoming_rows": _appointment_rows(upcoming[:DUE_APPOINTMENT_LIMIT]),
    }


def _appointment_rows(appointments) -> list[dict]:
    kinds = labels(AppointmentKind)
    detail_url = task_detail_urls()
    done_url = pk_urls("web:appointment-done")
    fields = ("id", "due_at", "kind", "task_id", "customer__name", "customer__msisdn")
    return [
        {
            "pk": a["id"],
            "done_url": done_url(a["id"]),
            "due_at": a["due_at"],
            "due": timezone.localtime(a["due_at"]).strftime("%m-%d %H:%M"),
            "kind": kinds.get(a["kind"], a["kind"]),
            "url": detail_url(a["task_id"]) if a["task_id"] else None,
            **masked_customer(a, prefix="customer__"),
        }
        for a in appointments.values(*fields)
    ]


def _campaigns(user):
    return list(
        CampaignTask.objects.restrict(user)
        .values("campaign_id", "campaign__name", "campaign__end_date")
        .annotate(
            total=Count("id"),
            open=Count("id", filter=Q(done_at__isnull=True)),
        )
        .filter(open__gt=0)
        .order_by("campaign__end_date", "campaign_id")
    )


def _portfolio(user, high_risk):
    customers = Customer.objects.restrict(user)
    # COUNT(*), not COUNT(id): an index-only scan of (manager, archive, value_tier).
    tiers = dict(customers.values_list("value_tier").annotate(n=Count("*")).order_by())
    return {
        "customers": sum(tiers.values()),
        "by_value": [(value, label, tiers.get(value, 0)) for value, label in ValueTier.choices],
        "high_risk": high_risk,
        "high_risk_threshold": HIGH_RISK_PROBABILITY,
    }
