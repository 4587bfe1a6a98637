"""Runs started from the UI: the request action, the `keycare runjob` job, stale jobs, and one
real detached launch. The data is a tiny synthetic delivery (60 subscribers, 3 months)."""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import date, timedelta

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from django.core.management import CommandError, call_command
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from factories import make_user
from keycare.access import roles
from keycare.core.models import AuditEvent
from keycare.engine import publish as pub
from keycare.runs import jobs as runjobs
from keycare.runs.models import QuarantineRow, Run, RunRequest
from keycare.synth.generator import generate

DAY = date(2026, 11, 22)
BAD_MOBILE = "13912345678"


@pytest.fixture
def admin(db):
    return make_user("prov", roles.ROLE_PROVINCE_ADMIN)


@pytest.fixture(scope="module")
def synth_delivery(tmp_path_factory):
    """One tiny synthetic delivery plus a subscriber row breaking a range rule (quarantined)."""
    out = tmp_path_factory.mktemp("synth") / "d1"
    generate(out, subscribers=60, months=3, seed=3, as_of=DAY)
    path = out / "subscribers.parquet"
    table = pq.read_table(path)
    bad = dict(table.slice(0, 1).to_pylist()[0])
    bad.update(subscriber_id="S9999999", msisdn=BAD_MOBILE, name="王小明", plan_fee=12000.0)
    pq.write_table(pa.concat_tables([table, pa.Table.from_pylist([bad], table.schema)]), path)
    return out


@pytest.fixture
def home(tmp_path, settings, synth_delivery):
    """KEYCARE_HOME with the delivery under the delivery location as "d1"."""
    data = tmp_path / "data"
    data.mkdir()
    shutil.copytree(synth_delivery, data / "d1")
    settings.KEYCARE_HOME = tmp_path
    settings.KEYCARE_DATA_DIR = data
    settings.KEYCARE_RUNS_DIR = tmp_path / "runs"
    return tmp_path


def _request(admin, name="d1", day=DAY):
    return runjobs.request_run(admin, day, name, launcher=lambda pk: None)


# --- the action -----------------------------------------------------------------------


def test_request_is_queued_audited_and_launched_after_commit(
    admin, home, django_capture_on_commit_callbacks
):
    launched = []
    with django_capture_on_commit_callbacks(execute=True):
        request = runjobs.request_run(admin, DAY, "d1", launcher=launched.append)
    assert launched == [request.pk]
    assert (request.status, request.active, request.requested_by) == ("queued", True, admin)
    event = AuditEvent.objects.get(action="run.request")
    assert event.actor == admin and event.detail == {
        "business_date": "2026-11-22",
        "delivery": "d1",
    }


def test_a_second_request_while_one_is_active_is_refused(admin, home):
    first = _request(admin)
    with pytest.raises(runjobs.RunRequestError, match="已有一个日批运行在进行中"):
        _request(admin)
    assert list(RunRequest.objects.values_list("pk", flat=True)) == [first.pk]
    assert AuditEvent.objects.filter(action="run.request").count() == 1


def test_the_database_allows_one_active_request_only(admin, home):
    _request(admin)
    with pytest.raises(IntegrityError), transaction.atomic():
        RunRequest.objects.create(business_date=DAY, delivery="d1")


@pytest.mark.parametrize(
    "name, day, message",
    [
        ("../etc", DAY, "不在交付目录"),
        ("/etc", DAY, "不在交付目录"),
        ("d2", DAY, "不在交付目录"),
        ("d1", DAY - timedelta(days=1), "与所选日期 2026-11-21 不一致"),
        ("d1", timezone.localdate() + timedelta(days=1), "晚于今天"),
    ],
)
def test_bad_requests_are_refused_and_change_nothing(admin, home, name, day, message):
    with pytest.raises(runjobs.RunRequestError, match=message):
        _request(admin, name, day)
    assert not RunRequest.objects.exists() and not AuditEvent.objects.exists()


def test_only_province_admins_may_start_a_run(db, home):
    for role in (roles.ROLE_CITY_ADMIN, roles.ROLE_MANAGER, roles.ROLE_ANALYST):
        with pytest.raises(runjobs.RunRequestError, match="只有省级管理员"):
            _request(make_user(f"u_{role}", role))
    assert not RunRequest.objects.exists()


