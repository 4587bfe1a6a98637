"""效果评估: treated vs control per moment, campaign, tactic, manager and city.

Rows come from the stored evaluations (keycare.effects). A province-wide role (province
administrator, province analyst) sees the province rows; a city administrator or city
analyst sees the rows of their city only (``EffectRow.objects.restrict``): the moments and
campaigns as measured in their city, their city and their city's managers.
"""

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _

from keycare.access import roles
from keycare.access.querysets import require_role
from keycare.core.exports import xlsx_response
from keycare.effects.models import Dimension, EffectReport, EffectRow, Metric

ROLES = {roles.ROLE_PROVINCE_ADMIN, roles.ROLE_CITY_ADMIN, roles.ROLE_ANALYST}
PAGE_SIZE = 50
CHART_ROWS = 30
RATE_METRICS = {Metric.CHURN, Metric.DOWNGRADE, Metric.REPEAT_COMPLAINT}
PROVINCE_ROWS = {Dimension.MOMENT, Dimension.CAMPAIGN, Dimension.TACTIC}


def _require(user):
    return require_role(user, ROLES, _("只有管理员和分析员可以查看效果评估"))


def _province_wide(role, scope) -> bool:
    return role == roles.ROLE_PROVINCE_ADMIN or (role == roles.ROLE_ANALYST and scope is None)


def _scoped_rows(user, report, role, scope):
    rows = EffectRow.objects.restrict(user).filter(report=report)
    if _province_wide(role, scope):
        # Province rows for moments, campaigns and tactics; the per-city rows are drill-downs.
        rows = rows.exclude(dimension__in=PROVINCE_ROWS, city__isnull=False)
    return rows


def _filters(request, report) -> dict:
    get = request.GET
    horizons = [int(h) for h in report.horizons] if report else []
    dimension = get.get("dimension") if get.get("dimension") in Dimension.values else "moment"
    metric = get.get("metric") if get.get("metric") in Metric.values else "churn"
    try:
        horizon = int(get.get("horizon", ""))
    except ValueError:
        horizon = None
    if horizon not in horizons:
        horizon = horizons[0] if horizons else None
    return {
        "report": str(report.pk) if report else "",
        "dimension": dimension,
        "horizon": horizon,
        "metric": metric,
        "q": get.get("q", "").strip()[:64],
        "significant": "1" if get.get("significant") == "1" else "",
    }


def _report(request):
    reports = EffectReport.objects.all()
    wanted = request.GET.get("report")
    if wanted:
        try:
            return reports.get(pk=int(wanted))
        except (ValueError, EffectReport.DoesNotExist):
            raise Http404(_("没有这份效果评估")) from None
    return reports.first()


@login_required
def effect_report(request):
    role, scope = _require(request.user)
    report = _report(request)
    filters = _filters(request, report)
    rows = EffectRow.objects.none()
    if report is not None:
        rows = _scoped_rows(request.user, report, role, scope).filter(
            dimension=filters["dimension"], horizon=filters["horizon"], metric=filters["metric"]
        )
        if filters["q"]:
            rows = rows.filter(label__icontains=filters["q"]) | rows.filter(key=filters["q"])
        if filters["significant"]:
            rows = rows.filter(ci_high__lt=0) | rows.filter(ci_low__gt=0)
        rows = rows.select_related("city").order_by("-treated", "key", "city__code")
    if request.GET.get("export") == "xlsx" and report is not None:
        return _export(request, report, rows, filters)
    page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
    rate = filters["metric"] in RATE_METRICS
    return render(
        request,
        "web/effects/report.html",
        {
            "report": report,
            "reports": EffectReport.objects.all()[:20],
            "filters": filters,
            "page": page,
            "rows": [_display(r, rate) for r in page],
            "chart": _chart(rows[:CHART_ROWS], rate),
            "dimensions": Dimension.choices,
            "metrics": Metric.choices,
            "rate": rate,
            "province_wide": _province_wide(role, scope),
            "totals": report.totals if report else {},
            "qini": (report.qini or {}).get("*") if report else None,
        },
    )


