"""GET /api/realtime-detections/: location-bearing detections, scoped, every read audited."""

import pytest
from rest_framework.test import APIClient

from factories import make_customer, make_manager, make_org, make_realtime_detection, make_user
from keycare.access import roles
from keycare.core.models import AuditEvent

pytestmark = pytest.mark.django_db


def test_scope_and_every_read_audited():
    org = make_org()
    m1 = make_manager(org["C025"], "M001")
    m2 = make_manager(org["C0512"], "M002")
    mine = make_realtime_detection(make_customer(org["C025"], "S1", m1))
    other = make_realtime_detection(make_customer(org["C0512"], "S2", m2), "RT02")
    client = APIClient()
    client.force_authenticate(make_user("p", roles.ROLE_PROVINCE_ADMIN))
    rows = client.get("/api/realtime-detections/").json()["results"]
    assert {r["subscriber_id"] for r in rows} == {"S1", "S2"}
    assert rows[0]["country"] == "JP" and rows[0]["latency_ms"]["detect"] == 2000
    assert "name" not in rows[0] and "msisdn" not in rows[0]
    event = AuditEvent.objects.get(action="signalling.view")
    assert set(event.detail["ids"]) == {mine.pk, other.pk} and event.detail["page"] == "api"

    client.force_authenticate(make_user("m", roles.ROLE_MANAGER, manager=m1))
    rows = client.get("/api/realtime-detections/").json()["results"]
    assert [r["subscriber_id"] for r in rows] == ["S1"]
    assert client.get(f"/api/realtime-detections/{mine.pk}/").status_code == 200
    assert client.get(f"/api/realtime-detections/{other.pk}/").status_code == 404
    reads = AuditEvent.objects.filter(action="signalling.view", actor__username="m")
    assert [e.detail["ids"] for e in reads.order_by("id")] == [[mine.pk], [mine.pk]]
