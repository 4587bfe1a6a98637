"""管理员工作台: the day's detections, import status, task states per manager, appointments,
campaigns and the manager ranking for a province or city administrator.

Every scoped read goes through ``restrict(request.user)`` (a city admin sees their city only);
each block is one aggregate query, so the page costs the same whatever the data size.
"""

from datetime import datetime, time, timedelta
from urllib.parse import quote

from django.contrib.auth.decorators import login_required
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Max, Q
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from keycare.access import roles
from keycare.access.querysets import user_scope
from keycare.campaigns.models import CampaignTask
from keycare.core.exports import xlsx_response
from keycare.runs.models import Detection, Run, RunStatus
from keycare.tasks.models import (
    Appointment,
    AppointmentKind,
    Recommendation,
    ServiceTask,
    TaskChannel,
    TaskState,
)

ADMIN_ROLES = {roles.ROLE_PROVINCE_ADMIN, roles.ROLE_CITY_ADMIN}
MANAGER_ROW_LIMIT = 200
CAMPAIGN_LIMIT = 50
RANKING_LIMIT = 20
# The ranking covers the 30 business days ending at the latest date: long enough to be fair,
# short enough to reflect current work.
RANKING_DAYS = 30
HANDLED_STATES = (TaskState.HANDLED_NO_CHANGE, TaskState.HANDLED_NEW_ALERT)
# The two costliest blocks are cached per scope (role and city: one scope's figures are never
# another's): under load they were over half of PostgreSQL's time (docs/performance.md).
# The ranking covers 30 days and moves only as today's tasks are worked: a minute old at most.
RANKING_CACHE_SECONDS = 60
# The day's detections change only when a run is loaded, and the key names the load.
DETECTIONS_CACHE_SECONDS = 600


@login_required
def admin_workbench(request):
    user = request.user
    role, scope = user_scope(user)
    if role not in ADMIN_ROLES:
        raise PermissionDenied
    scope_key = f"{role}:{scope}"
    run = _latest_run()
    tasks = ServiceTask.objects.restrict(user)
    day = run.business_date if run else tasks.aggregate(day=Max("business_date"))["day"]
    all_day_tasks = tasks.filter(business_date=day) if day else tasks.none()
    if request.GET.get("export") == "xlsx":
        return _allocation_export(user, day, all_day_tasks)
    loaded = run.loaded_at.timestamp() if run and run.loaded_at else None
    detections = cache.get_or_set(
        # No spaces: a key memcached could also store (the load's time as a number).
        f"admin-detections:{scope_key}:{day}:{run and run.pk}:{loaded}",
        lambda: _detections(user, day),
        DETECTIONS_CACHE_SECONDS,
    )
    return render(
        request,
        "web/admin_workbench.html",
        {
            "day": day,
            "run": _run_status(run),
            "detections": detections,
            "detection_chart": [
                {"name": d["label"], "value": d["n"], "code": d["code"]} for d in detections["rows"]
            ],
            **_allocation_context(all_day_tasks, day),
            "appointments": _appointments(user),
            "campaigns": _campaigns(user),
            "ranking": cache.get_or_set(
                f"admin-ranking:{scope_key}:{day}",
                lambda: _ranking(tasks, day),
                RANKING_CACHE_SECONDS,
            ),
            "ranking_days": RANKING_DAYS,
        },
    )


def _latest_run():
    # Runs carry no personal data and are province-wide; a superseded run is not the day's truth.
    return (
        Run.objects.exclude(status=RunStatus.SUPERSEDED).order_by("-business_date", "-id").first()
    )


def _run_status(run):
    if run is None:
        return None
    inputs = [
        {
            "name": name,
            "rows_in": (info or {}).get("rows_in"),
            "accepted": (info or {}).get("accepted"),
            "quarantined": (info or {}).get("quarantined"),
        }
        for name, info in sorted((run.inputs or {}).items())
        if isinstance(info, dict) or info is None
    ]
    timings = run.timings if isinstance(run.timings, dict) else {}
    return {"run": run, "inputs": inputs, "timings": sorted(timings.items())}


def _detections(user, day):
    if day is None:
        return {"total": 0, "rows": []}
    counts = (
        Detection.objects.restrict(user)
        .filter(business_date=day)
        .values("moment__code", "moment__name_zh")
        .annotate(n=Count("id"))
        .order_by("-n", "moment__code")
    )
    rows = list(counts)
    total = sum(r["n"] for r in rows)
    return {
        "total": total,
        "rows": [
            {
                "code": r["moment__code"],
                "label": f"{r['moment__code']} {r['moment__name_zh'] or ''}".strip(),
                "n": r["n"],
                "percent": round(100 * r["n"] / total, 1),
            }
            for r in rows
        ],
    }


def _allocation_context(all_day_tasks, day) -> dict:
    """The day's task states, the SMS waiting to go out and the per-manager table, all from
    one grouped query (the states and the SMS count are its column totals)."""
    rows = _allocation(all_day_tasks)
    totals = {
        value: sum(row["states"][n] for row in rows) for n, value in enumerate(TaskState.values)
    }
    return {
        # The states and the capacity table count call tasks: SMS tasks take no call capacity.
        "states": [(value, label, totals[value]) for value, label in TaskState.choices],
        "sms_waiting": sum(row["sms_waiting"] for row in rows),
        "allocation": _with_list_urls(rows[:MANAGER_ROW_LIMIT], day),
    }


