"""`keycare schedule`: run the periodic jobs that are due (call it from cron, e.g. every
15 minutes); each job runs once per period however often it is called (keycare.analytics.schedule).

- ``keycare schedule``: run what is due today;
- ``--date YYYY-MM-DD``: as if today were that day (catching up after an outage);
- ``--job CODE``: only that job; ``--list``: the jobs and their last runs.
"""

from django.utils import timezone
from django.utils.dateparse import parse_date

from keycare.analytics.models import ScheduledRun
from keycare.analytics.schedule import JOBS, run_due
from keycare.core.commands import KeycareCommand
from keycare.errors import UserError


class Command(KeycareCommand):
    help = "Run the due periodic jobs (monthly reports, key-account surveys, survey indicators)."
    needs_database = "require"

    def add_arguments(self, parser):
        parser.add_argument("--date", help="YYYY-MM-DD: run as of this day (default today)")
        parser.add_argument("--job", help=f"only this job: {', '.join(JOBS)}")
        parser.add_argument("--list", action="store_true", help="list the jobs and last runs")

    def run(self, *args, **opts):
        if opts["list"]:
            for code, job in JOBS.items():
                last = ScheduledRun.objects.filter(job=code).first()
                shown = f"{last.period} {last.status}" if last else "-"
                self.stdout.write(f"{code:22s} {job.zh}  last: {shown}")
            return
        if opts["job"] and opts["job"] not in JOBS:
            raise UserError(
                f"--job: 没有这个任务 (unknown job) {opts['job'][:40]!r}; 可选 {', '.join(JOBS)}"
            )
        day = timezone.localdate()
        if opts["date"]:
            try:
                day = parse_date(opts["date"])
            except ValueError:
                day = None
            if day is None:
                raise UserError(
                    f"--date: 日期无效 (invalid date) {opts['date'][:20]!r}，格式如 2026-11-22"
                )
        for result in run_due(day, opts["job"]):
            self.stdout.write(" ".join(f"{k}={v}" for k, v in result.items()))
