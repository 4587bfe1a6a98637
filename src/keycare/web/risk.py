"""离网风险 pages: the high-risk customer list (高风险客户) and the model registry (风险模型).

高风险客户: the customers the latest daily run scored above a risk the user chooses, with or
without a key moment that day -- seed 001's order: score the whole in-base mid/high-end
population, pick the high-risk ones, serve them (with their moments first). Scoped by role,
personal fields masked on the server, every view and export audited, paginated, filterable,
exported to Excel with the same filters.

风险模型: the champion and its challengers with their out-of-time figures side by side; a
province administrator promotes a version with a reason (keycare.runs.actions.promote_model).
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST

from keycare.access import roles
from keycare.access.presenter import masked_customer
from keycare.access.querysets import require_role
from keycare.catalog.fields import load_catalog
from keycare.core.audit import record
from keycare.core.exports import xlsx_response
from keycare.engine.risk import registry
from keycare.engine.risk.monitor import AUC_TOLERANCE, PRECISION_TOLERANCE, PSI_ALERT
from keycare.errors import UserError
from keycare.org.models import City
from keycare.runs.actions import can_promote, promote_model
from keycare.runs.models import RiskScore
from keycare.runs.riskmodels import high_risk_threshold, models_dir

PAGE_SIZE = 50
EXPORT_MAX = 50_000
LIST_ROLES = {
    roles.ROLE_PROVINCE_ADMIN,
    roles.ROLE_CITY_ADMIN,
    roles.ROLE_MANAGER,
    roles.ROLE_ANALYST,
}
MODEL_ROLES = {roles.ROLE_PROVINCE_ADMIN, roles.ROLE_ANALYST}
MOMENT_CHOICES = {"with": True, "without": False}


# --- 高风险客户 -------------------------------------------------------------------------


def _filters(request) -> tuple[dict, list[str]]:
    """The filters as typed (kept in the form and the links) and the errors in them."""
    raw = {k: request.GET.get(k, "").strip()[:16] for k in ("city", "min_risk", "moment", "date")}
    errors = []
    if raw["min_risk"]:
        try:
            value = float(raw["min_risk"])
        except ValueError:
            value = -1
        if not 0 <= value <= 100:
            errors.append(
                _("最低风险应为 0 到 100 之间的百分数，收到 %(v)s") % {"v": raw["min_risk"]}
            )
            raw["min_risk"] = ""
    if raw["moment"] not in ("", *MOMENT_CHOICES):
        raw["moment"] = ""
    return raw, errors


def _threshold(filters: dict) -> float:
    return float(filters["min_risk"]) / 100 if filters["min_risk"] else high_risk_threshold()


def _scores(request, filters: dict):
    """(scores of the chosen date in the user's scope, the dates available)."""
    scoped = RiskScore.objects.restrict(request.user)
    dates = list(
        scoped.values_list("business_date", flat=True).distinct().order_by("-business_date")[:7]
    )
    chosen = next(
        (d for d in dates if d.isoformat() == filters["date"]), dates[0] if dates else None
    )
    filters["date"] = chosen.isoformat() if chosen else ""
    scores = scoped.filter(business_date=chosen, risk_probability__gte=_threshold(filters))
    if filters["city"]:
        scores = scores.filter(customer__city__code=filters["city"])
    if filters["moment"]:
        scores = scores.filter(has_moment=MOMENT_CHOICES[filters["moment"]])
    scores = scores.select_related("customer", "customer__city", "customer__manager")
    return scores.order_by("-risk_probability", "customer__subscriber_id"), dates


def _reasons_pct(scores) -> float | None:
    """The risk (%) from which the listed day's run gave scores their reasons, if it says."""
    # Every score of a date comes from that date's run: any row will do, unsorted.
    floors = scores.order_by().values_list("run__record__risk_model__reasons_above", flat=True)
    floor = next(iter(floors[:1]), None)
    return None if floor is None else round(100 * float(floor), 1)


def _row(score: RiskScore) -> dict:
    customer = score.customer
    return {
        "score": score,
        "subscriber_id": customer.subscriber_id,
        **masked_customer(customer, ("name", "msisdn")),
        "city": customer.city.name if customer.city_id else "",
        "manager": customer.manager.manager_id if customer.manager_id else "",
        "risk_pct": round(100 * score.risk_probability, 1),
        "health": [
            score.health_tariff_brand,
            score.health_call_circle,
            score.health_service,
            score.health_business,
        ],
        "reasons": "；".join(score.reasons or []),
        "moment": _("有") if score.has_moment else _("无"),
    }


def _export(request, scores, filters: dict):
    headers = [
        _("用户标识"),
        _("客户"),
        _("号码"),
        _("地市"),
        _("客户经理"),
        _("离网风险（%）"),
        _("离网风险综合评价得分"),
        _("品牌资费健康度"),
        _("通话圈健康度"),
        _("服务健康度"),
        _("业务健康度"),
        _("风险原因"),
        _("当日有关键时刻"),
    ]
    rows = (
        [
            r["subscriber_id"],
            r["name"],
            r["msisdn"],
            r["city"],
            r["manager"],
            r["risk_pct"],
            None if r["score"].seed_score is None else round(r["score"].seed_score, 1),
            *[None if h is None else round(h, 1) for h in r["health"]],
            r["reasons"],
            r["moment"],
        ]
        for r in map(_row, scores[:EXPORT_MAX])
    )
    return xlsx_response(
        f"high-risk-{filters['date']}.xlsx",
        headers,
        rows,
        user=request.user,
        object_type="runs.riskscore",
        filters={k: v for k, v in filters.items() if v},
    )


@login_required
def high_risk_list(request):
    require_role(request.user, LIST_ROLES, _("当前角色无权查看高风险客户"))
    filters, errors = _filters(request)
    scores, dates = _scores(request, filters)
    for error in errors:
        messages.error(request, error)
    if request.GET.get("export") == "xlsx":
        return _export(request, scores, filters)
    page = Paginator(scores, PAGE_SIZE).get_page(request.GET.get("page"))
    record(
        request.user,
        "search",
        object_type="runs.riskscore",
        ip=request.META.get("REMOTE_ADDR"),
        filters={k: v for k, v in filters.items() if v},
        page=page.number,
        rows=len(page.object_list),
    )
    return render(
        request,
        "web/risk/high_risk.html",
        {
            "page": page,
            "rows": [_row(s) for s in page],
            "filters": filters,
            "threshold_pct": round(100 * _threshold(filters), 1),
            "reasons_pct": _reasons_pct(scores),
            "dates": dates,
            "cities": City.objects.order_by("code").only("code", "name"),
            "moment_choices": [("with", _("有关键时刻")), ("without", _("无关键时刻"))],
            "export_max": EXPORT_MAX,
        },
    )


# --- 风险模型 ---------------------------------------------------------------------------


# The configurations `keycare risk train` chooses among by inner CV (engine.risk.model).
CONFIG_LABELS = {
    "shallow": gettext_lazy("浅层（默认）"),
    "medium": gettext_lazy("中等深度"),
    "deep": gettext_lazy("深层"),
}


def _model_row(meta: dict, champion: dict | None) -> dict:
    holdout = meta.get("metrics", {}).get("holdout") or {}
    sample = meta.get("sample") or {}
    chosen = (meta.get("selection") or {}).get("selected", "shallow")
    return {
        "config": CONFIG_LABELS.get(chosen, chosen),
        "inner_auc": {
            CONFIG_LABELS.get(k, k): round(v, 4)
            for k, v in ((meta.get("selection") or {}).get("inner_auc") or {}).items()
        },
        "version": meta.get("version"),
        "promoted": meta.get("promoted"),
        "trained_at": meta.get("trained_at", ""),
        "business_date": meta.get("business_date", ""),
        "rows": sample.get("rows", meta.get("metrics", {}).get("rows")),
        "population": sample.get("population_rows"),
        "holdout": holdout,
        "versus": holdout.get("champion"),
        "is_champion": champion is not None and meta.get("version") == champion.get("version"),
    }


@login_required
@require_http_methods(["GET"])
def model_list(request):
    require_role(request.user, MODEL_ROLES, _("当前角色无权查看风险模型"))
    directory = models_dir()
    try:
        found = registry.list_models(directory)
        pointer = registry.promotion(directory)
    except UserError as exc:
        messages.error(request, str(exc))
        found, pointer = [], None
    champion = next((m for m in found if m["promoted"]), None)
    rows = [_model_row(m, champion) for m in found]
    page = Paginator(rows, 20).get_page(request.GET.get("page"))
    return render(
        request,
        "web/risk/models.html",
        {
            "page": page,
            "rows": page.object_list,
            "filters": {},
            "champion": _model_row(champion, champion) if champion else None,
            "pointer": pointer,
            "history": registry.promotions(directory)[:10],
            "can_promote": can_promote(request.user),
            "auc_tolerance": AUC_TOLERANCE,
            "precision_tolerance": PRECISION_TOLERANCE,
            "psi_alert": PSI_ALERT,
        },
    )


@login_required
@require_POST
def model_promote(request):
    require_role(request.user, {roles.ROLE_PROVINCE_ADMIN}, _("只有省级管理员可以启用风险模型"))
    version = request.POST.get("version", "").strip()[:64]
    try:
        promote_model(request.user, version, request.POST.get("reason", ""))
    except UserError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, _("已启用风险模型 %(v)s，下一次日批运行起使用") % {"v": version})
    return redirect("web:risk-models")


