"""客户档案 pages (keycare.web.customers): scope, masking, filters, paging, queries, audit,
and unmasking one record (own permission, typed reason, audited, this response only)."""

import re
from datetime import date

import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext

import factories
from factories import customer_fields, make_manager, make_place, make_task, make_user
from keycare.access import roles
from keycare.core.models import AuditEvent
from keycare.customers.models import Customer

pytestmark = pytest.mark.django_db
MOBILE = "13812345678"
ID_NUMBER = "320102198005171234"
ROW_LINK = re.compile(r'href="/customers/\d+/"')


@pytest.fixture
def org():
    made = {
        code: make_place(code, name, county=(f"{code}01", "一区"))
        for code, name in (("3201", "南京市"), ("3202", "无锡市"))
    }
    managers = {
        mid: make_manager(made[code], mid)
        for mid, code in (("M1", "3201"), ("M2", "3201"), ("W1", "3202"))
    }
    return made, managers


def make_customer(org, subscriber_id, manager_id, n=0, **overrides):
    made, managers = org
    manager = managers[manager_id]
    values = {
        "msisdn": f"1381234{n:04d}", "name": "欧阳修文", "id_number": f"32010219800517{n:04d}",
        "birth_date": date(1980, 5, 17), "address": "江苏省南京市玄武区珠江路88号",
        "attributes": {"balance": 12.5, "contact_phone": "13700001111"},
    }  # fmt: skip
    return factories.make_customer(
        made[manager.city.code], subscriber_id, manager, **{**values, **overrides}
    )


@pytest.fixture
def customers(org):
    return {
        "m1a": make_customer(org, "S001", "M1", 1),
        "m1b": make_customer(org, "S002", "M1", 2, value_tier="mass"),
        "m2": make_customer(org, "S003", "M2", 3),
        "w1": make_customer(org, "T004", "W1", 4),
    }


@pytest.fixture
def login(client, org):
    made, managers = org

    def login_as(role, *, city=None, manager=None, unmask=False, username=None):
        user = make_user(
            username or f"u_{role}_{manager}_{city}",
            role,
            city=made[city].city if city else None,
            manager=managers[manager] if manager else None,
        )
        if unmask:
            user.user_permissions.add(Permission.objects.get(codename="unmask_personal_data"))
        client.force_login(user)
        return user

    return login_as


def subscriber_ids(response) -> list[str]:
    html = response.content.decode()
    return sorted(sid for sid in ("S001", "S002", "S003", "T004") if f">{sid}</a>" in html)


def assert_masked(response):
    html = response.content.decode()
    assert "欧阳修文" not in html
    assert "1381234" not in html.replace("138****", "")  # no clear mobile
    assert "32010219800517" not in html
    assert "13700001111" not in html


# --- list -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "role,kwargs,expected",
    [
        (roles.ROLE_PROVINCE_ADMIN, {}, ["S001", "S002", "S003", "T004"]),
        (roles.ROLE_CITY_ADMIN, {"city": "3201"}, ["S001", "S002", "S003"]),
        (roles.ROLE_MANAGER, {"manager": "M1"}, ["S001", "S002"]),
        (roles.ROLE_ANALYST, {"city": "3202"}, ["T004"]),
    ],
)
def test_list_shows_exactly_the_scope_masked(client, customers, login, role, kwargs, expected):
    login(role, **kwargs)
    response = client.get("/customers/")
    assert response.status_code == 200
    assert subscriber_ids(response) == expected
    assert "欧阳**" in response.content.decode()
    assert "138****0001" in response.content.decode() or "S001" not in expected
    assert_masked(response)


def test_auditor_gets_403(client, customers, login):
    login(roles.ROLE_AUDITOR)
    assert client.get("/customers/").status_code == 403
    assert client.get(f"/customers/{customers['m1a'].pk}/").status_code == 403


