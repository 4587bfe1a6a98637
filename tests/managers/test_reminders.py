"""日常事务提醒: one list per user, from every source, soonest first, scoped and masked."""

from datetime import date, datetime, time, timedelta

import pytest
from django.utils import timezone

from factories import (
    make_appointment,
    make_customer,
    make_department,
    make_manager,
    make_manager_key_account,
    make_org,
    make_task,
    make_user,
    make_work_order,
)
from keycare.access import roles
from keycare.keyaccounts.models import KeyAccountContract, KeyPerson
from keycare.managers import actions
from keycare.managers.reminders import reminders_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(db):
    places = make_org()
    nj, sz = places["C025"], places["C0512"]
    m1, m2 = make_manager(nj, "M1"), make_manager(sz, "M2")
    user = make_user("m1", roles.ROLE_MANAGER, manager=m1)
    admin = make_user("adm", roles.ROLE_CITY_ADMIN, city=nj.city)
    today = timezone.localdate()
    group = make_manager_key_account(nj.city, "K1", m1, name="紫金集团")
    KeyPerson.objects.create(
        person_id="KP1",
        key_account=group,
        role="decision_maker",
        name="周建华",
        birth_date=date(1975, *(today + timedelta(days=3)).timetuple()[1:3]),
    )
    KeyAccountContract.objects.create(
        contract_id="HT1",
        key_account=group,
        title="专线合同",
        contract_type="line",
        signed_date=date(2024, 1, 1),
        start_date=date(2024, 1, 1),
        end_date=today + timedelta(days=30),
        status="active",
    )
    customer = make_customer(nj, "S001", m1, name="吴国强", msisdn="13812345678")
    make_appointment(customer, timezone.now() + timedelta(hours=2))
    task = make_task(customer)
    make_work_order(task, make_department(), due_at=timezone.now() + timedelta(hours=1))
    actions.assign_task(
        admin,
        title="上报走访总结",
        description="",
        deadline=timezone.now() + timedelta(days=1),
        managers=[m1],
    )
    # Another city's portfolio never shows.
    other = make_manager_key_account(sz.city, "K2", m2)
    KeyPerson.objects.create(
        person_id="KP2",
        key_account=other,
        role="contact",
        name="郑某",
        birth_date=date(1975, today.month, today.day),
    )
    return {"m1": m1, "user": user, "admin": admin, "group": group}


def test_manager_sees_every_kind_soonest_first(world):
    reminders = reminders_for(world["user"])
    kinds = {r.kind for r in reminders}
    assert kinds >= {"birthday", "renewal", "appointment", "sla", "assigned_task"}
    # Visits due by the month's end show within a week of it (the standards' A1 monthly visit).
    today = timezone.localdate()
    month_end = (today.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)
    assert ("visit_due" in kinds) == ((month_end - today).days <= 7)
    assert [r.when for r in reminders] == sorted(r.when for r in reminders)
    texts = " ".join(r.text for r in reminders)
    assert "周建华" not in texts and "周" in texts and "郑" not in texts
    assert "13812345678" not in texts


def test_plans_remind_the_manager_then_the_administrator(world):
    plan = actions.generate_plan(
        world["user"], world["m1"], period="month", day=timezone.localdate()
    )
    assert any(r.kind == "plan" for r in reminders_for(world["user"]))
    assert not any(r.kind == "plan" for r in reminders_for(world["admin"]))
    if not plan.items.exists():
        actions.add_plan_item(
            world["user"], plan, kind="visit", due_date=plan.end, key_account=world["group"]
        )
    actions.submit_plan(world["user"], plan)
    assert not any(r.kind == "plan" for r in reminders_for(world["user"]))
    assert [r.kind for r in reminders_for(world["admin"]) if r.kind == "plan"] == ["plan"]


def test_workbench_loads_the_panel(client, world):
    client.force_login(world["user"])
    assert "/reminders/panel/" in client.get("/workbench/").content.decode()
    panel = client.get("/reminders/panel/")
    assert panel.status_code == 200 and "紫金集团" in panel.content.decode()
    assert client.get("/reminders/").status_code == 200
    client.force_login(make_user("aud", roles.ROLE_AUDITOR))
    assert client.get("/reminders/panel/").status_code == 403


def test_a_recorded_visit_leaves_the_list_at_once(world):
    # The visits the standards ask for are cached (slow-moving); the visits made are read live.
    today = timezone.localdate()
    month_end = (today.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)
    now = timezone.make_aware(datetime.combine(month_end, time(12)))
    assert any(r.kind == "visit_due" for r in reminders_for(world["user"], now=now))
    actions.record_work(
        world["user"],
        world["m1"],
        kind="visit",
        at=timezone.now() - timedelta(minutes=1),
        content="季度走访",
        links={"key_account": world["group"]},
    )
    assert not any(r.kind == "visit_due" for r in reminders_for(world["user"], now=now))


def test_cached_daily_reminders_follow_the_language(client, world):
    client.force_login(world["user"])
    zh = client.get("/reminders/panel/", headers={"Accept-Language": "zh-hans"}).content.decode()
    en = client.get("/reminders/panel/", headers={"Accept-Language": "en"}).content.decode()
    assert "生日" in zh and "birthday" in en.lower()
