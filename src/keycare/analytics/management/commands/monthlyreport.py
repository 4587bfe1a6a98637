"""`keycare monthlyreport`: build monthly reports (Excel and PDF), kept in the database.

- ``--id N``: build the report queued from the analyst's workbench (started by the app);
- ``--month YYYY-MM [--city CODE]``: build one now (run from cron on the 3rd of each month).
"""

from keycare.analytics.models import ReportStatus
from keycare.analytics.reports import generate, make_report, parse_report_month
from keycare.core.commands import KeycareCommand
from keycare.errors import UserError
from keycare.org.models import City


class Command(KeycareCommand):
    help = "Build a monthly analysis report (Excel and PDF) from the published indicators."
    needs_database = "require"

    def add_arguments(self, parser):
        parser.add_argument("--id", type=int, help="a report queued from the web page")
        parser.add_argument("--month", help="YYYY-MM: build this month's report now")
        parser.add_argument("--city", help="a city code (default: the whole province)")

    def run(self, *args, **opts):
        if opts["id"] is not None:
            report = generate(opts["id"])
        else:
            month = parse_report_month(opts["month"] or "")
            city = None
            if opts["city"]:
                city = City.objects.filter(code=opts["city"]).first()
                if city is None:
                    raise UserError(f"--city: 没有这个地市 (unknown city): {opts['city']}")
            self.stdout.write(f"生成 {month:%Y-%m} 月度报告 (building the report)...")
            report = make_report(month, city)
        if report.status != ReportStatus.DONE:
            raise UserError(f"月度报告 {report.pk} 生成失败 (failed): {report.error}")
        size = len(report.xlsx or b"") + len(report.pdf or b"")
        self.stdout.write(f"月度报告 {report.pk} 已生成 (done): {report.month:%Y-%m}, {size} bytes")