def test_deliveries_offer_only_delivery_directories_inside_the_location(home, tmp_path_factory):
    outside = tmp_path_factory.mktemp("outside")
    (outside / "manifest.json").write_text('{"business_date": "2026-11-22"}')
    os.symlink(outside, home / "data" / "escape")  # a symlink out of the location
    (home / "data" / "empty").mkdir()  # not a delivery
    assert [(d.name, d.business_date) for d in runjobs.deliveries()] == [("d1", DAY)]


# --- the job --------------------------------------------------------------------------


def test_runjob_runs_the_pipeline_reports_progress_and_loads_the_run(admin, home, monkeypatch):
    request = _request(admin)
    seen = []
    original = runjobs.Progress.__call__

    def spy(self, step, event, info):
        original(self, step, event, info)
        seen.append(RunRequest.objects.values_list("step", "percent").get(pk=request.pk))

    monkeypatch.setattr(runjobs.Progress, "__call__", spy)
    call_command("runjob", str(request.pk))

    request.refresh_from_db()
    assert (request.status, request.percent, request.active) == ("succeeded", 100, None)
    assert request.pid == os.getpid() and request.started_at and request.finished_at
    steps = [step for step, _ in seen]
    assert steps[0] == "ingest" and steps[-1] == "load"
    assert {"view", "detect", "risk", "allocate", "write"} <= set(steps)
    percents = [p for _, p in seen]
    assert percents == sorted(percents) and 0 <= percents[0] < percents[-1] <= 99

    run = request.run
    assert run is not None and run.loaded_at is not None and run.business_date == DAY
    assert run.run_id == request.summary["run_id"] == pub.read_published(home / "runs", DAY).run_id
    assert request.summary["load"]["run_id"] == run.run_id
    quarantined = QuarantineRow.objects.get(run=run)
    assert (quarantined.file, quarantined.rule) == ("subscribers.parquet", "range")
    assert BAD_MOBILE in quarantined.raw  # stored as delivered; masked on display (web tests)
    events = AuditEvent.objects.filter(action__startswith="run.").order_by("id")
    assert list(events.values_list("action", flat=True)) == [
        "run.request",
        "run.load",
        "run.request.succeeded",
    ]


def test_runjob_does_not_run_a_request_twice(admin, home):
    request = _request(admin)
    RunRequest.objects.filter(pk=request.pk).update(status="succeeded", active=None)
    with pytest.raises(CommandError, match="不在排队状态"):
        call_command("runjob", str(request.pk))
    assert not Run.objects.exists()


def test_a_failed_run_shows_the_reason_and_publishes_nothing(admin, home, tmp_path):
    broken = home / "data" / "broken"
    broken.mkdir()
    for item in (home / "data" / "d1").iterdir():
        if item.name != "bills.parquet":  # a required file is missing
            os.symlink(item, broken / item.name)
    request = _request(admin, "broken")
    with pytest.raises(CommandError, match="失败"):
        call_command("runjob", str(request.pk))
    request.refresh_from_db()
    assert (request.status, request.active, request.run) == ("failed", None, None)
    assert "bills" in request.error and "Traceback" not in request.error
    assert pub.read_published(home / "runs", DAY) is None
    assert not Run.objects.exists()
    assert AuditEvent.objects.filter(action="run.request.failed").count() == 1
    _request(admin)  # the slot is free again


def test_an_unexpected_error_is_reported_without_a_traceback(admin, home, monkeypatch):
    request = _request(admin)

    def explode(*args, **kwargs):
        raise KeyError("secret internals")

    monkeypatch.setattr("keycare.engine.pipeline.run_daily", explode)
    request = runjobs.execute(request.pk)
    assert request.status == "failed"
    assert "KeyError" in request.error and "secret internals" not in request.error
    assert "runjob-" in request.error  # where the traceback went


# --- stale jobs -----------------------------------------------------------------------


def _dead_pid():
    process = subprocess.Popen(["true"])  # noqa: S607 - coreutils, a process that ends at once
    process.wait()
    return process.pid


def test_a_running_request_whose_process_died_is_marked_failed(admin, home):
    request = _request(admin)
    RunRequest.objects.filter(pk=request.pk).update(status="running", pid=_dead_pid())
    assert runjobs.reap_stale() == 1
    request.refresh_from_db()
    assert (request.status, request.active) == ("failed", None)
    assert "意外退出" in request.error
    _request(admin)  # a new run may start


