"""The task list: scoped per role, masked, paginated, a bounded number of queries."""

from datetime import date

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from factories import make_task
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
        task = make_task(customer, DAY, priority_score=n)
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
        make_task(task.customer, other_day, state=state)
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


def test_filters_by_manager_and_moment_and_shows_names(client, world, login_as, org):
    from factories import make_moment

    other = make_moment("A01", name_zh="客户投诉")
    first = ServiceTask.objects.filter(manager=world[0]).order_by("id").first()
    TaskMoment.objects.create(task=first, moment=other, priority=90)
    login_as(roles.ROLE_PROVINCE_ADMIN)
    response = client.get(f"/tasks/?manager={world[1].manager_id}&date=2026-11-22")
    html = response.content.decode()
    assert "共 30 条" in html
    assert {r["manager"] for r in response.context["rows"]} == {world[1].name}
    assert world[1].name in html and f'title="{world[1].manager_id}"' in html
    response = client.get("/tasks/?moment=a01")
    assert [r["pk"] for r in response.context["rows"]] == [first.pk]
    html = response.content.decode()
    assert "A01 客户投诉" in html and 'id="active-filters"' in html
    # The tabs keep the filters; an unknown manager lists nothing rather than everything.
    assert "&amp;moment=A01" in html or "&moment=A01" in html
    assert "共 0 条" in client.get("/tasks/?manager=NOPE").content.decode()


def test_a_manager_gets_no_manager_filter(client, world, login_as):
    login_as(roles.ROLE_MANAGER, manager=world[0])
    response = client.get("/tasks/")
    assert response.context["manager_choices"] == []
    assert 'id="filter-moment"' in response.content.decode()