def test_filters_and_audited_search(client, customers, login):
    user = login(roles.ROLE_PROVINCE_ADMIN)
    assert subscriber_ids(client.get("/customers/", {"city": "3202"})) == ["T004"]
    assert subscriber_ids(client.get("/customers/", {"manager": "M2"})) == ["S003"]
    assert subscriber_ids(client.get("/customers/", {"tier": "mass"})) == ["S002"]
    assert subscriber_ids(client.get("/customers/", {"tier": "bogus"})) == [
        "S001", "S002", "S003", "T004",
    ]  # fmt: skip
    assert subscriber_ids(client.get("/customers/", {"q": "S00"})) == ["S001", "S002", "S003"]
    # Names, numbers and ID numbers are not searchable by GET: the box cannot enumerate people
    # and no number ends up in a URL.
    assert subscriber_ids(client.get("/customers/", {"q": "欧阳"})) == []
    assert subscriber_ids(client.get("/customers/", {"q": "320102"})) == []
    # A full number typed into the GET box is not echoed: redirect, keeping the other filters.
    number = client.get("/customers/", {"q": "13812340003", "city": "3201"})
    assert number.status_code == 302 and number["Location"] == "/customers/?city=3201"
    assert "按完整手机号码查找" in client.get(number["Location"]).content.decode()
    searches = AuditEvent.objects.filter(actor=user, action="search")
    assert searches.count() == 8
    assert searches.filter(detail__filters__q="13812340003").count() == 0
    assert all("13812340003" not in str(e.detail) for e in searches)


def test_mobile_lookup_by_post_goes_to_the_customer_and_is_audited(client, customers, login):
    user = login(roles.ROLE_CITY_ADMIN, city="3201")
    response = client.post("/customers/", {"msisdn": "13812340003"})
    assert response.status_code == 302
    assert response["Location"] == f"/customers/{customers['m2'].pk}/"
    event = AuditEvent.objects.filter(actor=user, action="search").latest("id")
    assert event.detail == {"filters": {"msisdn": "138****0003"}, "rows": 1}
    # Out of scope and malformed numbers answer with a message, not a redirect.
    outside = client.post("/customers/", {"msisdn": "13812340004"})
    assert outside.status_code == 200
    assert "权限范围内没有该号码" in outside.content.decode()
    malformed = client.post("/customers/", {"msisdn": "12345"})
    assert "11 位完整手机号码" in malformed.content.decode()


def test_manager_cannot_filter_into_another_portfolio(client, customers, login):
    login(roles.ROLE_MANAGER, manager="M1")
    assert subscriber_ids(client.get("/customers/", {"manager": "M2"})) == []
    assert subscriber_ids(client.get("/customers/", {"q": "S003"})) == []
    assert client.post("/customers/", {"msisdn": "13812340003"}).status_code == 200


def test_pagination(client, org, login):
    Customer.objects.bulk_create(
        Customer(**{**_values(org, i), "row_hash": str(i)}) for i in range(55)
    )
    login(roles.ROLE_PROVINCE_ADMIN)
    first = client.get("/customers/")
    second = client.get("/customers/", {"page": 2})
    assert len(ROW_LINK.findall(first.content.decode())) == 50
    assert len(ROW_LINK.findall(second.content.decode())) == 5
    assert "第 2 / 2 页，共 55 条" in second.content.decode()
    assert client.get("/customers/", {"page": "abc"}).status_code == 200


def _values(org, i):
    made, managers = org
    return customer_fields(
        made["3201"], f"P{i:04d}", managers["M1"], msisdn=f"1390000{i:04d}", name="张三",
        value_tier="mass",
    )  # fmt: skip


def test_list_query_count_does_not_grow_with_rows(client, org, login):
    login(roles.ROLE_PROVINCE_ADMIN)
    Customer.objects.bulk_create(Customer(**{**_values(org, i), "row_hash": "x"}) for i in range(3))
    with CaptureQueriesContext(connection) as small:
        assert client.get("/customers/").status_code == 200
    Customer.objects.bulk_create(
        Customer(**{**_values(org, i), "row_hash": "x"}) for i in range(3, 40)
    )
    with CaptureQueriesContext(connection) as large:
        assert client.get("/customers/").status_code == 200
    assert len(small) == len(large) <= 12, [q["sql"] for q in large.captured_queries]


# --- customer 360 ---------------------------------------------------------------------


