"""集团关键时刻 pages: the scoped list of group tasks, the task page (explanation, script,
labelled parameters, state changes audited) and the panel on the group 360 page."""

import pytest

from factories import Place, make_group_task, make_key_account, make_manager, make_place, make_user
from keycare.access import roles
from keycare.core.models import AuditEvent
from keycare.tasks.models import GroupTask, TaskState

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(org):
    place = Place(**org)
    other = make_place("3205", "苏州市")
    mine = make_manager(place, "KM1", role="key_account_manager")
    theirs = make_manager(other, "KM2", role="key_account_manager")
    group = make_key_account(place, "K001", mine, name="南京钢铁集团")
    far = make_key_account(other, "K002", theirs, name="苏州纺织厂")
    return {
        "mine": mine,
        "group": group,
        "task": make_group_task(group),
        "far_task": make_group_task(far, explanation="集团合同将于 5 天后到期"),
    }


@pytest.fixture
def km(client, world):
    client.force_login(make_user("km", roles.ROLE_MANAGER, manager=world["mine"]))
    return client


def test_a_key_account_manager_lists_only_their_group_tasks(km, world):
    page = km.get("/key-accounts/moments/").content.decode()
    assert "南京钢铁集团" in page and "苏州纺织厂" not in page
    assert "G06 集团合同即将到期" in page and "28 天后到期" in page
    assert km.get(f"/key-accounts/moments/{world['far_task'].pk}/").status_code == 404


def test_the_province_sees_all_and_filters_by_state_and_moment(client, world):
    client.force_login(make_user("admin", roles.ROLE_PROVINCE_ADMIN))
    GroupTask.objects.filter(pk=world["far_task"].pk).update(state=TaskState.HANDLED_NO_CHANGE)
    open_page = client.get("/key-accounts/moments/").content.decode()
    assert "南京钢铁集团" in open_page and "苏州纺织厂" not in open_page
    everything = client.get("/key-accounts/moments/?state=all&moment=G06").content.decode()
    assert "苏州纺织厂" in everything
    nothing = client.get("/key-accounts/moments/?moment=G06&state=in_progress&page=x")
    assert "没有符合条件" in nothing.content.decode()
    assert client.get("/key-accounts/moments/?state=<b>&moment=zz").status_code == 200


def test_the_task_page_shows_explanation_script_and_labelled_parameters(km, world):
    page = km.get(f"/key-accounts/moments/{world['task'].pk}/").content.decode()
    assert "集团合同将于 28 天后到期" in page and "续签事宜" in page
    assert "最近合同到期天数" in page and "提前天数（阈值）" in page
    assert "days_to_contract_end" not in page


def test_the_manager_starts_and_closes_the_task_audited(km, world):
    url = f"/key-accounts/moments/{world['task'].pk}/"
    assert km.post(url, {"to": TaskState.IN_PROGRESS}).status_code == 302
    assert (
        km.post(url, {"to": TaskState.HANDLED_NO_CHANGE, "note": "已约下周续签"}).status_code == 302
    )
    world["task"].refresh_from_db()
    assert world["task"].state == TaskState.HANDLED_NO_CHANGE
    events = AuditEvent.objects.filter(action="grouptask.state").order_by("id")
    assert [e.detail["to_state"] for e in events] == ["in_progress", "handled_no_change"]
    refused = km.post(url, {"to": TaskState.IN_PROGRESS}, follow=True).content.decode()
    assert "不能进行这一操作" in refused
    assert km.post(url, {"to": "bogus"}, follow=True).status_code == 200


def test_an_analyst_reads_but_cannot_work(client, world):
    client.force_login(make_user("an", roles.ROLE_ANALYST))
    url = f"/key-accounts/moments/{world['task'].pk}/"
    assert client.get(url).status_code == 200
    assert client.post(url, {"to": TaskState.IN_PROGRESS}).status_code == 403


def test_the_group_360_lists_the_groups_open_group_moments(km, world):
    page = km.get(f"/key-accounts/{world['group'].pk}/").content.decode()
    assert 'id="group-moments"' in page and "集团合同即将到期" in page
    assert f"/key-accounts/moments/{world['task'].pk}/" in page
