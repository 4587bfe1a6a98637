"""统计分析 pages: the analyst's home, every analysis from one machinery, drill-down, export,
follow and save, scope by role, and clear 400s for bad parameters."""

from __future__ import annotations

import io
from datetime import date

import pytest
from openpyxl import load_workbook

from factories import indicator_row, load_indicator_rows, make_org, make_user
from keycare.access import roles
from keycare.analytics.models import FollowedIndicator, SavedAnalysis
from keycare.analytics.queries import definitions
from keycare.core.models import AuditEvent

pytestmark = pytest.mark.django_db


@pytest.fixture
def org():
    places = make_org()
    rows = []
    for month, scale in (("2025-10", 0.5), ("2026-09", 0.8), ("2026-10", 1.0)):
        rows += [
            indicator_row("revenue", month, "C025", "C025", 1000.0 * scale),
            indicator_row("revenue", month, "C0512", "C0512", 400.0 * scale),
            indicator_row("revenue", month, "all", "C025", 1000.0 * scale, dimension="province"),
            indicator_row("revenue", month, "all", "C0512", 400.0 * scale, dimension="province"),
            indicator_row("revenue", month, "XC025", "C025", 1000.0 * scale, dimension="county"),
        ]
    rows.append(indicator_row("customers", "2026-10-31", "C025", "C025", 7.0))
    load_indicator_rows(date(2026, 10, 31), rows)
    return places


def _login(client, role, city=None):
    user = make_user(f"u_{role}", role, city=city)
    client.force_login(user)
    return user


def test_the_analyst_lands_on_the_analytics_workbench(client, org):
    _login(client, roles.ROLE_ANALYST)
    response = client.get("/")
    assert response.status_code == 302 and response["Location"] == "/analytics/"
    page = client.get("/analytics/").content.decode()
    for analysis in definitions().analyses.values():
        assert f"/analytics/analyses/{analysis.code}/" in page


@pytest.mark.parametrize("code", sorted(definitions().analyses))
def test_every_analysis_opens(client, org, code):
    _login(client, roles.ROLE_ANALYST)
    response = client.get(f"/analytics/analyses/{code}/")
    assert response.status_code == 200
    assert b"member-chart" in response.content


def test_revenue_by_city_with_comparisons_and_drill_down(client, org):
    _login(client, roles.ROLE_ANALYST)
    page = client.get("/analytics/analyses/revenue/?dimension=city&period=2026-10").content
    page = page.decode()
    assert "南京市" in page and "1000.00" in page
    assert "25.0%" in page  # month on month: 800 -> 1000
    assert "100.0%" in page  # year on year: 500 -> 1000
    assert 'href="?dimension=county&amp;period=2026-10&amp;city=C025"' in page
    drilled = client.get("/analytics/analyses/revenue/?dimension=county&city=C025&period=2026-10")
    assert "南京市一区" in drilled.content.decode()


def test_excel_export_is_the_table_and_is_audited(client, org):
    user = _login(client, roles.ROLE_ANALYST)
    response = client.get("/analytics/analyses/revenue/?dimension=city&period=2026-10&export=xlsx")
    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(response.content)).active
    rows = list(sheet.values)
    assert rows[0][0] == "地市"
    assert rows[1][:4] == ("南京市", 1000.0, 25.0, 100.0)
    assert rows[-1][0] == "合计" and rows[-1][1] == 1400.0
    assert AuditEvent.objects.filter(actor=user, action="export").exists()


def test_a_city_administrator_sees_their_city_only(client, org):
    _login(client, roles.ROLE_CITY_ADMIN, city=org["C0512"].city)
    page = client.get("/analytics/analyses/revenue/?dimension=city&period=2026-10").content
    assert "苏州市" in page.decode() and "南京市" not in page.decode()
    assert client.get("/analytics/analyses/revenue/?city=C025").status_code == 400


@pytest.mark.parametrize("role", [roles.ROLE_MANAGER, roles.ROLE_AUDITOR])
def test_other_roles_are_refused(client, org, role):
    _login(client, role)
    assert client.get("/analytics/").status_code == 403
    assert client.get("/analytics/analyses/revenue/").status_code == 403


@pytest.mark.parametrize(
    ("query", "named"),
    [
        ("dimension=galaxy", "dimension"),
        ("dimension=moment", "dimension"),  # not a dimension of the revenue analysis
        ("period=2026-1", "period"),
        ("period=9999-99", "period"),
        ("period=%00", "period"),
        ("city=' OR 1=1 --", "city"),
        ("indicator=customers", "indicator"),
        ("dimension[]=city", None),
    ],
)
def test_hostile_parameters_get_a_400_naming_the_parameter(client, org, query, named):
    _login(client, roles.ROLE_ANALYST)
    response = client.get(f"/analytics/analyses/revenue/?{query}")
    if named is None:  # an unknown parameter is ignored
        assert response.status_code == 200
        return
    assert response.status_code == 400
    assert named in response.content.decode()


def test_an_unknown_analysis_is_404(client, org):
    _login(client, roles.ROLE_ANALYST)
    assert client.get("/analytics/analyses/nope/").status_code == 404


def test_follow_save_and_delete(client, org):
    user = _login(client, roles.ROLE_ANALYST)
    client.post("/analytics/follow/", {"indicator": "revenue", "next": "//evil.example/"})
    assert FollowedIndicator.objects.filter(user=user, indicator="revenue").exists()
    home = client.get("/analytics/").content.decode()
    assert "followed-indicator" in home and "1400.00" in home
    assert client.post("/analytics/follow/", {"indicator": "nope"}).status_code == 302
    assert FollowedIndicator.objects.filter(user=user).count() == 1
    response = client.post(
        "/analytics/analyses/revenue/save/",
        {"name": "南京收入", "dimension": "county", "city": "C025", "period": "2026-10"},
    )
    saved = SavedAnalysis.objects.get(user=user)
    assert response["Location"].startswith("/analytics/analyses/revenue/?")
    assert saved.params == {"dimension": "county", "city": "C025", "period": "2026-10"}
    client.post("/analytics/analyses/revenue/save/", {"name": "x", "dimension": "galaxy"})
    assert SavedAnalysis.objects.filter(user=user).count() == 1
    other = make_user("other", roles.ROLE_ANALYST)
    client.force_login(other)
    assert client.post(f"/analytics/saved/{saved.pk}/delete/").status_code == 404
    client.force_login(user)
    client.post(f"/analytics/saved/{saved.pk}/delete/")
    assert not SavedAnalysis.objects.exists()
    client.post("/analytics/unfollow/", {"indicator": "revenue"})
    assert not FollowedIndicator.objects.exists()
