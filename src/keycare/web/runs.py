"""日批运行: past runs, one run's inputs, timings, counts and quarantine, and starting a run.

Scope: a run covers the whole province's delivery (one file set, every city). Province and
city administrators both see the run list and a run's metadata (files, checksums, timings),
but every figure is the viewer's: a province administrator reads the run's totals, a city
administrator counts computed from the run's Detection / Suppression rows restricted to their
city (``restrict()``). Quarantined rows and per-file row counts are not customer-scoped (a
rejected row may have no valid city), so only province administrators see them; a city
administrator is told why. The quarantined rows themselves are opened by province
administrators only, always masked on the server (personal columns by the data contract, plus
any mobile or ID number in free text) and audited. Paths are shown relative to the delivery
location (``KEYCARE_DATA_DIR``), never as server paths.
Starting a run is a province administrator's action (``keycare.runs.jobs``).
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
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Count
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from keycare.access import roles
from keycare.access.presenter import free_text, masked_value
from keycare.access.querysets import require_role, user_scope
from keycare.core.audit import record
from keycare.errors import UserError
from keycare.moments.models import MomentDefinition
from keycare.runs import jobs as runjobs
from keycare.runs.models import Detection, QuarantineRow, Run, RunRequest, RunStatus, Suppression
from keycare.web.labels import value_label
from keycare.web.risk import run_risk_monitor

ADMIN_ROLES = {roles.ROLE_PROVINCE_ADMIN, roles.ROLE_CITY_ADMIN}
PAGE_SIZE = 25
# A loaded run's scoped counts, keyed by its load time (see _scoped_run_counts).
RUN_FIGURES_CACHE_SECONDS = 24 * 3600
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
    province = role == roles.ROLE_PROVINCE_ADMIN
    figures = _run_figures(request.user, province, list(page))
    return render(
        request,
        "web/runs/list.html",
        {
            "page": page,
            "rows": [
                {
                    "run": run,
                    "status": value_label(RunStatus, run.status),
                    "seconds": total_seconds(run),
                    **figures[run.pk],
                }
                for run in page
            ],
            "filters": filters,
            "query": _query_without_page(request),
            "latest_request": _shown_request(
                RunRequest.objects.select_related("run", "requested_by").first()
            ),
            "can_start": province,
            "province_wide": province,
            "start_form": _start_form() if province else None,
        },
    )


def _run_figures(user, province: bool, runs: list[Run]) -> dict[int, dict]:
    """run pk -> {detected, suppressed, quarantined} as the viewer may see them: the run's
    totals for a province administrator; for anyone else the counts of the run's rows in their
    scope (two grouped queries for the whole page) and no quarantine figure (``None``)."""
    if province:
        return {
            r.pk: {"detected": r.detected, "suppressed": r.suppressed, "quarantined": r.quarantined}
            for r in runs
        }
    counted = _scoped_run_counts(user, runs)
    return {r.pk: {**counted[r.pk], "quarantined": None} for r in runs}


def _scoped_run_counts(user, runs: list[Run]) -> dict[int, dict]:
    """run pk -> {detected, suppressed} in the user's scope. A loaded run's rows do not change
    until it is loaded again, so its counts are cached under a key naming the load (a city's
    count joins a million detections to the customers: ~0.2 s of PostgreSQL a page)."""
    role, scope = user_scope(user)

    def key(run):
        return f"run-figures:{role}:{scope}:{run.pk}:{run.loaded_at.timestamp()}"

    loaded = {key(r): r.pk for r in runs if r.loaded_at}
    counted = {loaded[k]: v for k, v in cache.get_many(list(loaded)).items()}
    missing = [r.pk for r in runs if r.pk not in counted]
    if missing:

        def per_run(model):
            rows = model.objects.restrict(user).filter(run_id__in=missing).values("run_id")
            return dict(rows.annotate(n=Count("id")).values_list("run_id", "n").order_by())

        detected, suppressed = per_run(Detection), per_run(Suppression)
        fresh = {
            pk: {"detected": detected.get(pk, 0), "suppressed": suppressed.get(pk, 0)}
            for pk in missing
        }
        counted.update(fresh)
        cache.set_many(
            {k: fresh[pk] for k, pk in loaded.items() if pk in fresh}, RUN_FIGURES_CACHE_SECONDS
        )
    return counted


# An absolute path in a message (a run's error names the file it failed on).
_ABSOLUTE_PATH = re.compile(r"(?<![\w.:/])/(?:[^\s/'\"()]+/)*([^\s/'\"()]*)")


def display_path(text: str) -> str:
    """``text`` with every server path shown relative to the delivery location, and any other
    absolute path cut to its last component: the pages never show the server's file system."""
    if not text:
        return text
    root = Path(settings.KEYCARE_DATA_DIR)
    for prefix in sorted({str(root), str(root.resolve())}, key=len, reverse=True):
        text = text.replace(prefix + "/", "").replace(prefix, ".")
    return _ABSOLUTE_PATH.sub(lambda m: m.group(1) or "/", text)


