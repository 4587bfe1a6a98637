"""效果评估 page: province roles see the province rows, a city administrator only their
city's; drill-down, Excel export, filters and the empty state."""

import io

import pytest
from openpyxl import load_workbook

from factories import make_effect_report, make_manager, make_org, make_user
from keycare.access import roles
from keycare.core.models import AuditEvent

pytestmark = pytest.mark.django_db
URL = "/effects/"


@pytest.fixture
def world(db):
    places = make_org()
    nanjing, suzhou = places["C025"].city, places["C0512"].city
    manager = make_manager(places["C025"], "M001", name="王经理")
    report = make_effect_report([nanjing, suzhou], manager=manager, horizons=(30, 60))
    return {"nanjing": nanjing, "suzhou": suzhou, "report": report, "manager": manager}


def login(client, role, **scope):
    user = make_user(f"u_{role}", role, **scope)
    client.force_login(user)
    return user


def keys_and_cities(response):
    return [(d["row"].key, d["row"].city_id) for d in response.context["rows"]]


def test_province_admin_sees_the_province_rows_with_chart_and_figures(client, world):
    login(client, roles.ROLE_PROVINCE_ADMIN)
    response = client.get(URL)
    assert response.status_code == 200
    assert keys_and_cities(response) == [("A03", None)]
    chart = response.context["chart"]
    assert chart["uplift"] == [-5.0] and chart["low"] == [-7.0] and chart["high"] == [-3.0]
    assert chart["urls"] == [f"/effects/{world['report'].pk}/moment/A03/"]
    body = response.content.decode()
    assert 'id="effect-chart"' in body and "echarts" in body
    assert "60.0%" in body  # contact rate
    assert 'id="churn-avoided">3<' in body


def test_city_admin_sees_only_their_city(client, world):
    login(client, roles.ROLE_CITY_ADMIN, city=world["nanjing"])
    moments = client.get(URL)
    assert keys_and_cities(moments) == [("A03", world["nanjing"].pk)]
    cities = client.get(URL, {"dimension": "city"})
    assert keys_and_cities(cities) == [("C025", world["nanjing"].pk)]
    managers = client.get(URL, {"dimension": "manager"})
    assert keys_and_cities(managers) == [("M001", world["nanjing"].pk)]
    assert "churn-avoided" not in moments.content.decode()  # province totals are not theirs
    other = client.get(f"/effects/{world['report'].pk}/city/C0512/")
    assert other.status_code == 404


def test_filters_horizon_and_significance(client, world):
    login(client, roles.ROLE_PROVINCE_ADMIN)
    response = client.get(URL, {"dimension": "city", "horizon": "60", "significant": "1"})
    assert response.context["filters"]["horizon"] == 60
    assert sorted(k for k, _ in keys_and_cities(response)) == ["C025", "C0512"]
    assert keys_and_cities(client.get(URL, {"dimension": "city", "q": "苏州"})) == [
        ("C0512", world["suzhou"].pk)
    ]
    # A bad value falls back to the defaults instead of failing.
    fallback = client.get(URL, {"dimension": "nonsense", "horizon": "x"})
    assert fallback.context["filters"]["dimension"] == "moment"
    assert fallback.context["filters"]["horizon"] == 30
    assert client.get(URL, {"report": "999"}).status_code == 404


def test_drill_down_shows_every_horizon_and_the_cities(client, world):
    login(client, roles.ROLE_PROVINCE_ADMIN)
    response = client.get(f"/effects/{world['report'].pk}/moment/A03/")
    assert response.status_code == 200
    assert [d["row"].horizon for d in response.context["rows"]] == [30, 60]
    assert {d["row"].city_id for d in response.context["city_rows"]} == {
        world["nanjing"].pk,
        world["suzhou"].pk,
    }
    assert client.get(f"/effects/{world['report'].pk}/bogus/A03/").status_code == 404


def test_excel_export_is_the_filtered_table_and_audited(client, world):
    user = login(client, roles.ROLE_PROVINCE_ADMIN)
    response = client.get(URL, {"dimension": "city", "export": "xlsx"})
    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(response.content)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:3] == ("维度", "名称", "编码")
    assert sorted(r[2] for r in rows[1:]) == ["C025", "C0512"]
    assert AuditEvent.objects.filter(actor=user, action="export").exists()


def test_managers_and_auditors_may_not_open_it(client, world):
    login(client, roles.ROLE_MANAGER, manager=world["manager"])
    assert client.get(URL).status_code == 403


def test_empty_state_without_reports(client, db):
    login(client, roles.ROLE_PROVINCE_ADMIN)
    response = client.get(URL)
    assert response.status_code == 200
    assert 'id="no-report"' in response.content.decode()
