"""The tactics on the task page (suggestions next to the script, the tactic on the outcome form)
and the administrators' tactics library page with its counts per tactic."""

from datetime import date

import pytest

from factories import make_moment, make_tactics
from keycare.access import roles
from keycare.core.models import AuditEvent
from keycare.tasks.models import Outcome, ServiceTask, TaskMoment, TaskState

pytestmark = pytest.mark.django_db
DAY = date(2026, 11, 22)


@pytest.fixture
def world(org, managers, make_customer):
    make_tactics()
    customer = make_customer("S0001", managers[0], msisdn="13812345670", value_tier="mid_high")
    task = ServiceTask.objects.create(
        customer=customer, manager=managers[0], business_date=DAY, priority_score=90,
        channel="call", risk_probability=0.8, state=TaskState.IN_PROGRESS,
    )  # fmt: skip
    arrears = make_moment(
        "A05", name_zh="欠费即将停机", script="{salutation}您好，您的账户已欠费。"
    )
    TaskMoment.objects.create(task=task, moment=arrears, priority=90, explanation="欠费 35 元")
    return {"managers": managers, "task": task}


def messages_of(response):
    return [str(m) for m in response.context["messages"]]


def test_task_page_shows_the_top_three_tactics_next_to_the_script(client, world, login_as):
    login_as(roles.ROLE_MANAGER, manager=world["managers"][0])
    response = client.get(f"/tasks/{world['task'].pk}/")
    html = response.content.decode()
    assert response.status_code == 200
    assert [t["code"] for t in response.context["suggested_tactics"]] == ["K07", "K08", "T04"]
    block = html[html.index('id="suggested-tactics"') :]
    assert "K07 预防措施" in block and "T04 话费优惠捆绑法" in block and "送话费" in block
    assert html.index('id="script"') < html.index('id="suggested-tactics"')
    # The outcome form offers the tactics, the first suggestion chosen.
    assert '<option value="K07" selected>' in html
    assert '<option value="T01">' in html  # the others are there too


def test_outcome_posted_with_a_tactic_is_recorded_and_audited(client, world, login_as):
    login_as(roles.ROLE_MANAGER, manager=world["managers"][0])
    task = world["task"]
    response = client.post(
        f"/tasks/{task.pk}/",
        {"action": "outcome", "version": task.version, "contact_result": "reached",
         "recommendation": "accepted", "tactic": "T04", "finish": ""},
        follow=True,
    )  # fmt: skip
    assert "已记录接触结果" in " ".join(messages_of(response))
    assert Outcome.objects.get(task=task).tactic.code == "T04"
    assert AuditEvent.objects.filter(action="task.outcome").latest("id").detail["tactic"] == "T04"


def test_an_unknown_tactic_is_refused_and_nothing_is_recorded(client, world, login_as):
    login_as(roles.ROLE_MANAGER, manager=world["managers"][0])
    task = world["task"]
    response = client.post(
        f"/tasks/{task.pk}/",
        {"action": "outcome", "version": task.version, "contact_result": "reached",
         "tactic": "T99", "finish": ""},
        follow=True,
    )  # fmt: skip
    assert "保有战术无效" in " ".join(messages_of(response))
    assert not Outcome.objects.exists()


def test_tactics_page_lists_tactics_matrix_versions_and_counts(client, world, login_as):
    manager = login_as(roles.ROLE_MANAGER, manager=world["managers"][0], username="mgr")
    from keycare.tasks import actions as task_actions

    task_actions.record_outcome(
        manager, world["task"], contact_result="reached", recommendation="accepted", tactic="T04"
    )
    task_actions.record_outcome(manager, world["task"], contact_result="not_reached")
    login_as(roles.ROLE_PROVINCE_ADMIN)
    response = client.get("/tactics/")
    html = response.content.decode()
    assert response.status_code == 200
    assert "产品捆绑法" in html and "营销策划类" in html and "推荐矩阵" in html
    assert 'data-version="1"' in html
    rows = {r["code"]: r for r in response.context["by_tactic"]}
    assert (rows["T04"]["recorded"], rows["T04"]["reached"], rows["T04"]["accepted"]) == (1, 1, 1)
    assert rows[""]["recorded"] == 1 and rows[""]["reached"] == 0
    assert client.get("/tactics/?version=1").status_code == 200
    assert client.get("/tactics/?version=7").status_code == 404


def test_tactics_page_is_for_administrators_only(client, world, login_as):
    login_as(roles.ROLE_MANAGER, manager=world["managers"][0])
    assert client.get("/tactics/").status_code == 403
