"""The task row shared by the manager workbench and the task list: masked customer, the
task's moments, risk, channel, state and manager.

Only the columns a row shows are loaded: a customer has ~140 columns and a moment
definition three JSON documents, and building them for every row was most of the
workbench's query-side cost (docs/performance.md).
"""

from django.db.models import Prefetch

from keycare.access.masking import mask_mobile, mask_name
from keycare.workorders.models import TaskMoment

ROW_FIELDS = (
    *("id", "business_date", "priority_score", "risk_probability", "channel", "state"),
    *("customer", "customer__name", "customer__msisdn", "manager", "manager__manager_id"),
)
MOMENT_FIELDS = ("id", "task", "priority", "moment", "moment__code", "moment__name_zh")


def with_row_columns(tasks):
    """``tasks`` with what a row needs joined or prefetched (a fixed number of queries)."""
    moments = (
        TaskMoment.objects.select_related("moment")
        .only(*MOMENT_FIELDS)
        .order_by("-priority", "moment__code")
    )
    return (
        tasks.select_related("customer", "manager")
        .only(*ROW_FIELDS)
        .prefetch_related(Prefetch("moments", queryset=moments))
    )


def task_rows(tasks) -> list[dict]:
    return [
        {
            "task": task,
            "name": mask_name(task.customer.name),
            "msisdn": mask_mobile(task.customer.msisdn),
            "moments": [m.moment for m in task.moments.all()],
        }
        for task in tasks
    ]
