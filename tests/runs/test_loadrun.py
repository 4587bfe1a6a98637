"""Loading a published run: bulk, idempotent, re-runs update only unstarted tasks."""

import json
from datetime import date, timedelta

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from factories import make_task
from keycare.core.models import AuditEvent
from keycare.errors import UserError
from keycare.runs.loaders import load_run
from keycare.runs.models import Detection, QuarantineRow, Run, RunStatus, Suppression
from keycare.tasks import actions as task_actions
from keycare.tasks.models import AllocationDecision, ServiceTask, TaskMoment, TaskState

from .published import decision, detection, publish_run, task

pytestmark = pytest.mark.django_db
DAY = date(2026, 11, 20)


def _table_state():
    return {
        "runs": list(Run.objects.values_list("run_id", "status")),
        "detections": sorted(Detection.objects.values_list("pk", "customer_id", "moment_id")),
        "suppressions": Suppression.objects.count(),
        "quarantine": QuarantineRow.objects.count(),
        "tasks": sorted(ServiceTask.objects.values_list("pk", "customer_id", "version", "state")),
        "task_moments": sorted(TaskMoment.objects.values_list("pk", "task_id", "moment_id")),
        "decisions": AllocationDecision.objects.count(),
    }


@pytest.fixture
def first_run(tmp_path, customers, moments):
    publish_run(
        tmp_path,
        "v1",
        detections=[
            detection("S001", "A03"),
            detection("S001", "A04", priority=60, params={"balance": 3.5, "balance_below": 10}),
            detection("S002", "A03"),
            detection("S003", "A03"),
            detection("S999", "A03"),  # not in the archive
        ],
        suppressions=[
            {
                "subscriber_id": "S004",
                "moment_code": "N01",
                "reason": "免打扰名单",
                "business_date": "2026-11-20",
                "suppressed_codes": "A03,A04",
            }
        ],
        quarantine=[
            {
                "file": "bills",
                "row_number": 7,
                "raw": "S001,2026-13,x",
                "rule": "type",
                "reason": "bill_month 不是有效月份",
            }
        ],
        tasks=[
            task("S001", "A03,A04", score=90.0),
            task("S002", "A03", score=60.0),
            task("S003", "A03", decision="deferred"),
        ],
        decisions=[
            decision("S001", "A03"),
            decision("S001", "A04"),
            decision("S002", "A03"),
            decision("S003", "A03", "deferred"),
            decision("S004", "A03", "suppressed"),
        ],
    )
    return tmp_path


def test_load_creates_everything_linked(first_run, customers, moments, manager):
    summary = load_run(first_run, DAY)
    assert summary["detections"] == 4 and summary["suppressions"] == 1
    assert summary["quarantine_rows"] == 1
    assert summary["unknown_subscribers"] == 1 and summary["unknown_subscriber_sample"] == ["S999"]
    assert summary["tasks"]["created"] == 2 and summary["tasks_deferred"] == 1
    assert summary["decisions"] == {"call": 3, "deferred": 1, "suppressed": 1}
    run = Run.objects.get()
    assert run.run_id == "20261120-v1" and run.status == RunStatus.SUCCEEDED
    assert run.quarantined == 1 and run.loaded_at is not None
    s001 = ServiceTask.objects.get(customer=customers[0])
    assert s001.manager == manager and s001.channel == "call" and s001.risk_probability == 0.42
    # Bulk-created tasks carry their customer's city: the city administrators' scope.
    assert {t.city_id for t in ServiceTask.objects.all()} == {customers[0].city_id}
    assert all(t.city_id == t.customer.city_id for t in ServiceTask.objects.all())
    assert [m.moment.code for m in s001.moments.all()] == ["A03", "A04"]  # priority order
    assert s001.moments.get(moment__code="A04").params == {"balance": 3.5, "balance_below": 10}
    assert Suppression.objects.get().suppressed_codes == ["A03", "A04"]


def test_loading_the_same_run_twice_changes_nothing(first_run):
    load_run(first_run, DAY)
    before = _table_state()
    again = load_run(first_run, DAY)
    assert again["already_loaded"] is True
    assert _table_state() == before
    forced = load_run(first_run, DAY, force=True)  # the full path is idempotent too
    after = _table_state()
    assert forced["tasks"] == {
        "created": 0,
        "updated": 0,
        "unchanged": 2,
        "kept_worked": 0,
        "withdrawn": 0,
    }
    assert after["tasks"] == before["tasks"] and after["task_moments"] == before["task_moments"]
    assert len(after["detections"]) == len(before["detections"])
    assert (
        after["suppressions"] == before["suppressions"]
        and after["decisions"] == before["decisions"]
    )


