"""Small ORM-built data for the workorders tests: two cities, a manager, customers, moments."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model

from keycare.customers.models import Customer
from keycare.moments.models import MomentDefinition
from keycare.org.models import City, County, Grid, Manager, Province

BUSINESS_DATE = date(2026, 11, 20)


@pytest.fixture
def org(db):
    province = Province.objects.create(code="JS", name="江苏省")
    cities = {}
    for code, name in (("C025", "南京市"), ("C0512", "苏州市")):
        city = City.objects.create(code=code, name=name, province=province)
        county = County.objects.create(code=f"X{code[1:]}1", name=f"{name}一区", city=city)
        grid = Grid.objects.create(code=f"G{code[1:]}1", name="一网格", county=county, city=city)
        cities[code] = (city, county, grid)
    return cities


@pytest.fixture
def manager(org):
    city, _, grid = org["C025"]
    return Manager.objects.create(
        manager_id="M001",
        name="王经理",
        mobile="13800000001",
        city=city,
        grid=grid,
        role="phone_manager",
        daily_capacity=40,
    )


def make_customer(org, n: int, manager=None, city="C025", **extra) -> Customer:
    city_obj, county, grid = org[city]
    values = {
        "subscriber_id": f"S{n:03d}",
        "msisdn": f"1381234{n:04d}",
        "name": "张三丰" if n % 2 else "李四",
        "gender": "M" if n % 2 else "F",
        "birth_date": date(1980, 5, 17),
        "join_date": date(2015, 3, 1),
        "city": city_obj,
        "county": county,
        "grid": grid,
        "brand": "gotone",
        "plan_code": "P188",
        "plan_fee": Decimal("188.00"),
        "payment_type": "postpaid",
        "status": "active",
        "status_date": date(2015, 3, 1),
        "value_tier": "mid_high",
        "manager": manager,
        "attributes": {"balance": 12.5, "handset_brand": "华为"},
        "row_hash": f"h{n}",
    }
    values.update(extra)
    return Customer.objects.create(**values)


@pytest.fixture
def customers(org, manager):
    return [make_customer(org, n, manager) for n in range(1, 6)]


@pytest.fixture
def moments(db):
    """Three moment rows built directly (the loader and workflow need no engine)."""
    rows = [
        (
            "A03",
            "账单下降",
            "anomaly",
            "monthly",
            80,
            "call",
            True,
            "{salutation}您好，您本月消费{bill_m1}元，较上月下降{drop_pct}%。",
            {"drop_pct": 30},
        ),
        (
            "A04",
            "余额不足",
            "anomaly",
            "daily",
            60,
            "sms",
            True,
            "{name}您好，您的余额为{balance}元。",
            {"balance_below": 10},
        ),
        ("N01", "免打扰", "no_service", "daily", 0, "call", False, "", {}),
    ]
    created = {}
    for code, zh, category, cycle, priority, channel, sms, script, thresholds in rows:
        created[code] = MomentDefinition.objects.create(
            code=code,
            name_zh=zh,
            name_en=code,
            category=category,
            cycle=cycle,
            priority=priority,
            channel=channel,
            sms_allowed=sms,
            strategy="预防措施",
            script=script,
            sms_template=script,
            thresholds=thresholds,
            condition={},
            current_version=1,
        )
    return created


@pytest.fixture
def user(db):
    return get_user_model().objects.create_user("mgr1")


@pytest.fixture
def other_user(db):
    return get_user_model().objects.create_user("mgr2")
