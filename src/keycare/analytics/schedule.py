"""Periodic work, run by ``keycare schedule`` from cron (e.g. every 15 minutes).

Each job says when it is due and for which period; the command runs every due job whose
period has not run yet. A run first claims the unique (job, period) row of ``ScheduledRun``
in its own transaction: a second call -- the next cron tick, or a second host -- finds the
row and skips the job, so a due job runs exactly once per period. A failed run keeps its row
as ``failed`` and is retried (re-claimed) by the next call.

Why cron and not Celery beat: Celery is only the optional SMS broker here; beat would add a
scheduler process and a worker to every deployment, with its own schedule state beside the
database. The other periodic commands (``sms_send``, ``escalate``) already run from cron, and
the claim row makes the schedule safe to call as often and from as many hosts as wanted.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone

from keycare.analytics.models import ScheduledRun
from keycare.core.audit import record

REPORT_DAY = 3  # bills of the closed month are in by the 3rd (as the daily run assumes)


@dataclass(frozen=True)
class Job:
    code: str
    zh: str
    period: Callable[[date], str | None]  # the period due on a day (None: not due)
    run: Callable[[date], dict]


def _previous_month(day: date) -> date:
    return (day.replace(day=1) - timedelta(days=1)).replace(day=1)


def _report_period(day: date) -> str | None:
    return f"{_previous_month(day):%Y-%m}" if day.day >= REPORT_DAY else None


def _quarter(day: date) -> str:
    return f"{day.year}Q{(day.month - 1) // 3 + 1}"


def run_monthly_report(day: date) -> dict:
    from keycare.analytics.models import ReportStatus
    from keycare.analytics.reports import make_report

    report = make_report(_previous_month(day))
    if report.status != ReportStatus.DONE:  # recorded as failed, retried on the next call
        raise RuntimeError(f"monthly report {report.pk}: {report.error}")
    return {"report": report.pk}


def run_key_account_surveys(day: date) -> dict:
    from keycare.surveys.actions import draw_periodic_surveys

    return {"drawn": draw_periodic_surveys(None, day)}


def run_survey_indicators(day: date) -> dict:
    from keycare.analytics.loaders import load_survey_indicators

    months = {day.replace(day=1), _previous_month(day)}  # late answers to last month's surveys
    return {"rows": load_survey_indicators(months)}


JOBS = {
    job.code: job
    for job in (
        Job("monthly_report", "月度分析报告", _report_period, run_monthly_report),
        Job("key_account_surveys", "集团客户定期满意度调查", _quarter, run_key_account_surveys),
        Job(
            "survey_indicators",
            "满意度调查指标",
            lambda day: day.isoformat(),
            run_survey_indicators,
        ),
    )
}


def run_due(day: date, only: str | None = None) -> list[dict]:
    """Run every job due on ``day`` that has not run for its period; one dict per job."""
    results = []
    for job in JOBS.values():
        if only and job.code != only:
            continue
        period = job.period(day)
        if period is None:
            results.append({"job": job.code, "period": None, "status": "not_due"})
            continue
        claimed = _claim(job.code, period)
        if claimed is None:
            results.append({"job": job.code, "period": period, "status": "already_run"})
            continue
        results.append(_execute(job, day, claimed))
    return results


def _claim(job: str, period: str) -> ScheduledRun | None:
    """The claimed run row, or None when this period has run or is running elsewhere."""
    now = timezone.now()
    try:
        with transaction.atomic():
            return ScheduledRun.objects.create(
                job=job, period=period, status="running", started_at=now
            )
    except IntegrityError:
        retried = ScheduledRun.objects.filter(job=job, period=period, status="failed").update(
            status="running", started_at=now, error=""
        )
        return ScheduledRun.objects.get(job=job, period=period) if retried else None


def _execute(job: Job, day: date, claimed: ScheduledRun) -> dict:
    try:
        with transaction.atomic():
            summary = job.run(day)
    except Exception as error:  # noqa: BLE001 - recorded on the row and retried next call
        claimed.status, claimed.error = "failed", str(error)[:500]
    else:
        claimed.status, claimed.summary = "done", summary
    claimed.finished_at = timezone.now()
    claimed.save(update_fields=["status", "summary", "error", "finished_at"])
    record(
        None,
        "schedule.run",
        claimed,
        job=job.code,
        period=claimed.period,
        status=claimed.status,
    )
    return {"job": job.code, "period": claimed.period, "status": claimed.status, **claimed.summary}
