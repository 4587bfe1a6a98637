"""Monthly reports: requested from the workbench (queued for the background job), built as
Excel (one sheet per analysis, the pages' numbers) and PDF, kept, downloaded in scope, audited."""

from __future__ import annotations

import io
from datetime import date

import pytest
from django.core.management import call_command
from openpyxl import load_workbook

from factories import indicator_row, load_indicator_rows, make_org, make_user
from keycare.access import roles
from keycare.analytics import reports
from keycare.analytics.models import MonthlyReport, ReportStatus
from keycare.analytics.queries import definitions
from keycare.core.models import AuditEvent

pytestmark = pytest.mark.django_db


@pytest.fixture
def org():
    places = make_org()
    rows = [
        indicator_row("revenue", "2026-10", "C025", "C025", 1000.0),
        indicator_row("revenue", "2026-10", "C0512", "C0512", 400.0),
        indicator_row("revenue", "2026-10", "all", "C025", 1000.0, dimension="province"),
        indicator_row("revenue", "2026-10", "all", "C0512", 400.0, dimension="province"),
        indicator_row("revenue", "2026-10", "XC025", "C025", 1000.0, dimension="county"),
    ]
    load_indicator_rows(date(2026, 10, 31), rows)
    return places


def test_a_report_has_every_analysis_with_the_pages_numbers(org):
    report = reports.make_report(date(2026, 10, 1))
    assert report.status == ReportStatus.DONE, report.error
    book = load_workbook(io.BytesIO(bytes(report.xlsx)))
    assert len(book.sheetnames) == len(definitions().analyses)
    sheet = book[next(n for n in book.sheetnames if n.endswith(" revenue"))]
    rows = list(sheet.values)
    assert rows[1][0] == "地市"
    assert rows[2][:2] == ("南京市", 1000.0)
    assert rows[-1][:2] == ("合计", 1400.0)
    assert bytes(report.pdf).startswith(b"%PDF")


def test_a_city_report_holds_only_its_city(org):
    report = reports.make_report(date(2026, 10, 1), org["C0512"].city)
    book = load_workbook(io.BytesIO(bytes(report.xlsx)))
    sheet = book[next(n for n in book.sheetnames if n.endswith(" revenue"))]
    rows = list(sheet.values)
    assert rows[-1][:2] == ("合计", 400.0)
    assert all("南京" not in str(r[0]) for r in rows[2:])


def test_requested_from_the_workbench_built_by_the_job_and_downloaded(client, org):
    admin = make_user("admin", roles.ROLE_CITY_ADMIN, city=org["C025"].city)
    client.force_login(admin)
    response = client.post("/analytics/reports/request/", {"month": "2026-10"})
    assert response.status_code == 302
    report = MonthlyReport.objects.get()
    assert report.status == ReportStatus.QUEUED and report.city == org["C025"].city
    call_command("monthlyreport", "--id", str(report.pk))
    report.refresh_from_db()
    assert report.status == ReportStatus.DONE
    assert "Excel" in client.get("/analytics/").content.decode()
    download = client.get(f"/analytics/reports/{report.pk}/xlsx/")
    assert download.status_code == 200 and download.content == bytes(report.xlsx)
    assert AuditEvent.objects.filter(actor=admin, action="export", detail__format="xlsx").exists()
    other_city = make_user("other", roles.ROLE_CITY_ADMIN, city=org["C0512"].city)
    client.force_login(other_city)
    assert client.get(f"/analytics/reports/{report.pk}/xlsx/").status_code == 404
    assert client.get(f"/analytics/reports/{report.pk}/exe/").status_code == 404


def test_a_bad_month_is_refused(client, org):
    client.force_login(make_user("analyst", roles.ROLE_ANALYST))
    client.post("/analytics/reports/request/", {"month": "2026-13"})
    assert not MonthlyReport.objects.exists()


def test_the_cron_command(org):
    call_command("monthlyreport", "--month", "2026-10")
    assert MonthlyReport.objects.get().status == ReportStatus.DONE
