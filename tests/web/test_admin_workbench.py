"""管理员工作台: scope per admin role, counts and percentages, constant queries, empty database."""

from datetime import date, timedelta

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from factories import make_manager, make_moment, make_place, make_task
from keycare.campaigns.models import Campaign, CampaignTask
from keycare.runs.models import Detection, Run
from keycare.tasks.models import Appointment, Outcome

DAY = date(2026, 11, 22)  # the business date the shared fixtures use

pytestmark = pytest.mark.django_db
URL = "/admin-workbench/"


@pytest.fixture
def other_city(org):
    place = make_place("3202", "无锡市", county=("320202", "梁溪区"), grid=("G9", "九网格"))
    manager = make_manager(place, "W1", name="无锡经理", mobile="13900000009", daily_capacity=30)
    return {**place._asdict(), "manager": manager}


@pytest.fixture
def second_moment(db):
    return make_moment(
        "B01", name_zh="合约到期", name_en="Contract end", category="lifecycle", priority=70,
        sms_allowed=False, strategy="",
    )  # fmt: skip


class Data:
    def __init__(self, run, make_customer, moments, other_city):
        self.run = run
        self.make_customer = make_customer
        self.moments = moments
        self.other_city = other_city
        self.n = 0

    def customer(self, manager, elsewhere=False):
        self.n += 1
        extra = {}
        if elsewhere:
            oc = self.other_city
            extra = {"city": oc["city"], "county": oc["county"], "grid": oc["grid"]}
        return self.make_customer(f"S{self.n}", manager, **extra)

    def detection(self, customer, moment):
        Detection.objects.create(run=self.run, customer=customer, moment=moment, business_date=DAY)

    def task(self, customer, manager, state, accepted=False):
        task = make_task(customer, DAY, manager=manager, run=self.run, state=state)
        if accepted:
            Outcome.objects.create(task=task, contact_result="reached", recommendation="accepted")
        return task


@pytest.fixture
def data(org, managers, moment, second_moment, make_customer, other_city):
    run = Run.objects.create(
        run_id="20261122-abc", business_date=DAY, status="succeeded", quarantined=3,
        inputs={"customers.csv": {"rows_in": 120, "accepted": 117, "quarantined": 3}},
        timings={"ingest": 1.5, "detect": 2.25},
    )  # fmt: skip
    d = Data(run, make_customer, (moment, second_moment), other_city)
    m1, m2 = managers
    # Nanjing: three A03 detections and one B01 -> 75% / 25%.
    for _ in range(3):
        d.detection(d.customer(m1), moment)
    d.detection(d.customer(m2), second_moment)
    d.task(d.customer(m1), m1, "unhandled")
    d.task(d.customer(m1), m1, "handled_no_change", accepted=True)
    d.task(d.customer(m2), m2, "handled_new_alert")
    # Wuxi: one detection of B01 and one handled task, invisible to the Nanjing admin.
    w = other_city["manager"]
    d.detection(d.customer(w, elsewhere=True), second_moment)
    d.task(d.customer(w, elsewhere=True), w, "handled_no_change")
    now = timezone.now()
    c = d.customer(m1)
    Appointment.objects.create(
        customer=c, manager=m1, kind="alert", due_at=now - timedelta(hours=1)
    )
    Appointment.objects.create(customer=c, manager=m1, kind="alert", due_at=now + timedelta(days=1))
    Appointment.objects.create(
        customer=c, manager=m1, kind="care_marketing", due_at=now - timedelta(days=1), done_at=now
    )
    campaign = Campaign.objects.create(name="春节关怀", city=org["city"], status="active")
    CampaignTask.objects.create(campaign=campaign, customer=c, manager=m1, done_at=now)
    CampaignTask.objects.create(
        campaign=campaign, customer=d.customer(m1), manager=m1, done_at=now - timedelta(days=3)
    )
    CampaignTask.objects.create(campaign=campaign, customer=d.customer(m2), manager=m2)
    return d


def _page(client):
    response = client.get(URL)
    assert response.status_code == 200
    return response


