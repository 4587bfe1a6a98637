"""Effects API: reports gated by role, rows scoped by city."""

import pytest
from rest_framework.test import APIClient

from factories import make_effect_report, make_org, make_user
from keycare.access import roles
from keycare.effects.models import EffectRow

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(db):
    places = make_org()
    nanjing, suzhou = places["C025"].city, places["C0512"].city
    return {"report": make_effect_report([nanjing, suzhou]), "nanjing": nanjing}


def client_for(role, **scope):
    client = APIClient()
    client.force_authenticate(make_user(f"api_{role}", role, **scope))
    return client


def rows(client, **params):
    response = client.get("/api/effect-rows/", {"page_size": 100, **params})
    assert response.status_code == 200, response.content
    return response.json()["results"]


def test_province_admin_reads_every_row_and_filters_province_ones(world):
    client = client_for(roles.ROLE_PROVINCE_ADMIN)
    assert len(rows(client)) == 5
    province = rows(client, province="true", dimension="moment")
    assert [(r["key"], r["city"], r["uplift"]) for r in province] == [("A03", None, -0.05)]
    reports = client.get("/api/effect-reports/").json()["results"]
    assert [r["id"] for r in reports] == [world["report"].pk]


def test_city_admin_reads_their_city_only(world):
    client = client_for(roles.ROLE_CITY_ADMIN, city=world["nanjing"])
    assert {r["city"] for r in rows(client)} == {"C025"}
    foreign = EffectRow.objects.filter(city__code="C0512").first()
    assert client.get(f"/api/effect-rows/{foreign.pk}/").status_code == 404
    own = EffectRow.objects.filter(city__code="C025").first()
    assert client.get(f"/api/effect-rows/{own.pk}/").json()["key"] == own.key


def test_manager_and_auditor_read_nothing(world):
    for role in (roles.ROLE_MANAGER, roles.ROLE_AUDITOR):
        client = client_for(role)
        assert rows(client) == []
        assert client.get("/api/effect-reports/").json()["results"] == []


def test_rows_are_read_only(world):
    client = client_for(roles.ROLE_PROVINCE_ADMIN)
    response = client.post("/api/effect-rows/", {}, format="json")
    assert response.status_code == 405
