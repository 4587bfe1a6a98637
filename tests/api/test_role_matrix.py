"""Role x endpoint matrix for the REST API: each role sees exactly its scope, masked.

Two cities (A, B), managers A1, A2 (city A) and B1 (city B), two customers per manager, each
with a task, an appointment and a work order; a campaign per city; one run, one moment, one
rule version. Every row carries the (city, manager) it belongs to, so the expected rows per
role follow from that tag alone, independently of the chokepoint under test.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from rest_framework.test import APIClient, APIRequestFactory

from factories import (
    make_complaint,
    make_customer,
    make_department,
    make_effect_report,
    make_manager,
    make_moment,
    make_place,
    make_realtime_detection,
    make_risk_score,
    make_task,
    make_user,
    make_work_order,
)
from keycare.access import roles
from keycare.api.urls import router
from keycare.campaigns.models import Campaign, CampaignManager
from keycare.core.models import AuditEvent
from keycare.customers.models import Customer
from keycare.moments.models import RuleVersion
from keycare.runs.models import Run
from keycare.tasks.models import Appointment, ServiceTask, TaskMoment
from keycare.workorders.models import WorkOrder

pytestmark = pytest.mark.django_db
DAY = date(2026, 11, 20)
MOBILE_RE = re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)")
ID_RE = re.compile(r"(?<![0-9Xx])\d{17}[0-9Xx](?![0-9Xx])")
FULL_NAMES = ("欧阳修文", "张三丰", "李四光")

PROVINCE = "province_admin"
CITY_A = "city_admin_a"
MANAGER_A1 = "manager_a1"
ANALYST = "analyst"
AUDITOR = "auditor"
ROLE_USERS = (PROVINCE, CITY_A, MANAGER_A1, ANALYST, AUDITOR)


@dataclass
class World:
    users: dict
    tags: dict  # (endpoint, pk) -> (city code, manager code)
    rows: dict  # endpoint -> [pk, ...]


def build_world() -> World:
    cities = {
        code: make_place(code, f"城市{code}", county=(f"X{code}", f"{code}区")) for code in "AB"
    }
    managers = {
        code: make_manager(cities[city_code], code, mobile=f"1390000000{number}")
        for number, (code, city_code) in enumerate((("A1", "A"), ("A2", "A"), ("B1", "B")))
    }
    moment = make_moment("A03", script="", sms_template="", thresholds={})
    RuleVersion.objects.create(moment=moment, number=1, snapshot={"code": "A03"}, note="初版")
    Run.objects.create(run_id="run-20261120", business_date=DAY)
    department = make_department("D1", "装维部")
    make_effect_report([cities[code].city for code in "AB"])  # effects: rows to hide
    tags: dict = {}
    rows: dict = {
        name: []
        for name in (
            "customers",
            "tasks",
            "appointments",
            "work-orders",
            "risk-scores",
            "complaints",
            "realtime-detections",
        )
    }
    n = 0
    for code, manager in managers.items():
        place = cities[manager.city.code]
        for _ in range(2):
            n += 1
            tag = (place.city.code, code)
            customer = make_customer(
                place, f"S{n:03d}", manager, msisdn=f"1381234{n:04d}",
                name=FULL_NAMES[n % len(FULL_NAMES)], id_number=f"32010219800517{n:04d}",
                birth_date=date(1980, 5, 17), address="江苏省南京市玄武区珠江路88号",
                row_hash=str(n),
            )  # fmt: skip
            task = make_task(
                customer, DAY, priority_score=n, feedback=f"客户留言 {customer.msisdn}"
            )
            TaskMoment.objects.create(task=task, moment=moment, priority=80)
            appointment = Appointment.objects.create(
                task=task, customer=customer, manager=manager, kind="alert",
                due_at=datetime(2026, 11, 21, 9, tzinfo=UTC),
                notes=f"回拨 {customer.msisdn}",
            )  # fmt: skip
            order = make_work_order(
                task, department, appointment.due_at, description=f"证件 {customer.id_number}"
            )
            risk = make_risk_score(customer, 0.5 + n / 100)
            complaint = make_complaint(
                customer, "broadband_fault", "repair", DAY,
                text=f"我是{customer.name}，住{customer.address}，回电{customer.msisdn}，"
                f"证件{customer.id_number}",
                handling_result=f"已回电 {customer.msisdn}", confidence=0.4 + n / 100,
            )  # fmt: skip
            for endpoint, obj in (
                ("customers", customer),
                ("tasks", task),
                ("appointments", appointment),
                ("work-orders", order),
                ("risk-scores", risk),
                ("complaints", complaint),
                ("realtime-detections", make_realtime_detection(customer)),
            ):
                rows[endpoint].append(obj.pk)
                tags[(endpoint, obj.pk)] = tag
    _key_accounts(cities, managers, rows, tags)
    rows["campaigns"] = []
    for city_code, manager_code in (("A", "A1"), ("B", "B1")):
        campaign = Campaign.objects.create(
            name=f"活动{city_code}", status="active", city=cities[city_code].city
        )
        CampaignManager.objects.create(campaign=campaign, manager=managers[manager_code])
        rows["campaigns"].append(campaign.pk)
        tags[("campaigns", campaign.pk)] = (city_code, manager_code)
    _managers_rows(managers, rows, tags)
    _add_sms_messages(rows, tags)
    users = {
        PROVINCE: make_user(PROVINCE, roles.ROLE_PROVINCE_ADMIN),
        CITY_A: make_user(CITY_A, roles.ROLE_CITY_ADMIN, city=cities["A"].city),
        MANAGER_A1: make_user(MANAGER_A1, roles.ROLE_MANAGER, manager=managers["A1"]),
        ANALYST: make_user(ANALYST, roles.ROLE_ANALYST),
        AUDITOR: make_user(AUDITOR, roles.ROLE_AUDITOR),
    }
    return World(users=users, tags=tags, rows=rows)


def _key_accounts(cities, managers, rows, tags) -> None:
    """One group per manager (key accounts, h-keyacct), with a key person named in full."""
    from factories import make_key_account, make_key_account_archive

    rows["key-accounts"] = []
    for code, manager in managers.items():
        group = make_key_account(cities[manager.city.code], f"K{code}", manager)
        make_key_account_archive(group)
        group.key_persons.update(name=FULL_NAMES[0])
        rows["key-accounts"].append(group.pk)
        tags[("key-accounts", group.pk)] = (manager.city.code, code)
    _potential_key_accounts(managers, rows, tags)


def _potential_key_accounts(managers, rows, tags) -> None:
    """One candidate per manager, its contact one of their customers named in full."""
    from keycare.keyaccounts.models import PotentialKeyAccount

    rows["potential-key-accounts"] = []
    for code, manager in managers.items():
        contact = Customer.objects.filter(manager=manager).order_by("pk").first()
        candidate = PotentialKeyAccount.objects.create(
            candidate_id=f"company-{code}", source="company", name=f"{code}精密机械有限公司",
            city=manager.city, manager=manager, subscribers=12, monthly_spend=2400, score=40,
            contact=contact, rule_version=0,
        )  # fmt: skip
        rows["potential-key-accounts"].append(candidate.pk)
        tags[("potential-key-accounts", candidate.pk)] = (manager.city.code, code)


# --- managers: the archive, plans, visits and assessments, one of each per manager --------
MANAGERS_ENDPOINTS = ("managers", "plans", "visits", "assessments")


def _managers_rows(managers, rows, tags) -> None:
    from keycare.managers.models import Assessment, AssessmentPeriod, WorkPlan, WorkRecord

    period = AssessmentPeriod.objects.create(
        name="2026-11", start=date(2026, 11, 1), end=date(2026, 11, 30), status="approved"
    )
    for endpoint in MANAGERS_ENDPOINTS:
        rows[endpoint] = []
    for code, manager in managers.items():
        city = manager.city
        made = {
            "managers": manager,
            "plans": WorkPlan.objects.create(
                manager=manager, city=city, period="month", start=period.start, end=period.end,
                note=f"联系 {manager.mobile}",
            ),
            "visits": WorkRecord.objects.create(
                manager=manager, city=city, kind="visit", at=datetime(2026, 11, 20, 9, tzinfo=UTC),
                content=f"拜访，客户电话 1381234{manager.pk:04d}",
            ),
            "assessments": Assessment.objects.create(
                period=period, manager=manager, city=city, role=manager.role, final_score=80
            ),
        }  # fmt: skip
        for endpoint, obj in made.items():
            rows[endpoint].append(obj.pk)
            tags[(endpoint, obj.pk)] = (city.code, code)


def client_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def expected_visible(role_user: str, tag: tuple[str, str]) -> bool:
    city, manager = tag
    return {
        PROVINCE: True,
        ANALYST: True,
        CITY_A: city == "A",
        MANAGER_A1: manager == "A1",
        AUDITOR: False,
    }[role_user]


SCOPED_ENDPOINTS = (
    "customers",
    "tasks",
    "appointments",
    "work-orders",
    "campaigns",
    "risk-scores",
    "complaints",
    "realtime-detections",
    "key-accounts",
    "potential-key-accounts",
    *MANAGERS_ENDPOINTS,
)
# Unscoped reference data: which role users may list it (all rows or none).
GATED_ENDPOINTS = {
    "moments": {PROVINCE, CITY_A, MANAGER_A1, ANALYST},
    "rule-versions": {PROVINCE, CITY_A, MANAGER_A1, ANALYST},
    "runs": {PROVINCE, CITY_A},
}


def assert_no_personal_data(content: bytes, where: str) -> None:
    text = content.decode()
    assert not MOBILE_RE.search(text), f"unmasked mobile in {where}: {text[:300]}"
    assert not ID_RE.search(text), f"unmasked ID number in {where}: {text[:300]}"
    for name in FULL_NAMES:
        assert name not in text, f"unmasked name {name} in {where}"


@pytest.fixture
def world():
    return build_world()


def list_ids(client, endpoint) -> list[int]:
    response = client.get(f"/api/{endpoint}/", {"page_size": 500})
    assert response.status_code == 200, response.content
    assert_no_personal_data(response.content, f"GET /api/{endpoint}/")
    body = response.json()
    assert body["count"] == len(body["results"])
    return [row["id"] for row in body["results"]]


@pytest.mark.parametrize("role_user", ROLE_USERS)
def test_every_scoped_list_shows_exactly_the_scope(world, role_user):
    client = client_for(world.users[role_user])
    for endpoint in SCOPED_ENDPOINTS:
        expected = sorted(
            pk
            for pk in world.rows[endpoint]
            if expected_visible(role_user, world.tags[(endpoint, pk)])
        )
        assert sorted(list_ids(client, endpoint)) == expected, (role_user, endpoint)


@pytest.mark.parametrize("role_user", ROLE_USERS)
def test_out_of_scope_retrieve_is_404_and_in_scope_is_masked(world, role_user):
    client = client_for(world.users[role_user])
    for endpoint in SCOPED_ENDPOINTS:
        for pk in world.rows[endpoint]:
            response = client.get(f"/api/{endpoint}/{pk}/")
            if expected_visible(role_user, world.tags[(endpoint, pk)]):
                assert response.status_code == 200, (role_user, endpoint, pk)
                assert_no_personal_data(response.content, f"GET /api/{endpoint}/{pk}/")
            else:
                assert response.status_code == 404, (role_user, endpoint, pk)
                assert response.json()["error"]["code"] == "not_found"


@pytest.mark.parametrize("role_user", ROLE_USERS)
def test_gated_reference_data(world, role_user):
    client = client_for(world.users[role_user])
    for endpoint, readers in GATED_ENDPOINTS.items():
        ids = list_ids(client, endpoint)
        assert bool(ids) == (role_user in readers), (role_user, endpoint)


def test_auditor_sees_no_customer_data(world):
    client = client_for(world.users[AUDITOR])
    for endpoint in (*SCOPED_ENDPOINTS, *GATED_ENDPOINTS):
        assert list_ids(client, endpoint) == [], endpoint
    customer = world.rows["customers"][0]
    assert client.get(f"/api/customers/{customer}/").status_code == 404


@pytest.mark.parametrize("role_user", [ANALYST, AUDITOR])
def test_readers_cannot_post(world, role_user):
    client = client_for(world.users[role_user])
    task = world.rows["tasks"][0]
    for path, body in (
        (f"/api/tasks/{task}/claim/", {}),
        (f"/api/tasks/{task}/outcome/", {"result": "reached"}),
        ("/api/appointments/", {"task": task, "kind": "alert", "due_at": "2026-11-25T09:00:00Z"}),
        ("/api/work-orders/", {"task": task, "department": "D1", "title": "宽带故障"}),
    ):
        response = client.post(path, body, format="json")
        assert response.status_code == 403, (path, response.content)
        assert response.json()["error"]["code"] == "permission_denied"
    assert ServiceTask.objects.get(pk=task).state == "unhandled"
    assert Appointment.objects.count() == len(world.rows["appointments"])
    assert WorkOrder.objects.count() == len(world.rows["work-orders"])


def test_manager_cannot_act_on_another_portfolio(world):
    client = client_for(world.users[MANAGER_A1])
    foreign = next(pk for pk in world.rows["tasks"] if world.tags[("tasks", pk)][1] != "A1")
    assert client.post(f"/api/tasks/{foreign}/claim/", {}, format="json").status_code == 404
    body = {"task": foreign, "kind": "alert", "due_at": "2026-11-25T09:00:00Z"}
    assert client.post("/api/appointments/", body, format="json").status_code == 404
    order = {"task": foreign, "department": "D1", "title": "宽带故障"}
    assert client.post("/api/work-orders/", order, format="json").status_code == 404
    assert ServiceTask.objects.get(pk=foreign).state == "unhandled"
    assert WorkOrder.objects.count() == len(world.rows["work-orders"])


@pytest.mark.parametrize("prefix,viewset", [(p, v) for p, v, _ in router.registry])
def test_every_registered_viewset_goes_through_the_chokepoint(world, prefix, viewset):
    """A user without a role, and the auditor, get an empty queryset from every resource.

    A new viewset that reads ``Model.objects.all()`` instead of ``restrict`` fails here.
    """
    nobody = make_user("nobody")
    for user in (nobody, world.users[AUDITOR]):
        request = APIRequestFactory().get(f"/api/{prefix}/")
        request.user = user
        view = viewset(request=request, action="list", format_kwarg=None, kwargs={})
        queryset = view.get_queryset()
        assert queryset.model.objects.exists(), f"{prefix}: the world has no rows to hide"
        assert not queryset.exists(), f"{prefix} shows rows to {user.username}"


def test_every_json_response_of_a_full_walk_is_masked(world):
    """Walk every list and detail for every role; dump bodies and scan them once more."""
    dump = []
    for role_user in ROLE_USERS:
        client = client_for(world.users[role_user])
        for endpoint in (*SCOPED_ENDPOINTS, *GATED_ENDPOINTS):
            response = client.get(f"/api/{endpoint}/", {"page_size": 500})
            dump.append(response.json())
            for row in response.json().get("results", []):
                dump.append(client.get(f"/api/{endpoint}/{row['id']}/").json())
    assert_no_personal_data(json.dumps(dump, ensure_ascii=False).encode(), "the full walk")
    assert len(dump) > 50


# --- unmask and work-order create -------------------------------------------------------

REASON = {"reason": "客户来电投诉，需核实完整号码"}


def grant_unmask(user) -> None:
    user.user_permissions.add(Permission.objects.get(codename="unmask_personal_data"))


@pytest.mark.parametrize("granted", [False, True], ids=["no-permission", "permission"])
@pytest.mark.parametrize("role_user", ROLE_USERS)
def test_unmask_matrix(world, role_user, granted):
    """Out of scope: 404 whatever the permission; in scope: 403 (audited) unless granted."""
    user = world.users[role_user]
    if granted:
        grant_unmask(user)
    client = client_for(get_user_model().objects.get(pk=user.pk))  # fresh permission cache
    for pk in world.rows["customers"]:
        response = client.post(f"/api/customers/{pk}/unmask/", REASON, format="json")
        if not expected_visible(role_user, world.tags[("customers", pk)]):
            assert response.status_code == 404, (role_user, pk)
        elif not granted:
            assert response.status_code == 403, (role_user, pk)
            assert response.json()["error"]["code"] == "permission_denied"
            assert_no_personal_data(response.content, "denied unmask")
        else:
            assert response.status_code == 200, (role_user, pk, response.content)
            body = response.json()
            assert body["id"] == pk
            assert body["msisdn"] == Customer.objects.get(pk=pk).msisdn
    visible = sum(
        expected_visible(role_user, world.tags[("customers", pk)]) for pk in world.rows["customers"]
    )
    action = "unmask" if granted else "unmask_denied"
    assert AuditEvent.objects.filter(actor=user, action=action).count() == visible
    assert AuditEvent.objects.filter(action__startswith="unmask").count() == visible


@pytest.mark.parametrize("role_user", ROLE_USERS)
def test_work_order_create_matrix(world, role_user):
    """Writers create work orders on tasks in their scope only; readers never."""
    client = client_for(world.users[role_user])
    writer = role_user in (PROVINCE, CITY_A, MANAGER_A1)
    for pk in world.rows["tasks"]:
        ServiceTask.objects.filter(pk=pk).update(state="in_progress")
        body = {"task": pk, "department": "D1", "title": "宽带故障", "priority": "high"}
        response = client.post("/api/work-orders/", body, format="json")
        if not writer:
            assert response.status_code == 403, (role_user, pk)
        elif expected_visible(role_user, world.tags[("tasks", pk)]):
            assert response.status_code == 201, (role_user, pk, response.content)
            assert response.json()["task"] == pk
            assert_no_personal_data(response.content, "created work order")
        else:
            assert response.status_code == 404, (role_user, pk)
    created = WorkOrder.objects.exclude(pk__in=world.rows["work-orders"])
    expected = [
        pk
        for pk in world.rows["tasks"]
        if writer and expected_visible(role_user, world.tags[("tasks", pk)])
    ]
    assert sorted(created.values_list("task_id", flat=True)) == sorted(expected)


# --- the customer pages (web) follow the same scope ------------------------------------


@pytest.mark.parametrize("role_user", ROLE_USERS)
def test_customer_pages_show_exactly_the_scope(world, role_user, client):
    client.force_login(world.users[role_user])
    listing = client.get("/customers/", {"page_size": 500})
    if role_user == AUDITOR:
        assert listing.status_code == 403
    else:
        assert listing.status_code == 200
        assert_no_personal_data(listing.content, "GET /customers/")
    for pk in world.rows["customers"]:
        subscriber = Customer.objects.get(pk=pk).subscriber_id
        visible = expected_visible(role_user, world.tags[("customers", pk)])
        if role_user != AUDITOR:
            assert (f">{subscriber}</a>" in listing.content.decode()) == visible, (role_user, pk)
        detail = client.get(f"/customers/{pk}/")
        expected = 403 if role_user == AUDITOR else (200 if visible else 404)
        assert detail.status_code == expected, (role_user, pk)
        if expected == 200:
            assert_no_personal_data(detail.content, f"GET /customers/{pk}/")


# --- the CTI feed: the CTI account only; it sees nothing through the other resources ------

CTI = "cti"


def cti_user():
    user = make_user(CTI, roles.ROLE_CTI)
    user.user_permissions.add(Permission.objects.get(codename="cti_clear_numbers"))
    return get_user_model().objects.get(pk=user.pk)


@pytest.mark.parametrize("role_user", (*ROLE_USERS, CTI))
def test_cti_feed_matrix(world, role_user):
    user = cti_user() if role_user == CTI else world.users[role_user]
    client = client_for(user)
    listing = client.get("/api/cti/call-list/", {"date": DAY.isoformat(), "page_size": 500})
    results = []
    for n, pk in enumerate(world.rows["tasks"]):
        body = {
            "cti_call_id": f"CALL-{n}", "task_id": pk, "started_at": "2026-11-20T09:00:00Z",
            "ended_at": "2026-11-20T09:02:00Z", "result": "not_reached",
        }  # fmt: skip
        results.append(client.post("/api/cti/call-results/", body, format="json").status_code)
    if role_user != CTI:
        assert listing.status_code == 403 and set(results) == {403}, role_user
        assert not AuditEvent.objects.filter(action__startswith="cti").exists()
        return
    assert listing.status_code == 200
    rows = listing.json()["results"]
    assert sorted(r["task_id"] for r in rows) == sorted(world.rows["tasks"])
    numbers = dict(ServiceTask.objects.values_list("pk", "customer__msisdn"))
    assert all(r["msisdn"] == numbers[r["task_id"]] for r in rows)
    assert results == [201] * len(world.rows["tasks"])
    assert AuditEvent.objects.filter(action="cti.call_list", actor=user).count() == 1
    for endpoint in (*SCOPED_ENDPOINTS, *GATED_ENDPOINTS):
        assert list_ids(client, endpoint) == [], endpoint
    for endpoint in SCOPED_ENDPOINTS:
        assert client.get(f"/api/{endpoint}/{world.rows[endpoint][0]}/").status_code == 404


# --- messaging: the SMS outbox (administrators only, within their city) -------------------


def _add_sms_messages(rows: dict, tags: dict) -> None:
    from factories import make_sms_message

    rows["sms-messages"] = []
    for pk in rows["customers"]:
        message = make_sms_message(Customer.objects.get(pk=pk), text=f"短信 回拨 1381234{pk:04d}")
        rows["sms-messages"].append(message.pk)
        tags[("sms-messages", message.pk)] = tags[("customers", pk)]


@pytest.mark.parametrize("role_user", ROLE_USERS)
def test_sms_messages_are_for_administrators_within_their_scope(world, role_user):
    seen = list_ids(client_for(world.users[role_user]), "sms-messages")
    admins = role_user in (PROVINCE, CITY_A)
    expected = [
        pk
        for pk in world.rows["sms-messages"]
        if admins and expected_visible(role_user, world.tags[("sms-messages", pk)])
    ]
    assert sorted(seen) == sorted(expected)


# --- complaints and the knowledge graph (issue 21) ---------------------------------------


@pytest.mark.parametrize("role_user", ROLE_USERS)
def test_need_graph_matrix(world, role_user):
    """A customer's need graph: in scope 200 and masked, out of scope 404, auditor 403."""
    client = client_for(world.users[role_user])
    for pk in world.rows["customers"]:
        response = client.get(f"/api/knowledge/customers/{pk}/need-graph/")
        if role_user == AUDITOR:
            assert response.status_code == 403, pk
        elif expected_visible(role_user, world.tags[("customers", pk)]):
            assert response.status_code == 200, (role_user, pk)
            assert response.json()["predicted_need"] == "repair"
            assert_no_personal_data(response.content, f"need graph {pk}")
        else:
            assert response.status_code == 404, (role_user, pk)


