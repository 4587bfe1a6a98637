"""日常工作: visits and call notes linked to the manager's own key account, key persons, task
and assigned task; anything else is refused by name; lists scoped and filtered."""

from datetime import timedelta

import pytest
from django.utils import timezone

from factories import (
    make_customer,
    make_manager,
    make_manager_key_account,
    make_org,
    make_task,
    make_user,
)
from keycare.access import roles
from keycare.core.models import AuditEvent
from keycare.errors import UserError
from keycare.keyaccounts.models import KeyPerson
from keycare.managers import actions
from keycare.managers.models import WorkRecord

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(db):
    places = make_org()
    nj, sz = places["C025"], places["C0512"]
    m1, m2, m3 = make_manager(nj, "M1"), make_manager(nj, "M2"), make_manager(sz, "M3")
    group = make_manager_key_account(nj.city, "K1", m1, name="金陵制造")
    boss = KeyPerson.objects.create(
        person_id="K1-KP1",
        key_account=group,
        role="decision_maker",
        name="赵总经理",
        title="总经理",
        mobile="13812345678",
    )
    mine = make_customer(nj, "S002", m1)
    others = make_customer(nj, "S003", m2)
    user = make_user("m1", roles.ROLE_MANAGER, manager=m1)
    return {
        "nj": nj,
        "m1": m1,
        "m2": m2,
        "m3": m3,
        "group": group,
        "boss": boss,
        "mine": mine,
        "others": others,
        "user": user,
        "task": make_task(mine),
    }


def test_visit_is_recorded_with_its_links_and_audited(world):
    at = timezone.now() - timedelta(hours=2)
    record = actions.record_work(
        world["user"],
        world["m1"],
        kind="visit",
        at=at,
        content="沟通专线扩容",
        links={"key_persons": [world["boss"]], "task": world["task"]},
        place="园区三号楼",
        result="同意方案",
        next_step="报价",
        next_date=at.date() + timedelta(days=3),
    )
    # The group follows from its key person; the task's customer counts as met.
    assert record.key_account == world["group"] and record.city == world["nj"].city
    assert list(record.key_persons.all()) == [world["boss"]]
    assert list(record.persons.all()) == [world["mine"]]
    assert AuditEvent.objects.get(action="work.record").detail["persons"] == 2


@pytest.mark.parametrize(
    "change, message",
    [
        ({"kind": "lunch"}, "记录类型"),
        ({"at": timezone.now() + timedelta(days=2)}, "已发生的时间"),
        ({"content": "  "}, "沟通内容"),
        ({"links": "others"}, "对象须是"),
        ({"links": "foreign_person"}, "关键人须属于"),
        ({"links": "group_of_m2"}, "集团客户"),
        ({"next_date": timezone.localdate() - timedelta(days=5)}, "下一步日期"),
    ],
)
def test_bad_records_are_refused_by_name(world, change, message):
    values = {"kind": "call", "at": timezone.now(), "content": "回访"}
    if change.get("links") == "others":
        change = {"links": {"persons": [world["others"]]}}
    elif change.get("links") == "foreign_person":
        group = make_manager_key_account(world["nj"].city, "K3", world["m2"])
        person = KeyPerson.objects.create(
            person_id="K3-KP1", key_account=group, role="contact", name="孙八"
        )
        change = {"links": {"key_persons": [person]}}
    elif change.get("links") == "group_of_m2":
        change = {
            "links": {"key_account": make_manager_key_account(world["nj"].city, "K2", world["m2"])}
        }
    with pytest.raises(UserError, match=message):
        actions.record_work(world["user"], world["m1"], **{**values, **change})
    assert WorkRecord.objects.count() == 0


def test_pages_record_and_list_in_scope(client, world):
    client.force_login(world["user"])
    form = client.get(f"/daily-work/new/?key_account={world['group'].pk}")
    assert form.status_code == 200
    body = form.content.decode()
    assert "赵总经理" not in body and "赵" in body  # the key person, masked
    response = client.post(
        "/daily-work/new/",
        {
            "kind": "visit",
            "at": timezone.localtime().strftime("%Y-%m-%dT%H:%M"),
            "key_account": world["group"].pk,
            "key_persons": [world["boss"].pk],
            "content": "拜访",
            "place": "总部",
            "next_date": "not-a-date",
        },
    )
    assert "下一步日期无效" in response.content.decode() and WorkRecord.objects.count() == 0
    response = client.post(
        "/daily-work/new/",
        {
            "kind": "visit",
            "at": timezone.localtime().strftime("%Y-%m-%dT%H:%M"),
            "key_account": world["group"].pk,
            "key_persons": [world["boss"].pk],
            "content": "拜访",
        },
    )
    assert response.status_code == 302 and WorkRecord.objects.count() == 1
    listing = client.get("/daily-work/?kind=visit")
    assert len(listing.context["rows"]) == 1
    # Another city's administrator sees none of it; this city's sees it, filtered by manager.
    client.force_login(make_user("sz", roles.ROLE_CITY_ADMIN, city=world["m3"].city))
    assert client.get("/daily-work/").context["rows"] == []
    assert client.get("/daily-work/new/").status_code == 403
    client.force_login(make_user("nj", roles.ROLE_CITY_ADMIN, city=world["nj"].city))
    assert len(client.get("/daily-work/?manager=M1").context["rows"]) == 1
    assert client.get("/daily-work/?manager=M2").context["rows"] == []
