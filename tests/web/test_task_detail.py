"""The task page: scope, masking, audit, and the claim -> outcome -> handled flow with locking."""

from datetime import date

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from factories import make_department, make_task
from keycare.access import roles
from keycare.core.models import AuditEvent
from keycare.org.models import Department
from keycare.tasks.models import Appointment, Outcome, TaskMoment, TaskState
from keycare.workorders.models import WorkOrder

pytestmark = pytest.mark.django_db
DAY = date(2026, 11, 22)


@pytest.fixture
def world(org, moment, managers, make_customer):
    tasks = []
    for n, manager in enumerate(managers):
        customer = make_customer(
            f"S{n:04d}", manager, msisdn=f"1381234567{n}", name="欧阳修文",
            id_number=f"32010219800517123{n}", gender="M", birth_date=date(1980, 5, 17),
            attributes={"email": "ouyang@example.com", "plan_5g": True},
        )  # fmt: skip
        task = make_task(
            customer, DAY, priority_score=90, risk_probability=0.72, risk_reasons=["账单下降 35%"],
            health_scores={"消费": 60, "通话": 45, "流量": 80, "缴费": 90, "交往圈": 30},
        )  # fmt: skip
        TaskMoment.objects.create(task=task, moment=moment, priority=80, explanation="账单下降")
        tasks.append(task)
    make_department("NET", "网络维护部")
    return {"managers": managers, "tasks": tasks}


def messages_of(response):
    return [str(m) for m in response.context["messages"]]


def test_manager_flow_open_claim_outcome_handled(client, world, login_as):
    login_as(roles.ROLE_MANAGER, manager=world["managers"][0])
    task = world["tasks"][0]
    url = f"/tasks/{task.pk}/"
    assert client.get(url).status_code == 200

    response = client.post(url, {"action": "claim", "version": 1}, follow=True)
    assert "已领取任务" in " ".join(messages_of(response))
    task.refresh_from_db()
    assert task.state == TaskState.IN_PROGRESS

    response = client.post(
        url,
        {"action": "outcome", "version": task.version, "contact_result": "reached",
         "recommendation": "accepted", "notes": "客户同意升级套餐", "finish": "no_change"},
        follow=True,
    )  # fmt: skip
    assert "任务已完成处理" in " ".join(messages_of(response))
    task.refresh_from_db()
    assert task.state == TaskState.HANDLED_NO_CHANGE
    outcome = Outcome.objects.get(task=task)
    assert (outcome.contact_result, outcome.recommendation) == ("reached", "accepted")
    assert "客户同意升级套餐" in response.content.decode()  # shown under contacts


def test_stale_version_is_refused_and_nothing_changes(client, world, login_as):
    login_as(roles.ROLE_MANAGER, manager=world["managers"][0])
    task = world["tasks"][0]
    url = f"/tasks/{task.pk}/"
    client.post(url, {"action": "claim", "version": 1})
    # A second tab still holds version 1 and tries to finish the task.
    response = client.post(
        url,
        {"action": "outcome", "version": 1, "contact_result": "reached", "finish": "no_change"},
        follow=True,
    )
    assert any("已被他人更新" in m for m in messages_of(response))
    task.refresh_from_db()
    assert task.state == TaskState.IN_PROGRESS and task.version == 2
    assert not Outcome.objects.exists()


def test_illegal_transition_and_bad_input_become_messages(client, world, login_as):
    login_as(roles.ROLE_MANAGER, manager=world["managers"][0])
    task = world["tasks"][0]
    url = f"/tasks/{task.pk}/"
    # Completing an unclaimed task is refused.
    response = client.post(
        url, {"action": "outcome", "version": 1, "contact_result": "reached", "finish": "no_change"},
        follow=True,
    )  # fmt: skip
    assert any("不能" in m for m in messages_of(response))
    client.post(url, {"action": "claim", "version": 1})
    bad_posts = [
        {"action": "appointment", "version": 2, "kind": "alert", "due_at": "2026-02-30T10:00"},
        {"action": "appointment", "version": "x", "kind": "alert", "due_at": "2026-12-01T10:00"},
        {"action": "workorder", "version": 2, "department": "999", "title": "t"},
        {"action": "workorder", "version": 2, "department": "'; drop", "title": "t"},
        {"action": "outcome", "version": 2, "contact_result": "maybe"},
        {"action": "explode", "version": 2},
    ]
    for data in bad_posts:
        response = client.post(url, data, follow=True)
        assert response.status_code == 200
        assert any(m for m in messages_of(response))
    task.refresh_from_db()
    assert task.version == 2
    assert not Appointment.objects.exists() and not WorkOrder.objects.exists()
    assert client.get("/tasks/999999/").status_code == 404