def _shown_request(run_request):
    """A run request whose messages are safe to show (no server paths)."""
    if run_request is not None:
        run_request.error = display_path(run_request.error)
        run_request.message = display_path(run_request.message)
    return run_request


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
        {"req": _shown_request(run_request), "can_start": role == roles.ROLE_PROVINCE_ADMIN},
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
    province = role == roles.ROLE_PROVINCE_ADMIN
    steps = step_timings(run)
    if not province:  # rows per step are province-wide figures
        steps = [{**step, "rows": None} for step in steps]
    quarantine = _quarantine_summary(run) if province else None
    context = {
        "run": run,
        "status": value_label(RunStatus, run.status),
        "figures": _run_figures(request.user, province, [run])[run.pk],
        "province_wide": province,
        "inputs": _inputs(run, with_counts=province),
        "steps": steps,
        "step_chart": {
            "names": [s["label"] for s in steps],
            "seconds": [s["seconds"] for s in steps],
        },
        "total_seconds": total_seconds(run),
        "counts": _moment_counts(run) if province else _scoped_moment_counts(request.user, run),
        "quarantine": quarantine,
        "requests": list(run.requests.select_related("requested_by")[:5]),
        "can_see_rows": province,
        "risk_monitor": run_risk_monitor(run) if province else None,
    }
    if province and quarantine["total"]:
        context.update(_quarantine_rows(request, run, quarantine))
    return render(request, "web/runs/detail.html", context)


def _inputs(run: Run, *, with_counts: bool = True) -> list[dict]:
    """The run's input files: names and checksums; row counts (province-wide) if asked."""
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
        if not with_counts:
            rows[-1].update(rows_in=None, accepted=None, quarantined=None)
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


def _scoped_moment_counts(user, run: Run) -> list[dict]:
    """Detections per moment of the run, counted over the rows in the user's scope; every
    moment of the run's totals is listed (0 when none is in scope)."""
    counts = dict.fromkeys(c for c in (run.counts if isinstance(run.counts, dict) else {}))
    found = (
        Detection.objects.restrict(user)
        .filter(run=run)
        .values("moment__code", "moment__name_zh")
        .annotate(n=Count("id"))
        .order_by()
    )
    names = dict(
        MomentDefinition.objects.filter(code__in=list(counts)).values_list("code", "name_zh")
    )
    rows = {code: {"code": code, "name": names.get(code, ""), "n": 0} for code in counts}
    for r in found:
        rows[r["moment__code"]] = {
            "code": r["moment__code"],
            "name": r["moment__name_zh"] or "",
            "n": r["n"],
        }
    return sorted(rows.values(), key=lambda r: (-r["n"], r["code"]))


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
            "reason": free_text(row.reason),
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
    from keycare.catalog.delivery import load_contract

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
    or ID number left anywhere is masked by ``free_text``.
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
        return free_text(json.dumps(masked, ensure_ascii=False, default=str))
    fields = next(csv.reader(io.StringIO(raw)), [])
    if header and len(header) == len(fields):
        fields = [
            _mask_value(h, v) if h in personal else v for h, v in zip(header, fields, strict=True)
        ]
    else:
        fields = ["***" if _CJK.search(v) or _DATE.match(v) else v for v in fields]
    out = io.StringIO()
    csv.writer(out, lineterminator="").writerow(fields)
    return free_text(out.getvalue())


def _mask_value(column: str, value):
    if value in (None, ""):
        return value
    masked = masked_value(column, value)
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
