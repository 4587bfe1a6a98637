"""Monthly reports: every analysis of one month for one scope, as Excel and PDF, kept.

Requested from the analyst's workbench (queued, then built by a background
``keycare monthlyreport --id N`` process) or made from cron on the 3rd of each month
(``keycare monthlyreport --month YYYY-MM [--city CODE]``). The numbers are the analyses'
own (keycare.analytics.queries): a report reads what the pages show for that month.
"""

from __future__ import annotations

import io
import logging
import os
import subprocess  # nosec B404 - our own command, fixed argv
import sys
import threading
from datetime import date
from types import SimpleNamespace

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from openpyxl import Workbook

from keycare.access.querysets import user_scope
from keycare.analytics import queries
from keycare.analytics.models import MonthlyReport, ReportStatus
from keycare.core.audit import record
from keycare.core.exports import neutralise
from keycare.errors import UserError
from keycare.org.models import City

logger = logging.getLogger(__name__)
# The report job reads as the system (province scope); a city report filters on its city.
SYSTEM = SimpleNamespace(is_authenticated=True, is_superuser=True, pk=None)
PDF_ROWS = 15
FONT = "WenQuanYi Micro Hei"


# --------------------------------------------------------------------------- requesting


@transaction.atomic
def request_report(user, month_text: str) -> MonthlyReport:
    """Queue a report of ``month`` for the user's scope; the job starts after commit."""
    month = queries.parse_month(month_text, "month")
    if month is None:
        raise queries.BadQuery("请选择月份 (month required)")
    role, scope = user_scope(user)
    city = City.objects.filter(pk=scope).first() if scope else None
    report = MonthlyReport.objects.create(month=month, city=city, requested_by=user)
    record(user, "export", report, format="report", filename=f"{month:%Y-%m}")
    transaction.on_commit(lambda: launch(report.pk))
    return report


def launch(report_id: int) -> int | None:
    """Start ``keycare monthlyreport --id`` detached (as runs.jobs starts a run job)."""
    command = [sys.executable, "-m", "keycare.cli", "monthlyreport", "--id", str(report_id)]
    env = {"KEYCARE_HOME": str(settings.KEYCARE_HOME)}
    try:
        process = subprocess.Popen(  # nosec B603 - fixed argv, never a shell
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env={**os.environ, **env},
            start_new_session=True,
            close_fds=True,
        )
    except OSError:
        logger.exception("monthly report %s could not be started", report_id)
        MonthlyReport.objects.filter(pk=report_id).update(
            status=ReportStatus.FAILED, error="作业进程无法启动 (job could not start)"
        )
        return None
    threading.Thread(target=process.wait, daemon=True).start()
    return process.pid


# --------------------------------------------------------------------------- building


def generate(report_id: int) -> MonthlyReport:
    """Build a queued report (idempotent: a finished one is left as it is)."""
    report = MonthlyReport.objects.select_related("city").get(pk=report_id)
    if report.status == ReportStatus.DONE:
        return report
    try:
        sections = _sections(report.month, report.city)
        report.xlsx = _xlsx(report, sections)
        report.pdf = _pdf(report, sections)
        report.status = ReportStatus.DONE
        report.error = ""
    except Exception as exc:  # the job must record any failure on the report
        logger.exception("monthly report %s failed", report_id)
        report.status = ReportStatus.FAILED
        report.error = str(exc)[:500]
    report.finished_at = timezone.now()
    report.save()
    return report


def make_report(month: date, city: City | None = None) -> MonthlyReport:
    """The cron path: create and build the report of ``month`` now."""
    report = MonthlyReport.objects.create(month=month, city=city)
    return generate(report.pk)


def _sections(month: date, city: City | None) -> list[dict]:
    """One section per analysis: its table by city (or, in a city report, by county)."""
    out = []
    for analysis in queries.definitions().analyses.values():
        indicators = [queries.indicator_named(c) for c in analysis.indicators]
        dimension = _dimension(analysis, city)
        query = queries.Query(indicators, dimension, month, city)
        result = queries.table(SYSTEM, query)
        out.append({"analysis": analysis, "query": query, "result": result})
    return out


