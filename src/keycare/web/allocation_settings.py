"""派送设置: the allocation settings (weights, caps, cool-down, carry-over, control group),
their version history and restore, and a preview of unsaved settings against capacity.

As the rule editor (web/rules): the province administrator edits and restores; a city
administrator reads and previews (for their city); every other role gets 403. Saving goes
through ``keycare.tasks.actions.save_allocation_settings`` (one transaction, a new version,
audited) with the version the editor loaded (optimistic locking). The daily run reads the
live version (``keycare.tasks.allocation_settings.run_kwargs``).
"""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from keycare.core.audit import record
from keycare.core.parsing import posted_int
from keycare.errors import UserError
from keycare.org.models import Manager
from keycare.tasks import actions
from keycare.tasks import allocation_settings as spec
from keycare.tasks.models import AllocationSettingsVersion, Decision
from keycare.web.rules.views import Editor

VERSION_PAGE_SIZE = 20


@login_required
@require_http_methods(["GET", "POST"])
def settings_edit(request):
    editor = Editor(request.user)
    if request.method == "GET":
        return render(request, "web/allocation/settings.html", _context(editor))
    if not editor.is_province:
        raise PermissionDenied
    values, errors = spec.parse_settings(request.POST)
    loaded = request.POST.get("version", "")
    if not errors:
        try:
            version = actions.save_allocation_settings(
                request.user,
                values,
                note=request.POST.get("note", "").strip()[:200],
                expected_version=_loaded_version(loaded),
            )
        except UserError as exc:
            errors["form"] = str(exc)
        else:
            if version is None:
                messages.info(request, _("没有修改，未生成新版本"))
            else:
                messages.success(request, _("派送设置已保存为版本 %(n)d") % {"n": version.number})
            return redirect("web:allocation-settings")
    context = _context(editor, request.POST, errors)
    context["version_loaded"] = loaded
    return render(request, "web/allocation/settings.html", context, status=400)


def _loaded_version(text: str) -> int:
    number = posted_int(text or "", max_digits=9)
    if number is None:
        raise actions.StaleSettingsError(_("表单缺少版本号，请刷新页面后重新修改"))
    return number


def _context(editor, post=None, errors=None) -> dict:
    errors = errors or {}
    live = spec.live_version()
    values = spec.live_values()
    groups = [
        {
            "label": label,
            "fields": [
                {
                    "field": f,
                    "value": post.get(f.name, "")
                    if post is not None
                    else spec.form_value(f, values[f.name]),
                    "error": errors.get(f.name),
                }
                for f in spec.FIELDS
                if f.group == group
            ],
        }
        for group, label in spec.GROUPS
    ]
    return {
        "editor": editor,
        "groups": groups,
        "errors": errors,
        "live": live,
        "version_loaded": live.number if live else 0,
        "note": post.get("note", "") if post is not None else "",
    }


# --- preview ----------------------------------------------------------------------------


@login_required
@require_POST
def settings_preview(request):
    """The unsaved settings against the latest day's candidates and today's capacity (HTMX)."""
    editor = Editor(request.user)
    values, errors = spec.parse_settings(request.POST)
    context = {"errors": errors, "error_rows": _error_rows(errors)}
    if not errors:
        context.update(_preview(editor, values))
    return render(request, "web/allocation/partials/settings_preview.html", context)


def _error_rows(errors: dict) -> list[tuple[str, str]]:
    return [
        (str(spec.BY_NAME[name].label) if name in spec.BY_NAME else "", message)
        for name, message in errors.items()
        if name != "form"
    ]


def _preview(editor, values: dict) -> dict:
    import pyarrow as pa

    from keycare.engine import publish as pub
    from keycare.engine.allocation_preview import preview_allocation

    runs_dir = settings.KEYCARE_RUNS_DIR
    days = sorted(pub.published_dates(runs_dir), reverse=True)
    run = pub.read_published(runs_dir, days[0]) if days else None
    if run is None:
        return {"no_data": True}
    managers = list(Manager.objects.select_related("city").order_by("manager_id"))
    table = pa.table(
        {
            "manager_id": [m.manager_id for m in managers],
            "daily_capacity": [int(m.daily_capacity) for m in managers],
            "active": [bool(m.active) for m in managers],
        }
    )
    configs = {"live": spec.live_config(), "proposed": spec.config_of(values)}
    try:
        result = preview_allocation(run.path, table, configs, run.business_date)
    except UserError as exc:
        return {"errors": {"form": _("预览失败：%(error)s") % {"error": exc}}}
    record(
        editor.user,
        "allocation.settings.preview",
        object_type="tasks.allocationsettingsversion",
        business_date=run.business_date.isoformat(),
        run_id=run.run_id,
    )
    cities = {c.pk for c in editor.cities()}
    rows = _city_rows([m for m in managers if m.city_id in cities], result, values)
    labels = dict(Decision.choices)
    decisions = [
        {
            "label": labels.get(d, d),
            "code": d,
            "live": result["live"].counts.get(d, 0),
            "proposed": result["proposed"].counts.get(d, 0),
            "delta": result["proposed"].counts.get(d, 0) - result["live"].counts.get(d, 0),
        }
        for d in Decision.values
    ]
    return {
        "run": run,
        "rows": rows,
        "decisions": decisions,
        "seconds": result["proposed"].seconds,
        "longer_cool_down": values["contact_cap_days"] > configs["live"].contact_cap_days,
        "totals": {
            key: sum(r[key] for r in rows)
            for key in ("capacity", "live_call", "call", "live_sms", "sms", "deferred")
        },
    }


