"""The task row shared by the manager workbench and the task list: masked customer, the
task's moments, risk, channel, state and manager, every cell ready to print.

Rows are plain dicts read with ``values()`` and filled in Python: a row is rendered on the
busiest pages (50 per page, every few seconds per manager), and model instances, choice
lookups (``get_FOO_display`` rebuilds the choices dict on every call), ``floatformat`` and
``{% url %}`` per row were most of those pages' CPU (docs/performance.md).
"""

from django.db.models import Case, IntegerField, Q, Value, When
from django.urls import reverse

from keycare.access.presenter import masked_customer
from keycare.tasks.models import TaskChannel, TaskMoment, TaskState

OPEN_STATES = (TaskState.UNHANDLED, TaskState.IN_PROGRESS)
# A manager's call list: open tasks first (a finished task leaves the top), then priority.
OPEN_FIRST = Case(
    When(state__in=OPEN_STATES, then=Value(0)), default=Value(1), output_field=IntegerField()
)
CALL_LIST_ORDER = (OPEN_FIRST, "-priority_score", "id")


def call_tasks(tasks):
    """Only the tasks a manager calls: SMS tasks never enter a call list nor its capacity."""
    return tasks.filter(channel=TaskChannel.CALL)


def next_open_task(tasks, task):
    """The pk of the open call task after ``task`` in its manager's list of that day (in
    ``CALL_LIST_ORDER``, wrapping round to the top), or None when nothing else is open.

    ``tasks`` is the user's scoped queryset; the list is that of the task's manager.
    """
    candidates = (
        call_tasks(tasks)
        .filter(
            business_date=task.business_date,
            manager_id=task.manager_id,
            state__in=OPEN_STATES,
        )
        .exclude(pk=task.pk)
        .order_by("-priority_score", "id")
        .values_list("pk", flat=True)
    )
    after = candidates.filter(
        Q(priority_score__lt=task.priority_score)
        | Q(priority_score=task.priority_score, pk__gt=task.pk)
    ).first()
    return after if after is not None else candidates.first()


ROW_FIELDS = (
    *("id", "business_date", "priority_score", "risk_probability", "channel", "state"),
    *("customer__name", "customer__msisdn", "manager__manager_id", "manager__name"),
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
            # The manager's name (staff, not personal data of a customer); the ID beside it.
            "manager": r["manager__name"] or r["manager__manager_id"] or "—",
            "manager_id": r["manager__manager_id"] or "",
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


def pk_urls(name: str):
    """pk -> URL of the page ``name`` (one integer argument), for many rows at the cost of one
    ``reverse()``."""
    marker = 987654321
    head, tail = reverse(name, args=[marker]).split(str(marker))
    return lambda pk: f"{head}{int(pk)}{tail}"


def task_detail_urls():
    return pk_urls("web:task-detail")
