"""业绩考核 (§7.4): assessment periods, each manager's indicators and score, adjustments with a
recorded reason, review / approval / lock, ranking within comparable managers (same city and
role) and the Excel export. A manager sees their own results once a period is approved.

The province administrator computes periods and moves them on; a city administrator reviews
and adjusts their city's managers. Writes go through ``keycare.managers.actions``.
"""

from __future__ import annotations

from datetime import date

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.dateparse import parse_date
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from keycare.access import roles
from keycare.access.querysets import require_role
from keycare.core.exports import xlsx_response
from keycare.errors import UserError
from keycare.managers import actions, assessment
from keycare.managers.models import (
    Assessment,
    AssessmentPeriod,
    Indicator,
    IndicatorUnit,
    PeriodStatus,
)
from keycare.managers.scoping import is_admin
from keycare.org.models import ManagerRole

PAGE_SIZE = 50
READER_ROLES = {roles.ROLE_MANAGER, roles.ROLE_PROVINCE_ADMIN, roles.ROLE_CITY_ADMIN}
VISIBLE_TO_MANAGERS = (PeriodStatus.APPROVED, PeriodStatus.LOCKED)


def _periods(user):
    periods = AssessmentPeriod.objects.all()
    return periods if is_admin(user) else periods.filter(status__in=VISIBLE_TO_MANAGERS)


@login_required
def assessment_home(request):
    role, _scope = require_role(request.user, READER_ROLES, _("您的角色不能查看业绩考核"))
    own = []
    if role == roles.ROLE_MANAGER:
        own = (
            Assessment.objects.restrict(request.user)
            .filter(period__status__in=VISIBLE_TO_MANAGERS)
            .select_related("period")
            .order_by("-period__start")
        )
    return render(
        request,
        "web/managers/assessment_home.html",
        {
            "periods": _periods(request.user)[:36],
            "own": own,
            "indicators": Indicator.objects.filter(active=True),
            "province_admin": role == roles.ROLE_PROVINCE_ADMIN,
        },
    )


@login_required
@require_POST
def assessment_compute(request):
    require_role(request.user, {roles.ROLE_PROVINCE_ADMIN}, _("只有省级管理员可以计算考核"))
    month = request.POST.get("month", "").strip()
    try:
        start = parse_date(f"{month}-01") if len(month) == 7 else None
    except ValueError:
        start = None
    try:
        if start is None:
            raise UserError(_("考核月份须为 YYYY-MM：%(m)s") % {"m": month[:20]})
        end = _month_end(start)
        period = actions.compute_period(request.user, name=month, start=start, end=end)
    except UserError as error:
        messages.error(request, str(error))
        return redirect("web:assessment-home")
    messages.success(request, _("已计算考核期 %(n)s") % {"n": period.name})
    return redirect("web:assessment-period", pk=period.pk)


def _month_end(start: date) -> date:
    following = date(start.year + start.month // 12, start.month % 12 + 1, 1)
    return date.fromordinal(following.toordinal() - 1)


def _period(request, pk) -> AssessmentPeriod:
    period = _periods(request.user).filter(pk=pk).first()
    if period is None:
        raise Http404(_("考核期不存在或尚未发布"))
    return period


@login_required
def assessment_period(request, pk):
    role, _scope = require_role(request.user, READER_ROLES, _("您的角色不能查看业绩考核"))
    period = _period(request, pk)
    rows = Assessment.objects.restrict(request.user).filter(period=period)
    filters = {
        "role": request.GET.get("role", ""),
        "team": request.GET.get("team", "").strip()[:64],
        "q": request.GET.get("q", "").strip()[:32],
    }
    if filters["role"] in ManagerRole.values:
        rows = rows.filter(role=filters["role"])
    else:
        filters["role"] = ""
    if filters["team"]:
        rows = rows.filter(team=filters["team"])
    if filters["q"]:
        rows = rows.filter(manager__manager_id__icontains=filters["q"])
    if request.GET.get("format") == "xlsx":
        headers, table = assessment.export_table(rows)
        return xlsx_response(
            f"assessment-{period.name}.xlsx", headers, table, user=request.user,
            period=period.name,
        )  # fmt: skip
    page = Paginator(
        rows.select_related("manager", "city").order_by("city__code", "role", "rank"), PAGE_SIZE
    ).get_page(request.GET.get("page"))
    indicators = list(Indicator.objects.filter(active=True, role=""))
    return render(
        request,
        "web/managers/assessment_period.html",
        {
            "period": period,
            "page": page,
            "rows": [_row(a, indicators) for a in page],
            "indicators": indicators,
            "filters": filters,
            "manager_roles": ManagerRole.choices,
            "can_adjust": is_admin(request.user) and period.status in actions.RECOMPUTABLE,
            "next_status": actions.NEXT_STATUS.get(period.status)
            if role == roles.ROLE_PROVINCE_ADMIN
            else None,
            "next_label": PeriodStatus(actions.NEXT_STATUS[period.status]).label
            if period.status in actions.NEXT_STATUS
            else "",
        },
    )


def _row(a, indicators) -> dict:
    cells = []
    for indicator in indicators:
        v = a.values.get(indicator.code) or {}
        value, points = v.get("value"), v.get("score")
        cells.append(
            {
                "value": "—" if value is None else _shown(value, indicator),
                "score": "—" if points is None else f"{points:.0f}",
                "basis": f"{v.get('num', 0):g}/{v.get('den', 0):g}",
            }
        )
    return {"a": a, "cells": cells}


def _shown(value: float, indicator) -> str:
    """A value in its indicator's unit: shares as %, revenue as signed RMB, points as is."""
    if indicator.unit == IndicatorUnit.RMB:
        return f"{value:+.2f} {indicator.get_unit_display()}"
    if indicator.unit == IndicatorUnit.POINTS:
        return f"{value:.1f}"
    return f"{value * 100:.1f}%"


@login_required
@require_POST
def assessment_adjust(request, pk):
    if not is_admin(request.user):
        raise PermissionDenied(_("只有管理员可以调整考核得分"))
    row = (
        Assessment.objects.restrict(request.user)
        .select_related("manager", "period")
        .filter(pk=pk)
        .first()
    )
    if row is None:
        raise Http404(_("考核结果不存在或不在您的权限范围内"))
    try:
        value = float(request.POST.get("adjustment", "").strip())
    except ValueError:
        messages.error(request, _("调整分须为数字"))
        return redirect("web:assessment-period", pk=row.period_id)
    try:
        actions.adjust_assessment(
            request.user, row, adjustment=value, reason=request.POST.get("reason", "")
        )
    except UserError as error:
        messages.error(request, str(error))
    else:
        messages.success(request, _("已调整 %(m)s 的得分") % {"m": row.manager.name})
    return redirect("web:assessment-period", pk=row.period_id)


@login_required
@require_POST
def assessment_status(request, pk):
    require_role(request.user, {roles.ROLE_PROVINCE_ADMIN}, _("只有省级管理员可以推进考核期"))
    period = _period(request, pk)
    try:
        actions.advance_period(request.user, period, request.POST.get("status", ""))
    except UserError as error:
        messages.error(request, str(error))
    else:
        messages.success(request, _("考核期状态：%(s)s") % {"s": period.get_status_display()})
    return redirect("web:assessment-period", pk=period.pk)
