"""拨号 on the task page: the task's own manager shows the number once, with a reason; audited,
rate-limited, never cached, never on another page."""

from __future__ import annotations

import pytest

from factories import (
    BUSINESS_DATE,
    make_manager,
    make_org,
    make_task,
    make_user,
    numbered_customer,
)
from keycare.access import roles
from keycare.core.models import AuditEvent
from keycare.tasks.models import TaskState

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(db):
    org = make_org()
    own, other = make_manager(org["C025"], "M001"), make_manager(org["C025"], "M002")
    task = make_task(numbered_customer(org, 1, own), BUSINESS_DATE)
    foreign = make_task(numbered_customer(org, 2, other), BUSINESS_DATE)
    return {
        "org": org,
        "task": task,
        "foreign": foreign,
        "manager": make_user("mgr1", roles.ROLE_MANAGER, manager=own),
        "city_admin": make_user("city1", roles.ROLE_CITY_ADMIN, city=org["C025"].city),
    }


def dial(client, task, reason="outbound_service", follow=False, **extra):
    return client.post(f"/tasks/{task.pk}/dial/", {"reason": reason, **extra}, follow=follow)


def test_the_task_page_offers_the_dial_form_to_its_manager_only(client, world):
    client.force_login(world["manager"])
    page = client.get(f"/tasks/{world['task'].pk}/").content.decode()
    assert 'id="form-dial"' in page and f'action="/tasks/{world["task"].pk}/dial/"' in page
    assert "外呼服务" in page and "预约回访" in page
    assert world["task"].customer.msisdn not in page
    client.force_login(world["city_admin"])
    assert 'id="form-dial"' not in client.get(f"/tasks/{world['task'].pk}/").content.decode()


def test_dial_shows_the_number_with_a_tel_link_once_and_audits_it(client, world):
    client.force_login(world["manager"])
    task, number = world["task"], world["task"].customer.msisdn
    response = dial(client, task, reason="callback", note="约定今天下午回访")
    assert response.status_code == 200
    page = response.content.decode()
    assert f'href="tel:{number}"' in page and "预约回访" in page
    assert "no-store" in response["Cache-Control"]
    event = AuditEvent.objects.get(action="task.dial")
    assert event.detail["task"] == task.pk and event.detail["reason"] == "callback"
    assert event.detail["note"] == "约定今天下午回访" and event.actor == world["manager"]

    # Not kept anywhere: the task page, a GET of the dial URL, the workbench show it masked.
    for url in (f"/tasks/{task.pk}/", "/workbench/", "/tasks/"):
        assert number not in client.get(url).content.decode(), url
    again = client.get(f"/tasks/{task.pk}/dial/")
    assert again.status_code == 302 and again["Location"] == f"/tasks/{task.pk}/"
    assert AuditEvent.objects.filter(action="task.dial").count() == 1


def test_dial_is_rate_limited_per_manager_per_day(client, world, settings):
    settings.KEYCARE_DIAL_DAILY_LIMIT = 1
    client.force_login(world["manager"])
    assert dial(client, world["task"]).status_code == 200
    response = dial(client, world["task"])
    assert response.status_code == 302
    followed = client.get(response["Location"])
    text = followed.content.decode()
    assert "今日拨号次数已达上限" in text and world["task"].customer.msisdn not in text
    assert "disabled" in text.split('id="form-dial"')[1].split("</form>")[0]
    assert AuditEvent.objects.filter(action="task.dial").count() == 1
    assert AuditEvent.objects.filter(action="task.dial_denied").count() == 1


def test_bad_reason_shows_no_number(client, world):
    client.force_login(world["manager"])
    response = dial(client, world["task"], reason="<script>13912345678", follow=True)
    text = response.content.decode()
    assert "拨号理由无效" in text and "13912345678" not in text, "the typed value is not echoed"
    assert world["task"].customer.msisdn not in text
    assert not AuditEvent.objects.filter(action="task.dial").exists()


def test_others_cannot_dial(client, world):
    client.force_login(world["manager"])
    assert dial(client, world["foreign"]).status_code == 404, "another manager's task"
    client.force_login(world["city_admin"])
    assert dial(client, world["task"]).status_code == 403, "in scope, but not the task's manager"
    assert AuditEvent.objects.filter(action="task.dial_denied").count() == 1
    client.logout()
    assert dial(client, world["task"]).status_code == 302  # to the login page
    assert not AuditEvent.objects.filter(action="task.dial").exists()


def test_a_closed_task_without_follow_up_cannot_be_dialled(client, world):
    task = world["task"]
    task.state = TaskState.HANDLED_NO_CHANGE
    task.save()
    client.force_login(world["manager"])
    assert 'id="form-dial"' not in client.get(f"/tasks/{task.pk}/").content.decode()
    text = dial(client, task, follow=True).content.decode()
    assert "不能拨号" in text and task.customer.msisdn not in text
