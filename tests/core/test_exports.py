"""The one safe spreadsheet writer: formula injection neutralised, control characters stripped."""

import io
from datetime import UTC, datetime

import pytest
from django.contrib.auth import get_user_model
from openpyxl import load_workbook

from keycare.core.exports import csv_response, neutralise, write_xlsx, xlsx_response
from keycare.core.models import AuditEvent

HOSTILE = "=cmd|' /C calc'!A0"


@pytest.mark.parametrize(
    ("raw", "safe"),
    [
        (HOSTILE, "'" + HOSTILE),
        ("+1+1", "'+1+1"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        ("\x00=1", "'=1"),  # NUL stripped first, so it cannot hide a formula
        ("a\x00b\x07c\x1fd", "abcd"),
        ("普通文本 plain", "普通文本 plain"),
        (42, 42),
        (-3.5, -3.5),
        (None, None),
    ],
)
def test_neutralise(raw, safe):
    assert neutralise(raw) == safe


def test_aware_datetimes_become_local_naive():
    value = neutralise(datetime(2026, 11, 23, 1, 0, tzinfo=UTC))
    assert value == datetime(2026, 11, 23, 9, 0)  # Asia/Shanghai


def test_write_xlsx_is_a_valid_workbook_with_neutralised_cells():
    body, count = write_xlsx(["名称", "值"], [[HOSTILE, 1], ["ok\x00", -2], ["@x", None]])
    assert count == 3
    sheet = load_workbook(io.BytesIO(body)).active
    values = [list(r) for r in sheet.iter_rows(values_only=True)]
    assert values == [["名称", "值"], ["'" + HOSTILE, 1], ["ok", -2], ["'@x", None]]


@pytest.mark.django_db
def test_xlsx_response_is_audited_with_row_count():
    user = get_user_model().objects.create_user("exporter")
    response = xlsx_response("a b;\r\n.xlsx", ["h"], iter([["1"], ["2"]]), user=user, page="x")
    assert response["Content-Disposition"] == 'attachment; filename="a_b___.xlsx"'
    assert load_workbook(io.BytesIO(response.content)).active.max_row == 3
    event = AuditEvent.objects.get(action="export")
    assert (event.actor, event.detail["rows"], event.detail["format"]) == (user, 2, "xlsx")
    assert event.detail["page"] == "x"


@pytest.mark.django_db
def test_csv_response_neutralises_and_is_audited():
    user = get_user_model().objects.create_user("exporter")
    response = csv_response("out.csv", ["h"], [[HOSTILE], ["x\x00y"]], user=user)
    text = response.content.decode("utf-8-sig")
    assert text.splitlines() == ["h", "'" + HOSTILE, "xy"]
    assert AuditEvent.objects.get(action="export").detail["rows"] == 2
