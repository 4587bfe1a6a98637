"""Shared set-up for the web page tests: one city, two managers, a moment, and logins, all
built by ``factories``."""

import pytest

import factories
from factories import Place, make_manager, make_moment, make_place, make_user


@pytest.fixture
def org(db):
    place = make_place("3201", "南京市", county=("320102", "玄武区"), grid=("G1", "一网格"))
    return place._asdict()  # {"city": ..., "county": ..., "grid": ...}


@pytest.fixture
def moment(db):
    return make_moment(
        "A03", script="{salutation}您好，您本月账单有所下降。", sms_template="", thresholds={}
    )


@pytest.fixture
def managers(org):
    place = Place(**org)
    return [make_manager(place, f"M{i}", name=f"经理{i}", mobile=f"1390000000{i}") for i in (1, 2)]


@pytest.fixture
def make_customer(org):
    """make_customer(subscriber_id, manager, **overrides) -> a high-value active Customer."""

    def make(subscriber_id: str, manager, **overrides):
        return factories.make_customer(Place(**org), subscriber_id, manager, **overrides)

    return make


@pytest.fixture
def login_as(client):
    """login_as(role, manager=None, username=None) -> a logged-in user with that role."""

    def login(role, manager=None, username=None):
        user = make_user(username or f"u_{role}", role, manager=manager)
        client.force_login(user)
        return user

    return login
