"""关键时刻规则: the 29 moments, their editor (global and per-city thresholds, handling,
scripts), a preview of the unsaved change on the latest data, and the version history.

Who may do what (decided here, enforced on the server):
- the province administrator changes everything and restores old versions;
- a city administrator sees every rule but changes only their own city's thresholds (their
  form has no other field, and other fields are never read from their post), and sees the
  preview for their city only;
- every other role gets 403, as on the administrator workbench.

Saving goes through ``keycare.moments.actions.update_moment`` (one transaction, a new
version, audited) with the version the editor loaded: if someone saved in between, the save is
refused and the editor is told so (optimistic locking).
"""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import OuterRef, Q, Subquery, Sum
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST

from keycare.access import roles
from keycare.access.querysets import user_scope
from keycare.core.audit import record
from keycare.core.parsing import posted_int
from keycare.errors import UserError
from keycare.moments import actions
from keycare.moments.models import (
    Category,
    CityThreshold,
    MomentDefinition,
    RuleVersion,
    threshold_value,
)
from keycare.org.models import City, Manager
from keycare.web.rules import forms

ADMIN_ROLES = {roles.ROLE_PROVINCE_ADMIN, roles.ROLE_CITY_ADMIN}
PAGE_SIZE = 50
VERSION_PAGE_SIZE = 20


class Editor:
    """What the signed-in administrator may see and change."""

    def __init__(self, user):
        role, scope = user_scope(user)
        if role not in ADMIN_ROLES:
            raise PermissionDenied
        self.user = user
        self.is_province = role == roles.ROLE_PROVINCE_ADMIN
        self.city_pk = None if self.is_province else scope

    def cities(self) -> list[City]:
        """The cities whose thresholds this editor sees and may change."""
        cities = City.objects.order_by("code")
        if not self.is_province:
            cities = cities.filter(pk=self.city_pk) if self.city_pk else cities.none()
        return list(cities)


# --- list -------------------------------------------------------------------------------


@login_required
def rule_list(request):
    Editor(request.user)
    moments, filters = _filtered(request, MomentDefinition.objects.all())
    latest = RuleVersion.objects.filter(moment=OuterRef("pk"), number=OuterRef("current_version"))
    moments = moments.annotate(
        changed_at=Subquery(latest.values("changed_at")[:1]),
        changed_by_name=Subquery(latest.values("changed_by__username")[:1]),
    ).order_by("code")
    page = Paginator(moments, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "web/rules/rule_list.html",
        {"page": page, "filters": filters, "categories": Category.choices},
    )


def _filtered(request, moments):
    filters = {
        "category": request.GET.get("category", ""),
        "enabled": request.GET.get("enabled", ""),
        "q": request.GET.get("q", "").strip()[:50],
    }
    if filters["category"] in Category.values:
        moments = moments.filter(category=filters["category"])
    else:
        filters["category"] = ""
    if filters["enabled"] in ("1", "0"):
        moments = moments.filter(enabled=filters["enabled"] == "1")
    else:
        filters["enabled"] = ""
    if filters["q"]:
        q = filters["q"]
        moments = moments.filter(
            Q(code__icontains=q) | Q(name_zh__icontains=q) | Q(name_en__icontains=q)
        )
    return moments, filters


# --- edit -------------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def rule_detail(request, code):
    editor = Editor(request.user)
    moment = _moment(code)
    if request.method == "GET":
        return render(request, "web/rules/rule_detail.html", _form_context(editor, moment))
    parsed = _parse(request, editor, moment)
    version_loaded = request.POST.get("version", "")
    if parsed.ok:
        try:
            version = actions.update_moment(
                request.user,
                moment,
                parsed.changes,
                parsed.city_changes,
                note=request.POST.get("note", "").strip()[:200],
                expected_version=_version_number(version_loaded),
            )
        except actions.StaleVersionError as exc:
            parsed.errors["form"] = str(exc)
            parsed.errors["stale"] = "1"
        except UserError as exc:
            parsed.errors[forms.engine_error_field(str(exc)) or "form"] = str(exc)
        else:
            if version is None:
                messages.info(request, _("没有修改，未生成新版本"))
            else:
                messages.success(request, _("已保存为版本 %(n)d") % {"n": version.number})
            return redirect("web:rule-detail", code=moment.code)
    context = _form_context(editor, moment, request.POST, parsed.errors)
    context["version_loaded"] = version_loaded
    return render(request, "web/rules/rule_detail.html", context, status=400)


def _version_number(text: str) -> int:
    version = posted_int(text or "", max_digits=9)
    if version is None:
        # A post without the version it was edited from cannot be checked: refuse it.
        raise actions.StaleVersionError(_("表单缺少版本号，请刷新页面后重新修改"))
    return version


def _moment(code: str) -> MomentDefinition:
    moment = MomentDefinition.objects.filter(code=code).first()
    if moment is None:
        raise Http404(_("关键时刻不存在"))
    return moment


def _parse(request, editor: Editor, moment: MomentDefinition) -> forms.ParsedRule:
    return forms.parse_rule_post(
        request.POST,
        moment,
        forms.threshold_specs(moment),
        editor.cities(),
        edit_global=editor.is_province,
    )