# --- the run page's risk card -----------------------------------------------------------


def _input_label(code: str) -> str:
    """A model input as the user reads it: the catalog field's name, else its code."""
    if code == "score":
        return _("离网风险评分")
    field = load_catalog().by_code.get(code)
    if field is None:
        return code
    return field.en if translation.get_language().startswith("en") else field.zh


def run_risk_monitor(run) -> dict | None:
    """What the run page shows about risk: the model used (or why none), how many were
    scored, and the drift (PSI) of the score and the inputs with the alert."""
    info = (run.record or {}).get("risk_model")
    if not info:
        return None
    drift = info.get("drift") or {}
    inputs = sorted((drift.get("inputs") or {}).items(), key=lambda kv: -kv[1])[:5]
    return {
        "source": info.get("source"),
        "reason": info.get("reason", ""),
        "version": info.get("version", ""),
        "scored": info.get("scored"),
        "baseline_since": (info.get("baseline") or {}).get("since", ""),
        "score_psi": drift.get("score_psi"),
        "top_inputs": [
            {"name": _input_label(k), "psi": v, "alert": v > PSI_ALERT} for k, v in inputs
        ],
        "alert": drift.get("alert", False),
        "alerts": [_input_label(k) for k in drift.get("alerts", [])],
        "threshold": drift.get("threshold", PSI_ALERT),
    }
