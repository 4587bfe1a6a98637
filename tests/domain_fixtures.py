"""Fixtures for the domain tests (runs, tasks, campaigns, work orders): two cities, a
manager, five customers and three moments, all built by ``factories``."""

from __future__ import annotations

import pytest

from factories import make_manager, make_moment, make_org, make_user, numbered_customer


@pytest.fixture
def org(db):
    return make_org()


@pytest.fixture
def manager(org):
    return make_manager(org["C025"], "M001", name="王经理", mobile="13800000001")


@pytest.fixture
def customers(org, manager):
    return [numbered_customer(org, n, manager) for n in range(1, 6)]


@pytest.fixture
def moments(db):
    return {code: make_moment(code) for code in ("A03", "A04", "N01")}


@pytest.fixture
def user(db):
    return make_user("mgr1")


@pytest.fixture
def other_user(db):
    return make_user("mgr2")
