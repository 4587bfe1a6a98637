"""The task row shared by the manager workbench and the task list: masked customer, the
task's moments, risk, channel, state and manager, every cell ready to print.

Rows are plain dicts read with ``values()`` and filled in Python: a row is rendered on the
busiest pages (50 per page, every few seconds per manager), and model instances, choice
lookups (``get_FOO_display`` rebuilds the choices dict on every call), ``floatformat`` and
``{% url %}`` per row were most of those pages' CPU (docs/performance.md).
"""

from django.urls import reverse

from keycare.access.presenter import masked_customer
from keycare.tasks.models import TaskChannel, TaskMoment, TaskState

ROW_FIELDS = (
    *("id", "business_date", "priority_score", "risk_probability", "channel", "state"),
    *("customer__name", "customer__msisdn", "manager__manager_id"),
)


def with_row_columns(tasks):
    """``tasks`` as the dicts a row is built from (order and slice it, then ``task_rows``)."""
    return tasks.values(*ROW_FIELDS)


def task_rows(records) -> list[dict]:
    records = list(records)
    badges = _moment_badges([r["id"] for r in records])
    channels = labels(TaskChannel)
    states = labels(TaskState)
    detail_url = task_detail_urls()
    return [
        {
            "pk": r["id"],
            "url": detail_url(r["id"]),
            "date": r["business_date"].isoformat(),
            **masked_customer(r, prefix="customer__"),
            "moments": badges.get(r["id"], []),
            "priority": f"{r['priority_score']:.1f}",
            "risk": None if r["risk_probability"] is None else f"{r['risk_probability']:.2f}",
            "channel": channels.get(r["channel"], r["channel"]),
            "state": states.get(r["state"], r["state"]),
            "manager": r["manager__manager_id"] or "—",
        }
        for r in records
    ]


def _moment_badges(task_ids) -> dict[int, list[str]]:
    """Per task, "<code> <name>" of its moments, highest priority first (one query)."""
    badges: dict[int, list[str]] = {}
    rows = (
        TaskMoment.objects.filter(task_id__in=task_ids)
        .order_by("task_id", "-priority", "moment__code")
        .values_list("task_id", "moment__code", "moment__name_zh")
    )
    for task_id, code, name in rows:
        badges.setdefault(task_id, []).append(f"{code} {name or code}")
    return badges


def labels(choices) -> dict[str, str]:
    """value -> label of a choices class, translated once for the current request."""
    return {value: str(label) for value, label in choices.choices}


def task_detail_urls():
    """pk -> URL of the task page, for many rows at the cost of one ``reverse()``."""
    marker = 987654321
    head, tail = reverse("web:task-detail", args=[marker]).split(str(marker))
    return lambda pk: f"{head}{int(pk)}{tail}"
