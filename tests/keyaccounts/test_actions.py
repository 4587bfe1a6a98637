"""A manager's information capture: versioned, field by field in the history, audited."""

import pytest

from factories import make_key_account, make_manager, make_org, make_user
from keycare.core.models import AuditEvent
from keycare.core.workflow import StaleTaskError, WorkflowError
from keycare.keyaccounts.actions import update_profile
from keycare.keyaccounts.models import KeyAccountChange

pytestmark = pytest.mark.django_db


@pytest.fixture
def ka():
    org = make_org()
    return make_key_account(org["C025"], "K001", make_manager(org["C025"]), address="旧地址")


def test_captured_fields_are_saved_with_history_and_audit(ka):
    user = make_user("mgr", "account_manager", manager=ka.manager)

    changed = update_profile(
        user,
        ka,
        {"address": " 新地址 ", "employees": "350", "notes": "年底扩容"},
        version=1,
        reason="走访核实",
    )

    ka.refresh_from_db()
    assert changed == 3 and ka.version == 2
    assert (ka.address, ka.employees, ka.notes) == ("新地址", 350, "年底扩容")
    history = {c.field: c for c in KeyAccountChange.objects.all()}
    assert history["address"].old_value == "旧地址" and history["address"].new_value == "新地址"
    assert {c.source for c in history.values()} == {"manager"}
    assert {c.version for c in history.values()} == {2} and history["notes"].by == user
    event = AuditEvent.objects.get(action="keyaccount.update")
    assert event.detail["fields"] == ["address", "employees", "notes"]


def test_nothing_changed_saves_nothing(ka):
    assert update_profile(None, ka, {"address": "旧地址"}, version=1) == 0
    assert not KeyAccountChange.objects.exists() and not AuditEvent.objects.exists()


def test_a_stale_version_is_refused_and_changes_nothing(ka):
    update_profile(None, ka, {"notes": "first"}, version=1)
    with pytest.raises(StaleTaskError):
        update_profile(None, ka, {"notes": "second"}, version=1)
    ka.refresh_from_db()
    assert ka.notes == "first" and KeyAccountChange.objects.count() == 1


@pytest.mark.parametrize("values", [{"employees": "many"}, {"address": "x" * 201}])
def test_bad_input_is_refused_with_a_message(ka, values):
    with pytest.raises(WorkflowError):
        update_profile(None, ka, values, version=1)
    assert not KeyAccountChange.objects.exists()
