"""The task state machine: legal path, refused transitions, optimistic locking, audit."""

from datetime import timedelta

import pytest
from django.utils import timezone

from factories import BUSINESS_DATE, make_department, make_manager, make_task
from keycare.campaigns import actions as campaign_actions
from keycare.core import workflow
from keycare.core.models import AuditEvent
from keycare.tasks import actions as task_actions
from keycare.tasks.models import Appointment, Outcome, ServiceTask, TaskMoment, TaskState
from keycare.workorders import actions as workorder_actions
from keycare.workorders.models import WorkOrder, WorkOrderStatus

pytestmark = pytest.mark.django_db


@pytest.fixture
def task(customers, manager, moments):
    task = make_task(customers[0], BUSINESS_DATE, priority_score=72.5)
    TaskMoment.objects.create(task=task, moment=moments["A03"], priority=80)
    return task


def test_legal_path_unhandled_to_handled(task, user):
    task_actions.claim_task(user, task)
    assert task.state == TaskState.IN_PROGRESS and task.claimed_by == user and task.version == 2
    task_actions.record_outcome(
        user, task, contact_result="reached", recommendation="accepted", notes="ok"
    )
    task_actions.complete_task(user, task)
    task.refresh_from_db()
    assert task.state == TaskState.HANDLED_NO_CHANGE
    assert task.handled_at is not None and task.version == 4
    assert Outcome.objects.get(task=task).recommendation == "accepted"
    logged = list(
        AuditEvent.objects.filter(object_id=str(task.pk)).values_list("action", flat=True)
    )
    assert sorted(logged) == ["task.claim", "task.complete", "task.outcome"]


def test_complete_with_outcome_in_one_step(task, user):
    task_actions.claim_task(user, task)
    task_actions.complete_task(user, task, outcome={"contact_result": "not_reached"})
    assert task.state == TaskState.HANDLED_NO_CHANGE
    assert Outcome.objects.get(task=task).contact_result == "not_reached"


@pytest.mark.parametrize(
    "action",
    [
        lambda u, t: task_actions.complete_task(u, t),
        lambda u, t: task_actions.record_outcome(u, t, contact_result="reached"),
        lambda u, t: task_actions.create_appointment(u, t, kind="alert", due_at=timezone.now()),
    ],
    ids=["complete", "outcome", "appointment"],
)
def test_illegal_transitions_from_unhandled_are_refused(task, user, action):
    with pytest.raises(workflow.IllegalTransitionError, match="未处理"):
        action(user, task)
    task.refresh_from_db()
    assert (task.state, task.version) == (TaskState.UNHANDLED, 1)
    assert not Outcome.objects.exists() and not Appointment.objects.exists()
    assert not AuditEvent.objects.exists()


def test_handled_task_cannot_be_claimed_or_completed_again(task, user):
    task_actions.claim_task(user, task)
    task_actions.complete_task(user, task)
    with pytest.raises(workflow.IllegalTransitionError):
        task_actions.claim_task(user, task)
    with pytest.raises(workflow.IllegalTransitionError):
        task_actions.complete_task(user, task)
    task.refresh_from_db()
    assert task.state == TaskState.HANDLED_NO_CHANGE


def test_two_concurrent_completes_one_wins_the_other_is_told(task, user, other_user):
    task_actions.claim_task(user, task)
    tab_a = ServiceTask.objects.get(pk=task.pk)
    tab_b = ServiceTask.objects.get(pk=task.pk)  # same version, loaded in another tab
    task_actions.complete_task(user, tab_a, outcome={"contact_result": "reached"})
    with pytest.raises(workflow.StaleTaskError, match="已被他人更新"):
        task_actions.complete_task(other_user, tab_b, outcome={"contact_result": "refused"})
    task.refresh_from_db()
    assert task.state == TaskState.HANDLED_NO_CHANGE and task.version == 3
    assert list(Outcome.objects.values_list("contact_result", flat=True)) == ["reached"]
    assert AuditEvent.objects.filter(action="task.complete").count() == 1


def test_version_from_a_form_is_checked(task, user):
    task_actions.claim_task(user, task, version=1)
    with pytest.raises(workflow.StaleTaskError):
        task_actions.complete_task(user, task, version=1)
    task_actions.complete_task(user, task, version=2)
    assert task.state == TaskState.HANDLED_NO_CHANGE


def test_invalid_outcome_changes_nothing(task, user):
    task_actions.claim_task(user, task)
    with pytest.raises(workflow.WorkflowError, match="接触结果"):
        task_actions.complete_task(user, task, outcome={"contact_result": "maybe"})
    task.refresh_from_db()
    assert task.state == TaskState.IN_PROGRESS and task.version == 2


def test_appointment_created_and_completed_once(task, user):
    task_actions.claim_task(user, task)
    due = timezone.now() + timedelta(days=2)
    appointment = task_actions.create_appointment(
        user, task, kind="care_marketing", due_at=due, notes="回访"
    )
    assert appointment.manager_id == task.manager_id and appointment.customer_id == task.customer_id
    task_actions.complete_appointment(user, appointment)
    assert appointment.done_at is not None
    with pytest.raises(workflow.StaleTaskError):
        task_actions.complete_appointment(user, appointment)


def test_work_order_sla_escalation_and_report_back(task, user):
    department = make_department("NET", "网络部")
    task_actions.claim_task(user, task)
    order = workorder_actions.create_work_order(
        user, task, department=department, title="信号差", priority="urgent"
    )
    assert order.due_at - order.created_at == pytest.approx(
        timedelta(hours=4), abs=timedelta(seconds=5)
    )
    assert (
        workorder_actions.escalate_overdue_work_orders(now=timezone.now() + timedelta(hours=5)) == 1
    )
    order.refresh_from_db()
    assert order.status == WorkOrderStatus.ESCALATED and order.escalated_at is not None
    workorder_actions.close_work_order(user, order, resolution="已调整基站")
    task.refresh_from_db()
    assert WorkOrder.objects.get().status == WorkOrderStatus.CLOSED
    assert "已调整基站" in task.feedback
    with pytest.raises(workflow.IllegalTransitionError):
        workorder_actions.close_work_order(user, order, resolution="again")


def test_campaign_assigns_customers_and_tasks_complete_once(customers, manager, org, user):
    from keycare.campaigns.models import CampaignTask
    from keycare.customers.models import Customer

    helper = make_manager(org["C025"], "M002", name="赵经理", mobile="13800000002")
    Customer.objects.filter(pk=customers[4].pk).update(manager=None)
    campaign = campaign_actions.create_campaign(
        user, name="宽带融合", customers=Customer.objects.all(), managers=[manager, helper]
    )
    by_manager = dict(
        CampaignTask.objects.filter(campaign=campaign).values_list(
            "customer_id", "manager__manager_id"
        )
    )
    assert by_manager[customers[0].pk] == "M001" and by_manager[customers[4].pk] == "M002"
    ctask = CampaignTask.objects.get(campaign=campaign, customer=customers[0])
    stale = CampaignTask.objects.get(pk=ctask.pk)
    campaign_actions.complete_campaign_task(
        user, ctask, contact_result="reached", recommendation="accepted"
    )
    with pytest.raises(workflow.StaleTaskError):
        campaign_actions.complete_campaign_task(user, stale, contact_result="refused")
    assert CampaignTask.objects.get(pk=ctask.pk).recommendation == "accepted"
