"""Group moments from a published run become tasks for the groups' managers; the run's value
scores and tiers are written to the archive; syncmoments and the run's inputs know them."""

from __future__ import annotations

import json
from datetime import date

import pytest

from factories import make_key_account, make_manager
from keycare.keyaccounts.models import KeyAccount, TierChange
from keycare.moments.actions import sync_builtin_definitions
from keycare.moments.models import CityThreshold, MomentDefinition
from keycare.moments.services import current_definitions, current_group_definitions
from keycare.runs.loaders import load_run
from keycare.tasks.group_loaders import run_kwargs
from keycare.tasks.models import GroupTask, TaskState
from runs.published import publish_run

pytestmark = pytest.mark.django_db


def group_detection(group, code, manager="KM1", explanation="集团合同将于 28 天后到期"):
    return {
        "key_account_id": group,
        "moment_code": code,
        "category": "group",
        "priority": 88,
        "channel": "call",
        "params": json.dumps({"days_to_contract_end": 28, "days": 60}),
        "explanation": explanation,
        "city_id": "C025",
        "business_date": "2026-11-20",
        "manager_id": manager,
    }


@pytest.fixture
def groups(org):
    sync_builtin_definitions()
    manager = make_manager(org["C025"], "KM1", role="key_account_manager")
    return {
        "K1": make_key_account(org["C025"], "K1", manager=manager),
        "K2": make_key_account(org["C025"], "K2", manager=manager, tier="C"),
    }


def _publish(tmp_path, day: str, rows, tiers=None, version="v1"):
    extra = {"group_detections": rows}
    if tiers is not None:
        extra["group_tiers"] = tiers
    publish_run(tmp_path, version, business_date=day, extra=extra)
    return load_run(tmp_path, date.fromisoformat(day))


def test_syncmoments_imports_the_group_moments():
    result = sync_builtin_definitions()
    groups = MomentDefinition.objects.filter(category="group")
    assert {m.code for m in groups} == {f"G0{n}" for n in range(1, 9)}
    assert set(result["codes"]) >= {"G01", "G08"}
    g06 = groups.get(code="G06")
    assert g06.name_zh == "集团合同即将到期" and g06.name_en == "Group contract near expiry"
    assert "续签" in g06.script and g06.get_category_display() == "集团时刻"
    # The customer moments the run reads leave them out; the group set has them.
    customer_set, _overrides = current_definitions()
    assert "G06" not in customer_set.by_code and "A03" in customer_set.by_code
    assert set(current_group_definitions().by_code) == {f"G0{n}" for n in range(1, 9)}


def test_group_thresholds_per_city_reach_the_run(org):
    sync_builtin_definitions()
    g06 = MomentDefinition.objects.get(code="G06")
    CityThreshold.objects.create(moment=g06, city=org["C025"].city, name="days", value=10)
    kwargs = run_kwargs(date(2026, 11, 20), None)
    assert kwargs["group_definitions"].by_code["G06"].thresholds_for("C025") == {"days": 10}
    assert kwargs["tier_policy"][0] == 0  # the built-in policy is in force
    customer_set, overrides = current_definitions()
    assert "G06" not in json.dumps(overrides)


def test_detections_become_tasks_for_the_group_manager(tmp_path, groups):
    summary = _publish(
        tmp_path, "2026-11-20", [group_detection("K1", "G06"), group_detection("K9", "G06")]
    )
    task = GroupTask.objects.get()
    assert task.key_account == groups["K1"] and task.manager.manager_id == "KM1"
    assert task.moment.code == "G06" and task.city_id == groups["K1"].city_id
    assert task.explanation == "集团合同将于 28 天后到期" and task.params["days"] == 60
    assert task.state == TaskState.UNHANDLED
    assert summary["group_tasks"] == {"created": 1, "open_already": 0, "unknown_groups": 1}


def test_an_open_task_is_not_repeated_and_a_handled_one_may_be(tmp_path, groups):
    _publish(tmp_path, "2026-11-20", [group_detection("K1", "G06")])
    second = _publish(tmp_path, "2026-11-21", [group_detection("K1", "G06")])
    assert second["group_tasks"]["open_already"] == 1
    assert GroupTask.objects.count() == 1
    GroupTask.objects.update(state=TaskState.HANDLED_NO_CHANGE)
    third = _publish(tmp_path, "2026-11-22", [group_detection("K1", "G06")])
    assert third["group_tasks"]["created"] == 1
    assert GroupTask.objects.filter(state=TaskState.UNHANDLED).count() == 1


def test_a_rerun_replaces_the_dates_unstarted_tasks_only(tmp_path, groups):
    _publish(tmp_path, "2026-11-20", [group_detection("K1", "G06"), group_detection("K2", "G07")])
    GroupTask.objects.filter(key_account__key_account_id="K2").update(state=TaskState.IN_PROGRESS)
    _publish(tmp_path, "2026-11-20", [group_detection("K2", "G07")], version="v2")
    assert sorted(GroupTask.objects.values_list("key_account__key_account_id", "state")) == [
        ("K2", TaskState.IN_PROGRESS)
    ]


def test_the_runs_tiers_are_written_with_their_changes(tmp_path, groups):
    tiers = [
        {"key_account_id": "K1", "value_score": 72.5, "tier": "A1", "policy_version": 0},
        {"key_account_id": "K2", "value_score": 10.0, "tier": "C", "policy_version": 0},
        {"key_account_id": "K9", "value_score": 99.0, "tier": "A1", "policy_version": 0},
    ]
    summary = _publish(tmp_path, "2026-11-20", [], tiers=tiers)
    k1, k2 = KeyAccount.objects.order_by("key_account_id")
    assert (k1.tier, k1.value_score) == ("A1", 72.5)
    assert (k2.tier, k2.value_score) == ("C", 10.0)
    change = TierChange.objects.get()
    assert (change.from_tier, change.to_tier, change.policy_version) == ("B1", "A1", 0)
    assert "日批评定" in change.reason
    assert summary["group_tiers"] == {"policy_version": 0, "groups": 2, "moved": 1}
