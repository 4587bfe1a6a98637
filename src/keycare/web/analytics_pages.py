"""统计分析: the analyst's workbench and the analyses (spec §6.1-6.2), one page machinery.

Every analysis is data (engine/indicators.yaml: its indicators and dimensions); one view
renders any of them: an ECharts bar chart by member and a 13-month trend, a paginated table
with month on month and year on year, drill-down (province -> city -> its counties, grids or
managers), and the same table as Excel. All numbers come from keycare.analytics.queries.
"""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from keycare.access.querysets import require_role
from keycare.analytics import actions, queries
from keycare.analytics.models import FollowedIndicator, SavedAnalysis
from keycare.core.exports import xlsx_response

ANALYST_ROLES = queries.ANALYST_ROLES
PAGE_SIZE = 50
CHART_MEMBERS = 20
# Drilling into one city: the next dimension, in this order of preference.
DRILL_FROM_CITY = ("county", "grid", "manager")


def require_analyst(user):
    return require_role(user, ANALYST_ROLES, _("只有分析员和管理员可以查看统计分析"))


def _fmt(value, digits=2):
    return None if value is None else round(value, digits)


@login_required
def analysis_page(request, code):
    require_analyst(request.user)
    try:
        analysis = queries.analysis_named(code)
    except queries.BadQuery:
        return _bad(request, _("没有这个分析：%(code)s") % {"code": code[:32]}, status=404)
    indicators = [queries.indicator_named(c) for c in analysis.indicators]
    try:
        query = queries.parse_query(request.user, indicators, analysis.dimensions, request.GET)
        chart = _chart_indicator(request.GET.get("indicator"), indicators)
    except queries.BadQuery as error:
        return _bad(request, str(error), analysis=analysis)
    result = queries.table(request.user, query)
    if request.GET.get("export") == "xlsx":
        return _export(request, analysis, query, result)
    page = Paginator(result.rows, PAGE_SIZE).get_page(request.GET.get("page"))
    context = {
        "analysis": analysis,
        "title": analysis.en if _english() else analysis.zh,
        "query": query,
        "columns": [_column(i) for i in indicators],
        "result": result,
        "page": page,
        "rows": [_row(r, query, analysis) for r in page.object_list],
        "filters": {**query.params, "indicator": chart.code},
        "dimensions": [(d, queries.dimension_label(d)) for d in analysis.dimensions],
        "months": [f"{m:%Y-%m}" for m in queries.months_available(request.user)],
        "chart_indicator": chart,
        "chart_label": queries.indicator_label(chart),
        "chart_data": _chart_data(result, indicators.index(chart)),
        "trend": queries.trend(request.user, query, chart),
        "dimension_label": queries.dimension_label(query.dimension),
        "export_url": "?" + urlencode({**query.params, "export": "xlsx"}),
        "up_url": _up_url(query, analysis),
        "saved": SavedAnalysis.objects.filter(user=request.user, analysis=code)[:10],
        "followed": set(
            FollowedIndicator.objects.filter(user=request.user).values_list("indicator", flat=True)
        ),
    }
    return render(request, "web/analytics/analysis.html", context)


def _english() -> bool:
    from django.utils import translation

    return (translation.get_language() or "zh").startswith("en")


def _bad(request, message: str, analysis=None, status: int = 400):
    return render(
        request,
        "web/analytics/bad_query.html",
        {"message": message, "analysis": analysis},
        status=status,
    )


def _chart_indicator(code, indicators):
    if not code:
        return indicators[0]
    for indicator in indicators:
        if indicator.code == code:
            return indicator
    raise queries.BadQuery(f"参数 indicator 无效 (not in this analysis): {str(code)[:32]}")


def _column(indicator) -> dict:
    return {
        "code": indicator.code,
        "label": queries.indicator_label(indicator),
        "unit": indicator.unit,
        "better": indicator.better,
    }


def _row(row: dict, query, analysis) -> dict:
    return {**row, "drill": _drill_url(row["member"], query, analysis)}


def _drill_url(member: str, query, analysis) -> str | None:
    """Where a row leads: province -> cities; a city -> its counties (grids, managers)."""
    if query.dimension == "province" and "city" in analysis.dimensions:
        return "?" + urlencode({**query.params, "dimension": "city"})
    if query.dimension == "city" and member:
        nxt = next((d for d in DRILL_FROM_CITY if d in analysis.dimensions), None)
        if nxt:
            return "?" + urlencode({**query.params, "dimension": nxt, "city": member})
    return None


def _up_url(query, analysis) -> str | None:
    if query.city is None:
        return None
    params = {k: v for k, v in query.params.items() if k != "city"}
    params["dimension"] = "city" if "city" in analysis.dimensions else analysis.dimensions[0]
    return "?" + urlencode(params)


def _chart_data(result, index: int) -> dict:
    top = sorted(result.rows, key=lambda r: -(r["cells"][index].value or 0))[:CHART_MEMBERS]
    return {
        "labels": [r["label"] for r in top],
        "values": [_fmt(r["cells"][index].value) for r in top],
    }


