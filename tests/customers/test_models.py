"""Every scoped model's ``scope`` paths resolve, and the chokepoint scopes loaded data."""

from __future__ import annotations

from io import StringIO

import pytest
from django.apps import apps
from django.core.management import call_command

from keycare.access import roles
from keycare.customers.models import Customer, CustomerHistory
from keycare.keyaccounts.models import KeyAccount, KeyAccountMember
from keycare.org.models import Manager, StaffProfile

pytestmark = pytest.mark.django_db

SCOPED = [
    model
    for config in apps.get_app_configs()
    if config.name.startswith("keycare.")
    for model in config.get_models()
    if hasattr(model, "scope")
]


def test_scoped_models_are_the_expected_ones():
    names = {model.__name__ for model in SCOPED}
    assert {
        "Customer",
        "CustomerHistory",
        "Assignment",
        "KeyAccount",
        "Manager",
        "ServiceTask",
        "Detection",
        "Campaign",
        "WorkOrder",
    } <= names
    assert "LoadBatch" not in names


@pytest.mark.parametrize("model", SCOPED, ids=lambda m: m.__name__)
def test_scope_paths_resolve_to_foreign_keys(model):
    assert set(model.scope) <= {"city", "manager"}
    for path in model.scope.values():
        list(model.objects.filter(**{f"{path}_id": 1}))  # FieldError if the path is wrong
    assert hasattr(model.objects, "restrict")


def test_restrict_keeps_each_role_in_scope(delivery, settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    call_command("load", str(delivery.path), verbosity=0)
    call_command("users", stdout=StringIO())
    profiles = {p.role: p for p in StaffProfile.objects.select_related("user")}

    manager_user = profiles[roles.ROLE_MANAGER].user
    mine = Customer.objects.restrict(manager_user)
    assert set(mine.values_list("manager__manager_id", flat=True)) == {"M001"}
    assert mine.count() == 3  # S001, S002, S009
    city_user = profiles[roles.ROLE_CITY_ADMIN].user
    assert set(Customer.objects.restrict(city_user).values_list("city__code", flat=True)) == {
        "C025"
    }
    assert set(KeyAccount.objects.restrict(city_user).values_list("key_account_id", flat=True)) == {
        "K001"
    }
    assert KeyAccountMember.objects.restrict(city_user).count() == 2
    assert Manager.objects.restrict(city_user).count() == 2
    auditor = profiles[roles.ROLE_AUDITOR].user
    assert not Customer.objects.restrict(auditor).exists()
    assert not CustomerHistory.objects.restrict(auditor).exists()
    province = profiles[roles.ROLE_PROVINCE_ADMIN].user
    assert Customer.objects.restrict(province).count() == 8
