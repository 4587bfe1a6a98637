"""/api/indicators/: definitions and values from the pages' query, scoped, with 400s that
name the bad parameter and 403 for roles without analytics."""

from __future__ import annotations

from datetime import date

import pytest
from rest_framework.test import APIClient

from factories import indicator_row, load_indicator_rows, make_org, make_user
from keycare.access import roles

pytestmark = pytest.mark.django_db


@pytest.fixture
def org():
    places = make_org()
    rows = []
    for month, scale in (("2026-09", 0.8), ("2026-10", 1.0)):
        rows += [
            indicator_row("revenue", month, "C025", "C025", 1000.0 * scale),
            indicator_row("revenue", month, "C0512", "C0512", 400.0 * scale),
            indicator_row("revenue", month, "all", "C025", 1000.0 * scale, dimension="province"),
            indicator_row("revenue", month, "all", "C0512", 400.0 * scale, dimension="province"),
        ]
    load_indicator_rows(date(2026, 10, 31), rows)
    return places


def _client(role, city=None):
    client = APIClient()
    client.force_authenticate(make_user(f"api_{role}", role, city=city))
    return client


def test_definitions(org):
    client = _client(roles.ROLE_ANALYST)
    body = client.get("/api/indicators/").json()
    by_code = {i["code"]: i for i in body["results"]}
    assert by_code["revenue"]["grain"] == "month"
    assert "grid" not in by_code["revenue"]["dimensions"]
    assert "moment" in by_code["detections"]["dimensions"]
    analyses = client.get("/api/analyses/").json()
    assert "development" in {a["code"] for a in analyses["results"]}


def test_values_by_city_with_comparisons(org):
    body = (
        _client(roles.ROLE_ANALYST)
        .get("/api/indicators/revenue/values/", {"dimension": "city", "period": "2026-10"})
        .json()
    )
    rows = {r["member"]: r for r in body["results"]}
    assert rows["C025"]["value"] == 1000.0 and rows["C025"]["label"] == "南京市"
    assert rows["C025"]["mom_pct"] == pytest.approx(25.0)
    assert body["total"]["value"] == 1400.0


def test_a_city_administrator_gets_their_city(org):
    client = _client(roles.ROLE_CITY_ADMIN, city=org["C0512"].city)
    body = client.get("/api/indicators/revenue/values/", {"dimension": "city"}).json()
    assert [r["member"] for r in body["results"]] == ["C0512"]
    assert body["total"]["value"] == 400.0


@pytest.mark.parametrize(
    ("params", "named"),
    [
        ({"dimension": "grid"}, "dimension"),  # bill indicators have no grid rows
        ({"dimension": "x" * 5000}, "dimension"),
        ({"period": "2026-00"}, "period"),
        ({"period": "'; DROP TABLE x; --"}, "period"),
        ({"city": "\x00"}, "city"),
    ],
)
def test_bad_parameters_are_400_naming_the_parameter(org, params, named):
    response = _client(roles.ROLE_ANALYST).get("/api/indicators/revenue/values/", params)
    assert response.status_code == 400
    assert named in response.json()["error"]["message"]


def test_unknown_indicator_is_404(org):
    assert _client(roles.ROLE_ANALYST).get("/api/indicators/nope/values/").status_code == 404


@pytest.mark.parametrize("role", [roles.ROLE_MANAGER, roles.ROLE_AUDITOR, roles.ROLE_CTI])
def test_other_roles_are_refused(org, role):
    client = _client(role)
    assert client.get("/api/indicators/").status_code == 403
    assert client.get("/api/indicators/revenue/values/").status_code == 403