def _allocation(all_day_tasks) -> list[dict]:
    """Per manager (every one of the scope): call tasks by state against the daily capacity,
    and SMS tasks apart.

    SMS tasks take no call capacity, so the capacity bar and the over-capacity flag count
    calls only; the SMS column shows what goes out by message instead.
    """
    call, sms = Q(channel=TaskChannel.CALL), Q(channel=TaskChannel.SMS)
    per_state = {value: Count("id", filter=call & Q(state=value)) for value in TaskState.values}
    rows = (
        all_day_tasks.values(
            "manager_id", "manager__manager_id", "manager__name", "manager__daily_capacity"
        )
        .annotate(
            total=Count("id", filter=call),
            sms=Count("id", filter=sms),
            sms_waiting=Count("id", filter=sms & Q(state=TaskState.UNHANDLED)),
            **per_state,
        )
        .order_by("manager__name", "manager_id")
    )
    return [_allocation_row(r) for r in rows]


def _allocation_row(r) -> dict:
    capacity = r["manager__daily_capacity"]
    use = round(100 * r["total"] / capacity) if capacity else None
    return {
        "manager": r["manager__name"],
        "code": r["manager__manager_id"] or "",
        "capacity": capacity,
        "total": r["total"],
        "sms": r["sms"],
        "sms_waiting": r["sms_waiting"],
        "states": [r[value] for value in TaskState.values],
        "over_capacity": bool(capacity) and r["total"] > capacity,
        "use": use,
        "bar": None if use is None else min(use, 100),
    }


def _with_list_urls(rows: list[dict], day) -> list[dict]:
    """Each manager's links to their call and SMS task lists, built here once rather than by
    two ``{% url %}`` tags per row (the province's table has hundreds of rows)."""
    date_query = f"&date={day:%Y-%m-%d}" if day else ""
    tasks, sms = reverse("web:task-list"), reverse("web:sms-task-list")
    for row in rows:
        code = row["code"]
        query = f"?manager={quote(code)}{date_query}" if code else ""
        row["tasks_url"] = f"{tasks}{query}" if code else ""
        row["sms_url"] = f"{sms}{query}" if code and row["sms"] else ""
    return rows


def _allocation_export(user, day, all_day_tasks):
    """The per-manager allocation table as Excel (audited by the shared safe writer)."""
    headers = [_("客户经理"), _("日服务能力"), _("外呼任务数")] + [
        str(label) for _value, label in TaskState.choices
    ]
    headers.append(_("短信任务数"))
    rows = [
        [row["manager"], row["capacity"], row["total"], *row["states"], row["sms"]]
        for row in _allocation(all_day_tasks)
    ]
    return xlsx_response(
        f"allocation-{day or 'none'}.xlsx", headers, rows, user=user, business_date=str(day)
    )


def _appointments(user):
    now = timezone.now()
    rows = (
        Appointment.objects.restrict(user)
        .values("kind")
        .annotate(
            handled=Count("id", filter=Q(done_at__isnull=False)),
            due=Count("id", filter=Q(done_at__isnull=True, due_at__lte=now)),
            upcoming=Count("id", filter=Q(done_at__isnull=True, due_at__gt=now)),
        )
        .order_by()
    )
    by_kind = {r["kind"]: r for r in rows}
    empty = {"handled": 0, "due": 0, "upcoming": 0}
    return [(label, by_kind.get(value, empty)) for value, label in AppointmentKind.choices]


def _start_of_today():
    return timezone.make_aware(datetime.combine(timezone.localdate(), time.min))


def _campaigns(user):
    today = _start_of_today()
    return list(
        CampaignTask.objects.restrict(user)
        .values("campaign_id", "campaign__name")
        .annotate(
            total=Count("id"),
            completed=Count("id", filter=Q(done_at__isnull=False)),
            completed_today=Count("id", filter=Q(done_at__gte=today)),
        )
        .order_by("-completed_today", "-completed", "campaign_id")[:CAMPAIGN_LIMIT]
    )


def _ranking(tasks, day):
    if day is None:
        return []
    window = tasks.filter(
        business_date__gt=day - timedelta(days=RANKING_DAYS),
        business_date__lte=day,
        manager__isnull=False,
    )
    # Two grouped queries, merged here: one join of tasks and outcomes multiplied the rows and
    # needed COUNT(DISTINCT), which sorted every task of the window (6 s at 1M tasks).
    rows = list(
        window.values("manager_id", "manager__name", "manager__city__name")
        .annotate(handled=Count("state", filter=Q(state__in=HANDLED_STATES)))
        .order_by()
    )
    accepted = dict(
        window.filter(outcomes__recommendation=Recommendation.ACCEPTED)
        .values_list("manager_id")
        .annotate(n=Count("*"))  # COUNT(*), not of an id: index-only on both tables
        .order_by()
    )
    for row in rows:
        row["accepted"] = accepted.get(row["manager_id"], 0)
    rows.sort(key=lambda r: (-r["handled"], -r["accepted"], r["manager__name"], r["manager_id"]))
    return rows[:RANKING_LIMIT]
