"""A small world for the hostile-input tests: two cities, three managers, one user per role
(with an API token), customers with tasks, appointments and work orders, and reference data.
Some stored values are themselves hostile (formula prefixes, markup) so exports and pages
are exercised with them too."""

from dataclasses import dataclass
from datetime import UTC, date, datetime

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from rest_framework.authtoken.models import Token

from factories import (
    make_customer,
    make_department,
    make_manager,
    make_moment,
    make_place,
    make_task,
    make_user,
    make_work_order,
)
from keycare.access import roles
from keycare.campaigns.models import Campaign, CampaignManager
from keycare.moments.models import RuleVersion
from keycare.runs.models import Run
from keycare.tasks.models import Appointment, TaskMoment

ROLE_USERS = {
    "manager": roles.ROLE_MANAGER,
    "city_admin": roles.ROLE_CITY_ADMIN,
    "province_admin": roles.ROLE_PROVINCE_ADMIN,
    "analyst": roles.ROLE_ANALYST,
    "auditor": roles.ROLE_AUDITOR,
    "cti": roles.ROLE_CTI,
}
HOSTILE_NAMES = ('=HYPERLINK("http://x")', "<script>alert(1)</script>", "+SUM(A1)", "欧阳修文")


@dataclass
class World:
    users: dict
    tokens: dict
    customers: list
    tasks: list


def build_world() -> World:
    org = {code: make_place(code, f"城市{code}", county=(f"X{code}", f"{code}区")) for code in "AB"}
    managers = {
        code: make_manager(org[city], code)
        for code, city in (("A1", "A"), ("A2", "A"), ("B1", "B"))
    }
    moment = make_moment("A03", script="{salutation}您好", sms_template="", thresholds={})
    RuleVersion.objects.create(moment=moment, number=1, snapshot={"code": "A03"}, note="初版")
    Run.objects.create(run_id="run-20261120", business_date=date(2026, 11, 20))
    department = make_department("D1", "装维部")
    customers, tasks = [], []
    for n, manager in enumerate([*managers.values(), *managers.values()], start=1):
        customer = make_customer(
            org[manager.city.code], f"S{n:03d}", manager, msisdn=f"1381234{n:04d}",
            name=HOSTILE_NAMES[n % len(HOSTILE_NAMES)], id_number=f"32010219800517{n:04d}",
            birth_date=date(1980, 5, 17), address="江苏省南京市玄武区珠江路88号",
            plan_code="=1+1", attributes={"balance": 12.5}, row_hash=str(n),
        )  # fmt: skip
        task = make_task(
            customer, date(2026, 11, 20), priority_score=n,
            state="in_progress" if n % 2 else "unhandled",
        )  # fmt: skip
        TaskMoment.objects.create(task=task, moment=moment, priority=80)
        due = datetime(2026, 11, 21, 9, tzinfo=UTC)
        Appointment.objects.create(
            task=task, customer=customer, manager=manager, kind="alert", due_at=due
        )
        make_work_order(task, department, due)
        customers.append(customer)
        tasks.append(task)
    campaign = Campaign.objects.create(name="活动A", status="active", city=org["A"].city)
    CampaignManager.objects.create(campaign=campaign, manager=managers["A1"])
    users, tokens = {}, {}
    for username, role in ROLE_USERS.items():
        user = make_user(
            username,
            role,
            city=org["A"].city if role == roles.ROLE_CITY_ADMIN else None,
            manager=managers["A1"] if role == roles.ROLE_MANAGER else None,
            password="x-Very-long-pass-1",
        )
        if role == roles.ROLE_CTI:  # the outbound-call system receives clear numbers
            user.user_permissions.add(Permission.objects.get(codename="cti_clear_numbers"))
            user = get_user_model().objects.get(pk=user.pk)
        users[username] = user
        tokens[username] = Token.objects.create(user=user).key
    return World(users=users, tokens=tokens, customers=customers, tasks=tasks)


@pytest.fixture
def world(db):
    return build_world()