@login_required
def effect_detail(request, pk, dimension, key):
    """Drill-down: one value of a dimension at every horizon and metric (and per city)."""
    _require(request.user)
    if dimension not in Dimension.values:
        raise Http404(_("没有这个维度"))
    try:
        report = EffectReport.objects.get(pk=pk)
    except EffectReport.DoesNotExist:
        raise Http404(_("没有这份效果评估")) from None
    rows = (
        EffectRow.objects.restrict(request.user)
        .filter(report=report, dimension=dimension, key=key)
        .select_related("city")
        .order_by("city__code", "horizon", "metric")
    )
    if not rows.exists():
        raise Http404(_("没有这一项的评估结果"))
    province = [r for r in rows if r.city_id is None or dimension not in PROVINCE_ROWS]
    cities = [r for r in rows if r.city_id is not None and dimension in PROVINCE_ROWS]
    return render(
        request,
        "web/effects/detail.html",
        {
            "report": report,
            "label": rows[0].label,
            "dimension_label": Dimension(dimension).label,
            "rows": [_display(r, r.metric in RATE_METRICS) for r in province],
            "city_rows": [_display(r, r.metric in RATE_METRICS) for r in cities],
        },
    )


def _display(row: EffectRow, rate: bool) -> dict:
    scale = 100.0 if rate else 1.0

    def fmt(value):
        return None if value is None else value * scale

    return {
        "row": row,
        "metric_label": row.get_metric_display(),
        "treated_mean": fmt(row.treated_mean),
        "control_mean": fmt(row.control_mean),
        "uplift": fmt(row.uplift),
        "ci_low": fmt(row.ci_low),
        "ci_high": fmt(row.ci_high),
        "contact_rate": None if row.contact_rate is None else row.contact_rate * 100,
        "accept_rate": None if row.accept_rate is None else row.accept_rate * 100,
        "significant": row.significant,
        "rate": rate,
    }


def _chart(rows, rate: bool) -> dict:
    scale = 100.0 if rate else 1.0
    data = {"names": [], "uplift": [], "low": [], "high": [], "urls": []}
    for r in rows:
        if r.uplift is None:
            continue
        name = r.label if r.city is None else f"{r.label}（{r.city.name}）"
        data["names"].append(name)
        data["uplift"].append(round(r.uplift * scale, 3))
        data["low"].append(None if r.ci_low is None else round(r.ci_low * scale, 3))
        data["high"].append(None if r.ci_high is None else round(r.ci_high * scale, 3))
        data["urls"].append(reverse("web:effect-detail", args=[r.report_id, r.dimension, r.key]))
    data["unit"] = _("个百分点") if rate else _("元")
    return data


def _export(request, report, rows, filters):
    headers = [
        _("维度"), _("名称"), _("编码"), _("地市"), _("观察期（天）"), _("指标"), _("服务组"),
        _("对照组"), _("服务组均值"), _("对照组均值"), _("提升"), _("95% 区间下限"),
        _("95% 区间上限"), _("接触率"), _("建议接受率"),
    ]  # fmt: skip
    data = (
        [
            r.get_dimension_display(),
            r.label,
            r.key,
            r.city.name if r.city else _("全省"),
            r.horizon,
            r.get_metric_display(),
            r.treated,
            r.control,
            r.treated_mean,
            r.control_mean,
            r.uplift,
            r.ci_low,
            r.ci_high,
            r.contact_rate,
            r.accept_rate,
        ]  # fmt: skip
        for r in rows
    )
    return xlsx_response(
        f"effect-{report.as_of}-{filters['dimension']}-{filters['horizon']}-{filters['metric']}.xlsx",
        headers,
        data,
        user=request.user,
        object_type="effects.effectreport",
        filters={k: v for k, v in filters.items() if v},
    )
