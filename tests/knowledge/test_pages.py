"""The need-graph and rising-causes pages: scoped, masked, audited, reachable."""

from datetime import timedelta

import pytest

from factories import BUSINESS_DATE, make_complaint, make_manager, make_user, numbered_customer
from keycare.access import roles
from keycare.core.models import AuditEvent

pytestmark = pytest.mark.django_db


@pytest.fixture
def complained(customers):
    make_complaint(customers[0], "broadband_fault", "repair", text="宽带断了，联系我13812345678")
    return customers[0]


def test_manager_sees_the_need_graph_of_their_customer_masked(client, manager, complained):
    client.force_login(make_user("m", roles.ROLE_MANAGER, manager=manager))
    page = client.get(f"/knowledge/customers/{complained.pk}/")
    assert page.status_code == 200
    html = page.content.decode()
    assert 'id="need-graph-data"' in html and "家庭宽带 / 宽带故障" in html
    assert page.context["need_label"] == "故障修复"
    assert [s["kind"] for s in page.context["path"]][:4] == ["customer", "signal", "cause", "need"]
    assert "13812345678" not in html and "张三丰" not in html
    assert AuditEvent.objects.filter(action="view_customer", object_id=str(complained.pk)).exists()


def test_need_graph_outside_the_scope_is_404(client, org, complained):
    other = make_manager(org["C0512"], "M002")
    client.force_login(make_user("m2", roles.ROLE_MANAGER, manager=other))
    assert client.get(f"/knowledge/customers/{complained.pk}/").status_code == 404
    client.force_login(make_user("city2", roles.ROLE_CITY_ADMIN, city=org["C0512"].city))
    assert client.get(f"/knowledge/customers/{complained.pk}/").status_code == 404
    client.force_login(make_user("aud", roles.ROLE_AUDITOR))
    assert client.get(f"/knowledge/customers/{complained.pk}/").status_code == 403


def test_customer_360_and_task_page_link_to_the_need_graph(client, manager, complained):
    client.force_login(make_user("m", roles.ROLE_MANAGER, manager=manager))
    page = client.get(f"/customers/{complained.pk}/").content.decode()
    assert f"/knowledge/customers/{complained.pk}/" in page


def test_rising_causes_by_area_for_the_city_admin_only_in_their_city(client, org, customers):
    far = numbered_customer(org, 9, city="C0512")
    for n in range(3):
        make_complaint(customers[n], "slow_data", "repair", BUSINESS_DATE - timedelta(days=n))
        make_complaint(far, "roaming_charge", "refund", BUSINESS_DATE - timedelta(days=n))
    client.force_login(make_user("city", roles.ROLE_CITY_ADMIN, city=org["C025"].city))
    page = client.get("/knowledge/rising/")
    assert page.status_code == 200
    assert [(r["cause"], r["recent"]) for r in page.context["rows"]] == [("slow_data", 3)]
    assert "网络质量 / 上网速度慢" in page.content.decode()
    assert client.get("/knowledge/rising/?group=roaming").context["rows"] == []
    bad = client.get("/knowledge/rising/?date=2026-13-01&days=abc", follow=True)
    assert bad.status_code == 200 and "无效" in bad.content.decode()
    client.force_login(make_user("prov", roles.ROLE_PROVINCE_ADMIN))
    causes = {r["cause"] for r in client.get("/knowledge/rising/").context["rows"]}
    assert causes == {"slow_data", "roaming_charge"}


def test_rising_causes_is_not_for_managers(client, manager):
    client.force_login(make_user("m", roles.ROLE_MANAGER, manager=manager))
    assert client.get("/knowledge/rising/").status_code == 403
