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
from keycare.errors import UserError
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


@pytest.mark.parametrize(
    ("tier", "priority", "fault", "restore_hours", "response_minutes"),
    [("A1", "urgent", "", 2, 15), ("C", "normal", "critical", 12, 120), ("B2", "low", "", 48, 480)],
)
def test_a_group_members_order_takes_its_sla_from_the_tier_standard(
    task, user, department, tier, priority, fault, restore_hours, response_minutes
):
    from factories import make_key_account
    from keycare.keyaccounts.models import KeyAccountMember

    group = make_key_account(task.customer.city, "K900", tier=tier)
    KeyAccountMember.objects.create(
        key_account=group, customer=task.customer, role="member", joined_date="2020-01-01"
    )
    order = workorder_actions.create_work_order(
        user, task, department=department, title="专线中断", priority=priority, fault_class=fault
    )
    assert (order.sla_tier, order.sla_standards_version) == (tier, 0)
    assert order.fault_class == (fault or {"urgent": "critical", "low": "minor"}[priority])
    assert order.due_at - order.created_at == pytest.approx(
        timedelta(hours=restore_hours), abs=timedelta(seconds=5)
    )
    assert order.response_due_at - order.created_at == pytest.approx(
        timedelta(minutes=response_minutes), abs=timedelta(seconds=5)
    )


def test_a_published_standard_sets_the_sla_of_the_next_group_order(task, user, department):
    import copy

    from factories import make_key_account
    from keycare.keyaccounts import standards
    from keycare.keyaccounts.actions import publish_standards
    from keycare.keyaccounts.models import KeyAccountMember

    group = make_key_account(task.customer.city, "K901", tier="A1")
    KeyAccountMember.objects.create(
        key_account=group, customer=task.customer, role="member", joined_date="2020-01-01"
    )
    data = copy.deepcopy(standards.default_standards())
    data["tiers"]["A1"]["restore_hours"]["major"] = 3
    publish_standards(user, data, note="A1 二级故障 3 小时")
    order = workorder_actions.create_work_order(
        user, task, department=department, title="a", priority="high"
    )
    assert (order.sla_standards_version, order.fault_class) == (1, "major")
    assert order.due_at - order.created_at == pytest.approx(
        timedelta(hours=3), abs=timedelta(seconds=5)
    )
    event = AuditEvent.objects.filter(action="workorder.create").latest("pk")
    assert event.detail["sla_tier"] == "A1"


def test_an_unknown_fault_class_is_refused(task, user, department):
    from factories import make_key_account
    from keycare.keyaccounts.models import KeyAccountMember

    group = make_key_account(task.customer.city, "K902", tier="A1")
    KeyAccountMember.objects.create(
        key_account=group, customer=task.customer, role="member", joined_date="2020-01-01"
    )
    with pytest.raises(UserError, match="未知的故障等级"):
        workorder_actions.create_work_order(
            user, task, department=department, title="a", fault_class="bogus"
        )
    assert not WorkOrder.objects.exists()