def _export(request, analysis, query, result):
    headers = [queries.dimension_label(query.dimension)]
    mom, yoy = _("环比（%）"), _("同比（%）")
    for indicator in query.indicators:
        label = queries.indicator_label(indicator)
        headers += [f"{label}（{indicator.unit}）", f"{label} {mom}", f"{label} {yoy}"]
    rows = [
        [r["label"], *[v for c in r["cells"] for v in (_fmt(c.value), _fmt(c.mom), _fmt(c.yoy))]]
        for r in result.rows
    ]
    rows.append(
        [_("合计"), *[v for c in result.total for v in (_fmt(c.value), _fmt(c.mom), _fmt(c.yoy))]]
    )
    month = f"{query.month:%Y%m}" if query.month else "none"
    return xlsx_response(
        f"analysis-{analysis.code}-{query.dimension}-{month}.xlsx",
        headers,
        rows,
        user=request.user,
        filters=query.params,
    )


# --------------------------------------------------------------------------- workbench


@login_required
def analytics_home(request):
    """分析工作台: followed indicators with this month's figure, analyses, saved analyses."""
    require_analyst(request.user)
    defs = queries.definitions()
    followed = list(FollowedIndicator.objects.filter(user=request.user))
    months = queries.months_available(request.user)  # newest first; read once for every use
    month = months[0] if months else None
    cards = []
    for follow in followed:
        indicator = defs.indicators.get(follow.indicator)
        if indicator is None:
            continue  # a definition removed since: nothing to show
        # Each card shows its own indicator's newest month (satisfaction runs ahead of bills).
        newest = queries.latest_month(request.user, [indicator], months)
        query = queries.Query([indicator], "province", newest)
        cell = queries.table(request.user, query).total[0]
        cards.append(
            {
                "indicator": indicator,
                "month": query.month,
                "label": queries.indicator_label(indicator),
                "cell": cell,
                "trend": queries.trend(request.user, query, indicator),
            }
        )
    analyses = [
        {"code": a.code, "section": a.section, "label": a.en if _english() else a.zh}
        for a in defs.analyses.values()
    ]
    saved = Paginator(SavedAnalysis.objects.filter(user=request.user), 20).get_page(
        request.GET.get("page")
    )
    context = {
        "month": month,
        "cards": cards,
        "analyses": analyses,
        "saved": saved,
        "indicators": [
            (i.code, queries.indicator_label(i))
            for i in defs.indicators.values()
            if i.code not in {f.indicator for f in followed}
        ],
        "reports": _reports(request.user),
        "months": [f"{m:%Y-%m}" for m in months],
    }
    return render(request, "web/analytics/home.html", context)


def _reports(user):
    from keycare.analytics.models import MonthlyReport

    return MonthlyReport.objects.restrict(user).select_related("city")[:12]


@login_required
@require_POST
def follow_indicator(request):
    require_analyst(request.user)
    try:
        actions.follow_indicator(request.user, request.POST.get("indicator", ""))
    except queries.BadQuery as error:
        messages.error(request, str(error))
    return redirect(_next(request))


@login_required
@require_POST
def unfollow_indicator(request):
    require_analyst(request.user)
    actions.unfollow_indicator(request.user, request.POST.get("indicator", ""))
    return redirect(_next(request))


@login_required
@require_POST
def save_analysis(request, code):
    require_analyst(request.user)
    try:
        saved = actions.save_analysis(
            request.user, request.POST.get("name", ""), code, request.POST
        )
    except queries.BadQuery as error:
        messages.error(request, str(error))
        return redirect(reverse("web:analysis", args=[code]))
    messages.success(request, _("已保存分析：%(name)s") % {"name": saved.name})
    return redirect(saved_url(saved))


@login_required
@require_POST
def delete_saved_analysis(request, pk):
    require_analyst(request.user)
    actions.delete_saved_analysis(request.user, pk)
    return redirect(reverse("web:analytics-home"))


def saved_url(saved: SavedAnalysis) -> str:
    return reverse("web:analysis", args=[saved.analysis]) + "?" + urlencode(saved.params)


def _next(request) -> str:
    target = request.POST.get("next") or ""
    # Only our own pages: never an absolute or protocol-relative URL.
    if target.startswith("/") and not target.startswith("//"):
        return target
    return reverse("web:analytics-home")


@login_required
def report_download(request, pk, fmt):
    """A kept monthly report, in the user's scope (else 404); every download audited."""
    from django.http import Http404, HttpResponse

    from keycare.analytics.models import MonthlyReport, ReportStatus
    from keycare.core.audit import record
    from keycare.core.exports import XLSX_CONTENT_TYPE

    require_analyst(request.user)
    report = MonthlyReport.objects.restrict(request.user).filter(pk=pk).first()
    if report is None or report.status != ReportStatus.DONE or fmt not in ("xlsx", "pdf"):
        raise Http404
    body = bytes(report.xlsx if fmt == "xlsx" else (report.pdf or b""))
    if not body:
        raise Http404
    name = f"keycare-report-{report.month:%Y%m}-{report.city.code if report.city else 'province'}"
    record(request.user, "export", report, format=fmt, filename=f"{name}.{fmt}")
    content_type = XLSX_CONTENT_TYPE if fmt == "xlsx" else "application/pdf"
    response = HttpResponse(body, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{name}.{fmt}"'
    return response


@login_required
@require_POST
def report_request(request):
    """Queue a monthly report of the user's scope; a background job builds it."""
    from keycare.analytics.reports import request_report

    require_analyst(request.user)
    try:
        report = request_report(request.user, request.POST.get("month", ""))
    except queries.BadQuery as error:
        messages.error(request, str(error))
    else:
        messages.success(
            request, _("已提交 %(month)s 月度报告，生成后可在此下载。") % {"month": str(report)}
        )
    return redirect(reverse("web:analytics-home") + "#reports")
