"""GET /api/risk-scores/: the day's risk scores in the caller's scope, filtered, audited."""

import pytest
from rest_framework.test import APIClient

from factories import make_customer, make_manager, make_org, make_risk_score, make_user
from keycare.access import roles
from keycare.core.models import AuditEvent

pytestmark = pytest.mark.django_db


def test_filters_scope_and_audit():
    org = make_org()
    m1 = make_manager(org["C025"], "M001")
    m2 = make_manager(org["C0512"], "M002")
    make_risk_score(make_customer(org["C025"], "S1", m1), 0.8, has_moment=True)
    make_risk_score(make_customer(org["C025"], "S2", m1), 0.4)
    make_risk_score(make_customer(org["C0512"], "S3", m2), 0.9)
    client = APIClient()
    client.force_authenticate(make_user("p", roles.ROLE_PROVINCE_ADMIN))
    body = client.get("/api/risk-scores/", {"min_risk": 0.5, "has_moment": "false"}).json()
    assert [r["subscriber_id"] for r in body["results"]] == ["S3"]
    assert body["results"][0]["reasons"][0] == "异网通话占比上升"
    assert body["results"][0]["city"] == "C0512" and body["results"][0]["manager"] == "M002"
    event = AuditEvent.objects.get(action="search", object_type="runs.riskscore")
    assert event.detail["rows"] == 1 and event.detail["filters"]["min_risk"] == "0.5"
    client.force_authenticate(make_user("m", roles.ROLE_MANAGER, manager=m1))
    rows = client.get("/api/risk-scores/").json()["results"]
    assert [r["subscriber_id"] for r in rows] == ["S1", "S2"]
