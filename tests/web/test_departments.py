"""部门管理: province admin manages all departments, a city admin their city's (another city's
is a 404); writes are audited; the task page offers the active province-wide and same-city ones."""

import pytest

from factories import (
    make_customer,
    make_department,
    make_manager,
    make_org,
    make_task,
    make_user,
)
from keycare.access import roles
from keycare.core.models import AuditEvent
from keycare.org import actions as org_actions
from keycare.org.models import Department

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(db):
    places = make_org()
    nanjing, suzhou = places["C025"].city, places["C0512"].city
    return {
        "places": places,
        "nanjing": nanjing,
        "suzhou": suzhou,
        "province": make_department("NET", "网络部"),
        "nj": make_department("C025-SHOP", "营业厅", nanjing),
        "sz": make_department("C0512-SHOP", "营业厅", suzhou),
    }


def login(client, role, **scope):
    user = make_user(f"u_{role}", role, **scope)
    client.force_login(user)
    return user


def codes(response) -> set[str]:
    return {d.code for d in response.context["departments"]}


def test_province_admin_manages_every_department(client, world):
    user = login(client, roles.ROLE_PROVINCE_ADMIN)
    assert codes(client.get("/departments/")) == {"NET", "C025-SHOP", "C0512-SHOP"}
    assert client.get("/departments/new/").status_code == 200
    response = client.post("/departments/new/", {"code": "BILL", "name": "账务中心", "city": ""})
    assert response.status_code == 302
    created = Department.objects.get(code="BILL")
    assert created.city is None and created.active
    client.post(
        "/departments/new/",
        {"code": "C0512-FTTH", "name": "家宽装维", "city": world["suzhou"].pk},
    )
    assert Department.objects.get(code="C0512-FTTH").city == world["suzhou"]
    event = AuditEvent.objects.get(action="department.create", object_id=str(created.pk))
    assert event.actor == user and event.detail["name"] == "账务中心"
    response = client.post(
        f"/departments/{created.pk}/", {"code": "BILL", "name": "账务中心（省）", "city": ""}
    )
    assert response.status_code == 302
    assert Department.objects.get(pk=created.pk).name == "账务中心（省）"
    assert AuditEvent.objects.get(action="department.update").detail["changes"] == {
        "name": ["账务中心", "账务中心（省）"]
    }


def test_duplicate_code_and_bad_input_are_messages(client, world):
    login(client, roles.ROLE_PROVINCE_ADMIN)
    for data in (
        {"code": "NET", "name": "重复", "city": ""},
        {"code": "", "name": "无编码", "city": ""},
        {"code": "X1", "name": "坏地市", "city": "abc"},
        {"code": "X2", "name": "无此地市", "city": "99999"},
    ):
        response = client.post("/departments/new/", data)
        assert response.status_code == 200 and list(response.context["messages"])
    assert Department.objects.count() == 3
    assert not AuditEvent.objects.filter(action__startswith="department").exists()


def test_city_admin_manages_their_city_only(client, world):
    login(client, roles.ROLE_CITY_ADMIN, city=world["nanjing"])
    assert codes(client.get("/departments/")) == {"C025-SHOP"}
    # Whatever city is posted, a city admin's department is in their city.
    client.post(
        "/departments/new/", {"code": "C025-FTTH", "name": "家宽装维", "city": world["suzhou"].pk}
    )
    assert Department.objects.get(code="C025-FTTH").city == world["nanjing"]
    for other in (world["sz"], world["province"]):
        assert client.get(f"/departments/{other.pk}/").status_code == 404
        assert client.post(f"/departments/{other.pk}/active/", {"active": "0"}).status_code == 404
    assert Department.objects.filter(active=True).count() == 4


def test_deactivate_and_reactivate(client, world):
    login(client, roles.ROLE_CITY_ADMIN, city=world["nanjing"])
    url = f"/departments/{world['nj'].pk}/active/"
    assert client.post(url, {"active": "0"}).status_code == 302
    assert not Department.objects.get(pk=world["nj"].pk).active
    again = client.post(url, {"active": "0"}, follow=True)
    assert any("已停用" in str(m) for m in again.context["messages"])
    client.post(url, {"active": "1"})
    assert Department.objects.get(pk=world["nj"].pk).active
    actions = list(
        AuditEvent.objects.filter(object_id=str(world["nj"].pk)).values_list("action", flat=True)
    )
    assert sorted(actions) == ["department.activate", "department.deactivate"]
    assert client.get(url).status_code == 405


@pytest.mark.parametrize("role", [roles.ROLE_MANAGER, roles.ROLE_ANALYST, roles.ROLE_AUDITOR])
def test_other_roles_are_refused(client, world, role):
    login(client, role)
    assert client.get("/departments/").status_code == 403
    assert client.get("/departments/new/").status_code == 403
    assert client.post(f"/departments/{world['nj'].pk}/active/", {"active": "0"}).status_code == 403


def test_task_page_offers_active_province_wide_and_same_city_departments(client, world):
    place = world["places"]["C025"]
    manager = make_manager(place, "M001")
    task = make_task(make_customer(place, "S001", manager))
    Department.objects.filter(code="C025-SHOP").update(active=False)
    make_department("C025-FTTH", "家宽装维", world["nanjing"])
    login(client, roles.ROLE_MANAGER, manager=manager)
    offered = {d["name"] for d in client.get(f"/tasks/{task.pk}/").context["departments"]}
    assert offered == {"网络部", "家宽装维"}  # not deactivated, not Suzhou's
    client.post(f"/tasks/{task.pk}/", {"action": "claim", "version": 1})
    response = client.post(
        f"/tasks/{task.pk}/",
        {"action": "workorder", "version": 2, "department": world["sz"].pk, "title": "t"},
        follow=True,
    )
    assert any("部门无效" in str(m) for m in response.context["messages"])


def test_default_departments_only_when_there_are_none(db):
    places = make_org()
    created = org_actions.ensure_default_departments()
    assert created == 3 + 2 * len(places)
    assert set(Department.objects.filter(city__isnull=True).values_list("name", flat=True)) == {
        "网络部",
        "账务中心",
        "政企部",
    }
    assert org_actions.ensure_default_departments() == 0
    assert AuditEvent.objects.get(action="department.defaults").detail["created"] == created
