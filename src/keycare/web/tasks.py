"""预警任务列表: every role sees the tasks of its scope, ranked by priority, with state counts."""

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Count
from django.shortcuts import render
from django.utils.dateparse import parse_date

from keycare.web.task_rows import task_rows, with_row_columns
from keycare.workorders.models import ServiceTask, TaskChannel, TaskState

PAGE_SIZE = 50


def _filtered(request, tasks):
    filters = {
        "state": request.GET.get("state", ""),
        "channel": request.GET.get("channel", ""),
        "date": request.GET.get("date", ""),
    }
    if filters["state"] in TaskState.values:
        tasks = tasks.filter(state=filters["state"])
    if filters["channel"] in TaskChannel.values:
        tasks = tasks.filter(channel=filters["channel"])
    try:
        day = parse_date(filters["date"]) if filters["date"] else None
    except ValueError:
        day = None
    if day is None:
        filters["date"] = ""  # a malformed date is ignored rather than failing the page
    else:
        tasks = tasks.filter(business_date=day)
    return tasks, filters


@login_required
def task_list(request):
    scoped = ServiceTask.objects.restrict(request.user)
    tasks, filters = _filtered(request, scoped)
    # COUNT(*) lets PostgreSQL count from an index alone (COUNT(id) reads every task row).
    counts = dict(scoped.values_list("state").annotate(n=Count("*")).order_by())
    page = Paginator(
        with_row_columns(tasks).order_by("-business_date", "-priority_score", "id"), PAGE_SIZE
    ).get_page(request.GET.get("page"))
    rows = task_rows(page)
    return render(
        request,
        "web/task_list.html",
        {
            "page": page,
            "rows": rows,
            "filters": filters,
            "states": [(value, label, counts.get(value, 0)) for value, label in TaskState.choices],
            "channels": TaskChannel.choices,
        },
    )
