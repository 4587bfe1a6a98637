"""日批运行: past runs, one run's inputs, timings, counts and quarantine, and starting a run.

Scope: a run covers the whole province's delivery (one file set, every city), so runs are
province-wide. Province and city administrators both see the run list and a run's metadata
(inputs, checksums, timings, counts per moment, quarantine counts by file and rule: none of
it personal). The quarantined rows themselves are raw delivered records of customers of every
city, so only province administrators open them, always masked on the server (personal
columns by the data contract, plus any mobile or ID number in free text) and audited.
Starting a run is a province administrator's action (``keycare.workorders.runjobs``).
"""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlencode

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Count
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from keycare.access import roles
from keycare.access.masking import mask_field, scrub_text
from keycare.access.querysets import require_role
from keycare.core.audit import record
from keycare.errors import UserError
from keycare.moments.models import MomentDefinition
from keycare.workorders import runjobs
from keycare.workorders.models import QuarantineRow, Run, RunRequest, RunStatus

ADMIN_ROLES = {roles.ROLE_PROVINCE_ADMIN, roles.ROLE_CITY_ADMIN}
PAGE_SIZE = 25
QUARANTINE_PAGE_SIZE = 50
HEADER_BYTES = 64 * 1024
STEP_LABELS = runjobs.STEP_LABELS


def _require_admin(user) -> str:
    return require_role(user, ADMIN_ROLES)[0]


# --- the list ---------------------------------------------------------------------------


class RunFilter(forms.Form):
    date_from = forms.DateField(required=False, label=gettext_lazy("起始日期"))
    date_to = forms.DateField(required=False, label=gettext_lazy("截止日期"))
    status = forms.ChoiceField(
        required=False,
        choices=[("", gettext_lazy("全部"))] + RunStatus.choices,
        label=gettext_lazy("状态"),
    )


class StartRunForm(forms.Form):
    business_date = forms.DateField(label=gettext_lazy("业务日期"))
    delivery = forms.ChoiceField(label=gettext_lazy("数据目录"))

    def __init__(self, *args, deliveries=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["delivery"].choices = [(d.name, _delivery_label(d)) for d in deliveries]


def _delivery_label(delivery) -> str:
    name = _("交付目录根") if delivery.name == "." else delivery.name
    day = delivery.business_date.isoformat() if delivery.business_date else _("日期未知")
    return f"{name}（{day}）"


@login_required
def run_list(request):
    role = _require_admin(request.user)
    runjobs.reap_stale()
    filters = RunFilter(request.GET or None)
    runs = Run.objects.defer("record", "load_summary", "inputs", "counts").order_by(
        "-business_date", "-id"
    )
    applied = {}
    if filters.is_bound and filters.is_valid():
        applied = {k: v for k, v in filters.cleaned_data.items() if v}
        if "date_from" in applied:
            runs = runs.filter(business_date__gte=applied["date_from"])
        if "date_to" in applied:
            runs = runs.filter(business_date__lte=applied["date_to"])
        if "status" in applied:
            runs = runs.filter(status=applied["status"])
    page = Paginator(runs, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "web/runs/list.html",
        {
            "page": page,
            "rows": [{"run": run, "seconds": total_seconds(run)} for run in page],
            "filters": filters,
            "query": _query_without_page(request),
            "latest_request": RunRequest.objects.select_related("run", "requested_by").first(),
            "can_start": role == roles.ROLE_PROVINCE_ADMIN,
            "start_form": _start_form() if role == roles.ROLE_PROVINCE_ADMIN else None,
            "delivery_root": runjobs.delivery_root(),
        },
    )


def _start_form(data=None):
    found = runjobs.deliveries()
    initial = {"business_date": next((d.business_date for d in found if d.business_date), None)}
    initial["business_date"] = initial["business_date"] or timezone.localdate() - timedelta(1)
    return StartRunForm(data, deliveries=found, initial=initial)


def _query_without_page(request) -> str:
    query = request.GET.copy()
    query.pop("page", None)
    return query.urlencode()


def total_seconds(run: Run) -> float | None:
    """The run's time: the sum of its step timings, else finished - started."""
    steps = step_timings(run)
    if steps:
        return round(sum(s["seconds"] for s in steps), 3)
    if run.started_at and run.finished_at:
        return (run.finished_at - run.started_at).total_seconds()
    return None


def step_timings(run: Run) -> list[dict]:
    """run.json's steps ([{name, seconds, rows}]) or an older {name: seconds} mapping."""
    timings = run.timings
    if isinstance(timings, dict):
        timings = [{"name": k, "seconds": v} for k, v in timings.items()]
    rows = []
    for step in timings if isinstance(timings, list) else []:
        try:
            seconds = float(step.get("seconds") or 0)
        except (AttributeError, TypeError, ValueError):
            continue
        name = str(step.get("name", ""))
        rows.append(
            {
                "name": name,
                "label": str(STEP_LABELS.get(name, name)),
                "seconds": round(seconds, 3),
                "rows": step.get("rows"),
            }
        )
    return rows


# --- starting a run ---------------------------------------------------------------------


@login_required
@require_POST
def run_start(request):
    if not runjobs.can_start_runs(request.user):
        raise PermissionDenied
    form = _start_form(request.POST)
    if not form.is_valid():
        problems = "；".join(
            f"{form.fields[name].label if name in form.fields else ''} {' '.join(errors)}".strip()
            for name, errors in form.errors.items()
        )
        messages.error(request, _("未能发起运行：%s") % problems)
        return redirect("web:run-list")
    try:
        run_request = runjobs.request_run(
            request.user, form.cleaned_data["business_date"], form.cleaned_data["delivery"]
        )
    except UserError as exc:
        messages.error(request, _("未能发起运行：%s") % exc)
    else:
        messages.success(
            request,
            _("已发起 %(day)s 的日批运行，正在后台执行") % {"day": run_request.business_date},
        )
    return redirect("web:run-list")


@login_required
def run_request_progress(request, pk: int):
    """The progress panel (polled by HTMX every 2 s while the request is active)."""
    role = _require_admin(request.user)
    runjobs.reap_stale()
    run_request = get_object_or_404(RunRequest.objects.select_related("run", "requested_by"), pk=pk)
    return render(
        request,
        "web/runs/_progress.html",
        {"req": run_request, "can_start": role == roles.ROLE_PROVINCE_ADMIN},
    )


@login_required
@require_POST
def run_request_cancel(request, pk: int):
    if not runjobs.can_start_runs(request.user):
        raise PermissionDenied
    try:
        runjobs.cancel_run(request.user, pk)
    except UserError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, _("已请求停止该运行"))
    return redirect("web:run-list")


