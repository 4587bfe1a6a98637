"""The manager archive: profile and capacities, qualifications, status and the hand-over of
a whole portfolio (every customer reassigned with its history, open work following)."""

from datetime import date, timedelta

import pytest
from django.utils import timezone

from factories import (
    make_appointment,
    make_customer,
    make_manager,
    make_manager_key_account,
    make_org,
    make_task,
    make_user,
)
from keycare.access import roles
from keycare.core.models import AuditEvent
from keycare.customers.models import Assignment, Customer
from keycare.errors import UserError
from keycare.keyaccounts.models import KeyAccount
from keycare.managers import actions
from keycare.managers.models import HandOver, ManagerStatus
from keycare.tasks.models import Appointment, ServiceTask

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(db):
    places = make_org()
    nj = places["C025"]
    leaving = make_manager(nj, "M1")
    a, b = make_manager(nj, "M2"), make_manager(nj, "M3")
    customers = [make_customer(nj, f"S{i:03d}", leaving) for i in range(7)]
    for c in customers:
        Assignment.objects.create(customer=c, manager=leaving, start_date=date(2025, 1, 1))
    group = make_manager_key_account(nj.city, "K1", leaving)
    for c in customers[:3]:
        Customer.objects.filter(pk=c.pk).update(key_account=group)
    task = make_task(customers[4])
    make_appointment(customers[5], timezone.now() + timedelta(days=1))
    admin = make_user("admin", roles.ROLE_CITY_ADMIN, city=nj.city)
    return {
        "leaving": leaving,
        "a": a,
        "b": b,
        "customers": customers,
        "group": group,
        "task": task,
        "admin": admin,
    }


def test_hand_over_moves_everything_and_keeps_history(world):
    leaving, a, b = world["leaving"], world["a"], world["b"]
    record = actions.hand_over(world["admin"], leaving, [b, a], reason="调岗")
    assert actions.portfolio_counts(leaving) == {
        "customers": 0,
        "key_accounts": 0,
        "tasks": 0,
        "appointments": 0,
    }
    assert record.customers == 7 and record.key_accounts == 1
    owners = dict(Customer.objects.values_list("subscriber_id", "manager__manager_id"))
    group_owner = KeyAccount.objects.get().manager.manager_id
    # Members of the group go with it; the others are dealt in turn between the two targets.
    assert {owners[f"S{i:03d}"] for i in range(3)} == {group_owner}
    assert sorted(owners.values()).count("M2") + sorted(owners.values()).count("M3") == 7
    assert abs(record.moved["M2"]["customers"] - record.moved["M3"]["customers"]) <= 3
    # History: the old assignment ended today, a current one starts for the new manager.
    today = timezone.localdate()
    first = world["customers"][0]
    periods = list(Assignment.objects.filter(customer=first).order_by("start_date"))
    assert periods[0].manager == leaving and periods[0].end_date == today
    assert periods[1].manager.manager_id == group_owner and periods[1].end_date is None
    # Open work follows the customer.
    task = ServiceTask.objects.get(pk=world["task"].pk)
    assert task.manager_id == task.customer.manager_id
    appointment = Appointment.objects.get()
    assert appointment.manager_id == appointment.customer.manager_id
    event = AuditEvent.objects.get(action="manager.hand_over")
    assert event.actor == world["admin"] and event.detail["reason"] == "调岗"
    assert HandOver.objects.get().by == world["admin"]


def test_hand_over_refuses_bad_targets(world):
    leaving = world["leaving"]
    with pytest.raises(UserError, match="原因"):
        actions.hand_over(world["admin"], leaving, [world["a"]], reason=" ")
    with pytest.raises(UserError, match="本人"):
        actions.hand_over(world["admin"], leaving, [leaving], reason="x")
    actions.set_status(world["admin"], world["a"], ManagerStatus.LEAVE)
    with pytest.raises(UserError, match="不在岗"):
        actions.hand_over(world["admin"], leaving, [world["a"]], reason="x")
    assert Customer.objects.filter(manager=leaving).count() == 7


def test_leaving_needs_an_empty_portfolio(world):
    leaving, admin = world["leaving"], world["admin"]
    with pytest.raises(UserError, match="移交"):
        actions.set_status(admin, leaving, ManagerStatus.LEFT)
    actions.hand_over(admin, leaving, [world["a"]], reason="离职")
    profile = actions.set_status(admin, leaving, ManagerStatus.LEFT, reason="离职")
    leaving.refresh_from_db()
    assert profile.status == ManagerStatus.LEFT and not leaving.active
    assert profile.status_since == timezone.localdate()
    with pytest.raises(UserError, match="已是"):
        actions.set_status(admin, leaving, ManagerStatus.LEFT)
    actions.set_status(admin, leaving, ManagerStatus.ACTIVE)
    leaving.refresh_from_db()
    assert leaving.active


def test_profile_and_qualifications_are_audited(world):
    manager, admin = world["a"], world["admin"]
    actions.update_profile(
        admin, manager, daily_capacity=55, visit_capacity=12, team="一组", title="高级经理"
    )
    manager.refresh_from_db()
    assert manager.daily_capacity == 55 and manager.profile.team == "一组"
    event = AuditEvent.objects.get(action="manager.profile")
    assert event.detail["changes"]["daily_capacity"] == ["40", "55"]
    with pytest.raises(UserError, match="容量"):
        actions.update_profile(admin, manager, daily_capacity=5000)
    with pytest.raises(UserError, match="有效期"):
        actions.add_qualification(
            admin,
            manager,
            kind="certificate",
            name="客户经理证",
            obtained_on=date(2025, 1, 1),
            expires_on=date(2024, 1, 1),
        )
    q = actions.add_qualification(
        admin, manager, kind="certificate", name="客户经理证", obtained_on=date(2025, 1, 1)
    )
    actions.remove_qualification(admin, q)
    assert AuditEvent.objects.filter(action__startswith="manager.qualification").count() == 2