def _dimension(analysis, city) -> str:
    preferred = ("county", "manager", "tier") if city else ("city", "tier", "manager")
    return next((d for d in preferred if d in analysis.dimensions), analysis.dimensions[0])


def _headers(section) -> list[str]:
    headers = [queries.dimension_label(section["query"].dimension)]
    for indicator in section["query"].indicators:
        label = f"{queries.indicator_label(indicator)}（{indicator.unit}）"
        headers += [label, "环比%", "同比%"]
    return headers


def _values(row_cells) -> list:
    return [
        None if v is None else round(v, 2)
        for cell in row_cells
        for v in (cell.value, cell.mom, cell.yoy)
    ]


def _xlsx(report: MonthlyReport, sections: list[dict]) -> bytes:
    workbook = Workbook()
    workbook.remove(workbook.active)
    for section in sections:
        analysis = section["analysis"]
        sheet = workbook.create_sheet(f"{analysis.section} {analysis.code}"[:31])
        sheet.append([neutralise(f"{analysis.zh}（§{analysis.section}）{report}")])
        sheet.append([neutralise(h) for h in _headers(section)])
        for row in section["result"].rows:
            sheet.append([neutralise(row["label"]), *_values(row["cells"])])
        sheet.append(["合计", *_values(section["result"].total)])
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def _pdf(report: MonthlyReport, sections: list[dict]) -> bytes | None:
    """One page per analysis: the first indicator by member and the table's top rows."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        from matplotlib import pyplot as plt
        from matplotlib.backends.backend_pdf import PdfPages
    except ImportError:  # no PDF library here: the Excel report stands alone
        return None
    plt.rcParams["font.sans-serif"] = [FONT, "DejaVu Sans"]
    plt.rcParams["axes.unicode_minus"] = False
    out = io.BytesIO()
    scope = report.city.name if report.city else "全省"
    with PdfPages(out, metadata={"Title": f"KeyCare {report.month:%Y-%m}"}) as pdf:
        for section in sections:
            fig = _pdf_page(plt, section, f"{report.month:%Y-%m} {scope}")
            pdf.savefig(fig)
            plt.close(fig)
    return out.getvalue()


def _pdf_page(plt, section, subtitle: str):
    analysis, result = section["analysis"], section["result"]
    indicators = section["query"].indicators
    fig = plt.figure(figsize=(8.27, 11.69))  # A4 portrait
    fig.suptitle(f"{analysis.zh}（§{analysis.section}） {subtitle}", fontsize=13)
    chart = fig.add_axes((0.1, 0.58, 0.85, 0.32))
    rows = result.rows[:PDF_ROWS]
    chart.bar([r["label"] for r in rows], [r["cells"][0].value or 0 for r in rows])
    chart.set_title(
        f"{queries.indicator_label(indicators[0])}（{indicators[0].unit}）", fontsize=10
    )
    chart.tick_params(axis="x", labelrotation=45, labelsize=7)
    table_ax = fig.add_axes((0.05, 0.05, 0.9, 0.42))
    table_ax.axis("off")
    shown = indicators[:4]
    cells = [[r["label"], *[_fmt(c.value) for c in r["cells"][: len(shown)]]] for r in rows]
    cells.append(["合计", *[_fmt(c.value) for c in result.total[: len(shown)]]])
    labels = ["", *[queries.indicator_label(i) for i in shown]]
    if cells:
        table = table_ax.table(cellText=cells, colLabels=labels, loc="upper center")
        table.auto_set_font_size(False)
        table.set_fontsize(7)
    return fig


def _fmt(value) -> str:
    return "—" if value is None else f"{value:,.2f}"


def parse_report_month(text: str) -> date:
    month = queries.parse_month(text, "--month")
    if month is None:
        raise UserError("--month YYYY-MM is required")
    return month
