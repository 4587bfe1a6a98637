"""Segment pages: compose, live count (HTMX), save; administrators only; bad input named."""

import pytest

from keycare.access import roles
from keycare.campaigns.models import Segment
from keycare.core.models import AuditEvent

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(org, managers, make_customer):
    for n in range(12):
        make_customer(
            f"S{n:04d}", managers[n % 2], msisdn=f"1381234{n:04d}",
            brand="gotone" if n < 4 else "mzone", attributes={"balance": float(n)},
        )  # fmt: skip
    return managers


def _rows(*conditions):
    return {
        "field": [c[0] for c in conditions],
        "op": [c[1] for c in conditions],
        "value": [c[2] for c in conditions],
    }


def test_live_count_in_scope(client, world, login_as):
    login_as(roles.ROLE_PROVINCE_ADMIN)
    response = client.post(
        "/segments/count/", _rows(("brand", "eq", "gotone"), ("balance", "lt", "3"))
    )
    assert response.status_code == 200
    assert 'data-count="3"' in response.content.decode()


def test_live_count_names_every_problem(client, world, login_as):
    login_as(roles.ROLE_PROVINCE_ADMIN)
    html = client.post(
        "/segments/count/", _rows(("brand", "eq", "apple"), ("balance", "contains", "1"))
    ).content.decode()
    assert "条件 1：“品牌”的取值" in html and "可选：gotone、mzone、easyown" in html
    assert "条件 2：“账户余额”是数值字段，不支持“包含”" in html
    assert "data-count" not in html


def test_save_and_edit(client, world, login_as):
    login_as(roles.ROLE_PROVINCE_ADMIN)
    response = client.post(
        "/segments/new/", {"name": "全球通低余额", **_rows(("brand", "eq", "gotone"), ("", "", ""))}
    )
    segment = Segment.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/segments/{segment.pk}/"
    assert segment.filter == {"all": [{"field": "brand", "op": "eq", "value": "gotone"}]}
    page = client.get(f"/segments/{segment.pk}/").content.decode()
    assert 'value="gotone"' in page and 'data-count="4"' in page
    listing = client.get("/segments/").content.decode()
    assert "全球通低余额" in listing and "品牌 等于 gotone" in listing
    assert AuditEvent.objects.filter(action="segment.create").count() == 1


def test_bad_save_changes_nothing_and_says_why(client, world, login_as):
    login_as(roles.ROLE_PROVINCE_ADMIN)
    response = client.post("/segments/new/", {"name": "", **_rows(("balance", "lt", "abc"))})
    assert response.status_code == 400
    assert "请填写客户群名称" in response.content.decode()
    response = client.post("/segments/new/", {"name": "x", **_rows(("balance", "lt", "abc"))})
    assert response.status_code == 400 and "应为数字" in response.content.decode()
    assert not Segment.objects.exists()


def test_add_and_remove_rows(client, world, login_as):
    login_as(roles.ROLE_CITY_ADMIN)
    html = client.post(
        "/segments/new/", {"name": "x", "add_row": "1", **_rows(("brand", "eq", "gotone"))}
    ).content.decode()
    assert html.count('name="field"') == 2 and not Segment.objects.exists()
    html = client.post(
        "/segments/new/",
        {
            "name": "x",
            "remove_row": "0",
            **_rows(("brand", "eq", "gotone"), ("balance", "lt", "1")),
        },
    ).content.decode()
    assert html.count('name="field"') == 1 and 'value="1"' in html


@pytest.mark.parametrize("role", [roles.ROLE_MANAGER, roles.ROLE_AUDITOR, roles.ROLE_ANALYST])
def test_non_administrators_are_refused(client, world, login_as, role):
    login_as(role, manager=world[0] if role == roles.ROLE_MANAGER else None)
    assert client.get("/segments/").status_code == 403
    assert (
        client.post("/segments/new/", {"name": "x", **_rows(("brand", "eq", "gotone"))}).status_code
        == 403
    )
    assert client.post("/segments/count/", _rows(("brand", "eq", "gotone"))).status_code == 403
    assert not Segment.objects.exists()


def test_city_admin_cannot_open_another_citys_segment(client, world, login_as):
    segment = Segment.objects.create(name="全省", filter={"all": []})
    login_as(roles.ROLE_CITY_ADMIN)
    assert client.get(f"/segments/{segment.pk}/").status_code == 404


def test_list_queries_are_bounded(client, world, login_as, django_assert_max_num_queries):
    for n in range(35):
        Segment.objects.create(
            name=f"群{n}", filter={"all": [{"field": "brand", "op": "eq", "value": "gotone"}]}
        )
    login_as(roles.ROLE_PROVINCE_ADMIN)
    with django_assert_max_num_queries(10):
        response = client.get("/segments/?page=1")
    assert "共 35 条" in response.content.decode()
    with django_assert_max_num_queries(10):
        assert client.get("/segments/?page=2&q=群").status_code == 200
