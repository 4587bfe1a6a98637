"""``keycare users``: one demo user per role, random passwords shown once, re-run resets."""

from __future__ import annotations

import stat
from datetime import date
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError

from factories import make_city, make_customer, make_manager, make_place
from keycare.access import roles
from keycare.core.models import AuditEvent
from keycare.org.models import Manager, StaffProfile

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fast_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def authenticate(username, password):
    """The user when the password is theirs (no request: the login throttle needs one)."""
    user = get_user_model().objects.get(username=username)
    return user if user.check_password(password) else None


@pytest.fixture
def org():
    suzhou = make_city("C0512", "苏州市")
    nanjing = make_place("C025", "南京市", county=("X0251", "玄武区"), grid=("G0251", "一网格"))
    # Managers without a grid (given the bare city); only the Nanjing one has a customer.
    idle = make_manager(suzhou, "M001", name="甲", mobile="13800000001")
    busy = make_manager(nanjing.city, "M002", name="乙", mobile="13800000002")
    make_customer(
        nanjing, "S1", busy, msisdn="13900000001", name="丙", join_date=date(2020, 1, 1),
        plan_code="GT188", plan_fee=188, status_date=date(2020, 1, 1), row_hash="x",
    )  # fmt: skip
    return {"nanjing": nanjing.city, "busy": busy, "idle": idle}


def run_users(*args) -> dict[str, dict]:
    out = StringIO()
    call_command("users", *args, stdout=out)
    lines = [line.split() for line in out.getvalue().splitlines()]
    return {cells[0]: cells for cells in lines if cells and cells[0].startswith("demo_")}


def test_creates_one_user_per_role_with_scope(org):
    table = run_users()

    users = get_user_model().objects.filter(username__startswith="demo_")
    assert users.count() == len(roles.ROLES) == 6 and len(table) == 6
    for user in users:
        profile = StaffProfile.objects.get(user=user)
        assert [g.name for g in user.groups.all()] == [profile.role]
        password = table[user.username][-1]
        assert len(password) >= 16
        assert authenticate(username=user.username, password=password) == user
        assert not user.is_superuser
    assert {p.role for p in StaffProfile.objects.all()} == set(roles.ROLES)
    city_admin = StaffProfile.objects.get(role=roles.ROLE_CITY_ADMIN)
    assert city_admin.city == org["nanjing"] and city_admin.manager is None
    manager = StaffProfile.objects.get(role=roles.ROLE_MANAGER)
    assert manager.manager == org["busy"]  # the manager who has customers
    assert Manager.objects.get(pk=org["busy"].pk).user == manager.user
    event = AuditEvent.objects.get(action="demo_users")
    assert len(event.detail["usernames"]) == 6
    cti = users.get(username=f"demo_{roles.ROLE_CTI}")
    assert cti.has_perm("access.cti_clear_numbers") and not cti.has_perm(
        "access.unmask_personal_data"
    )
    assert all(table[u][-1] not in str(event.detail) for u in table)


def test_rerun_resets_passwords(org):
    first = run_users()
    second = run_users()

    assert get_user_model().objects.count() == 6 and StaffProfile.objects.count() == 6
    for username, cells in second.items():
        assert cells[-1] != first[username][-1]
        assert authenticate(username=username, password=first[username][-1]) is None
        assert authenticate(username=username, password=cells[-1]) is not None


def test_password_file(org, tmp_path):
    path = tmp_path / "logins.txt"
    out = StringIO()
    call_command("users", "--password-file", str(path), stdout=out)

    text = path.read_text()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    for line in text.splitlines()[1:]:
        username, *_rest, password = line.split()
        assert password not in out.getvalue()
        assert authenticate(username=username, password=password) is not None


def test_refuses_without_organisation():
    with pytest.raises(CommandError) as caught:
        call_command("users", stdout=StringIO())
    assert caught.value.returncode == 2 and "keycare load" in str(caught.value)
    assert not get_user_model().objects.exists()
