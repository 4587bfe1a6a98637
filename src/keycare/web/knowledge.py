"""服务知识图谱: a customer's need graph (why this need, what worked for similar customers)
and the complaint causes rising by area. Scoped and masked like the customer 360 page."""

from __future__ import annotations

from datetime import date

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.shortcuts import render

from keycare.access import roles
from keycare.access.presenter import customer_text, free_text
from keycare.access.querysets import user_scope
from keycare.complaints import taxonomy
from keycare.complaints.models import Complaint
from keycare.core.audit import record
from keycare.knowledge import satisfaction, services
from keycare.org.models import City
from keycare.web.customers import _require_customer_role, _scoped_customer

PAGE_SIZE = 50
TREND_ROLES = services.TREND_ROLES
WINDOWS = services.WINDOWS


@login_required
def need_graph(request, pk):
    _require_customer_role(request.user)
    customer = _scoped_customer(request.user, pk)
    record(request.user, "view_customer", customer, ip=request.META.get("REMOTE_ADDR"))
    day = services.as_of(customer)
    graph = services.customer_graph(customer, day)
    need = services.predicted_need(graph)
    tax = taxonomy.load()
    complaints = Complaint.objects.filter(customer=customer).select_related("customer")
    complaints = complaints.order_by("-occurred_at")[:20]
    return render(
        request,
        "web/knowledge/need_graph.html",
        {
            "customer": customer,
            "name": graph.nodes[f"customer:{customer.subscriber_id}"]["label"],
            "day": day,
            "chart": services.echarts_graph(graph),
            "path": services.need_path(graph),
            "need_label": tax.need_label(need) if need else "",
            "tactics": services.similar_tactics(need, customer.city_id, services.top_cause(graph))[
                :5
            ]
            if need
            else [],
            "complaints": [_complaint_row(c, tax) for c in complaints],
            "satisfaction": satisfaction.predict(graph),
        },
    )


def _complaint_row(c: Complaint, tax) -> dict:
    return {
        "complaint": c,
        "text": customer_text(c.text, c.customer),  # numbers, own name, address masked
        "cause": tax.cause_label(c.cause),
        "need": tax.need_label(c.need),
        "handling_result": customer_text(c.handling_result, c.customer),
    }


def _require_trend_role(user) -> None:
    if not user.is_superuser and user_scope(user)[0] not in TREND_ROLES:
        raise PermissionDenied("当前角色无权查看投诉原因趋势")


def _int(value, allowed, default):
    try:
        number = int(value)
    except (TypeError, ValueError):
        return default
    return number if number in allowed else default


@login_required
def rising_causes(request):
    _require_trend_role(request.user)
    scoped = Complaint.objects.restrict(request.user)
    filters = {
        "city": request.GET.get("city", ""),
        "group": request.GET.get("group", ""),
        "days": _int(request.GET.get("days"), WINDOWS, 30),
        "min_count": _int(request.GET.get("min_count"), range(1, 1000), 3),
    }
    if filters["city"]:
        scoped = scoped.filter(customer__city__code=filters["city"])
    day = _as_of(request, request.GET.get("date")) or services.latest_complaint_day(scoped)
    rows = services.rising_causes(scoped, day, filters["days"], filters["min_count"]) if day else []
    if filters["group"]:
        rows = [r for r in rows if taxonomy.load().group_of(r["cause"]) == filters["group"]]
    page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "web/knowledge/rising.html",
        {
            "page": page,
            "rows": list(page),
            "day": day,
            "filters": {k: str(v) for k, v in filters.items()},
            "cities": _cities(request.user),
            "groups": [(k, taxonomy.load().group_label(k)) for k in taxonomy.load().groups],
            "windows": WINDOWS,
        },
    )


def _as_of(request, text) -> date | None:
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:
        messages.error(
            request, f"日期“{free_text(text)[:20]}”无效，请使用 YYYY-MM-DD；已按最近投诉日期统计"
        )
        return None


def _cities(user):
    role, value = user_scope(user)
    cities = City.objects.order_by("code")
    if role in (roles.ROLE_CITY_ADMIN, roles.ROLE_ANALYST) and value:
        return cities.filter(pk=value)
    return cities
