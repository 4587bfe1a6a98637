"""The one safe writer for every spreadsheet export (XLSX and CSV).

Every string cell is neutralised against formula injection (OWASP "CSV Injection"): a value
starting with ``=``, ``+``, ``-``, ``@``, tab or carriage return is prefixed with a single
quote so Excel shows it as text instead of evaluating it. Control characters that XML 1.0
(and so XLSX) cannot carry, NUL included, are stripped. Every export is audited with its
row count, so callers cannot forget to.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from django.http import HttpResponse
from django.utils import timezone
from openpyxl import Workbook

from keycare.core.audit import record

XLSX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
# C0 controls except tab, LF and CR, plus DEL: never meaningful in a report cell; lone
# surrogates and the noncharacters U+FFFE/U+FFFF, which XML 1.0 forbids (a corrupt XLSX).
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff\ufffe\uffff]")


def neutralise(value: Any) -> Any:
    """A cell value safe to open in Excel; non-strings pass through (aware datetimes made local)."""
    if isinstance(value, datetime) and timezone.is_aware(value):
        return timezone.make_naive(value)  # XLSX has no time zones; show local (Asia/Shanghai) time
    if not isinstance(value, str):
        return value
    value = _CONTROL_RE.sub("", value)
    if value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def write_xlsx(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> tuple[bytes, int]:
    """(XLSX bytes, number of data rows) for one sheet with a header row."""
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("export")
    sheet.append([neutralise(h) for h in headers])
    count = 0
    for row in rows:
        sheet.append([neutralise(v) for v in row])
        count += 1
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue(), count


def write_csv(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> tuple[bytes, int]:
    """(CSV bytes in UTF-8 with BOM so Excel reads Chinese correctly, number of data rows)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([neutralise(h) for h in headers])
    count = 0
    for row in rows:
        writer.writerow([neutralise(v) for v in row])
        count += 1
    return out.getvalue().encode("utf-8-sig"), count


def _response(body: bytes, content_type: str, filename: str) -> HttpResponse:
    response = HttpResponse(body, content_type=content_type)
    safe_name = re.sub(r"[^A-Za-z0-9._-]", "_", filename)  # no header injection via the name
    response["Content-Disposition"] = f'attachment; filename="{safe_name}"'
    return response


def xlsx_response(
    filename: str, headers: Sequence[str], rows: Iterable[Sequence[Any]], *, user, **detail: Any
) -> HttpResponse:
    """An XLSX download; records an ``export`` audit event for ``user`` with the row count."""
    body, count = write_xlsx(headers, rows)
    record(user, "export", format="xlsx", filename=filename, rows=count, **detail)
    return _response(body, XLSX_CONTENT_TYPE, filename)


def csv_response(
    filename: str, headers: Sequence[str], rows: Iterable[Sequence[Any]], *, user, **detail: Any
) -> HttpResponse:
    """A CSV download; records an ``export`` audit event for ``user`` with the row count."""
    body, count = write_csv(headers, rows)
    record(user, "export", format="csv", filename=filename, rows=count, **detail)
    return _response(body, "text/csv; charset=utf-8", filename)