@pytest.mark.parametrize("role_user", ROLE_USERS)
def test_rising_causes_matrix(world, role_user):
    """Cause trends: administrators and analysts, each over their own scope's complaints."""
    response = client_for(world.users[role_user]).get(
        "/api/knowledge/rising-causes/", {"min_count": 1}
    )
    if role_user in (MANAGER_A1, AUDITOR):
        assert response.status_code == 403
        return
    assert response.status_code == 200
    expected = sum(
        expected_visible(role_user, world.tags[("complaints", pk)])
        for pk in world.rows["complaints"]
    )
    assert sum(r["recent"] for r in response.json()["results"]) == expected


@pytest.mark.parametrize("role_user", ROLE_USERS)
def test_complaint_correction_matrix(world, role_user):
    """Administrators and analysts correct readings in their scope; managers and the auditor
    never; out of scope 404."""
    client = client_for(world.users[role_user])
    reviewer = role_user in (PROVINCE, CITY_A, ANALYST)
    for pk in world.rows["complaints"]:
        body = {"cause": "slow_data", "need": "repair"}
        response = client.post(f"/api/complaints/{pk}/correct/", body, format="json")
        if not reviewer:
            assert response.status_code == 403, (role_user, pk)
        elif expected_visible(role_user, world.tags[("complaints", pk)]):
            assert response.status_code == 200, (role_user, pk, response.content)
            assert_no_personal_data(response.content, "corrected complaint")
        else:
            assert response.status_code == 404, (role_user, pk)
