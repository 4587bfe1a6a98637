"""``keycare assess``: compute the managers' KPI assessment of a period (a month by default).

    keycare assess --month 2026-11            # the month's assessment, every manager
    keycare assess --month 2026-11 --xlsx out.xlsx
    keycare assess --name 2026Q4 --start 2026-10-01 --end 2026-12-31

A period already approved or locked is refused; one computed or reviewed is recomputed
(recorded adjustments kept).
"""

import calendar
import time
from datetime import date
from pathlib import Path

from keycare.core.commands import KeycareCommand
from keycare.core.exports import write_xlsx
from keycare.errors import UserError
from keycare.managers import actions, assessment
from keycare.managers.models import Assessment


class Command(KeycareCommand):
    help = "Compute the account managers' KPI assessment of a month (or a named period)."
    needs_database = "migrate"

    def add_arguments(self, parser):
        parser.add_argument("--month", help="YYYY-MM (default: last month)")
        parser.add_argument("--name", help="period name, with --start and --end")
        parser.add_argument("--start", help="YYYY-MM-DD")
        parser.add_argument("--end", help="YYYY-MM-DD")
        parser.add_argument("--xlsx", help="also write the period's results to this Excel file")

    def run(self, *args, **options):
        name, start, end = _period(options)
        began = time.perf_counter()
        period = actions.compute_period(
            None, name=name, start=start, end=end, progress=lambda t: self.stdout.write(t)
        )
        count = period.assessments.count()
        seconds = time.perf_counter() - began
        self.stdout.write(f"考核期 {name}（{start} 至 {end}）：{count} 位经理，{seconds:.1f} 秒")
        if path := options.get("xlsx"):
            headers, rows = assessment.export_table(Assessment.objects.filter(period=period))
            Path(path).write_bytes(write_xlsx(headers, rows)[0])
            self.stdout.write(f"已导出 {len(rows)} 行：{path}")


def _period(options) -> tuple[str, date, date]:
    if options.get("name"):
        try:
            start, end = date.fromisoformat(options["start"]), date.fromisoformat(options["end"])
        except (TypeError, ValueError) as error:
            raise UserError("--name 须同时给出 --start 和 --end（YYYY-MM-DD）") from error
        return options["name"][:32], start, end
    month = options.get("month")
    if month is None:
        today = date.today().replace(day=1)
        year, number = (today.year - 1, 12) if today.month == 1 else (today.year, today.month - 1)
    else:
        try:
            year, number = (int(x) for x in month.split("-"))
            date(year, number, 1)
        except ValueError as error:
            raise UserError(f"--month 须为 YYYY-MM，不是 {month!r}") from error
    start = date(year, number, 1)
    return f"{year}-{number:02d}", start, date(year, number, calendar.monthrange(year, number)[1])