def test_province_admin_sees_every_city(client, login_as, data):
    login_as("province_admin")
    ctx = _page(client).context
    assert ctx["day"] == DAY
    assert ctx["detections"]["total"] == 5
    by_code = {r["code"]: (r["n"], r["percent"]) for r in ctx["detections"]["rows"]}
    assert by_code == {"A03": (3, 60.0), "B01": (2, 40.0)}
    states = {value: n for value, _label, n in ctx["states"]}
    assert states == {
        "unhandled": 1, "in_progress": 0, "handled_no_change": 2, "handled_new_alert": 1,
    }  # fmt: skip
    assert {r["manager"] for r in ctx["allocation"]} == {"经理1", "经理2", "无锡经理"}


def test_city_admin_sees_only_their_city(client, login_as, org, data):
    user = login_as("city_admin")
    user.staffprofile.city = org["city"]
    user.staffprofile.save()
    response = _page(client)
    ctx = response.context
    by_code = {r["code"]: (r["n"], r["percent"]) for r in ctx["detections"]["rows"]}
    assert by_code == {"A03": (3, 75.0), "B01": (1, 25.0)}
    states = {value: n for value, _label, n in ctx["states"]}
    assert states["handled_no_change"] == 1 and states["unhandled"] == 1
    allocation = {r["manager"]: (r["states"], r["total"], r["capacity"]) for r in ctx["allocation"]}
    assert allocation == {"经理1": ([1, 0, 1, 0], 2, 40), "经理2": ([0, 0, 0, 1], 1, 40)}
    ranking = [(r["manager__name"], r["handled"], r["accepted"]) for r in ctx["ranking"]]
    assert ranking == [("经理1", 1, 1), ("经理2", 1, 0)]
    appointments = dict(ctx["appointments"])
    assert appointments["预警类预约"] == {"kind": "alert", "handled": 0, "due": 1, "upcoming": 1}
    assert appointments["关怀营销类预约"]["handled"] == 1
    (campaign,) = ctx["campaigns"]
    assert (campaign["completed"], campaign["completed_today"], campaign["total"]) == (2, 1, 3)
    run = ctx["run"]
    assert run["run"].quarantined == 3 and run["inputs"][0]["rows_in"] == 120
    body = response.content.decode()
    assert "无锡经理" not in body
    assert "detection-chart-data" in body and "echarts-6.1.0.min.js" in body
    assert "/tasks/?state=unhandled&date=2026-11-22" in body


@pytest.mark.parametrize("role", ["account_manager", "auditor", "analyst"])
def test_other_roles_are_refused(client, login_as, managers, role):
    login_as(role, manager=managers[0] if role == "account_manager" else None)
    assert client.get(URL).status_code == 403


def test_anonymous_is_sent_to_login(client):
    assert client.get(URL).status_code == 302


def test_query_count_does_not_grow_with_rows(client, login_as, data, managers, moment):
    login_as("province_admin")
    with CaptureQueriesContext(connection) as before:
        _page(client)
    for i in range(5):
        customer = data.customer(managers[i % 2])
        data.detection(customer, moment)
        data.task(customer, managers[i % 2], "handled_no_change", accepted=True)
    cache.clear()
    with CaptureQueriesContext(connection) as after:
        _page(client)
    assert len(after) == len(before)


def test_ranking_and_detections_are_cached_per_scope(client, login_as, org, data, managers):
    login_as("province_admin")
    with CaptureQueriesContext(connection) as first:
        province = _page(client).context
    with CaptureQueriesContext(connection) as second:
        again = _page(client).context
    assert len(second) == len(first) - 3  # the ranking's two queries and the detections'
    assert again["ranking"] == province["ranking"] and again["detections"] == province["detections"]
    # A city administrator never gets the province's cached figures.
    user = login_as("city_admin")
    user.staffprofile.city = org["city"]
    user.staffprofile.save()
    city = _page(client).context
    assert {r["manager__name"] for r in province["ranking"]} > {
        r["manager__name"] for r in city["ranking"]
    }
    assert city["detections"]["total"] == 4 < province["detections"]["total"]
    # Within the minute a newly handled task is not in the ranking yet; then it is.
    customer = data.customer(managers[1])
    data.task(customer, managers[1], "handled_no_change")
    handled = {r["manager__name"]: r["handled"] for r in _page(client).context["ranking"]}
    assert handled == {r["manager__name"]: r["handled"] for r in city["ranking"]}
    cache.delete(f"admin-ranking:city_admin:{org['city'].pk}:{DAY}")
    handled_now = {r["manager__name"]: r["handled"] for r in _page(client).context["ranking"]}
    assert handled_now[managers[1].name] == handled[managers[1].name] + 1