# --- one run ----------------------------------------------------------------------------


@login_required
def run_detail(request, pk: int):
    role = _require_admin(request.user)
    run = get_object_or_404(Run, pk=pk)
    steps = step_timings(run)
    quarantine = _quarantine_summary(run)
    context = {
        "run": run,
        "inputs": _inputs(run),
        "steps": steps,
        "step_chart": {
            "names": [s["label"] for s in steps],
            "seconds": [s["seconds"] for s in steps],
        },
        "total_seconds": total_seconds(run),
        "counts": _moment_counts(run),
        "quarantine": quarantine,
        "requests": list(run.requests.select_related("requested_by")[:5]),
        "can_see_rows": role == roles.ROLE_PROVINCE_ADMIN,
    }
    if context["can_see_rows"] and quarantine["total"]:
        context.update(_quarantine_rows(request, run, quarantine))
    return render(request, "web/runs/detail.html", context)


def _inputs(run: Run) -> list[dict]:
    rows = []
    for name, info in sorted((run.inputs or {}).items()):
        info = info if isinstance(info, dict) else {}
        path = str(info.get("path") or "")
        rows.append(
            {
                "name": name,
                "file": Path(path).name if path else info.get("file", name),
                "format": info.get("format", ""),
                "rows_in": info.get("rows_in", info.get("rows")),
                "accepted": info.get("accepted"),
                "quarantined": info.get("quarantined"),
                "sha256": info.get("sha256", ""),
            }
        )
    return rows


def _moment_counts(run: Run) -> list[dict]:
    counts = run.counts if isinstance(run.counts, dict) else {}
    names = dict(
        MomentDefinition.objects.filter(code__in=list(counts)).values_list("code", "name_zh")
    )
    rows = [
        {"code": code, "name": names.get(code, ""), "n": n}
        for code, n in counts.items()
        if isinstance(n, int)
    ]
    return sorted(rows, key=lambda r: (-r["n"], r["code"]))


