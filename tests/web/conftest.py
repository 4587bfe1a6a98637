"""Shared set-up for the web page tests: one city, two managers, a moment, and logins."""

from datetime import date
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model

from keycare.customers.models import Customer
from keycare.moments.models import MomentDefinition
from keycare.org.models import City, County, Grid, Manager, Province, StaffProfile

DAY = date(2026, 11, 22)


@pytest.fixture
def org(db):
    province = Province.objects.create(code="JS", name="江苏省")
    city = City.objects.create(code="3201", name="南京市", province=province)
    county = County.objects.create(code="320102", name="玄武区", city=city)
    grid = Grid.objects.create(code="G1", name="一网格", county=county, city=city)
    return {"city": city, "county": county, "grid": grid}


@pytest.fixture
def moment(db):
    return MomentDefinition.objects.create(
        code="A03", name_zh="账单下降", name_en="Bill drop", category="anomaly",
        cycle="monthly", priority=80, channel="call", sms_allowed=True, strategy="预防措施",
        script="{salutation}您好，您本月账单有所下降。", sms_template="", thresholds={},
        condition={}, current_version=1,
    )  # fmt: skip


@pytest.fixture
def managers(org):
    return [
        Manager.objects.create(
            manager_id=f"M{i}",
            name=f"经理{i}",
            mobile=f"1390000000{i}",
            city=org["city"],
            grid=org["grid"],
            role="phone_manager",
            daily_capacity=40,
        )  # fmt: skip
        for i in (1, 2)
    ]


@pytest.fixture
def make_customer(org):
    """make_customer(subscriber_id, manager, **overrides) -> a high-value active Customer."""

    def make(subscriber_id: str, manager, **overrides) -> Customer:
        values = {
            "subscriber_id": subscriber_id, "msisdn": "13812340000", "name": "张三丰",
            "join_date": date(2015, 3, 1), "city": org["city"], "county": org["county"],
            "grid": org["grid"], "brand": "gotone", "plan_code": "P188",
            "plan_fee": Decimal("188"), "payment_type": "postpaid", "status": "active",
            "status_date": date(2015, 3, 1), "value_tier": "mid_high", "manager": manager,
            "attributes": {}, "row_hash": subscriber_id,
        }  # fmt: skip
        values.update(overrides)
        return Customer.objects.create(**values)

    return make


@pytest.fixture
def login_as(client):
    """login_as(role, manager=None, username=None) -> a logged-in user with that role."""

    def login(role, manager=None, username=None):
        user = get_user_model().objects.create_user(username or f"u_{role}")
        StaffProfile.objects.create(user=user, role=role, manager=manager)
        client.force_login(user)
        return user

    return login
