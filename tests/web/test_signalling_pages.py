"""实时信令监控: the consumer's figures per minute, scoped detections masked and audited, and
only administrators may open it."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from factories import make_customer as build
from factories import make_place, make_realtime_detection, make_stream_minute, make_user
from keycare.access import roles
from keycare.core.models import AuditEvent

pytestmark = pytest.mark.django_db
URL = "/signalling/operations/"
FULL_MOBILE = re.compile(rb"(?<!\d)1[3-9]\d{9}(?!\d)")


@pytest.fixture
def detections(org, managers, make_customer):
    other = make_place("3202", "无锡市", county=("320202", "崇安区"), grid=("G9", "九网格"))
    return {
        "S1": make_realtime_detection(make_customer("S1", managers[0], msisdn="13812345671")),
        "S2": make_realtime_detection(build(other, "S2", None, msisdn="13812345672"), "RT02"),
    }


@pytest.fixture
def minutes(db):
    end = timezone.now().replace(second=0, microsecond=0)
    for i in range(3):
        make_stream_minute("ops:test", end - timedelta(minutes=i), detections=i, lag=40 - i)
    return end


def test_province_admin_sees_lag_rates_drops_and_detections(client, login_as, detections, minutes):
    login_as(roles.ROLE_PROVINCE_ADMIN)
    response = client.get(URL)
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="figure-lag">40<' in html  # the newest minute's lag
    assert 'id="figure-eps">20.0<' in html  # 1,200 entries in the last minute
    assert 'id="figure-late">18<' in html and 'id="figure-duplicate">72<' in html
    assert 'id="figure-detections">3<' in html
    assert "ops-chart-data" in html and "vendor/echarts" in html
    assert "S1" in html and "S2" in html and "日本" in html
    assert not FULL_MOBILE.search(response.content)
    event = AuditEvent.objects.get(action="signalling.view")
    assert event.detail["rows"] == 2 and set(event.detail["ids"]) == {
        d.pk for d in detections.values()
    }


def test_city_admin_sees_only_their_citys_detections(client, org, detections, minutes):
    client.force_login(make_user("cityadmin", roles.ROLE_CITY_ADMIN, city=org["city"]))
    html = client.get(URL).content.decode()
    assert "S1" in html and "S2" not in html
    assert AuditEvent.objects.get(action="signalling.view").detail["ids"] == [detections["S1"].pk]


@pytest.mark.parametrize("role", [roles.ROLE_MANAGER, roles.ROLE_ANALYST, roles.ROLE_AUDITOR])
def test_other_roles_are_refused(client, login_as, managers, role, detections):
    login_as(role, manager=managers[0] if role == roles.ROLE_MANAGER else None)
    assert client.get(URL).status_code == 403
    assert not AuditEvent.objects.filter(action="signalling.view").exists()


def test_empty_page_says_how_to_fill_it(client, login_as, db):
    login_as(roles.ROLE_PROVINCE_ADMIN)
    html = client.get(URL).content.decode()
    assert 'id="ops-empty"' in html and "keycare signalling consume" in html


def test_english(client, login_as, minutes):
    login_as(roles.ROLE_PROVINCE_ADMIN)
    client.cookies["django_language"] = "en"
    html = client.get(URL).content.decode()
    assert "Real-time signalling monitor" in html and "Events/s" in html
