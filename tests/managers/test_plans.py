"""工作计划: generated from the visits due and the due appointments, edited by the manager,
submitted, approved or returned by the administrator; plan versus actual follows the work
records and the appointments done."""

from datetime import date, datetime, timedelta

import pytest
from django.utils import timezone

from factories import (
    make_appointment,
    make_customer,
    make_manager,
    make_manager_key_account,
    make_org,
    make_user,
)
from keycare.access import roles
from keycare.core.models import AuditEvent
from keycare.errors import UserError
from keycare.managers import actions, plans
from keycare.managers.models import PlanSource, PlanStatus, WorkPlan

pytestmark = pytest.mark.django_db
DAY = date(2026, 11, 18)  # a Wednesday


def aware(day, hour=10):
    return timezone.make_aware(datetime(day.year, day.month, day.day, hour))


@pytest.fixture
def world(db):
    places = make_org()
    nj, sz = places["C025"], places["C0512"]
    m1, m2 = make_manager(nj, "M1"), make_manager(sz, "M2")
    groups = [make_manager_key_account(nj.city, f"K{i}", m1) for i in (1, 2)]
    customer = make_customer(nj, "S001", m1)
    appointment = make_appointment(customer, aware(DAY + timedelta(days=1)))
    make_appointment(customer, aware(date(2026, 12, 20)))  # after the month: not planned
    return {
        "nj": nj,
        "m1": m1,
        "m2": m2,
        "groups": groups,
        "customer": customer,
        "appointment": appointment,
        "user": make_user("m1", roles.ROLE_MANAGER, manager=m1),
        "admin": make_user("adm", roles.ROLE_CITY_ADMIN, city=nj.city),
        "other_admin": make_user("sz", roles.ROLE_CITY_ADMIN, city=sz.city),
    }


def test_period_bounds():
    assert plans.period_bounds("month", DAY) == (date(2026, 11, 1), date(2026, 11, 30))
    assert plans.period_bounds("week", DAY) == (date(2026, 11, 16), date(2026, 11, 22))
    with pytest.raises(UserError):
        plans.period_bounds("year", DAY)


def test_generate_is_idempotent_and_keeps_edits(world):
    plan = actions.generate_plan(world["user"], world["m1"], period="month", day=DAY)
    sources = sorted(plan.items.values_list("source", "kind"))
    assert sources == [("appointment", "call"), ("standard", "visit"), ("standard", "visit")]
    assert set(
        plan.items.filter(source=PlanSource.STANDARD).values_list("key_account", flat=True)
    ) == {g.pk for g in world["groups"]}
    actions.add_plan_item(
        world["user"], plan, kind="call", due_date=DAY, customer=world["customer"]
    )
    again = actions.generate_plan(
        world["user"], world["m1"], period="month", day=DAY + timedelta(days=3)
    )
    assert again.pk == plan.pk and again.items.count() == 4
    # A week without a month end owes no standard visit; the appointment is due in it.
    week = actions.generate_plan(world["user"], world["m1"], period="week", day=DAY)
    assert list(week.items.values_list("source", flat=True)) == ["appointment"]


def test_submit_review_and_plan_versus_actual(client, world):
    plan = actions.generate_plan(world["user"], world["m1"], period="month", day=DAY)
    actions.record_work(
        world["user"],
        world["m1"],
        kind="visit",
        at=aware(DAY),
        content="走访",
        links={"key_account": world["groups"][0]},
    )
    actual = plans.plan_actual(plan)
    assert actual.planned == {"visit": 2, "call": 1} and actual.achieved == {"visit": 1, "call": 0}
    world["appointment"].done_at = timezone.now()
    world["appointment"].save()
    assert plans.plan_actual(plan).completion == pytest.approx(2 / 3)
    client.force_login(world["user"])
    client.post(f"/plans/{plan.pk}/edit/", {"action": "submit", "note": "本月重点"})
    plan.refresh_from_db()
    assert plan.status == PlanStatus.SUBMITTED and plan.note == "本月重点"
    response = client.post(
        f"/plans/{plan.pk}/edit/",
        {"action": "add", "kind": "visit", "due_date": "2026-11-20"},
        follow=True,
    )
    assert "不能修改" in response.content.decode()
    assert client.post(f"/plans/{plan.pk}/review/", {"decision": "approve"}).status_code == 403
    # Another city's administrator cannot see it; the manager's own administrator returns it.
    client.force_login(world["other_admin"])
    assert client.get(f"/plans/{plan.pk}/").status_code == 404
    client.force_login(world["admin"])
    listing = client.get("/plans/?status=submitted")
    assert [r["plan"].pk for r in listing.context["rows"]] == [plan.pk]
    response = client.post(f"/plans/{plan.pk}/review/", {"decision": "return"}, follow=True)
    assert "退回计划须填写审批意见" in response.content.decode()
    client.post(f"/plans/{plan.pk}/review/", {"decision": "return", "comment": "增加走访"})
    plan.refresh_from_db()
    assert plan.status == PlanStatus.RETURNED and plan.reviewed_by == world["admin"]
    client.force_login(world["user"])
    client.post(
        f"/plans/{plan.pk}/edit/",
        {
            "action": "add",
            "kind": "visit",
            "due_date": "2026-11-25",
            "key_account": world["groups"][1].pk,
        },
    )
    actions.submit_plan(world["user"], plan)
    actions.review_plan(world["admin"], plan, approve=True)
    plan.refresh_from_db()
    assert plan.status == PlanStatus.APPROVED and plan.items.count() == 4
    assert AuditEvent.objects.filter(action="plan.approve").count() == 1
    page = client.get(f"/plans/{plan.pk}/")
    assert page.status_code == 200 and page.context["completion"] == pytest.approx(2 / 4)


def test_bad_items_and_generation_are_refused(client, world):
    plan = actions.generate_plan(world["user"], world["m1"], period="week", day=DAY)
    with pytest.raises(UserError, match="计划日期须在"):
        actions.add_plan_item(
            world["user"],
            plan,
            kind="call",
            due_date=DAY + timedelta(days=30),
            customer=world["customer"],
        )
    other = make_manager_key_account(world["nj"].city, "K9", world["m2"])
    with pytest.raises(UserError, match="自己负责"):
        actions.add_plan_item(world["user"], plan, kind="visit", due_date=DAY, key_account=other)
    client.force_login(world["user"])
    response = client.post("/plans/generate/", {"period": "month", "day": "nonsense"}, follow=True)
    assert "请填写有效的计划日期" in response.content.decode()
    response = client.post(
        f"/plans/{plan.pk}/edit/",
        {"action": "add", "kind": "call", "due_date": "2026-11-18", "subscriber": "NOPE"},
        follow=True,
    )
    assert "没有该用户编号" in response.content.decode()
    assert WorkPlan.objects.count() == 1
