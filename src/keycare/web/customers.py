"""客户档案: the scoped, masked customer list, the customer 360 page, and unmasking one record.

Reads go through ``restrict()``; every personal field is masked on the server. A search and
a view of a customer are audited; showing one customer's data in clear goes through
``keycare.access.unmask`` (own permission, typed reason, audited, this response only).
"""

import re

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from keycare.access import roles
from keycare.access.presenter import free_text, masked_customer
from keycare.access.querysets import user_scope
from keycare.access.unmask import (
    MIN_REASON_LENGTH,
    can_unmask,
    clean_reason,
    deny_unless_allowed,
    unmask_customer,
)
from keycare.catalog.fields import load_catalog
from keycare.core.audit import record
from keycare.customers.models import Customer, ValueTier
from keycare.errors import UserError
from keycare.org.models import City, Manager
from keycare.runs import unified_view
from keycare.tasks.models import ServiceTask
from keycare.tasks.payload import _attributes, _basic_info
from keycare.web.task_detail import catalog_groups

PAGE_SIZE = 50
SEARCH_MAX = 32
MOBILE_RE = re.compile(r"1[3-9]\d{9}")
CUSTOMER_ROLES = set(roles.CUSTOMER_READERS)


def _require_customer_role(user) -> None:
    """The auditor (and a user without a role) sees no personal data at all: 403."""
    if not user.is_superuser and user_scope(user)[0] not in CUSTOMER_ROLES:
        raise PermissionDenied("当前角色无权查看客户档案")


def _ip(request):
    return request.META.get("REMOTE_ADDR")


# --- list -----------------------------------------------------------------------------


def _filtered(request, customers):
    """(filtered customers, filters actually applied); unknown values are ignored."""
    filters = {
        name: request.GET.get(name, "").strip()[:SEARCH_MAX]
        for name in ("city", "manager", "tier", "q")
    }
    if filters["city"]:
        customers = customers.filter(city__code=filters["city"])
    if filters["manager"]:
        customers = customers.filter(manager__manager_id=filters["manager"])
    if filters["tier"] in ValueTier.values:
        customers = customers.filter(value_tier=filters["tier"])
    else:
        filters["tier"] = ""
    if filters["q"]:
        # A subscriber ID (prefix of at least 3 characters, else exact): never a scan of names,
        # numbers or ID numbers, so the box cannot be used to enumerate people. Mobile numbers
        # are looked up by POST (``_find_by_mobile``) so they never sit in a URL or access log.
        q = filters["q"]
        lookup = "subscriber_id__startswith" if len(q) >= 3 else "subscriber_id"
        customers = customers.filter(**{lookup: q})
    return customers, filters


def _find_by_mobile(request, scoped):
    """POST msisdn=<full number>: the one customer in scope with it, or an error message."""
    msisdn = request.POST.get("msisdn", "").strip()[:SEARCH_MAX]
    found = scoped.filter(msisdn=msisdn).first() if MOBILE_RE.fullmatch(msisdn) else None
    record(
        request.user,
        "search",
        object_type="customers.customer",
        ip=_ip(request),
        filters={"msisdn": free_text(msisdn)},
        rows=int(found is not None),
    )
    if found is not None:
        return redirect("web:customer-detail", pk=found.pk)
    if not MOBILE_RE.fullmatch(msisdn):
        return "请输入 11 位完整手机号码"
    return "您的权限范围内没有该号码的客户"


def _row(customer) -> dict:
    return {
        "customer": customer,
        **masked_customer(customer),
        "manager": customer.manager.manager_id if customer.manager_id else "",
    }


