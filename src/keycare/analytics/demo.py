"""Demo step of the analytics app: the province's monthly report of the newest bill month.

The run published the indicators and loadrun loaded them; the report is what an analyst
finds ready on the workbench (分析工作台), as cron would have built it on the 3rd.
"""

from __future__ import annotations

from keycare.core.demo_steps import DemoContext, DemoStep


def monthly_report(context: DemoContext) -> None:
    from keycare.analytics.models import Grain, IndicatorValue
    from keycare.analytics.reports import make_report

    month = IndicatorValue.objects.filter(grain=Grain.MONTH).order_by("-period").first()
    if month is None:
        print("   尚无指标数据，跳过 (no indicators: skipped)", flush=True)
        return
    report = make_report(month.period)
    print(
        f"   {report.month:%Y-%m} 月度报告: {report.get_status_display()}, "
        f"Excel {len(report.xlsx or b'')} B, PDF {len(report.pdf or b'')} B",
        flush=True,
    )


def scheduled_jobs(context: DemoContext) -> None:
    """What cron's `keycare schedule` does today: the survey indicators over the answers the
    surveys step just recorded, this quarter's key-account surveys, last month's report."""
    from django.utils import timezone

    from keycare.analytics.schedule import run_due

    for result in run_due(timezone.localdate()):
        print(f"   {result['job']} {result['period']}: {result['status']}", flush=True)


DEMO_STEPS = [
    DemoStep("after_loadrun", "月度报告 monthly report", monthly_report),
    DemoStep("after_loadrun", "定时任务 keycare schedule", scheduled_jobs),
]
