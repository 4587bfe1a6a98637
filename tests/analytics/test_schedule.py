"""`keycare schedule`: a due job runs once per period however often cron calls it; a job not
due does not run; a failed run is recorded and retried; bad arguments are clear errors."""

from __future__ import annotations

from datetime import date

import pytest
from django.core.management import CommandError, call_command

from factories import make_customer, make_key_account, make_manager, make_org
from keycare.analytics import schedule
from keycare.analytics.models import MonthlyReport, ScheduledRun
from keycare.core.models import AuditEvent
from keycare.keyaccounts.models import KeyAccountMember
from keycare.surveys.models import SurveyTask

pytestmark = pytest.mark.django_db


@pytest.fixture
def key_account():
    org = make_org()
    manager = make_manager(org["C025"], "M1")
    account = make_key_account(org["C025"], "K1", manager=manager)
    for n, role in enumerate(("key_person", "member", "member")):
        customer = make_customer(org["C025"], f"S{n}", manager)
        KeyAccountMember.objects.create(
            key_account=account, customer=customer, role=role, joined_date=date(2025, 1, 1)
        )
    return account


def test_a_due_job_runs_once_per_period(key_account):
    day = date(2026, 11, 22)
    first = {r["job"]: r for r in schedule.run_due(day)}
    assert first["key_account_surveys"]["status"] == "done"
    assert first["key_account_surveys"]["drawn"] == 3
    assert first["monthly_report"]["status"] == "done"
    assert MonthlyReport.objects.get().month == date(2026, 10, 1)
    again = {r["job"]: r["status"] for r in schedule.run_due(day)}
    later = {r["job"]: r["status"] for r in schedule.run_due(date(2026, 11, 29))}
    assert again == dict.fromkeys(schedule.JOBS, "already_run")
    assert later["key_account_surveys"] == later["monthly_report"] == "already_run"
    assert later["survey_indicators"] == "done"  # daily: a new day is a new period
    assert SurveyTask.objects.count() == 3 and MonthlyReport.objects.count() == 1
    assert ScheduledRun.objects.filter(job="monthly_report").count() == 1
    assert AuditEvent.objects.filter(action="schedule.run").count() == 4
    next_quarter = {r["job"]: r for r in schedule.run_due(date(2027, 1, 5))}
    assert next_quarter["key_account_surveys"]["period"] == "2027Q1"
    assert next_quarter["monthly_report"]["period"] == "2026-12"


def test_the_monthly_report_is_not_due_before_the_third():
    results = {r["job"]: r for r in schedule.run_due(date(2026, 12, 2), "monthly_report")}
    assert results == {
        "monthly_report": {"job": "monthly_report", "period": None, "status": "not_due"}
    }
    assert not MonthlyReport.objects.exists()


def test_a_failed_run_is_recorded_and_retried(monkeypatch):
    calls = []

    def flaky(day):
        calls.append(day)
        if len(calls) == 1:
            raise RuntimeError("disk full")
        return {"ok": 1}

    job = schedule.JOBS["survey_indicators"]
    monkeypatch.setitem(
        schedule.JOBS, "survey_indicators", schedule.Job(job.code, job.zh, job.period, flaky)
    )
    day = date(2026, 11, 22)
    assert schedule.run_due(day, "survey_indicators")[0]["status"] == "failed"
    assert ScheduledRun.objects.get().error == "disk full"
    assert schedule.run_due(day, "survey_indicators")[0]["status"] == "done"
    assert schedule.run_due(day, "survey_indicators")[0]["status"] == "already_run"
    assert len(calls) == 2


def test_the_command(key_account, capsys):
    call_command("schedule", "--date", "2026-11-22", "--job", "key_account_surveys")
    call_command("schedule", "--date", "2026-11-22", "--job", "key_account_surveys")
    out = capsys.readouterr().out
    assert "status=done" in out and "status=already_run" in out
    call_command("schedule", "--list")
    assert "2026Q4 done" in capsys.readouterr().out
    with pytest.raises(CommandError, match="--date"):
        call_command("schedule", "--date", "2026-02-30")
    with pytest.raises(CommandError, match="unknown job"):
        call_command("schedule", "--job", "rm -rf")
