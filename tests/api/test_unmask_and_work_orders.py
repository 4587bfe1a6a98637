"""POST /api/customers/{id}/unmask/ and POST /api/work-orders/ in detail (the role matrix
covers who may call them)."""

import pytest
from django.contrib.auth import get_user_model
from test_role_matrix import (
    ANALYST,
    MANAGER_A1,
    REASON,
    build_world,
    client_for,
    grant_unmask,
)

from keycare.core.models import AuditEvent
from keycare.tasks.models import ServiceTask
from keycare.workorders.models import WorkOrder

pytestmark = pytest.mark.django_db


@pytest.fixture
def world():
    return build_world()


def _fresh(user):
    return get_user_model().objects.get(pk=user.pk)


def _customer_of(world, manager="A1"):
    return next(pk for pk in world.rows["customers"] if world.tags[("customers", pk)][1] == manager)


def test_unmask_needs_a_reason_and_audits_fields_and_reason(world):
    user = world.users[MANAGER_A1]
    grant_unmask(user)
    client = client_for(_fresh(user))
    pk = _customer_of(world)
    short = client.post(f"/api/customers/{pk}/unmask/", {"reason": "核实"}, format="json")
    assert short.status_code == 400
    assert "至少 10 个字" in short.json()["error"]["message"]
    missing = client.post(f"/api/customers/{pk}/unmask/", {}, format="json")
    assert missing.status_code == 400
    assert missing.json()["error"]["details"]["reason"]
    assert not AuditEvent.objects.filter(action="unmask").exists()

    response = client.post(f"/api/customers/{pk}/unmask/", REASON, format="json")
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    assert set(response.json()) == {
        "id", "subscriber_id", "name", "msisdn", "id_number", "address", "birth_date",
    }  # fmt: skip
    event = AuditEvent.objects.get(action="unmask")
    assert (event.actor_id, event.object_type, event.object_id) == (
        user.pk,
        "customers.customer",
        str(pk),
    )
    assert event.detail["channel"] == "api"
    assert event.detail["fields"] == ["name", "msisdn", "id_number", "address", "birth_date"]
    assert event.detail["reason"] == REASON["reason"]
    # The ordinary read stays masked afterwards.
    assert "****" in client.get(f"/api/customers/{pk}/").json()["msisdn"]


def test_an_analyst_granted_unmask_may_unmask_though_not_a_writer(world):
    user = world.users[ANALYST]
    grant_unmask(user)
    pk = _customer_of(world)
    response = client_for(_fresh(user)).post(f"/api/customers/{pk}/unmask/", REASON, format="json")
    assert response.status_code == 200


def _in_progress_task(world, manager="A1"):
    pk = next(pk for pk in world.rows["tasks"] if world.tags[("tasks", pk)][1] == manager)
    ServiceTask.objects.filter(pk=pk).update(state="in_progress")
    return ServiceTask.objects.get(pk=pk)


def test_work_order_create_is_idempotent(world):
    client = client_for(world.users[MANAGER_A1])
    task = _in_progress_task(world)
    body = {"task": task.pk, "department": "D1", "title": "宽带故障", "version": task.version}
    first = client.post("/api/work-orders/", body, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    again = client.post("/api/work-orders/", body, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    assert first.status_code == again.status_code == 201
    assert again["Idempotent-Replayed"] == "true"
    assert first.json() == again.json()
    assert WorkOrder.objects.filter(task=task).count() == 2  # the world's one + this one
    assert AuditEvent.objects.filter(action="workorder.create").count() == 1
    other = {**body, "title": "另一个标题"}
    reused = client.post("/api/work-orders/", other, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    assert reused.status_code == 422
    assert reused.json()["error"]["code"] == "idempotency_key_reused"


@pytest.mark.parametrize(
    "change,status,code",
    [
        ({"department": "NOPE"}, 400, "invalid"),
        ({"title": "   "}, 400, "invalid"),
        ({"title": ""}, 400, "invalid"),
        ({"priority": "whenever"}, 400, "invalid"),
        ({"task": 999999}, 404, "not_found"),
        ({"version": 99}, 409, "stale"),
        ({"title": "x" * 201}, 400, "invalid"),
    ],
)
def test_work_order_create_refuses_bad_input_clearly(world, change, status, code):
    client = client_for(world.users[MANAGER_A1])
    task = _in_progress_task(world)
    body = {"task": task.pk, "department": "D1", "title": "宽带故障", **change}
    response = client.post("/api/work-orders/", body, format="json")
    assert response.status_code == status, response.content
    assert response.json()["error"]["code"] == code
    assert response.json()["error"]["message"]
    assert WorkOrder.objects.count() == len(world.rows["work-orders"])


def test_work_order_on_an_unclaimed_task_is_a_conflict(world):
    client = client_for(world.users[MANAGER_A1])
    pk = next(pk for pk in world.rows["tasks"] if world.tags[("tasks", pk)][1] == "A1")
    body = {"task": pk, "department": "D1", "title": "宽带故障"}
    response = client.post("/api/work-orders/", body, format="json")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "conflict"
