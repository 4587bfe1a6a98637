"""Work orders: SLA per priority, escalation by `keycare escalate` (cron), closure reported back."""

import json
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from factories import BUSINESS_DATE, make_department, make_task
from keycare.core import workflow
from keycare.core.models import AuditEvent
from keycare.tasks import actions as task_actions
from keycare.workorders import actions as workorder_actions
from keycare.workorders.models import SLA_BY_PRIORITY, WorkOrder, WorkOrderStatus

pytestmark = pytest.mark.django_db


@pytest.fixture
def task(customers, manager, user):
    task = make_task(customers[0], BUSINESS_DATE)
    task_actions.claim_task(user, task)
    return task


@pytest.fixture
def department(db):
    return make_department("NET", "网络部")


def _escalate(*args):
    out = StringIO()
    call_command("escalate", *args, "--json", stdout=out)
    return json.loads(out.getvalue())


@pytest.mark.parametrize("priority", ["urgent", "high", "normal", "low"])
def test_sla_clock_follows_priority(task, user, department, priority):
    order = workorder_actions.create_work_order(
        user, task, department=department, title="信号差", priority=priority
    )
    assert order.due_at - order.created_at == pytest.approx(
        SLA_BY_PRIORITY[priority], abs=timedelta(seconds=5)
    )


def test_escalate_command_escalates_overdue_once(task, user, department):
    urgent = workorder_actions.create_work_order(
        user, task, department=department, title="a", priority="urgent"
    )
    normal = workorder_actions.create_work_order(
        user, task, department=department, title="b", priority="normal"
    )
    closed = workorder_actions.create_work_order(
        user, task, department=department, title="c", priority="urgent"
    )
    workorder_actions.close_work_order(user, closed, resolution="已处理")
    later = (timezone.now() + timedelta(hours=5)).isoformat()
    assert _escalate()["escalated"] == 0  # nothing is overdue yet
    assert _escalate("--now", later)["escalated"] == 1
    assert _escalate("--now", later)["escalated"] == 0  # idempotent: escalated once
    urgent.refresh_from_db()
    normal.refresh_from_db()
    assert urgent.status == WorkOrderStatus.ESCALATED and urgent.escalated_at is not None
    assert normal.status == WorkOrderStatus.OPEN
    assert WorkOrder.objects.get(pk=closed.pk).status == WorkOrderStatus.CLOSED
    event = AuditEvent.objects.get(action="workorder.escalate")
    assert event.object_id == str(urgent.pk) and event.actor is None


def test_escalate_command_refuses_a_bad_time(db):
    with pytest.raises(CommandError, match="not an ISO date-time"):
        call_command("escalate", "--now", "yesterday", stdout=StringIO())


def test_escalated_order_is_closed_and_reported_back(task, user, department):
    order = workorder_actions.create_work_order(
        user, task, department=department, title="a", priority="urgent"
    )
    workorder_actions.start_work_order(user, order)
    workorder_actions.escalate_overdue_work_orders(now=timezone.now() + timedelta(hours=5))
    order.refresh_from_db()
    workorder_actions.close_work_order(user, order, resolution="已调整基站参数")
    task.refresh_from_db()
    assert f"WO-{order.pk}" in task.feedback and "已调整基站参数" in task.feedback
    with pytest.raises(workflow.WorkflowError, match="请填写处理结果"):
        workorder_actions.close_work_order(user, order, resolution="  ")


def test_stale_version_is_refused(task, user, department):
    order = workorder_actions.create_work_order(user, task, department=department, title="a")
    stale_version = order.version
    workorder_actions.start_work_order(user, order)
    with pytest.raises(workflow.StaleTaskError, match="已被他人更新"):
        workorder_actions.close_work_order(user, order, resolution="x", version=stale_version)