def _form_context(editor, moment, post=None, errors=None) -> dict:
    errors = errors or {}
    specs = forms.threshold_specs(moment)
    cities = editor.cities()
    stored = {
        (row.city_id, row.name): row.value
        for row in CityThreshold.objects.filter(moment=moment, city__in=cities)
    }
    defaults = {name: threshold_value(spec) for name, spec in (moment.thresholds or {}).items()}

    def value(name, current):
        if post is None:
            return "" if current is None else current
        return post.get(name, "")

    thresholds = [
        {
            "spec": spec,
            "field": forms.threshold_field(spec.name),
            "value": value(forms.threshold_field(spec.name), defaults[spec.name]),
            "error": errors.get(forms.threshold_field(spec.name)),
        }
        for spec in specs
    ]
    city_rows = [
        {
            "city": city,
            "cells": [
                {
                    "field": forms.city_field(city.code, spec.name),
                    "value": value(
                        forms.city_field(city.code, spec.name), stored.get((city.pk, spec.name))
                    ),
                    "global": defaults[spec.name],
                    "error": errors.get(forms.city_field(city.code, spec.name)),
                    "spec": spec,
                }
                for spec in specs
            ],
        }
        for city in cities
    ]
    fields = {
        name: (post.get(name, "") if post is not None else getattr(moment, name))
        for name in ("priority", "channel", "script", "sms_template")
    }
    for flag in ("enabled", "sms_allowed"):
        fields[flag] = (post.get(flag) == "on") if post is not None else getattr(moment, flag)
    return {
        "moment": moment,
        "editor": editor,
        "fields": fields,
        "errors": errors,
        "thresholds": thresholds,
        "specs": specs,
        "city_rows": city_rows,
        "channels": forms.Channel.choices,
        "version_loaded": moment.current_version,
        "note": post.get("note", "") if post is not None else "",
    }


# --- preview ----------------------------------------------------------------------------


@login_required
@require_POST
def rule_preview(request, code):
    """The unsaved form evaluated on the latest data (HTMX partial; nothing is saved)."""
    editor = Editor(request.user)
    moment = _moment(code)
    parsed = _parse(request, editor, moment)
    context = {"moment": moment, "errors": parsed.errors, "result": None, "source": None}
    if parsed.ok:
        context.update(_preview(editor, moment, parsed))
    context["error_rows"] = _error_rows(moment, context["errors"])
    return render(request, "web/rules/partials/preview.html", context)


def _preview(editor, moment, parsed) -> dict:
    from keycare.engine.preview import latest_source, preview_moment

    try:
        current, changed = actions.candidate_definitions(
            moment, parsed.changes, parsed.city_changes
        )
    except UserError as exc:
        return {"errors": {"form": str(exc)}}
    if moment.category == Category.GROUP:  # the preview replays the customer view only
        return {
            "errors": {"form": _("集团时刻暂不能按最新数据预览：规则校验通过，保存后次日运行生效")}
        }
    source = latest_source(settings.KEYCARE_RUNS_DIR)
    if source is None:
        return {"no_data": True}
    try:
        result = preview_moment(source, moment.code, current, changed)
    except UserError as exc:
        return {"errors": {"form": _("预览失败：%(error)s") % {"error": exc}}, "source": source}
    cities = editor.cities()
    rows = _preview_rows(result, cities, editor.is_province)
    record(
        editor.user,
        "moments.preview",
        moment,
        business_date=source.business_date.isoformat(),
        run_id=source.run_id,
        seconds=round(result.seconds, 2),
    )
    return {
        "result": result,
        "source": source,
        "rows": rows,
        "totals": {
            "current": sum(r["current"] for r in rows),
            "changed": sum(r["changed"] for r in rows),
            "capacity": sum(r["capacity"] or 0 for r in rows),
        },
    }


def _preview_rows(result, cities, is_province: bool) -> list[dict]:
    """One row per city this editor sees, with the managers' daily capacity there."""
    capacity = dict(
        Manager.objects.filter(city__in=cities, active=True)
        .values_list("city_id")
        .annotate(total=Sum("daily_capacity"))
        .order_by()
    )
    counts = {c.city_id: c for c in result.cities}
    rows = []
    for city in cities:
        count = counts.pop(city.code, None)
        rows.append(_preview_row(city.code, city.name, count, capacity.get(city.pk)))
    if is_province:  # cities in the data but not in the organisation table still count
        rows += [_preview_row(code, "", count, None) for code, count in sorted(counts.items())]
    return rows


def _preview_row(code, name, count, capacity) -> dict:
    current = count.current if count else 0
    changed = count.changed if count else 0
    return {
        "code": code,
        "name": name,
        "current": current,
        "changed": changed,
        "delta": changed - current,
        "capacity": capacity,
        "over_capacity": capacity is not None and changed > capacity,
    }


