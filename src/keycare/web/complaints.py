"""投诉文本: complaints and consultations in the customers' own words, with the predicted cause,
need and confidence, filterable the way a service-quality analyst reads them. Scoped, masked."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.shortcuts import render

from keycare.access.presenter import free_text, masked_customer
from keycare.complaints import taxonomy
from keycare.complaints.models import Complaint, ComplaintKind
from keycare.core.audit import record
from keycare.web.customers import _require_customer_role

PAGE_SIZE = 50
SEARCH_MAX = 20
RESOLVED = {"yes": True, "no": False}


def _filtered(request, complaints):
    tax = taxonomy.load()
    filters = {
        "kind": request.GET.get("kind", "")
        if request.GET.get("kind") in ComplaintKind.values
        else "",
        "group": request.GET.get("group", "") if request.GET.get("group") in tax.groups else "",
        "cause": request.GET.get("cause", "") if request.GET.get("cause") in tax.causes else "",
        "need": request.GET.get("need", "") if request.GET.get("need") in tax.needs else "",
        "resolved": request.GET.get("resolved", "")
        if request.GET.get("resolved") in RESOLVED
        else "",
        "low": "1" if request.GET.get("low") == "1" else "",
        "q": free_text(request.GET.get("q", "").strip())[:SEARCH_MAX],
    }
    for key, field in (
        ("kind", "kind"),
        ("group", "cause_group"),
        ("cause", "cause"),
        ("need", "need"),
    ):
        if filters[key]:
            complaints = complaints.filter(**{field: filters[key]})
    if filters["resolved"]:
        complaints = complaints.filter(resolved=RESOLVED[filters["resolved"]])
    if filters["low"]:
        complaints = complaints.filter(confidence__lt=0.6)  # the ones worth a human look
    if filters["q"]:
        complaints = complaints.filter(text__contains=filters["q"])
    return complaints, filters


@login_required
def complaint_list(request):
    _require_customer_role(request.user)
    complaints, filters = _filtered(request, Complaint.objects.restrict(request.user))
    applied = {k: v for k, v in filters.items() if v}
    if applied:
        record(request.user, "search", object_type="complaints.complaint", filters=applied)
    page = Paginator(
        complaints.select_related("customer").order_by("-occurred_at", "-id"), PAGE_SIZE
    ).get_page(request.GET.get("page"))
    tax = taxonomy.load()
    return render(
        request,
        "web/complaints/list.html",
        {
            "page": page,
            "rows": [_row(c, tax) for c in page],
            "filters": filters,
            "kinds": ComplaintKind.choices,
            "groups": [(k, tax.group_label(k)) for k in tax.groups],
            "causes": [(k, tax.cause_label(k)) for k in tax.causes],
            "needs": [(k, tax.need_label(k)) for k in tax.needs],
        },
    )


def _row(c: Complaint, tax) -> dict:
    return {
        "complaint": c,
        "name": masked_customer(c.customer)["name"],
        "text": free_text(c.text),
        "cause": tax.cause_label(c.cause) if c.cause else "—",
        "need": tax.need_label(c.need) if c.need else "—",
        "handling_result": free_text(c.handling_result),
    }
