"""预警任务列表: every role sees the call tasks of its scope, ranked by priority, with state
counts. SMS tasks never enter a call list: administrators see them apart as 短信任务
(``sms_task_list``), each with its message's status linked to 短信发送记录; a delivered message
handles its task (``tasks.actions.record_sms_results``).

The state counts (the tabs) cover the date and channel filters in force, so a tab's number is
what clicking it lists; the page's total comes from them, not from a second COUNT over the
rows joined to their customers (at 13k tasks a day that COUNT was most of the page's time).
"""

from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Count, Exists, OuterRef
from django.shortcuts import render
from django.utils.dateparse import parse_date
from django.utils.translation import gettext as _

from keycare.access import roles
from keycare.access.querysets import require_role, user_scope
from keycare.moments.models import MomentDefinition
from keycare.org.models import Manager
from keycare.tasks.models import ServiceTask, TaskChannel, TaskMoment, TaskState
from keycare.web.task_rows import labels, task_rows, with_row_columns

SMS_ROLES = {roles.ROLE_PROVINCE_ADMIN, roles.ROLE_CITY_ADMIN}

PAGE_SIZE = 50


class CountedPaginator(Paginator):
    """A paginator told how many rows there are (it would otherwise COUNT them itself)."""

    def __init__(self, object_list, per_page, count: int):
        super().__init__(object_list, per_page)
        self.count = count  # shadows Paginator.count, a cached property


def _filters(request) -> dict:
    filters = {"state": request.GET.get("state", ""), "date": request.GET.get("date", "")}
    if filters["state"] not in TaskState.values:
        filters["state"] = ""
    try:
        day = parse_date(filters["date"]) if filters["date"] else None
    except ValueError:
        day = None
    filters["date"] = day.isoformat() if day else ""  # a malformed date is ignored
    # Codes, as the drill-downs link them (manager ID, moment code); unknown ones list nothing.
    filters["manager"] = request.GET.get("manager", "").strip()[:32]
    filters["moment"] = request.GET.get("moment", "").strip().upper()[:16]
    return filters


def _in_date(tasks, filters):
    if filters["date"]:
        tasks = tasks.filter(business_date=filters["date"])
    if filters["manager"]:
        tasks = tasks.filter(manager__manager_id=filters["manager"])
    if filters["moment"]:
        carries = TaskMoment.objects.filter(task=OuterRef("pk"), moment__code=filters["moment"])
        tasks = tasks.filter(Exists(carries))
    return tasks


def _choices(user, filters) -> dict:
    """The manager and moment options of the filter form, as names (a manager sees none)."""
    role, _scope = user_scope(user)
    managers = []
    if role != roles.ROLE_MANAGER:
        managers = list(
            Manager.objects.restrict(user)
            .order_by("name", "manager_id")
            .values_list("manager_id", "name")
        )
    moments = list(MomentDefinition.objects.order_by("code").values_list("code", "name_zh"))
    names = dict(managers)
    chosen = []
    if filters["manager"]:
        chosen.append(names.get(filters["manager"], filters["manager"]))
    if filters["moment"]:
        chosen.append(f"{filters['moment']} {dict(moments).get(filters['moment'], '')}".strip())
    return {"manager_choices": managers, "moment_choices": moments, "chosen": chosen}


@login_required
def task_list(request):
    """The call tasks (外呼) of the user's scope."""
    return _task_list(request, TaskChannel.CALL, _("预警任务"))


@login_required
def sms_task_list(request):
    """短信任务: the SMS tasks of an administrator's scope, awaiting sending."""
    require_role(request.user, SMS_ROLES, _("只有管理员可以查看短信任务"))
    return _task_list(request, TaskChannel.SMS, _("短信任务"))


def _task_list(request, channel, title):
    sms = channel == TaskChannel.SMS
    filters = _filters(request)
    tasks = ServiceTask.objects.restrict(request.user).filter(channel=channel)
    tasks = _in_date(tasks, filters)
    # COUNT(*) lets PostgreSQL count from an index alone (COUNT(id) reads every task row).
    counts = dict(tasks.values_list("state").annotate(n=Count("*")).order_by())
    if filters["state"]:
        tasks = tasks.filter(state=filters["state"])
        total = counts.get(filters["state"], 0)
    else:
        total = sum(counts.values())
    ranked = with_row_columns(tasks).order_by("-business_date", "-priority_score", "id")
    page = CountedPaginator(ranked, PAGE_SIZE, total).get_page(request.GET.get("page"))
    return render(
        request,
        "web/task_list.html",
        {
            "page": page,
            "rows": _with_sms_status(task_rows(page)) if sms else task_rows(page),
            "filters": filters,
            "tab_query": "".join(
                f"&{urlencode({k: v})}" for k, v in filters.items() if v and k != "state"
            ),
            **_choices(request.user, filters),
            "states": [(value, label, counts.get(value, 0)) for value, label in TaskState.choices],
            "title": title,
            "sms": sms,
        },
    )


def _with_sms_status(rows: list[dict]) -> list[dict]:
    """Each SMS task's message: its state (label), why it waits or failed, a link to it."""
    from keycare.messaging.models import SmsMessage, SmsState
    from keycare.web.messaging import sms_detail_urls

    states, url = labels(SmsState), sms_detail_urls()
    latest = {}
    for pk, task, state, reason in (
        SmsMessage.objects.filter(task__in=[r["pk"] for r in rows])
        .order_by("id")
        .values_list("pk", "task_id", "state", "reason")
    ):
        latest[task] = {"url": url(pk), "label": states.get(state, state), "reason": reason}
    for row in rows:
        row["sms"] = latest.get(row["pk"])
    return rows
