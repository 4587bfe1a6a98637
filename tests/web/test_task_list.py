"""The task list: scoped per role, masked, paginated, a bounded number of queries."""

from datetime import date

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from keycare.access import roles
from keycare.tasks.models import ServiceTask, TaskMoment

pytestmark = pytest.mark.django_db
DAY = date(2026, 11, 22)


@pytest.fixture
def world(org, moment, managers, make_customer):
    for n in range(60):
        manager = managers[n % 2]
        customer = make_customer(
            f"S{n:04d}",
            manager,
            msisdn=f"1381234{n:04d}",
            name="欧阳修文",
            birth_date=date(1980, 5, 17),
        )
        task = ServiceTask.objects.create(
            customer=customer, manager=manager, business_date=DAY, priority_score=n, channel="call"
        )
        TaskMoment.objects.create(task=task, moment=moment, priority=80)
    return managers


def test_manager_sees_only_their_portfolio_masked(client, world, login_as):
    login_as(roles.ROLE_MANAGER, manager=world[0])
    response = client.get("/tasks/")
    html = response.content.decode()
    assert response.status_code == 200
    assert "共 30 条" in html
    assert "欧阳**" in html and "欧阳修文" not in html
    assert "138****0000" in html and "13812340000" not in html
    assert "13812340001" not in html and "138****0001" not in html  # the other manager's


def test_auditor_sees_no_tasks(client, world, login_as):
    login_as(roles.ROLE_AUDITOR)
    assert "共 0 条" in client.get("/tasks/").content.decode()


def test_query_count_does_not_grow_with_the_page(client, world, login_as):
    login_as(roles.ROLE_PROVINCE_ADMIN)
    with CaptureQueriesContext(connection) as first:
        client.get("/tasks/?page=1")
    with CaptureQueriesContext(connection) as second:
        client.get("/tasks/?page=2")
    assert len(first) == len(second) <= 12


def test_filters_and_bad_input(client, world, login_as):
    login_as(roles.ROLE_PROVINCE_ADMIN)
    assert "共 0 条" in client.get("/tasks/?state=in_progress").content.decode()
    for hostile in ("2026-02-30", "<script>", "' OR 1=1 --"):
        response = client.get("/tasks/", {"date": hostile, "state": hostile, "page": hostile})
        assert response.status_code == 200
        assert "<script>" not in response.content.decode().split("<main>")[1]


def test_anonymous_is_sent_to_login(client, world):
    response = client.get("/tasks/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_state_counts_and_total_follow_the_date_filter(client, world, login_as):
    other_day = date(2026, 11, 21)
    for task, state in zip(
        ServiceTask.objects.all()[:2], ("unhandled", "in_progress"), strict=True
    ):
        ServiceTask.objects.create(
            customer=task.customer, manager=task.manager, business_date=other_day, state=state,
            channel="call",
        )  # fmt: skip
    login_as(roles.ROLE_PROVINCE_ADMIN)
    everything = client.get("/tasks/")
    assert everything.context["page"].paginator.count == 62
    day = client.get("/tasks/", {"date": "2026-11-21"})
    states = {value: n for value, _label, n in day.context["states"]}
    assert states["unhandled"] == 1 and states["in_progress"] == 1 and sum(states.values()) == 2
    assert day.context["page"].paginator.count == 2
    assert 'href="?state=in_progress&amp;date=2026-11-21"' in day.content.decode()
    one_state = client.get("/tasks/", {"date": "2026-11-21", "state": "in_progress"})
    assert one_state.context["page"].paginator.count == 1
    assert [r["state"] for r in one_state.context["rows"]] == ["处理中"]