def _error_rows(moment, errors: dict) -> list[tuple[str, str]]:
    """(field label, message) for the preview's error list, in the form's words."""
    codes = {n.split("__")[1] for n in errors if n.startswith("c__") and n.count("__") == 2}
    label = _labeller(moment, codes)
    rows = []
    for name, message in errors.items():
        if name == "form":
            continue
        parts = name.split("__")
        if parts[0] == "t" and len(parts) == 2:
            path = f"thresholds.{parts[1]}"
        elif parts[0] == "c" and len(parts) == 3:
            path = f"city.{parts[1]}.{parts[2]}"
        else:
            path = name
        rows.append((label(path), message))
    return rows


# --- versions ---------------------------------------------------------------------------


@login_required
def rule_versions(request, code):
    Editor(request.user)
    moment = _moment(code)
    versions = moment.versions.select_related("changed_by").order_by("-number")
    page = Paginator(versions, VERSION_PAGE_SIZE).get_page(request.GET.get("page"))
    label = _labeller(moment, _changed_cities([v.changes for v in page]))
    rows = [{"version": v, "changes": _change_rows(v.changes, label)} for v in page]
    return render(
        request,
        "web/rules/rule_versions.html",
        {"moment": moment, "page": page, "rows": rows},
    )


@login_required
def rule_version_detail(request, code, number):
    editor = Editor(request.user)
    moment = _moment(code)
    version = moment.versions.select_related("changed_by").filter(number=number).first()
    if version is None:
        raise Http404(_("版本不存在"))
    definition = version.snapshot.get("definition", {})
    return render(
        request,
        "web/rules/rule_version_detail.html",
        {
            "moment": moment,
            "version": version,
            "editor": editor,
            "definition": definition,
            "channel_label": dict(forms.Channel.choices).get(definition.get("channel"), "—"),
            "thresholds": [
                (name, threshold_value(spec), spec if isinstance(spec, dict) else {})
                for name, spec in (definition.get("thresholds") or {}).items()
            ],
            "city_thresholds": sorted((version.snapshot.get("city_thresholds") or {}).items()),
            "changes": _change_rows(
                version.changes, _labeller(moment, _changed_cities([version.changes]))
            ),
            "is_current": version.number == moment.current_version,
        },
    )


@login_required
@require_POST
def rule_restore(request, code, number):
    """Make an old version current again (province administrator only), as a new version."""
    editor = Editor(request.user)
    if not editor.is_province:
        raise PermissionDenied
    moment = _moment(code)
    version = moment.versions.filter(number=number).first()
    if version is None:
        raise Http404(_("版本不存在"))
    try:
        new = actions.restore_version(
            request.user,
            version,
            expected_version=_version_number(request.POST.get("version", "")),
        )
    except UserError as exc:
        messages.error(request, str(exc))
        return redirect("web:rule-version-detail", code=code, number=number)
    if new is None:
        messages.info(request, _("版本 %(n)d 与当前版本相同，未生成新版本") % {"n": number})
    else:
        messages.success(
            request,
            _("已恢复版本 %(old)d，生成新版本 %(new)d") % {"old": number, "new": new.number},
        )
    return redirect(reverse("web:rule-versions", kwargs={"code": code}))


def _change_rows(changes: dict, label) -> list[dict]:
    """The flat 'path' -> [old, new] diff as rows with a readable field label."""
    return [
        {"path": path, "label": label(path), "old": pair[0], "new": pair[1]}
        for path, pair in sorted((changes or {}).items())
        if isinstance(pair, list | tuple) and len(pair) == 2
    ]


FIELD_LABELS = {
    "enabled": gettext_lazy("启用"),
    "priority": gettext_lazy("优先级"),
    "channel": gettext_lazy("处理渠道"),
    "sms_allowed": gettext_lazy("允许短信"),
    "script": gettext_lazy("服务话术"),
    "sms_template": gettext_lazy("短信模板"),
    "strategy": gettext_lazy("服务策略"),
    "zh": gettext_lazy("中文名称"),
    "en": gettext_lazy("英文名称"),
    "condition": gettext_lazy("条件"),
}


def _changed_cities(all_changes: list[dict]) -> set[str]:
    return {
        path.split(".")[1]
        for changes in all_changes
        for path in (changes or {})
        if path.startswith("city.") and path.count(".") >= 2
    }


def _labeller(moment, codes: set[str]):
    """path -> label with the threshold's and the city's Chinese names (one city query)."""
    cities = {c.code: c.name for c in City.objects.filter(code__in=codes)} if codes else {}
    names = {
        name: (spec.get("zh") if isinstance(spec, dict) else "") or name
        for name, spec in (moment.thresholds or {}).items()
    }

    def label(path: str) -> str:
        parts = path.split(".")
        if parts[0] == "thresholds" and len(parts) >= 2:
            return _("全局阈值 %(name)s") % {"name": names.get(parts[1], parts[1])}
        if parts[0] == "city" and len(parts) >= 3:
            return _("%(city)s（%(code)s）阈值 %(name)s") % {
                "city": cities.get(parts[1], ""),
                "code": parts[1],
                "name": names.get(parts[2], parts[2]),
            }
        return str(FIELD_LABELS[parts[0]]) if parts[0] in FIELD_LABELS else path

    return label
