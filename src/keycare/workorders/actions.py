"""Work-order actions: raise one from a task, take it, close it (reported back on the task),
and escalate the overdue. Each takes the acting user, runs in one transaction and writes the
audit event; changes are optimistic-locked (``keycare.core.workflow.versioned_update``).
"""

from __future__ import annotations

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from keycare.core.audit import record
from keycare.core.workflow import WorkflowError, check_choice, user_or_none, versioned_update
from keycare.keyaccounts import standards
from keycare.org.models import Department
from keycare.tasks.actions import FOLLOW_UP_STATES, transition
from keycare.tasks.models import ServiceTask
from keycare.workorders.models import WorkOrder, WorkOrderPriority, WorkOrderStatus


def create_work_order(
    actor,
    task: ServiceTask,
    *,
    department: Department,
    title: str,
    description: str = "",
    priority: str = WorkOrderPriority.NORMAL,
    version: int | None = None,
    fault_class: str = "",
) -> WorkOrder:
    """Route a request from a task to a department queue, with its SLA clock started.

    A group member's order takes its SLA from the group's tier service standard for the fault
    class (by default the priority's); any other order the priority's SLA."""
    check_choice(priority, WorkOrderPriority, "工单优先级")
    if not title.strip():
        raise WorkflowError("请填写工单标题")
    now = timezone.now()
    sla = standards.group_sla(task.customer_id, priority, fault_class, now) or {
        "due_at": WorkOrder.sla_due(priority, now)
    }
    with transaction.atomic():
        transition(task, version, from_states=FOLLOW_UP_STATES, action="派发工单")
        order = WorkOrder.objects.create(
            task=task,
            customer_id=task.customer_id,
            department=department,
            priority=priority,
            title=title.strip(),
            description=description,
            created_by=user_or_none(actor),
            **sla,
        )
        record(
            actor,
            "workorder.create",
            order,
            task=task.pk,
            department=department.code,
            priority=priority,
            sla_tier=order.sla_tier,
            fault_class=order.fault_class,
        )
    return order


def start_work_order(actor, order: WorkOrder, *, version: int | None = None) -> WorkOrder:
    """open -> in_progress: the department takes the order."""
    with transaction.atomic():
        _update_order(
            order, version, (WorkOrderStatus.OPEN,), "受理", status=WorkOrderStatus.IN_PROGRESS
        )
        record(actor, "workorder.start", order)
    return order


def close_work_order(
    actor, order: WorkOrder, *, resolution: str, version: int | None = None
) -> WorkOrder:
    """Close the order with its resolution and report it back on the task (闭环)."""
    if not resolution.strip():
        raise WorkflowError("请填写处理结果")
    now = timezone.now()
    open_states = (WorkOrderStatus.OPEN, WorkOrderStatus.IN_PROGRESS, WorkOrderStatus.ESCALATED)
    with transaction.atomic():
        _update_order(
            order,
            version,
            open_states,
            "关闭",
            status=WorkOrderStatus.CLOSED,
            closed_at=now,
            resolution=resolution.strip(),
            closed_by=user_or_none(actor),
        )
        if order.task_id:
            _report_back(order, now)
        record(actor, "workorder.close", order, resolution=resolution.strip())
    return order


def escalate_overdue_work_orders(actor=None, *, now=None) -> int:
    """Escalate every open order whose SLA has passed; returns how many were escalated."""
    now = now or timezone.now()
    with transaction.atomic():
        overdue = WorkOrder.objects.select_for_update().filter(
            status__in=(WorkOrderStatus.OPEN, WorkOrderStatus.IN_PROGRESS), due_at__lt=now
        )
        ids = list(overdue.values_list("pk", flat=True))
        WorkOrder.objects.filter(pk__in=ids).update(
            status=WorkOrderStatus.ESCALATED,
            escalated_at=now,
            updated_at=now,
            version=F("version") + 1,
        )
        for pk in ids:
            record(
                actor, "workorder.escalate", object_type="workorders.workorder", object_id=str(pk)
            )
    return len(ids)


def _update_order(order: WorkOrder, version, from_states, action: str, **fields) -> None:
    versioned_update(
        order,
        version,
        state_field="status",
        from_states=from_states,
        action=action,
        noun="工单",
        **fields,
    )


def _report_back(order: WorkOrder, now) -> None:
    """Append the closure to the task's feedback; not a task transition, so no version bump."""
    line = f"[{timezone.localtime(now):%Y-%m-%d %H:%M}] 工单 WO-{order.pk}（{order.department}）已关闭：{order.resolution}"
    task = ServiceTask.objects.select_for_update().get(pk=order.task_id)
    feedback = f"{task.feedback}\n{line}".strip()
    ServiceTask.objects.filter(pk=task.pk).update(feedback=feedback)