def test_reloading_the_run_refreshes_the_cached_detections(client, login_as, data, managers):
    login_as("province_admin")
    data.run.loaded_at = timezone.now() - timedelta(hours=1)
    data.run.save()
    total = _page(client).context["detections"]["total"]
    data.detection(data.customer(managers[0]), data.moments[0])
    assert _page(client).context["detections"]["total"] == total  # cached until the next load
    data.run.loaded_at = timezone.now()
    data.run.save()
    assert _page(client).context["detections"]["total"] == total + 1


def test_page_renders_with_an_empty_database(client, login_as):
    login_as("province_admin")
    response = _page(client)
    assert response.context["day"] is None
    assert "暂无预警" in response.content.decode()


def test_home_sends_admins_to_the_admin_workbench(client, login_as):
    login_as("province_admin")
    assert client.get(reverse("web:home"))["Location"] == URL


def test_allocation_exports_to_excel_in_scope_and_audited(client, login_as, org, data):
    import io

    from openpyxl import load_workbook

    from keycare.core.models import AuditEvent

    user = login_as("city_admin")
    user.staffprofile.city = org["city"]
    user.staffprofile.save()
    response = client.get(URL, {"export": "xlsx"})
    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(response.content)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][0] == "客户经理"
    assert {row[0] for row in rows[1:]} == {"经理1", "经理2"}  # not the Wuxi manager
    event = AuditEvent.objects.get(action="export")
    assert event.detail["rows"] == 2


def test_calls_and_sms_are_split_so_capacity_is_honest(client, login_as, org, data, managers):
    m1 = managers[0]
    for _ in range(3):  # SMS tasks: shown apart, never counted against the call capacity
        make_task(data.customer(m1), DAY, manager=m1, run=data.run, channel="sms")
    user = login_as("city_admin")
    user.staffprofile.city = org["city"]
    user.staffprofile.save()
    response = _page(client)
    rows = {r["manager"]: r for r in response.context["allocation"]}
    assert (rows["经理1"]["total"], rows["经理1"]["sms"], rows["经理1"]["use"]) == (2, 3, 5)
    assert rows["经理2"]["sms"] == 0 and not rows["经理1"]["over_capacity"]
    body = response.content.decode()
    # Drill-downs: a manager's name opens their tasks, a moment row its tasks, SMS their list.
    assert f"/tasks/?manager={m1.manager_id}&amp;date=2026-11-22" in body
    assert f"/sms-tasks/?manager={m1.manager_id}&amp;date=2026-11-22" in body
    assert "/tasks/?moment=A03&amp;date=2026-11-22" in body
    assert '"code": "A03"' in body  # each chart slice carries its moment for the click
    export = client.get(URL + "?export=xlsx")
    assert export.status_code == 200


def test_state_totals_count_managers_beyond_the_shown_rows(
    client, login_as, data, managers, monkeypatch
):
    # The states and the SMS count are the allocation query's totals over every manager, not
    # over the rows the table shows.
    from keycare.web import admin_workbench

    make_task(data.customer(managers[0]), DAY, manager=managers[0], run=data.run, channel="sms")
    monkeypatch.setattr(admin_workbench, "MANAGER_ROW_LIMIT", 1)
    login_as("province_admin")
    ctx = _page(client).context
    assert len(ctx["allocation"]) == 1
    states = {value: n for value, _label, n in ctx["states"]}
    assert states == {
        "unhandled": 1, "in_progress": 0, "handled_no_change": 2, "handled_new_alert": 1,
    }  # fmt: skip
    assert ctx["sms_waiting"] == 1