def _quarantine_summary(run: Run) -> dict:
    rows = list(
        QuarantineRow.objects.filter(run=run)
        .values("file", "rule")
        .annotate(n=Count("id"))
        .order_by("file", "rule")
    )
    return {
        "rows": rows,
        "total": sum(r["n"] for r in rows),
        "files": sorted({r["file"] for r in rows}),
        "rules": sorted({r["rule"] for r in rows}),
    }


def _quarantine_rows(request, run: Run, summary: dict) -> dict:
    chosen = {
        "file": request.GET.get("file", "") if request.GET.get("file") in summary["files"] else "",
        "rule": request.GET.get("rule", "") if request.GET.get("rule") in summary["rules"] else "",
    }
    rows = QuarantineRow.objects.filter(run=run).order_by("file", "row_number", "id")
    for field, value in chosen.items():
        if value:
            rows = rows.filter(**{field: value})
    page = Paginator(rows, QUARANTINE_PAGE_SIZE).get_page(request.GET.get("page"))
    headers = _Headers(run)
    shown = [
        {
            "file": row.file,
            "row_number": row.row_number,
            "rule": row.rule,
            "reason": scrub_text(row.reason),
            "raw": mask_raw_row(row.raw, headers.get(row.file)),
        }
        for row in page
    ]
    record(
        request.user,
        "view_quarantine",
        run,
        page=page.number,
        rows=len(shown),
        **{k: v for k, v in chosen.items() if v},
    )
    return {
        "q_page": page,
        "q_rows": shown,
        "q_filters": chosen,
        "q_query": urlencode({k: v for k, v in chosen.items() if v}),
    }


# --- masking a quarantined row ----------------------------------------------------------


def _personal_columns() -> frozenset[str]:
    from keycare.catalog.contract import load_contract

    return frozenset(
        name
        for spec in load_contract().files.values()
        for name, column in spec.columns.items()
        if column.personal
    )


_CJK = re.compile(r"[\u3400-\u9fff]")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}")


def mask_raw_row(raw: str, header: list[str] | None) -> str:
    """A quarantined row as delivered, with its personal data masked.

    Parquet rows are stored as JSON objects: personal keys (per the data contract) are masked.
    CSV lines are masked by the file's header when it is known; without it every field that
    could be a name, an address or a birth date (Chinese text, dates) is hidden. Any mobile
    or ID number left anywhere is masked by ``scrub_text``.
    """
    if not raw:
        return ""
    personal = _personal_columns()
    try:
        parsed = json.loads(raw)
    except (ValueError, RecursionError):  # not JSON, or a line of "[[[[..." (a CSV row)
        parsed = None
    if isinstance(parsed, dict):
        masked = {k: _mask_value(k, v) if k in personal else v for k, v in parsed.items()}
        return scrub_text(json.dumps(masked, ensure_ascii=False, default=str))
    fields = next(csv.reader(io.StringIO(raw)), [])
    if header and len(header) == len(fields):
        fields = [
            _mask_value(h, v) if h in personal else v for h, v in zip(header, fields, strict=True)
        ]
    else:
        fields = ["***" if _CJK.search(v) or _DATE.match(v) else v for v in fields]
    out = io.StringIO()
    csv.writer(out, lineterminator="").writerow(fields)
    return scrub_text(out.getvalue())


def _mask_value(column: str, value):
    if value in (None, ""):
        return value
    masked = mask_field(column, value)
    return "***" if masked == value else masked  # a personal column without its own masker


class _Headers:
    """CSV headers of a run's input files, read from the delivery (inside the delivery
    location only) once per file and page."""

    def __init__(self, run: Run):
        self.inputs = run.inputs if isinstance(run.inputs, dict) else {}
        self.cache: dict[str, list[str] | None] = {}

    def get(self, file: str) -> list[str] | None:
        if file not in self.cache:
            self.cache[file] = self._read(file)
        return self.cache[file]

    def _read(self, file: str) -> list[str] | None:
        info = self.inputs.get(Path(file).stem)
        path = Path(str(info.get("path") or "")) if isinstance(info, dict) else None
        if path is None or path.suffix != ".csv":
            return None
        root = Path(settings.KEYCARE_DATA_DIR).resolve()
        try:
            if not path.resolve().is_relative_to(root):
                return None
            with open(path, "rb") as fh:
                first = fh.readline(HEADER_BYTES).decode("utf-8", errors="replace")
        except OSError:
            return None
        return next(csv.reader([first.lstrip("\ufeff").rstrip("\r\n")]), None)