def test_rerun_updates_unstarted_tasks_and_keeps_worked_ones(first_run, customers, user):
    load_run(first_run, DAY)
    worked = ServiceTask.objects.get(customer=customers[0])
    task_actions.claim_task(user, worked)
    untouched = ServiceTask.objects.get(customer=customers[1])
    publish_run(
        first_run,
        "v2",
        detections=[
            detection("S001", "A03"),
            detection("S002", "A04", priority=60),
            detection("S005", "A03"),
        ],
        tasks=[
            task("S001", "A03", score=10.0),
            task("S002", "A04", score=55.0),
            task("S005", "A03", score=40.0),
        ],
        decisions=[decision("S001", "A03"), decision("S002", "A04"), decision("S005", "A03")],
    )
    summary = load_run(first_run, DAY)
    assert summary["tasks"] == {
        "created": 1,
        "updated": 1,
        "unchanged": 0,
        "kept_worked": 1,
        "withdrawn": 0,
    }
    worked_after = ServiceTask.objects.get(pk=worked.pk)
    assert worked_after.state == TaskState.IN_PROGRESS and worked_after.priority_score == 90.0
    assert sorted(worked_after.moments.values_list("moment__code", flat=True)) == ["A03", "A04"]
    updated = ServiceTask.objects.get(pk=untouched.pk)
    assert updated.priority_score == 55.0 and updated.version == untouched.version + 1
    assert list(updated.moments.values_list("moment__code", flat=True)) == ["A04"]
    assert Detection.objects.filter(business_date=DAY).count() == 3  # replaced, not added
    assert AllocationDecision.objects.count() == 3 and not Suppression.objects.exists()
    assert dict(Run.objects.values_list("run_id", "status")) == {
        "20261120-v1": RunStatus.SUPERSEDED,
        "20261120-v2": RunStatus.SUCCEEDED,
    }


def test_new_detection_after_handling_is_a_new_alert(first_run, customers):
    """处理后有新预警 is a fact of the load, not a choice: an earlier task handled without
    change becomes handled_new_alert when the run detects its customer again."""
    earlier = DAY - timedelta(days=3)
    handled = make_task(customers[0], earlier, state=TaskState.HANDLED_NO_CHANGE)
    not_detected = make_task(customers[3], earlier, state=TaskState.HANDLED_NO_CHANGE)
    still_open = make_task(customers[1], earlier, state=TaskState.IN_PROGRESS)
    later = make_task(customers[2], DAY + timedelta(days=1), state=TaskState.HANDLED_NO_CHANGE)
    summary = load_run(first_run, DAY)
    assert summary["new_alerts"] == 1
    states = dict(ServiceTask.objects.values_list("pk", "state"))
    assert states[handled.pk] == TaskState.HANDLED_NEW_ALERT
    assert states[not_detected.pk] == TaskState.HANDLED_NO_CHANGE  # S004 was not detected
    assert states[still_open.pk] == TaskState.IN_PROGRESS  # not handled yet
    assert states[later.pk] == TaskState.HANDLED_NO_CHANGE  # handled after this date
    assert ServiceTask.objects.get(pk=handled.pk).version == handled.version + 1
    event = AuditEvent.objects.get(action="task.new_alert")
    assert event.object_id == str(handled.pk) and event.actor is None
    assert event.actor_name == "system" and event.detail["moments"] == ["A03", "A04"]
    assert event.detail["run"] == "20261120-v1"
    # Loading the run again (forced) finds nothing left to flag.
    assert load_run(first_run, DAY, force=True)["new_alerts"] == 0
    assert AuditEvent.objects.filter(action="task.new_alert").count() == 1


def test_rerun_withdraws_unstarted_tasks_no_longer_allocated(first_run, customers):
    load_run(first_run, DAY)
    publish_run(first_run, "v2", detections=[detection("S001", "A03")], tasks=[task("S001")])
    summary = load_run(first_run, DAY)
    assert summary["tasks"]["withdrawn"] == 1
    assert list(ServiceTask.objects.values_list("customer__subscriber_id", flat=True)) == ["S001"]


def test_missing_run_is_a_user_error(tmp_path, moments):
    with pytest.raises(UserError, match="没有已发布的运行结果"):
        load_run(tmp_path, DAY)


def test_business_date_mismatch_is_refused(tmp_path, customers, moments):
    publish_run(tmp_path, "v1", detections=[detection("S001", "A03")], business_date="2026-11-21")
    (tmp_path / "2026-11-20").symlink_to("2026-11-21.v1")
    with pytest.raises(UserError, match="不一致"):
        load_run(tmp_path, DAY)
    assert not Run.objects.exists()


def test_unknown_decision_rolls_back_everything(tmp_path, customers, moments):
    publish_run(
        tmp_path,
        "v1",
        detections=[detection("S001", "A03")],
        tasks=[task("S001")],
        decisions=[decision("S001", "A03", "teleport")],
    )
    with pytest.raises(UserError, match="teleport"):
        load_run(tmp_path, DAY)
    assert not Run.objects.exists() and not Detection.objects.exists()
    assert not ServiceTask.objects.exists()


def test_loadrun_command(first_run, capsys):
    call_command("loadrun", date="2026-11-20", runs_dir=str(first_run), json=True)
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["detections"] == 4
    call_command("loadrun", date="2026-11-20", runs_dir=str(first_run))
    assert "已加载过" in capsys.readouterr().out
    with pytest.raises(CommandError, match="YYYY-MM-DD") as error:
        call_command("loadrun", date="2026-13-01", runs_dir=str(first_run))
    assert error.value.returncode == 2


def test_a_customer_who_refused_personalised_marketing_gets_no_task(first_run, customers):
    from factories import make_consent

    make_consent(customers[1])  # S002 opted out (PIPL Art. 24)
    summary = load_run(first_run, DAY)
    assert summary["tasks"]["created"] == 1 and summary["tasks_opted_out"] == 1
    assert not ServiceTask.objects.filter(customer=customers[1]).exists()
