"""Per-tier service standards: the built-in version, publishing new versions, planned visits."""

import copy
from datetime import date

import pytest

from factories import make_key_account, make_manager, make_org, make_user
from keycare.core.models import AuditEvent
from keycare.errors import UserError
from keycare.keyaccounts import standards
from keycare.keyaccounts.actions import publish_standards
from keycare.keyaccounts.models import ServiceStandardSet

pytestmark = pytest.mark.django_db


@pytest.fixture
def groups():
    org = make_org()
    m1 = make_manager(org["C025"], "M001", role="key_account_manager")
    m2 = make_manager(org["C0512"], "M002", role="key_account_manager")
    return {
        "a1": make_key_account(org["C025"], "K001", m1, tier="A1"),
        "c": make_key_account(org["C0512"], "K002", m2, tier="C"),
        "gone": make_key_account(org["C025"], "K003", m1, tier="A1", archive="retained"),
    }


def test_the_built_in_standards_cover_every_tier_and_a1_is_served_fastest():
    version, data = standards.current()
    assert version == 0
    a1, c = data["tiers"]["A1"], data["tiers"]["C"]
    assert a1["visit_months"]["manager"] < c["visit_months"]["manager"]
    assert standards.restore_hours("A1", "critical") < standards.restore_hours("C", "critical")
    assert a1["green_channel"] and not c["green_channel"]


def test_monthly_plan_for_december_counts_each_cycle_ending_in_it(groups):
    visits = standards.planned_visits(date(2026, 12, 1), date(2026, 12, 31))

    by_group = {}
    for v in visits:
        by_group.setdefault(v.key_account_id, []).append(v.role)
    # A1: monthly manager, quarterly department head and engineer, half-yearly leader.
    assert sorted(by_group["K001"]) == ["department_head", "engineer", "leader", "manager"]
    assert by_group["K002"] == ["manager"]  # C: every six months (Jul-Dec ends in December)
    assert "K003" not in by_group  # retained archive: no visits
    assert {v.manager_id for v in visits if v.key_account_id == "K001"} == {"M001"}
    assert all(v.due_by == date(2026, 12, 31) for v in visits)


def test_a_year_of_monthly_plans_adds_up_to_the_yearly_plan(groups):
    months = [
        standards.planned_visits(date(2026, m, 1), standards._month_end(2026, m))
        for m in range(1, 13)
    ]
    year = standards.planned_visits(date(2026, 1, 1), date(2026, 12, 31))
    assert sum(len(m) for m in months) == len(year)
    assert sum(v.role == "manager" for v in year if v.key_account_id == "K001") == 12
    assert sum(v.role == "manager" for v in year if v.key_account_id == "K002") == 2


def test_publishing_makes_a_new_version_in_force_and_is_audited(groups):
    admin = make_user("admin", "province_admin")
    data = copy.deepcopy(standards.default_standards())
    data["tiers"]["C"]["visit_months"]["manager"] = 12

    published = publish_standards(admin, data, note="C 类年访一次")

    assert standards.current() == (1, data) and published.version == 1
    visits = standards.planned_visits(date(2026, 7, 1), date(2026, 12, 31))
    assert [v.role for v in visits if v.key_account_id == "K002"] == ["manager"]
    assert AuditEvent.objects.get(action="keyaccount.standards.publish").detail["version"] == 1


@pytest.mark.parametrize(
    "spoil, message",
    [
        (lambda d: d["tiers"].pop("B2"), "缺少层级：B2"),
        (lambda d: d["tiers"]["A1"]["visit_months"].update(manager=0), "1 到 12"),
        (lambda d: d["tiers"]["A1"]["visit_months"].update(janitor=1), "janitor"),
        (lambda d: d["tiers"]["B1"]["restore_hours"].update(critical=-1), "正数"),
    ],
)
def test_bad_standards_are_refused_naming_what_is_wrong(spoil, message):
    data = copy.deepcopy(standards.default_standards())
    spoil(data)
    with pytest.raises(UserError, match=message):
        publish_standards(None, data)
    assert not ServiceStandardSet.objects.exists()


def test_an_inverted_period_is_refused():
    with pytest.raises(UserError):
        standards.planned_visits(date(2026, 12, 31), date(2026, 12, 1))
