"""客户经理档案 pages: list and profile scoped by role (another city's manager is a 404, a
manager sees only themself, read-only), filters, and the hand-over from the profile page."""

import pytest

from factories import make_customer, make_manager, make_org, make_user
from keycare.access import roles
from keycare.customers.models import Customer
from keycare.managers.models import ManagerStatus

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(db):
    places = make_org()
    nj, sz = places["C025"], places["C0512"]
    m1 = make_manager(nj, "M1", name="王一", mobile="13912345678")
    m2 = make_manager(nj, "M2", name="王二")
    m3 = make_manager(sz, "M3", name="苏三")
    for i in range(3):
        make_customer(nj, f"S{i}", m1)
    return {"nj": nj, "sz": sz, "m1": m1, "m2": m2, "m3": m3}


def login(client, role, **scope):
    user = make_user(f"u_{role}", role, **scope)
    client.force_login(user)
    return user


def ids(response):
    return [row["manager"].manager_id for row in response.context["rows"]]


def test_city_admin_sees_their_city_only(client, world):
    login(client, roles.ROLE_CITY_ADMIN, city=world["nj"].city)
    response = client.get("/managers/")
    assert response.status_code == 200 and ids(response) == ["M1", "M2"]
    content = response.content.decode()
    assert "13912345678" not in content and "139****5678" in content
    assert response.context["rows"][0]["customers"] == 3
    assert client.get(f"/managers/{world['m3'].pk}/").status_code == 404
    assert ids(client.get("/managers/?q=王二")) == ["M2"]
    assert client.get(f"/managers/{world['m1'].pk}/").status_code == 200


def test_manager_sees_own_profile_read_only(client, world):
    login(client, roles.ROLE_MANAGER, manager=world["m1"])
    assert ids(client.get("/managers/")) == ["M1"]
    page = client.get(f"/managers/{world['m1'].pk}/")
    assert page.status_code == 200 and b"hand-over-form" not in page.content
    assert client.get(f"/managers/{world['m2'].pk}/").status_code == 404
    response = client.post(f"/managers/{world['m1'].pk}/status/", {"status": "leave"})
    assert response.status_code == 403


def test_hand_over_from_the_profile_page(client, world):
    login(client, roles.ROLE_CITY_ADMIN, city=world["nj"].city)
    url = f"/managers/{world['m1'].pk}/hand-over/"
    # Another city's manager is not a valid target: nothing moves.
    client.post(url, {"targets": [world["m3"].pk], "reason": "离职"})
    assert Customer.objects.filter(manager=world["m1"]).count() == 3
    response = client.post(
        url, {"targets": [world["m2"].pk], "reason": "离职", "leave": "1"}, follow=True
    )
    assert "已移交 3 位客户" in response.content.decode()
    assert Customer.objects.filter(manager=world["m2"]).count() == 3
    world["m1"].refresh_from_db()
    assert world["m1"].profile.status == ManagerStatus.LEFT and not world["m1"].active
    assert ids(client.get("/managers/?status=left")) == ["M1"]


def test_bad_profile_input_is_named(client, world):
    login(client, roles.ROLE_PROVINCE_ADMIN)
    response = client.post(
        f"/managers/{world['m2'].pk}/profile/",
        {"daily_capacity": "abc", "visit_capacity": "5", "key_account_capacity": "5"},
        follow=True,
    )
    assert "每日外呼能力须为整数" in response.content.decode()
    response = client.post(
        f"/managers/{world['m2'].pk}/qualifications/",
        {"kind": "certificate", "name": "证书", "obtained_on": "2025-13-40"},
        follow=True,
    )
    assert "取得日期无效" in response.content.decode()