def _city_rows(managers, result, values) -> list[dict]:
    """Per city: active capacity, calls and SMS now and with the proposed settings."""
    rows: dict[int, dict] = {}
    for m in managers:
        row = rows.setdefault(
            m.city_id,
            {
                "city": m.city,
                "capacity": 0,
                "live_call": 0,
                "call": 0,
                "live_sms": 0,
                "sms": 0,
                "deferred": 0,
            },
        )
        live = result["live"].per_manager.get(m.manager_id, {})
        proposed = result["proposed"].per_manager.get(m.manager_id, {})
        if m.active:
            row["capacity"] += int(m.daily_capacity or values["default_capacity"])
        row["live_call"] += live.get("call", 0)
        row["call"] += proposed.get("call", 0)
        row["live_sms"] += live.get("sms", 0)
        row["sms"] += proposed.get("sms", 0)
        row["deferred"] += proposed.get("deferred", 0)
    for row in rows.values():
        row["use"] = round(100 * row["call"] / row["capacity"]) if row["capacity"] else None
    return sorted(rows.values(), key=lambda r: r["city"].code)


# --- versions ---------------------------------------------------------------------------


@login_required
def settings_versions(request):
    Editor(request.user)
    versions = AllocationSettingsVersion.objects.select_related("changed_by").order_by("-number")
    page = Paginator(versions, VERSION_PAGE_SIZE).get_page(request.GET.get("page"))
    live = spec.live_version()
    rows = [{"version": v, "changes": _change_rows(v.changes)} for v in page]
    return render(
        request,
        "web/allocation/settings_versions.html",
        {"page": page, "rows": rows, "live": live},
    )


def _change_rows(changes: dict) -> list[dict]:
    rows = []
    for name, (old, new) in (changes or {}).items():
        field = spec.BY_NAME.get(name)
        if field is None:
            continue
        rows.append(
            {
                "label": field.label,
                "old": None if old is None else spec.form_value(field, old),
                "new": None if new is None else spec.form_value(field, new),
                "unit": field.unit,
            }
        )
    return rows


def _version(number) -> AllocationSettingsVersion:
    version = AllocationSettingsVersion.objects.filter(number=number).first()
    if version is None:
        raise Http404(_("版本不存在"))
    return version


@login_required
def settings_version_detail(request, number):
    editor = Editor(request.user)
    version = _version(number)
    values = {**spec.default_values(), **version.values}
    live = spec.live_version()
    return render(
        request,
        "web/allocation/settings_version_detail.html",
        {
            "editor": editor,
            "version": version,
            "live": live,
            "is_live": live is not None and live.number == version.number,
            "fields": [
                {"field": f, "value": spec.form_value(f, values[f.name])} for f in spec.FIELDS
            ],
            "changes": _change_rows(version.changes),
        },
    )


@login_required
@require_POST
def settings_restore(request, number):
    editor = Editor(request.user)
    if not editor.is_province:
        raise PermissionDenied
    version = _version(number)
    try:
        new = actions.restore_allocation_settings(
            request.user, version, expected_version=_loaded_version(request.POST.get("version", ""))
        )
    except UserError as exc:
        messages.error(request, str(exc))
        return redirect("web:allocation-settings-version", number=number)
    if new is None:
        messages.info(request, _("版本 %(n)d 与当前设置相同，未生成新版本") % {"n": number})
    else:
        messages.success(
            request,
            _("已恢复版本 %(old)d，生成新版本 %(new)d") % {"old": number, "new": new.number},
        )
    return redirect("web:allocation-settings-versions")