def test_a_live_job_and_another_hosts_job_are_left_alone(admin, home):
    request = _request(admin)
    # stands in for a live job: a process whose arguments include "runjob"
    job = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)", "runjob"])
    try:
        RunRequest.objects.filter(pk=request.pk).update(status="running", pid=job.pid)
        assert runjobs.reap_stale() == 0
        # the pytest process is alive, but it is not a runjob: a reused pid
        RunRequest.objects.filter(pk=request.pk).update(pid=os.getpid())
        RunRequest.objects.filter(pk=request.pk).update(host="elsewhere")
        assert runjobs.reap_stale() == 0
        RunRequest.objects.filter(pk=request.pk).update(host="")
        assert runjobs.reap_stale() == 1
    finally:
        job.kill()
        job.wait()


def test_a_request_that_never_started_is_failed_after_the_grace_period(admin, home):
    request = _request(admin)
    assert runjobs.reap_stale() == 0
    assert runjobs.reap_stale(now=timezone.now() + runjobs.LAUNCH_GRACE * 2) == 1
    request.refresh_from_db()
    assert request.status == "failed" and "未能启动" in request.error


# --- stopping a run -------------------------------------------------------------------


def test_cancel_sends_sigterm_to_the_live_job(admin, home):
    request = _request(admin)
    job = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)", "runjob"])
    try:
        RunRequest.objects.filter(pk=request.pk).update(status="running", pid=job.pid)
        runjobs.cancel_run(admin, request.pk)
        assert job.wait(timeout=10) == -signal.SIGTERM
    finally:
        job.kill()
        job.wait()
    assert AuditEvent.objects.filter(action="run.cancel", actor=admin).count() == 1
    assert runjobs.reap_stale() == 1  # this stand-in records nothing; a real job does, below


def test_a_job_stopped_by_sigterm_records_the_failure_and_publishes_nothing(
    admin, home, monkeypatch
):
    request = _request(admin)
    monkeypatch.setattr(
        "keycare.engine.pipeline.run_daily", lambda *a, **k: os.kill(os.getpid(), signal.SIGTERM)
    )
    with pytest.raises(SystemExit):
        runjobs.execute(request.pk)
    request.refresh_from_db()
    assert (request.status, request.active) == ("failed", None)
    assert "运行被终止" in request.error
    assert signal.getsignal(signal.SIGTERM) is not runjobs._terminated  # handler restored
    assert not Run.objects.exists()


def test_cancel_of_a_request_without_a_process_fails_it_at_once(admin, home):
    request = _request(admin)
    assert runjobs.cancel_run(admin, request.pk).status == "failed"
    with pytest.raises(runjobs.RunRequestError, match="已经结束"):
        runjobs.cancel_run(admin, request.pk)
    city_admin = make_user("city", roles.ROLE_CITY_ADMIN)
    other = _request(admin)
    with pytest.raises(runjobs.RunRequestError, match="只有省级管理员"):
        runjobs.cancel_run(city_admin, other.pk)
    assert RunRequest.objects.get(pk=other.pk).is_active


# --- a real detached launch -----------------------------------------------------------


def _shared_database(home) -> tuple[dict, object]:
    """(env for the child, status reader): the child must see this test's database."""
    if connection.vendor == "sqlite":  # the test database is in memory: copy it to a file
        path = home / "keycare.sqlite3"
        connection.ensure_connection()
        target = sqlite3.connect(path)
        connection.connection.backup(target)
        target.close()

        def read(pk):
            with sqlite3.connect(path, timeout=30) as db:
                return db.execute(
                    "SELECT status, percent, error, run_id FROM workorders_runrequest WHERE id=?",
                    (pk,),
                ).fetchone()

        return {"DATABASE_URL": None}, read
    db = connection.settings_dict
    url = f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"

    def read(pk):
        return RunRequest.objects.values_list("status", "percent", "error", "run_id").get(pk=pk)

    return {"DATABASE_URL": url}, read


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_launch_runs_the_job_in_a_detached_process(home):
    admin = make_user("prov", roles.ROLE_PROVINCE_ADMIN)
    request = _request(admin)
    env, read = _shared_database(home)
    pid = runjobs.launch(request.pk, env=env)
    assert pid and pid != os.getpid()
    assert os.getsid(pid) == pid  # its own session: detached from the web worker
    deadline = time.monotonic() + 90
    while (state := read(request.pk))[0] in ("queued", "running"):
        assert time.monotonic() < deadline, runjobs.job_log_path(request.pk).read_text()
        time.sleep(0.5)
    status, percent, error, run_id = state
    assert (status, percent, error) == ("succeeded", 100, ""), error
    assert run_id is not None
    assert runjobs.job_log_path(request.pk).exists()
