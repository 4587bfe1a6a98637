"""The managers' API: a manager records a visit (validated, audited), sees their own plans,
visits and (approved) assessments; the paths are in the OpenAPI schema."""

from datetime import date, timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from factories import make_manager, make_manager_key_account, make_org, make_user
from keycare.access import roles
from keycare.keyaccounts.models import KeyPerson
from keycare.managers import actions
from keycare.managers.models import Assessment, AssessmentPeriod, WorkRecord

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(db):
    places = make_org()
    nj = places["C025"]
    m1, m2 = make_manager(nj, "M1"), make_manager(nj, "M2")
    group = make_manager_key_account(nj.city, "K1", m1)
    person = KeyPerson.objects.create(
        person_id="KP1", key_account=group, role="decision_maker", name="钱学敏"
    )
    user = make_user("m1", roles.ROLE_MANAGER, manager=m1)
    client = APIClient()
    client.force_authenticate(user)
    return {"m1": m1, "m2": m2, "group": group, "person": person, "user": user, "client": client}


def test_manager_records_a_visit(world):
    client = world["client"]
    body = {
        "kind": "visit", "at": (timezone.now() - timedelta(hours=1)).isoformat(),
        "key_persons": [world["person"].pk], "content": "回访 13812345678", "place": "总部",
    }  # fmt: skip
    response = client.post("/api/visits/", body, format="json")
    assert response.status_code == 201, response.content
    data = response.json()
    assert data["key_account"] == world["group"].pk and data["key_person_names"] == ["钱**"]
    assert "13812345678" not in response.content.decode()
    assert WorkRecord.objects.get().recorded_by == world["user"]
    bad = client.post("/api/visits/", {**body, "content": " "}, format="json")
    assert bad.status_code == 400 and "content" in bad.json()["error"]["details"]
    foreign = make_manager_key_account(world["m1"].city, "K2", world["m2"])
    bad = client.post("/api/visits/", {**body, "key_account": foreign.pk}, format="json")
    assert bad.status_code == 400 and WorkRecord.objects.count() == 1
    admin = APIClient()
    admin.force_authenticate(make_user("adm", roles.ROLE_CITY_ADMIN, city=world["m1"].city))
    assert admin.post("/api/visits/", body, format="json").status_code == 403
    assert admin.get("/api/visits/").json()["count"] == 1


def test_manager_sees_only_approved_assessments(world):
    period = AssessmentPeriod.objects.create(
        name="2026-11", start=date(2026, 11, 1), end=date(2026, 11, 30)
    )
    for m in (world["m1"], world["m2"]):
        Assessment.objects.create(period=period, manager=m, city=m.city, role=m.role)
    client = world["client"]
    assert client.get("/api/assessments/").json()["count"] == 0
    period.status = "approved"
    period.save()
    rows = client.get("/api/assessments/", {"period": "2026-11"}).json()["results"]
    assert [r["manager"] for r in rows] == ["M1"]
    actions.generate_plan(world["user"], world["m1"], period="month", day=date(2026, 11, 5))
    plans = client.get("/api/plans/").json()["results"]
    assert len(plans) == 1 and plans[0]["manager"] == "M1" and plans[0]["items"]
    managers = client.get("/api/managers/").json()["results"]
    assert [m["manager_id"] for m in managers] == ["M1"] and "*" in managers[0]["mobile"]


def test_paths_are_in_the_schema(world):
    schema = world["client"].get("/api/schema/", {"format": "json"}).json()
    for path in ("/api/managers/", "/api/plans/", "/api/visits/", "/api/assessments/"):
        assert path in schema["paths"], path
    assert "post" in schema["paths"]["/api/visits/"]