def test_appointment_and_work_order_from_the_task(client, world, login_as):
    login_as(roles.ROLE_MANAGER, manager=world["managers"][0])
    task = world["tasks"][0]
    url = f"/tasks/{task.pk}/"
    client.post(url, {"action": "claim", "version": 1})
    client.post(url, {"action": "appointment", "version": 2, "kind": "care_marketing",
                      "due_at": "2026-12-01T10:30"})  # fmt: skip
    appointment = Appointment.objects.get()
    assert appointment.kind == "care_marketing" and appointment.manager == world["managers"][0]
    department = Department.objects.get()
    response = client.post(
        url,
        {"action": "workorder", "version": 3, "department": department.pk, "priority": "high",
         "title": "信号差投诉"},
        follow=True,
    )  # fmt: skip
    assert any("已派发工单" in m for m in messages_of(response))
    assert WorkOrder.objects.get().department == department


def test_other_managers_task_is_404_for_view_and_post(client, world, login_as):
    login_as(roles.ROLE_MANAGER, manager=world["managers"][0])
    other = world["tasks"][1]
    assert client.get(f"/tasks/{other.pk}/").status_code == 404
    assert client.post(f"/tasks/{other.pk}/", {"action": "claim", "version": 1}).status_code == 404
    other.refresh_from_db()
    assert other.state == TaskState.UNHANDLED


def test_auditor_cannot_open_a_task(client, world, login_as):
    login_as(roles.ROLE_AUDITOR)
    assert client.get(f"/tasks/{world['tasks'][0].pk}/").status_code == 404


def test_360_is_masked_and_grouped(client, world, login_as):
    login_as(roles.ROLE_MANAGER, manager=world["managers"][0])
    html = client.get(f"/tasks/{world['tasks'][0].pk}/").content.decode()
    assert "欧阳修文" not in html and "欧阳**" in html
    assert "13812345670" not in html and "138****5670" in html
    assert "320102198005171230" not in html
    assert "ouyang@example.com" not in html
    assert "1980-05-17" not in html
    assert "基本信息" in html and "品牌资费" in html  # catalog categories
    assert "<dd>是</dd>" in html  # plan_5g shown as 是, not True
    assert 'id="health-radar-data"' in html and "echarts" in html
    assert "欧先生您好" in html  # the script, filled with the masked salutation


def test_viewing_writes_an_audit_event(client, world, login_as):
    user = login_as(roles.ROLE_MANAGER, manager=world["managers"][0])
    task = world["tasks"][0]
    client.get(f"/tasks/{task.pk}/")
    event = AuditEvent.objects.get(action="view_customer")
    assert event.actor == user and event.object_id == str(task.customer_id)


def test_detail_query_count_is_bounded(client, world, login_as):
    login_as(roles.ROLE_PROVINCE_ADMIN)
    task = world["tasks"][0]
    for n in range(5):
        Outcome.objects.create(task=task, contact_result="not_reached", notes=f"第{n}次")
    with CaptureQueriesContext(connection) as queries:
        assert client.get(f"/tasks/{task.pk}/").status_code == 200
    assert len(queries) <= 15


@pytest.mark.parametrize(
    ("language", "label", "yes"), [("zh-hans", "是否5G套餐", "是"), ("en", "5G plan", "Yes")]
)
def test_customer_360_speaks_the_request_language(client, world, login_as, language, label, yes):
    login_as(roles.ROLE_MANAGER, manager=world["managers"][0])
    client.cookies["django_language"] = language
    html = client.get(f"/tasks/{world['tasks'][0].pk}/").content.decode()
    assert f'<dt title="plan_5g">{label}</dt><dd>{yes}</dd>' in html
