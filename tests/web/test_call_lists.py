"""Call lists (issue 16): SMS tasks never enter a manager's call list nor its capacity, a
finished task leaves the top of today's list, the task page opens the next open task, and
处理后有新预警 is no manual choice."""

from datetime import date

import pytest

from factories import make_customer, make_manager, make_org, make_task, make_user
from keycare.access import roles
from keycare.tasks.models import ServiceTask, TaskState

pytestmark = pytest.mark.django_db
DAY = date(2026, 11, 22)


@pytest.fixture
def world(db):
    places = make_org()
    nanjing, suzhou = places["C025"], places["C0512"]
    own = make_manager(nanjing, "M001", daily_capacity=2)
    colleague = make_manager(nanjing, "M002")
    elsewhere = make_manager(suzhou, "M003")
    tasks = {}
    # Own call tasks by priority; the best one is already handled.
    for n, (score, state) in enumerate(
        [(95, TaskState.HANDLED_NO_CHANGE), (90, TaskState.UNHANDLED),
         (80, TaskState.IN_PROGRESS), (80, TaskState.UNHANDLED), (10, TaskState.UNHANDLED)]
    ):  # fmt: skip
        customer = make_customer(nanjing, f"S{n:03d}", own)
        tasks[score, n] = make_task(customer, DAY, priority_score=score, state=state)
    sms = make_task(make_customer(nanjing, "S100", own), DAY, priority_score=99, channel="sms")
    other = make_task(make_customer(nanjing, "S101", colleague), DAY, priority_score=85)
    far = make_task(make_customer(suzhou, "S102", elsewhere), DAY, channel="sms")
    return {"own": own, "tasks": tasks, "sms": sms, "other": other, "far": far, "places": places}


def login(client, role, **scope):
    client.force_login(make_user(f"u_{role}", role, **scope))


def test_workbench_lists_call_tasks_open_first(client, world):
    login(client, roles.ROLE_MANAGER, manager=world["own"])
    response = client.get("/workbench/")
    t = world["tasks"]
    expected = [t[90, 1], t[80, 2], t[80, 3], t[10, 4], t[95, 0]]  # handled one last
    assert [row["pk"] for row in response.context["rows"]] == [task.pk for task in expected]
    counts = {value: n for value, _label, n in response.context["states"]}
    assert counts["unhandled"] == 3  # the SMS task is not counted


def test_task_list_shows_call_tasks_and_sms_tasks_apart_for_admins(client, world):
    login(client, roles.ROLE_MANAGER, manager=world["own"])
    listed = {row["pk"] for row in client.get("/tasks/").context["rows"]}
    assert world["sms"].pk not in listed and len(listed) == 5
    assert client.get("/sms-tasks/").status_code == 403
    client.logout()
    login(client, roles.ROLE_CITY_ADMIN, city=world["places"]["C025"].city)
    listed = {row["pk"] for row in client.get("/tasks/").context["rows"]}
    assert world["sms"].pk not in listed and world["other"].pk in listed
    sms = client.get("/sms-tasks/")
    assert sms.status_code == 200
    assert [row["pk"] for row in sms.context["rows"]] == [world["sms"].pk]  # not Suzhou's
    client.logout()
    login(client, roles.ROLE_PROVINCE_ADMIN)
    sms = {row["pk"] for row in client.get("/sms-tasks/").context["rows"]}
    assert sms == {world["sms"].pk, world["far"].pk}


def test_admin_capacity_counts_call_tasks_only(client, world):
    login(client, roles.ROLE_CITY_ADMIN, city=world["places"]["C025"].city)
    response = client.get("/admin-workbench/")
    rows = {row["manager"]: row for row in response.context["allocation"]}
    own = rows[world["own"].name]
    assert own["total"] == 5 and own["capacity"] == 2  # the SMS task takes no capacity
    assert response.context["sms_waiting"] == 1
    assert 'href="/sms-tasks/?state=unhandled' in response.content.decode()


def test_next_task_follows_the_list_order(client, world):
    login(client, roles.ROLE_MANAGER, manager=world["own"])
    t = world["tasks"]

    def next_of(task):
        return client.get(f"/tasks/{task.pk}/").context["next_task"]

    assert next_of(t[90, 1]) == t[80, 2].pk
    assert next_of(t[80, 2]) == t[80, 3].pk  # same score: by id
    assert next_of(t[80, 3]) == t[10, 4].pk
    assert next_of(t[10, 4]) == t[90, 1].pk  # wraps round to the top
    assert next_of(t[95, 0]) == t[90, 1].pk  # from a finished task: the first open one
    html = client.get(f"/tasks/{t[90, 1].pk}/").content.decode()
    assert f'id="next-task" href="/tasks/{t[80, 2].pk}/"' in html
    ServiceTask.objects.filter(pk__in=[t[k].pk for k in t]).update(state="handled_no_change")
    page = client.get(f"/tasks/{t[90, 1].pk}/")
    assert page.context["next_task"] is None and 'id="next-task-none"' in page.content.decode()


def test_new_alert_is_no_choice_on_the_task_page(client, world):
    login(client, roles.ROLE_MANAGER, manager=world["own"])
    task = world["tasks"][80, 2]  # in progress
    html = client.get(f"/tasks/{task.pk}/").content.decode()
    assert 'value="new_alert"' not in html and "处理后有新预警" not in html
    response = client.post(
        f"/tasks/{task.pk}/",
        {"action": "outcome", "version": 1, "contact_result": "reached", "finish": "new_alert"},
        follow=True,
    )
    assert any("处理结论无效" in str(m) for m in response.context["messages"])
    task.refresh_from_db()
    assert task.state == TaskState.IN_PROGRESS


def test_next_task_outside_scope_is_404(client, world):
    login(client, roles.ROLE_MANAGER, manager=world["own"])
    assert client.get(f"/tasks/{world['other'].pk}/").status_code == 404
