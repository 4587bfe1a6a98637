"""Complaints and knowledge-graph API: texts with their reading, masked and scoped; the
correction; a customer's need graph and why-path; rising causes by area."""

from datetime import timedelta

import pytest
from rest_framework.test import APIClient

from factories import (
    BUSINESS_DATE,
    make_complaint,
    make_customer,
    make_manager,
    make_org,
    make_user,
)
from keycare.access import roles
from keycare.complaints.models import ComplaintLabel
from keycare.core.models import AuditEvent

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def chinese():
    from django.utils import translation

    with translation.override("zh-hans"):
        yield


@pytest.fixture
def world():
    org = make_org()
    m1 = make_manager(org["C025"], "M001")
    m2 = make_manager(org["C0512"], "M002")
    near = make_customer(org["C025"], "S1", m1, name="欧阳修文", address="南京市玄武区珠江路88号")
    far = make_customer(org["C0512"], "S2", m2)
    texts = {
        "fault": make_complaint(
            near, "broadband_fault", "repair", text="宽带断了，回电13812345678", resolved=False
        ),
        "unsure": make_complaint(
            near,
            "slow_data",
            "repair",
            text="我是欧阳修文，住南京市玄武区珠江路88号，流量用得快",
            confidence=0.4,
        ),
        "far": make_complaint(far, "roaming_charge", "refund", text="漫游费太贵"),
    }
    for n in range(3):  # with "fault": 4 broadband faults in S1's county this week, none before
        make_complaint(near, "broadband_fault", "repair", BUSINESS_DATE - timedelta(days=n))
    return {"org": org, "m1": m1, "near": near, "far": far, **texts}


def _client(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def test_texts_with_their_reading_masked_filtered_and_audited(world):
    client = _client(make_user("p", roles.ROLE_PROVINCE_ADMIN))
    body = client.get("/api/complaints/", {"cause": "broadband_fault", "resolved": "false"}).json()
    assert body["count"] == 1
    row = body["results"][0]
    assert row["text"] == "宽带断了，回电138****5678"
    assert (row["cause_label"], row["need_label"]) == ("家庭宽带 / 宽带故障", "故障修复")
    assert row["resolved"] is False and row["confidence"] == 0.93
    assert row["subscriber_id"] == "S1" and row["label_source"] == "model"
    review = client.get("/api/complaints/", {"review": "true"}).json()["results"]
    assert [r["id"] for r in review] == [world["unsure"].pk]
    # The customer's own name and address are masked where the text repeats them.
    assert "欧阳修文" not in review[0]["text"] and "珠江路88号" not in review[0]["text"]
    assert review[0]["text"].endswith("流量用得快")
    assert client.get("/api/complaints/", {"low": "false"}).json()["count"] == 5
    event = (
        AuditEvent.objects.filter(action="search", object_type="complaints.complaint")
        .order_by("pk")
        .first()
    )
    assert event.detail["filters"] == {"cause": "broadband_fault", "resolved": "false"}


def test_scope_out_of_scope_is_404_and_the_auditor_sees_nothing(world):
    manager = _client(make_user("m", roles.ROLE_MANAGER, manager=world["m1"]))
    ids = {r["id"] for r in manager.get("/api/complaints/").json()["results"]}
    assert world["far"].pk not in ids and world["fault"].pk in ids
    assert manager.get(f"/api/complaints/{world['far'].pk}/").status_code == 404
    auditor = _client(make_user("a", roles.ROLE_AUDITOR))
    assert auditor.get("/api/complaints/").json()["count"] == 0


def test_correct_is_for_reviewers_in_scope_and_answers_bad_input(world):
    unsure = world["unsure"]
    analyst = _client(make_user("an", roles.ROLE_ANALYST, city=world["org"]["C025"].city))
    url = f"/api/complaints/{unsure.pk}/correct/"
    body = {"cause": "overage_charge", "need": "explanation", "version": 0}
    response = analyst.post(url, body, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["label_source"] == "analyst" and response.json()["label_version"] == 1
    assert analyst.post(url, body, format="json").status_code == 409  # version 0 is stale now
    bad = analyst.post(url, {"cause": "nope", "need": "refund"}, format="json")
    assert bad.status_code == 400 and "原因无效" in bad.json()["error"]["message"]
    far = analyst.post(f"/api/complaints/{world['far'].pk}/correct/", body, format="json")
    assert far.status_code == 404
    manager = _client(make_user("m", roles.ROLE_MANAGER, manager=world["m1"]))
    assert manager.post(url, body, format="json").status_code == 403
    assert ComplaintLabel.objects.count() == 1


def test_need_graph_with_why_path_scoped_masked_audited(world):
    near = world["near"]
    client = _client(make_user("m", roles.ROLE_MANAGER, manager=world["m1"]))
    response = client.get(f"/api/knowledge/customers/{near.pk}/need-graph/")
    assert response.status_code == 200
    body = response.json()
    assert body["predicted_need"] == "repair" and body["predicted_need_label"] == "故障修复"
    kinds = [step["kind"] for step in body["why_path"]]
    assert kinds[0] == "customer" and "cause" in kinds and "need" in kinds
    assert {"customer", "signal", "cause", "need"} <= {n["kind"] for n in body["nodes"]}
    assert any(e["relation"] == "means" for e in body["edges"])
    assert body["similar_tactics"] and body["similar_tactics"][0]["source"] == "library"
    assert "欧阳修文" not in response.content.decode()
    assert "13812345678" not in response.content.decode()
    assert AuditEvent.objects.filter(action="view_customer", object_id=str(near.pk)).exists()
    far = client.get(f"/api/knowledge/customers/{world['far'].pk}/need-graph/")
    assert far.status_code == 404 and far.json()["error"]["code"] == "not_found"
    auditor = _client(make_user("a", roles.ROLE_AUDITOR))
    assert auditor.get(f"/api/knowledge/customers/{near.pk}/need-graph/").status_code == 403


def test_rising_causes_by_area_roles_and_bad_parameters(world):
    analyst = _client(make_user("an", roles.ROLE_ANALYST, city=world["org"]["C025"].city))
    body = analyst.get("/api/knowledge/rising-causes/", {"days": 7}).json()
    assert body["date"] == BUSINESS_DATE.isoformat()
    assert [(r["cause"], r["recent"], r["before"]) for r in body["results"]] == [
        ("broadband_fault", 4, 0)
    ]
    assert analyst.get("/api/knowledge/rising-causes/", {"group": "roaming"}).json()["count"] == 0
    for name, value in (("days", "8"), ("min_count", "x"), ("date", "2026-13-40"), ("group", "z")):
        bad = analyst.get("/api/knowledge/rising-causes/", {name: value})
        assert bad.status_code == 400 and name in bad.json()["error"]["details"], (name, value)
    manager = _client(make_user("m", roles.ROLE_MANAGER, manager=world["m1"]))
    assert manager.get("/api/knowledge/rising-causes/").status_code == 403


def test_the_schema_describes_the_new_resources():
    client = _client(make_user("p", roles.ROLE_PROVINCE_ADMIN))
    schema = client.get("/api/schema/", {"format": "json"}).json()
    for path in (
        "/api/complaints/",
        "/api/complaints/{id}/correct/",
        "/api/knowledge/customers/{id}/need-graph/",
        "/api/knowledge/rising-causes/",
    ):
        assert path in schema["paths"], path
