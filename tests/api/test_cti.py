"""The CTI feed: the call list (clear numbers only for the CTI account with its permission,
audited per request) and the call results (idempotent on cti_call_id, 400 on bad input,
404 out of scope, in the OpenAPI schema)."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from factories import (
    BUSINESS_DATE,
    make_cti_user,
    make_manager,
    make_task,
    make_user,
    numbered_customer,
)
from keycare.access import roles
from keycare.core.models import AuditEvent
from keycare.tasks.models import CtiCall, Outcome, ServiceTask, TaskState

pytestmark = pytest.mark.django_db
LIST = "/api/cti/call-list/"
RESULTS = "/api/cti/call-results/"


@pytest.fixture
def world(org, manager):
    """Three open call tasks of M001 (Nanjing), one SMS and one handled task, one task of
    M002 (Suzhou), and one call task of another day."""
    suzhou = make_manager(org["C0512"], "M002")
    scores = [40, 95, 70]
    tasks = [
        make_task(numbered_customer(org, n, manager), BUSINESS_DATE, priority_score=s)
        for n, s in enumerate(scores, start=1)
    ]
    make_task(numbered_customer(org, 4, manager), BUSINESS_DATE, channel="sms")
    make_task(numbered_customer(org, 5, manager), BUSINESS_DATE, state="handled_no_change")
    far = make_task(numbered_customer(org, 6, suzhou, city="C0512"), BUSINESS_DATE)
    make_task(numbered_customer(org, 7, manager), BUSINESS_DATE.replace(day=19))
    return {"tasks": tasks, "suzhou_task": far, "org": org}


def api(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def body(task, cti_call_id="CTI-0001", **overrides):
    return {
        "cti_call_id": cti_call_id,
        "task_id": task.pk,
        "started_at": "2026-11-20T09:00:00+08:00",
        "ended_at": "2026-11-20T09:01:35+08:00",
        "result": "reached",
        "recording_ref": "REC/2026/11/20/0001",
        **overrides,
    }


def test_call_list_in_list_order_with_clear_numbers_audited(world):
    cti = make_cti_user()
    response = api(cti).get(LIST, {"date": BUSINESS_DATE.isoformat()})
    assert response.status_code == 200, response.content
    assert response["Cache-Control"] == "no-store"
    data = response.json()
    assert data["clear"] is True and data["count"] == 4
    rows = data["results"]
    assert [r["priority"] for r in rows] == [1, 2, 3, 4]
    scores = [r["priority_score"] for r in rows]
    assert scores == sorted(scores, reverse=True)
    by_task = {t.pk: t for t in ServiceTask.objects.select_related("customer", "manager")}
    for row in rows:
        task = by_task[row["task_id"]]
        assert row["msisdn"] == task.customer.msisdn
        assert row["manager_id"] == task.manager.manager_id
        assert task.channel == "call" and task.state == "unhandled"
    event = AuditEvent.objects.get(action="cti.call_list")
    assert event.actor == cti and event.detail["clear"] is True
    assert event.detail["tasks"] == [r["task_id"] for r in rows]
    assert event.detail["date"] == BUSINESS_DATE.isoformat()


def test_call_list_filters_by_manager_and_pages(world):
    client = api(make_cti_user())
    rows = client.get(LIST, {"date": BUSINESS_DATE.isoformat(), "manager": "M002"}).json()
    assert [r["task_id"] for r in rows["results"]] == [world["suzhou_task"].pk]
    second = client.get(LIST, {"date": BUSINESS_DATE.isoformat(), "page_size": 3, "page": 2})
    assert [r["priority"] for r in second.json()["results"]] == [4]
    assert AuditEvent.objects.filter(action="cti.call_list").count() == 2


def test_without_the_clear_permission_numbers_are_masked(world):
    cti = make_cti_user(clear=False)
    data = api(cti).get(LIST, {"date": BUSINESS_DATE.isoformat()}).json()
    assert data["clear"] is False and data["results"]
    assert all("****" in row["msisdn"] for row in data["results"])
    assert AuditEvent.objects.get(action="cti.call_list").detail["clear"] is False


def test_a_city_cti_account_sees_its_city_only(world):
    cti = make_cti_user(city=world["org"]["C0512"].city)
    data = api(cti).get(LIST, {"date": BUSINESS_DATE.isoformat()}).json()
    assert [r["task_id"] for r in data["results"]] == [world["suzhou_task"].pk]
    response = api(cti).post(RESULTS, body(world["tasks"][0]), format="json")
    assert response.status_code == 404, "a task outside the CTI account's city"
    assert not Outcome.objects.exists()


@pytest.mark.parametrize(
    "role",
    [
        roles.ROLE_MANAGER,
        roles.ROLE_CITY_ADMIN,
        roles.ROLE_PROVINCE_ADMIN,
        roles.ROLE_ANALYST,
        roles.ROLE_AUDITOR,
    ],
)
def test_other_roles_are_refused(world, role, manager):
    scope = {
        roles.ROLE_MANAGER: {"manager": manager},
        roles.ROLE_CITY_ADMIN: {"city": world["org"]["C025"].city},
    }.get(role, {})
    client = api(make_user(f"u-{role}", role, **scope))
    assert client.get(LIST, {"date": BUSINESS_DATE.isoformat()}).status_code == 403
    response = client.post(RESULTS, body(world["tasks"][0]), format="json")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "permission_denied"
    assert not Outcome.objects.exists() and not AuditEvent.objects.exists()
    assert APIClient().get(LIST).status_code in (401, 403)


def test_the_cti_account_sees_nothing_through_the_other_resources(world):
    client = api(make_cti_user())
    for endpoint in ("tasks", "customers", "appointments", "work-orders", "campaigns"):
        assert client.get(f"/api/{endpoint}/").json()["count"] == 0, endpoint
    assert client.get(f"/api/tasks/{world['tasks'][0].pk}/").status_code == 404


def test_call_result_is_idempotent_on_the_cti_call_id(world):
    client, task = api(make_cti_user()), world["tasks"][0]
    first = client.post(RESULTS, body(task), format="json")
    assert first.status_code == 201, first.content
    data = first.json()
    assert data["claimed"] is True and data["task_id"] == task.pk and data["result"] == "reached"
    task.refresh_from_db()
    assert task.state == TaskState.IN_PROGRESS

    again = client.post(RESULTS, body(task), format="json")
    assert again.status_code == 200 and again["Idempotent-Replayed"] == "true"
    assert again.json() == data
    assert Outcome.objects.filter(task=task).count() == 1 and CtiCall.objects.count() == 1

    changed = client.post(RESULTS, body(task, result="refused"), format="json")
    assert changed.status_code == 422
    assert Outcome.objects.filter(task=task).count() == 1

    second_call = client.post(RESULTS, body(task, "CTI-0002", result="not_reached"), format="json")
    assert second_call.status_code == 201 and second_call.json()["claimed"] is False
    assert Outcome.objects.filter(task=task).count() == 2


@pytest.mark.parametrize(
    "overrides,field",
    [
        ({"result": "busy"}, "result"),
        ({"cti_call_id": ""}, "cti_call_id"),
        ({"cti_call_id": "id with spaces"}, "cti_call_id"),
        ({"cti_call_id": "x" * 65}, "cti_call_id"),
        ({"task_id": "abc"}, "task_id"),
        ({"started_at": "yesterday"}, "started_at"),
        ({"started_at": "9999-12-31T23:59:59Z"}, "started_at"),
        ({"ended_at": "2026-11-20T08:59:00+08:00"}, "ended_at"),
        ({"recording_ref": "r" * 201}, "recording_ref"),
        ({"recording_ref": "a\x00b"}, "recording_ref"),
        ({"cti_call_id": "13812345678-1"}, "cti_call_id"),
        ({"recording_ref": "rec-13812345678"}, "recording_ref"),
    ],
)
def test_bad_call_results_are_a_400_naming_the_field(world, overrides, field):
    response = api(make_cti_user()).post(
        RESULTS, body(world["tasks"][0], **overrides), format="json"
    )
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert field in error["details"] and error["message"]
    assert not Outcome.objects.exists() and not CtiCall.objects.exists()


def test_missing_fields_and_bad_list_parameters_are_a_400(world):
    client = api(make_cti_user())
    response = client.post(RESULTS, {"cti_call_id": "CTI-9"}, format="json")
    assert response.status_code == 400
    assert {"task_id", "started_at", "ended_at", "result"} <= set(
        response.json()["error"]["details"]
    )
    for params in ({"date": "2026-13-01"}, {"date": "tomorrow"}, {"page_size": 0}):
        assert client.get(LIST, params).status_code == 400, params
    assert client.post(RESULTS, body(ServiceTask(pk=999999)), format="json").status_code == 404


def test_a_result_for_a_handled_task_is_a_conflict(world):
    task = world["tasks"][0]
    ServiceTask.objects.filter(pk=task.pk).update(state="handled_no_change")
    response = api(make_cti_user()).post(RESULTS, body(task), format="json")
    assert response.status_code == 409
    assert not Outcome.objects.exists()


def test_the_feed_is_in_the_openapi_schema(world):
    client = api(make_cti_user())
    schema = client.get("/api/schema/", {"format": "json"}).json()
    assert {"/api/cti/call-list/", "/api/cti/call-results/"} <= set(schema["paths"])
    post = schema["paths"]["/api/cti/call-results/"]["post"]
    assert {"200", "201"} <= set(post["responses"])
    params = {p["name"] for p in schema["paths"]["/api/cti/call-list/"]["get"]["parameters"]}
    assert {"date", "manager"} <= params