@login_required
@require_http_methods(["GET", "POST"])
def customer_list(request):
    _require_customer_role(request.user)
    scoped = Customer.objects.restrict(request.user)
    error = ""
    if request.method == "POST":
        found = _find_by_mobile(request, scoped)
        if not isinstance(found, str):
            return found
        error = found
    customers, filters = _filtered(request, scoped)
    applied = {k: v for k, v in filters.items() if v}
    if applied:
        record(
            request.user,
            "search",
            object_type="customers.customer",
            ip=_ip(request),
            filters={k: free_text(v) for k, v in applied.items()},
        )
    if free_text(filters["q"]) != filters["q"]:
        # A mobile or ID number typed into the GET box: not echoed back into the page (nor
        # kept in the links); the user is pointed to the POST lookup instead.
        messages.error(request, "号码请使用“按完整手机号码查找”，用户标识栏只按用户标识筛选")
        kept = urlencode({k: v for k, v in filters.items() if v and k != "q"})
        return redirect(f"{reverse('web:customer-list')}?{kept}" if kept else "web:customer-list")
    page = Paginator(
        customers.select_related("city", "manager").order_by("subscriber_id"), PAGE_SIZE
    ).get_page(request.GET.get("page"))
    return render(
        request,
        "web/customers/list.html",
        {
            "page": page,
            "rows": [_row(c) for c in page],
            "filters": filters,
            "cities": City.objects.order_by("code").only("code", "name"),
            "managers": Manager.objects.restrict(request.user).order_by("manager_id"),
            "tiers": ValueTier.choices,
            "error": error,
        },
    )


# --- customer 360 ---------------------------------------------------------------------


def _scoped_customer(user, pk) -> Customer:
    customer = (
        Customer.objects.restrict(user)
        .select_related("city", "county", "grid", "manager")
        .filter(pk=pk)
        .first()
    )
    if customer is None:
        raise Http404("客户不存在或不在您的权限范围内")
    return customer


def _masked_facts(customer) -> dict:
    return masked_customer(customer, ("name", "msisdn", "id_number", "address"))


@login_required
def customer_detail(request, pk):
    _require_customer_role(request.user)
    customer = _scoped_customer(request.user, pk)
    record(request.user, "view_customer", customer, ip=_ip(request))
    view, derived = _view_values(customer)
    payload = {
        "customer": _basic_info(customer, masked=True),
        # The archive's values win: it is the newer record of what it stores.
        "attributes": {**derived, **_attributes(customer, masked=True)},
    }
    tasks = (
        ServiceTask.objects.restrict(request.user)
        .filter(customer_id=customer.pk)
        .order_by("-business_date", "-id")[:20]
    )
    return render(
        request,
        "web/customers/detail.html",
        {
            "customer": customer,
            "facts": _masked_facts(customer),
            "groups": catalog_groups(payload),
            "view": view,
            "tasks": list(tasks),
            "can_unmask": can_unmask(request.user),
        },
    )


def _view_values(customer) -> tuple:
    """(the published view, the customer's non-personal catalog values in it): every field
    of the 15 categories, raw and derived, as of the latest loaded run."""
    view = unified_view.current_view()
    row = unified_view.customer_row(view, customer.subscriber_id) if view else None
    if row is None:
        return view, {}
    personal = {f.code for f in load_catalog().fields if f.personal}
    return view, {
        code: round(value, 2) if isinstance(value, float) else value
        for code, value in row.items()
        if code not in personal and code != "business_date"
    }


# --- unmask one record ----------------------------------------------------------------


@never_cache  # the clear values live in this one response only; no cache may keep them
@login_required
@require_http_methods(["GET", "POST"])
def customer_unmask(request, pk):
    _require_customer_role(request.user)
    customer = _scoped_customer(request.user, pk)
    deny_unless_allowed(request.user, customer, ip=_ip(request))
    context = {
        "customer": customer,
        "facts": _masked_facts(customer),
        "min_length": MIN_REASON_LENGTH,
        "reason": "",
        "error": "",
        "clear": None,
    }
    if request.method == "POST":
        context["reason"] = request.POST.get("reason", "")[:2000]
        try:
            clean_reason(context["reason"])
            context["clear"] = unmask_customer(
                request.user, customer, context["reason"], ip=_ip(request)
            )
        except UserError as error:
            context["error"] = str(error)
    status = 400 if context["error"] else 200
    return render(request, "web/customers/unmask.html", context, status=status)
