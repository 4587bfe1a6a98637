"""Calls: the manager's dial action and the CTI's call results (keycare.tasks.actions)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.core.exceptions import PermissionDenied

from factories import BUSINESS_DATE, make_cti_user, make_manager, make_task, make_user
from keycare.access import roles
from keycare.core.models import AuditEvent
from keycare.core.workflow import IllegalTransitionError, WorkflowError
from keycare.tasks import actions
from keycare.tasks.models import Appointment, CtiCall, Outcome, TaskState

pytestmark = pytest.mark.django_db
START = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


@pytest.fixture
def task(customers):
    return make_task(customers[0], BUSINESS_DATE)


@pytest.fixture
def own_manager(manager):
    return make_user("mgr-own", roles.ROLE_MANAGER, manager=manager)


def test_dial_shows_the_number_once_and_audits_task_and_reason(task, own_manager):
    number = actions.dial_task(
        own_manager,
        task,
        reason="outbound_service",
        note="客户说 13912345678 也可以",
        ip="10.0.0.1",
    )
    assert number == task.customer.msisdn
    event = AuditEvent.objects.get(action="task.dial")
    assert (event.actor, event.object_type, event.object_id) == (
        own_manager,
        "tasks.servicetask",
        str(task.pk),
    )
    assert event.detail["task"] == task.pk and event.detail["reason"] == "outbound_service"
    assert event.detail["fields"] == ["msisdn"] and event.ip == "10.0.0.1"
    assert "13912345678" not in str(event.detail), "the note is scrubbed"
    assert task.customer.msisdn not in str(event.detail)


def test_only_the_tasks_own_manager_may_dial(task, org):
    other = make_user("mgr-other", roles.ROLE_MANAGER, manager=make_manager(org["C025"], "M009"))
    admin = make_user("city", roles.ROLE_CITY_ADMIN, city=org["C025"].city)
    for user in (other, admin):
        with pytest.raises(PermissionDenied):
            actions.dial_task(user, task, reason="outbound_service")
    assert AuditEvent.objects.filter(action="task.dial_denied").count() == 2
    assert not AuditEvent.objects.filter(action="task.dial").exists()


def test_dial_needs_a_known_reason_and_a_short_note(task, own_manager):
    with pytest.raises(WorkflowError, match="拨号理由无效，请从列表中选择"):
        actions.dial_task(own_manager, task, reason="curious")
    with pytest.raises(WorkflowError, match="补充说明过长"):
        actions.dial_task(own_manager, task, reason="callback", note="x" * 201)
    assert not AuditEvent.objects.filter(action="task.dial").exists()


def test_a_handled_task_is_dialled_only_with_a_follow_up_due(task, own_manager):
    task.state = TaskState.HANDLED_NO_CHANGE
    task.save()
    with pytest.raises(IllegalTransitionError, match="不能拨号"):
        actions.dial_task(own_manager, task, reason="callback")
    Appointment.objects.create(
        task=task, customer=task.customer, manager=task.manager, kind="alert", due_at=START
    )
    assert actions.dial_task(own_manager, task, reason="callback") == task.customer.msisdn


def test_dials_are_limited_per_manager_per_day(task, own_manager, settings):
    settings.KEYCARE_DIAL_DAILY_LIMIT = 2
    for _ in range(2):
        actions.dial_task(own_manager, task, reason="outbound_service")
    with pytest.raises(actions.DialLimitReached, match="上限（2 次）"):
        actions.dial_task(own_manager, task, reason="outbound_service")
    assert actions.dials_today(own_manager) == 2
    denied = AuditEvent.objects.get(action="task.dial_denied")
    assert denied.detail["why"] == "daily_limit"


def call(task, cti_call_id="CTI-1", result="reached", **overrides):
    return {
        "cti_call_id": cti_call_id,
        "started_at": START,
        "ended_at": START + timedelta(seconds=95),
        "result": result,
        "recording_ref": "",
        **overrides,
    }


def test_a_call_result_claims_an_unhandled_task_and_records_one_outcome(task):
    cti = make_cti_user()
    made, created = actions.record_call_result(cti, task, **call(task))
    assert created and made.claimed
    task.refresh_from_db()
    assert task.state == TaskState.IN_PROGRESS and task.claimed_by == cti
    outcome = Outcome.objects.get(task=task)
    assert outcome.contact_result == "reached" and "95 秒" in outcome.notes
    assert made.outcome == outcome

    again, created = actions.record_call_result(cti, task, **call(task))
    assert not created and again.pk == made.pk
    assert Outcome.objects.filter(task=task).count() == 1
    assert CtiCall.objects.count() == 1
    assert AuditEvent.objects.filter(action="task.outcome").count() == 1


def test_a_call_id_reported_with_other_facts_is_refused(task):
    cti = make_cti_user()
    actions.record_call_result(cti, task, **call(task))
    with pytest.raises(actions.CtiCallMismatch, match="result"):
        actions.record_call_result(cti, task, **call(task, result="refused"))
    assert Outcome.objects.count() == 1


def test_a_handled_task_takes_no_call_result(task):
    task.state = TaskState.HANDLED_NO_CHANGE
    task.save()
    with pytest.raises(IllegalTransitionError):
        actions.record_call_result(make_cti_user(), task, **call(task))
    assert not Outcome.objects.exists() and not CtiCall.objects.exists()


def test_a_call_ending_before_it_started_is_refused(task):
    with pytest.raises(WorkflowError, match="结束时间"):
        actions.record_call_result(
            make_cti_user(), task, **call(task, ended_at=START - timedelta(seconds=1))
        )
