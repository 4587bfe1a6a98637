"""A small world for the hostile-input tests: two cities, three managers, one user per role
(with an API token), customers with tasks, appointments and work orders, and reference data.
Some stored values are themselves hostile (formula prefixes, markup) so exports and pages
are exercised with them too."""

from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from rest_framework.authtoken.models import Token

from keycare.access import roles
from keycare.campaigns.models import Campaign, CampaignManager
from keycare.customers.models import Customer
from keycare.moments.models import MomentDefinition, RuleVersion
from keycare.org.models import City, County, Department, Grid, Manager, Province, StaffProfile
from keycare.runs.models import Run
from keycare.tasks.models import Appointment, ServiceTask, TaskMoment
from keycare.workorders.models import WorkOrder

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
    province = Province.objects.create(code="JS", name="江苏省")
    places = {}
    for code in ("A", "B"):
        city = City.objects.create(code=code, name=f"城市{code}", province=province)
        county = County.objects.create(code=f"X{code}", name=f"{code}区", city=city)
        grid = Grid.objects.create(code=f"G{code}", name="一网格", county=county, city=city)
        places[code] = (city, county, grid)
    managers = {
        code: Manager.objects.create(
            manager_id=code,
            name=f"经理{code}",
            mobile="13900000000",
            city=places[city][0],
            grid=places[city][2],
            role="phone_manager",
            daily_capacity=40,
        )  # fmt: skip
        for code, city in (("A1", "A"), ("A2", "A"), ("B1", "B"))
    }
    moment = MomentDefinition.objects.create(
        code="A03", name_zh="账单下降", name_en="Bill drop", category="anomaly", cycle="monthly",
        priority=80, channel="call", sms_allowed=True, strategy="预防措施",
        script="{salutation}您好", sms_template="", thresholds={}, condition={}, current_version=1,
    )  # fmt: skip
    RuleVersion.objects.create(moment=moment, number=1, snapshot={"code": "A03"}, note="初版")
    Run.objects.create(run_id="run-20261120", business_date=date(2026, 11, 20))
    department = Department.objects.create(code="D1", name="装维部")
    customers, tasks = [], []
    for n, manager in enumerate([*managers.values(), *managers.values()], start=1):
        city, county, grid = places[manager.city.code]
        customer = Customer.objects.create(
            subscriber_id=f"S{n:03d}", msisdn=f"1381234{n:04d}",
            name=HOSTILE_NAMES[n % len(HOSTILE_NAMES)], id_number=f"32010219800517{n:04d}",
            birth_date=date(1980, 5, 17), address="江苏省南京市玄武区珠江路88号",
            join_date=date(2015, 3, 1), city=city, county=county, grid=grid, brand="gotone",
            plan_code="=1+1", plan_fee=Decimal("188"), payment_type="postpaid", status="active",
            status_date=date(2015, 3, 1), value_tier="mid_high", manager=manager,
            attributes={"balance": 12.5}, row_hash=str(n),
        )  # fmt: skip
        task = ServiceTask.objects.create(
            customer=customer, manager=manager, business_date=date(2026, 11, 20),
            priority_score=n, channel="call", state="in_progress" if n % 2 else "unhandled",
        )  # fmt: skip
        TaskMoment.objects.create(task=task, moment=moment, priority=80)
        due = datetime(2026, 11, 21, 9, tzinfo=UTC)
        Appointment.objects.create(
            task=task, customer=customer, manager=manager, kind="alert", due_at=due
        )
        WorkOrder.objects.create(
            task=task, customer=customer, department=department, title="宽带故障", due_at=due
        )
        customers.append(customer)
        tasks.append(task)
    campaign = Campaign.objects.create(name="活动A", status="active", city=places["A"][0])
    CampaignManager.objects.create(campaign=campaign, manager=managers["A1"])
    users, tokens = {}, {}
    for username, role in ROLE_USERS.items():
        user = get_user_model().objects.create_user(username, password="x-Very-long-pass-1")
        StaffProfile.objects.create(
            user=user,
            role=role,
            city=places["A"][0] if role == roles.ROLE_CITY_ADMIN else None,
            manager=managers["A1"] if role == roles.ROLE_MANAGER else None,
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
