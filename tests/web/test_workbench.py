"""The manager workbench: today's tasks of the manager's scope, appointments, campaigns, portfolio."""

from datetime import date, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone, translation

from factories import make_moment, make_task
from keycare.access import roles
from keycare.campaigns.models import Campaign, CampaignTask
from keycare.tasks.models import Appointment, ServiceTask, TaskMoment

pytestmark = pytest.mark.django_db
DAY = date(2026, 11, 22)


@pytest.fixture
def world(org, moment, managers, make_customer):
    customers = []
    for n in range(12):
        manager = managers[n % 2]
        customer = make_customer(
            f"S{n:04d}",
            manager,
            msisdn=f"1381234{n:04d}",
            value_tier="mid_high" if n < 8 else "mass",
        )
        customers.append(customer)
        # Yesterday's task (not shown) and today's, with a state spread.
        make_task(customer, DAY - timedelta(days=1), priority_score=1)
        task = make_task(
            customer, DAY, priority_score=n, risk_probability=0.9 if n in (0, 2) else 0.1,
            state=["unhandled", "unhandled", "in_progress", "handled_no_change"][n % 4],
        )  # fmt: skip
        TaskMoment.objects.create(task=task, moment=moment, priority=80)
    return {"managers": managers, "customers": customers}


def test_manager_home_is_the_workbench(client, world, login_as):
    login_as(roles.ROLE_MANAGER, manager=world["managers"][0])
    response = client.get("/")
    assert response.status_code == 302 and response["Location"] == "/workbench/"


def test_today_tasks_ranked_and_counted_in_scope(client, world, login_as):
    login_as(roles.ROLE_MANAGER, manager=world["managers"][0])
    response = client.get("/workbench/")
    assert response.status_code == 200
    ctx = response.context
    assert ctx["day"] == DAY
    scores = [float(row["priority"]) for row in ctx["rows"]]
    assert scores == [10, 8, 6, 4, 2, 0]  # only M1's even customers, today's run, ranked
    counts = {value: n for value, _label, n in ctx["states"]}
    assert counts == {
        "unhandled": 3, "in_progress": 3, "handled_no_change": 0, "handled_new_alert": 0,
    }  # fmt: skip
    portfolio = ctx["portfolio"]
    assert portfolio["customers"] == 6 and portfolio["high_risk"] == 2
    assert dict((v, n) for v, _label, n in portfolio["by_value"]) == {"mid_high": 4, "mass": 2}
    html = response.content.decode()
    assert "张三丰" not in html and "张**" in html and "13812340000" not in html


def test_appointments_due_handled_and_not_yet_due(client, world, login_as):
    manager = world["managers"][0]
    customer = world["customers"][0]
    now = timezone.now()
    for due, done in ((now - timedelta(minutes=1), None), (now + timedelta(days=1), None),
                      (now - timedelta(days=1), now)):  # fmt: skip
        Appointment.objects.create(
            customer=customer, manager=manager, kind="alert", due_at=due, done_at=done
        )
    Appointment.objects.create(  # another manager's: not counted
        customer=world["customers"][1], manager=world["managers"][1], kind="alert", due_at=now
    )
    login_as(roles.ROLE_MANAGER, manager=manager)
    appointments = client.get("/workbench/").context["appointments"]
    assert (appointments["handled"], appointments["due"], appointments["upcoming"]) == (1, 1, 1)
    assert len(appointments["due_rows"]) == 1
    assert appointments["due_rows"][0]["due_at"] <= now


def test_campaigns_with_unfinished_tasks(client, world, login_as):
    manager = world["managers"][0]
    open_campaign = Campaign.objects.create(name="春节关怀", status="active")
    done_campaign = Campaign.objects.create(name="已完成活动", status="active")
    CampaignTask.objects.create(
        campaign=open_campaign, customer=world["customers"][0], manager=manager
    )
    CampaignTask.objects.create(
        campaign=open_campaign, customer=world["customers"][2], manager=manager,
        done_at=timezone.now(),
    )  # fmt: skip
    CampaignTask.objects.create(
        campaign=done_campaign, customer=world["customers"][0], manager=manager,
        done_at=timezone.now(),
    )  # fmt: skip
    login_as(roles.ROLE_MANAGER, manager=manager)
    response = client.get("/workbench/")
    campaigns = response.context["campaigns"]
    assert [(c["campaign__name"], c["open"], c["total"]) for c in campaigns] == [("春节关怀", 1, 2)]
    assert "已完成活动" not in response.content.decode()


def test_query_count_is_bounded(client, world, login_as):
    manager = world["managers"][0]
    login_as(roles.ROLE_MANAGER, manager=manager)
    with CaptureQueriesContext(connection) as small:
        client.get("/workbench/")
    for customer in world["customers"][:6]:
        Appointment.objects.create(
            customer=customer, manager=manager, kind="alert", due_at=timezone.now()
        )
    with CaptureQueriesContext(connection) as larger:
        client.get("/workbench/")
    assert len(small) == len(larger) <= 15  # 3 of them are session and user


def test_empty_scope_renders(client, world, login_as):
    login_as(roles.ROLE_AUDITOR)
    response = client.get("/workbench/")
    assert response.status_code == 200 and response.context["rows"] == []


def test_rows_print_what_the_task_holds(client, world, login_as, moment):
    manager = world["managers"][0]
    task = ServiceTask.objects.get(customer=world["customers"][2], business_date=DAY)
    second = make_moment("Z99", name_zh="", name_en="")  # no name: shown by its code
    TaskMoment.objects.create(task=task, moment=second, priority=90)
    Appointment.objects.create(
        customer=task.customer, manager=manager, task=task, kind="alert",
        due_at=timezone.now() - timedelta(minutes=5),
    )  # fmt: skip
    login_as(roles.ROLE_MANAGER, manager=manager)
    with translation.override("zh-hans"):
        response = client.get("/workbench/")
    row = next(r for r in response.context["rows"] if r["pk"] == task.pk)
    assert row["url"] == reverse("web:task-detail", args=[task.pk])
    assert (row["priority"], row["risk"], row["channel"], row["state"]) == (
        "2.0", "0.90", "外呼", "处理中",
    )  # fmt: skip
    assert row["moments"] == ["Z99 Z99", f"{moment.code} {moment.name_zh}"]  # priority order
    due = response.context["appointments"]["due_rows"][0]
    assert due["url"] == row["url"] and due["kind"] == "预警类预约" and "*" in due["name"]
    html = response.content.decode()
    assert f'href="{row["url"]}"' in html and "Z99 Z99" in html
