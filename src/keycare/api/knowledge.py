"""Knowledge-graph API: a customer's need graph with the "why" path, and the complaint causes
rising by area -- the same queries as the 客户需求图谱 and 投诉原因趋势 pages.

- ``GET /api/knowledge/customers/{id}/need-graph/``: nodes (kind, label, weight) and edges
  (relation, count), the predicted need, the why-path (customer -> signal -> cause -> need
  -> tactic), what worked for similar customers and the explained low-satisfaction
  predictions. Scoped like the customer (404 outside the scope), masked, audited as a
  customer view.
- ``GET /api/knowledge/rising-causes/?city=&group=&days=7|30|90&min_count=&date=``: per area
  and cause, complaints in the window against the window before. Administrators and
  analysts (403 for anyone else); a bad parameter is a 400 naming it.
"""

from __future__ import annotations

from datetime import date

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import permissions
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from keycare.access import roles
from keycare.access.querysets import user_scope
from keycare.complaints import taxonomy
from keycare.complaints.models import Complaint
from keycare.core.audit import record
from keycare.customers.models import Customer
from keycare.knowledge import satisfaction, services

MIN_COUNT_MAX = 1000


class CanReadCustomers(permissions.BasePermission):
    """The roles that read customers at all (the auditor reads the audit log only)."""

    message = "当前角色无权查看客户档案 Your role may not read customer data"

    def has_permission(self, request, view):
        return user_scope(request.user)[0] in roles.CUSTOMER_READERS


class CanReadTrends(permissions.BasePermission):
    message = "当前角色无权查看投诉原因趋势 Only analysts and administrators read cause trends"

    def has_permission(self, request, view):
        return user_scope(request.user)[0] in services.TREND_ROLES


class NeedGraphView(APIView):
    permission_classes = [permissions.IsAuthenticated, CanReadCustomers]

    @extend_schema(
        summary="客户需求图谱 A customer's need graph and why-path", responses={200: dict}
    )
    def get(self, request, pk):
        customer = (
            Customer.objects.restrict(request.user)
            .select_related("city", "county", "manager")
            .filter(pk=pk)
            .first()
        )
        if customer is None:
            raise NotFound("客户不存在或不在您的权限范围内 No such customer in your scope")
        record(request.user, "view_customer", customer, ip=request.META.get("REMOTE_ADDR"))
        day = services.as_of(customer)
        graph = services.customer_graph(customer, day)
        need = services.predicted_need(graph)
        tactics = services.similar_tactics(need, customer.city_id, services.top_cause(graph))
        return Response(
            {
                "customer": customer.pk,
                "subscriber_id": customer.subscriber_id,
                "as_of": day.isoformat(),
                "predicted_need": need,
                "predicted_need_label": taxonomy.load().need_label(need) if need else None,
                "why_path": services.need_path(graph),
                "similar_tactics": [_tactic(t) for t in tactics[:5]] if need else [],
                "satisfaction": [_prediction(p) for p in satisfaction.predict(graph)],
                **services.graph_rows(graph),
            }
        )


def _tactic(t: services.TacticEvidence) -> dict:
    return {
        "code": t.code,
        "name": t.name,
        "tries": t.tries,
        "accepted": t.accepted,
        "rate": t.rate,
        "source": t.source,
    }


def _prediction(p: satisfaction.Prediction) -> dict:
    return {
        "domain": p.domain,
        "label": str(p.label),
        "probability": round(p.probability, 4),
        "low": p.low,
        "path": p.path,
    }


class RisingCausesView(APIView):
    permission_classes = [permissions.IsAuthenticated, CanReadTrends]

    @extend_schema(
        summary="投诉原因趋势 Complaint causes rising by area",
        parameters=[
            OpenApiParameter("city", str, description="a city code in your scope"),
            OpenApiParameter("group", str, description="a cause group of the taxonomy"),
            OpenApiParameter("days", int, description="window: 7, 30 (default) or 90"),
            OpenApiParameter("min_count", int, description="complaints in the window (3)"),
            OpenApiParameter("date", str, description="YYYY-MM-DD (default: latest complaint)"),
        ],
        responses={200: dict},
    )
    def get(self, request):
        params = _rising_params(request.query_params)
        scoped = Complaint.objects.restrict(request.user)
        if params["city"]:
            scoped = scoped.filter(customer__city__code=params["city"])
        day = params["date"] or services.latest_complaint_day(scoped)
        rows = (
            services.rising_causes(scoped, day, params["days"], params["min_count"]) if day else []
        )
        if params["group"]:
            tax = taxonomy.load()
            rows = [r for r in rows if tax.group_of(r["cause"]) == params["group"]]
        return Response(
            {
                "date": day.isoformat() if day else None,
                "days": params["days"],
                "min_count": params["min_count"],
                "count": len(rows),
                "results": rows,
            }
        )


def _rising_params(query) -> dict:
    tax = taxonomy.load()
    group = query.get("group", "")
    if group and group not in tax.groups:
        raise ValidationError(
            {"group": [f"未知的原因大类 unknown cause group; one of {', '.join(tax.groups)}"]}
        )
    return {
        "city": _city(query.get("city", "")),
        "group": group,
        "days": _int(query, "days", 30, services.WINDOWS),
        "min_count": _int(query, "min_count", 3, range(1, MIN_COUNT_MAX + 1)),
        "date": _date(query.get("date", "")),
    }


def _city(code: str) -> str:
    if code and (len(code) > 16 or not code.isalnum()):
        raise ValidationError({"city": ["无效的城市编码 not a city code"]})
    return code


def _int(query, name: str, default: int, allowed) -> int:
    text = query.get(name, "")
    if not text:
        return default
    try:
        value = int(text)
    except ValueError:
        value = None
    if value not in allowed:
        raise ValidationError({name: [f"取值无效 not one of the allowed values ({allowed!s:.40})"]})
    return value


def _date(text: str) -> date | None:
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ValidationError({"date": ["日期无效，请使用 YYYY-MM-DD (use YYYY-MM-DD)"]}) from None