def test_detail_is_masked_scoped_and_audited(client, customers, login):
    user = login(roles.ROLE_MANAGER, manager="M1")
    customer = customers["m1a"]
    make_task(customer, date(2026, 11, 20), priority_score=1)
    response = client.get(f"/customers/{customer.pk}/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "欧阳** 138****0001" in html
    assert "320102********0001" in html
    assert "账户余额" in html  # the 360 groups from the catalog
    assert 'id="unmask-link"' not in html  # no permission, no link
    assert_masked(response)
    assert AuditEvent.objects.filter(
        actor=user, action="view_customer", object_id=str(customer.pk)
    ).exists()
    assert client.get(f"/customers/{customers['m2'].pk}/").status_code == 404
    assert client.get("/customers/999999/").status_code == 404


def test_detail_shows_all_fifteen_categories_from_the_published_view(
    client, customers, login, settings, tmp_path
):
    """The 360 reads the loaded run's unified view: derived fields of every category, with
    labels (not codes), personal fields never in clear, and still scoped and audited."""
    from keycare.catalog.fields import load_catalog

    catalog = load_catalog()
    row = {"subscriber_id": "S001", "name": "欧阳修文", "msisdn": "13812340001"}
    for field in catalog.fields:  # one value in every field of every category
        if field.code not in row and not field.personal:
            row[field.code] = {"string": "x", "int": 3, "float": 12.345, "bool": True}.get(
                field.type, date(2026, 1, 31)
            )
    row["brand"] = "gotone"
    settings.KEYCARE_RUNS_DIR = tmp_path / "runs"
    factories.publish_unified_view(settings.KEYCARE_RUNS_DIR, [row])
    user = login(roles.ROLE_MANAGER, manager="M1")
    response = client.get(f"/customers/{customers['m1a'].pk}/")
    html = response.content.decode()
    assert response.status_code == 200
    for category in catalog.categories.values():
        assert f">{category.zh}</h3>" in html, category.code
    for code in ("bill_avg_3m", "voice_change_pct_m1", "is_key_person", "data_mb_8w"):
        assert f'title="{code}">{catalog.by_code[code].zh}</dt>' in html
    assert "12.35" in html and "全球通" in html  # rounded; an enumerated value's label
    assert_masked(response)
    assert AuditEvent.objects.filter(actor=user, action="view_customer").count() == 1
    assert client.get(f"/customers/{customers['w1'].pk}/").status_code == 404


# --- unmask ---------------------------------------------------------------------------


def test_unmask_without_permission_is_403_and_audited(client, customers, login):
    user = login(roles.ROLE_PROVINCE_ADMIN)
    url = f"/customers/{customers['m1a'].pk}/unmask/"
    assert client.get(url).status_code == 403
    response = client.post(url, {"reason": "客户来电核实身份需要完整号码"})
    assert response.status_code == 403
    assert_masked(response)
    denied = AuditEvent.objects.filter(actor=user, action="unmask_denied")
    assert denied.count() == 2
    assert not AuditEvent.objects.filter(action="unmask").exists()


def test_unmask_needs_a_reason_then_shows_one_record_and_audits(client, customers, login):
    user = login(roles.ROLE_CITY_ADMIN, city="3201", unmask=True)
    customer = customers["m1a"]
    url = f"/customers/{customer.pk}/unmask/"
    form = client.get(url)
    assert form.status_code == 200 and 'name="reason"' in form.content.decode()
    assert_masked(form)
    assert 'id="unmask-link"' in client.get(f"/customers/{customer.pk}/").content.decode()

    short = client.post(url, {"reason": "  核实  "})
    assert short.status_code == 400
    assert "至少 10 个字" in short.content.decode()
    assert_masked(short)
    assert not AuditEvent.objects.filter(action="unmask").exists()

    shown = client.post(url, {"reason": "客户来电投诉，核实身份需要完整号码 13812340009"})
    assert shown.status_code == 200
    html = shown.content.decode()
    assert "欧阳修文" in html and "13812340001" in html and "320102198005170001" in html
    assert "13812340002" not in html  # only that one record
    assert "no-store" in shown["Cache-Control"]
    event = AuditEvent.objects.get(actor=user, action="unmask")
    assert event.object_id == str(customer.pk)
    assert event.detail["fields"] == ["name", "msisdn", "id_number", "address", "birth_date"]
    assert event.detail["reason"].startswith("客户来电投诉")
    assert "13812340009" not in event.detail["reason"]  # a number typed in the reason is masked
    # The clear values are not kept: the customer page is masked again.
    assert_masked(client.get(f"/customers/{customer.pk}/"))


def test_unmask_out_of_scope_is_404_even_with_permission(client, customers, login):
    login(roles.ROLE_MANAGER, manager="M1", unmask=True)
    response = client.post(
        f"/customers/{customers['w1'].pk}/unmask/", {"reason": "客户来电核实身份需要完整号码"}
    )
    assert response.status_code == 404
    assert not AuditEvent.objects.filter(action="unmask").exists()


def test_no_role_is_granted_unmask_by_default(customers):
    roles.ensure_groups()
    from django.contrib.auth.models import Group

    for group in Group.objects.all():
        assert not group.permissions.filter(codename="unmask_personal_data").exists()
