"""投诉文本: complaints and consultations in the customers' own words, with the predicted cause,
need and confidence, filterable the way a service-quality analyst reads them. Scoped, masked.

待复核: the review queue of low-confidence readings, least confident first, where an analyst
corrects a wrong cause or need (audited, versioned; corrections feed the next
``keycare complaints train``)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from keycare.access.presenter import customer_text, free_text, masked_customer
from keycare.access.querysets import require_role, user_scope
from keycare.complaints import actions, services, taxonomy
from keycare.complaints.models import Complaint, ComplaintKind, LabelSource
from keycare.core.audit import record
from keycare.errors import UserError
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
        complaints = complaints.filter(confidence__lt=services.LOW_CONFIDENCE)
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
            "can_review": _can_review(request.user),
            "to_review": services.review_queue(Complaint.objects.restrict(request.user)).count(),
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
        "text": customer_text(c.text, c.customer),
        "cause": tax.cause_label(c.cause) if c.cause else "—",
        "need": tax.need_label(c.need) if c.need else "—",
        "handling_result": customer_text(c.handling_result, c.customer),
    }


def _can_review(user) -> bool:
    return user_scope(user)[0] in actions.REVIEW_ROLES


@login_required
def review_queue(request):
    require_role(request.user, actions.REVIEW_ROLES, "当前角色无权复核投诉原因")
    queue = services.review_queue(Complaint.objects.restrict(request.user))
    page = Paginator(queue.select_related("customer"), PAGE_SIZE).get_page(request.GET.get("page"))
    tax = taxonomy.load()
    record(request.user, "search", object_type="complaints.review", rows=page.paginator.count)
    return render(
        request,
        "web/complaints/review.html",
        {
            "page": page,
            "rows": [_row(c, tax) for c in page],
            "causes": [(k, tax.cause_label(k)) for k in tax.causes],
            "needs": [(k, tax.need_label(k)) for k in tax.needs],
            "threshold": services.LOW_CONFIDENCE,
            "corrected": Complaint.objects.restrict(request.user)
            .filter(label_source=LabelSource.ANALYST)
            .count(),
        },
    )


@login_required
@require_POST
def correct_label(request, pk):
    require_role(request.user, actions.REVIEW_ROLES, "当前角色无权更正投诉原因")
    # A label is the analysts' own work product, not the customer's data: the rows they may
    # read (their scope) are the rows they may label; REVIEW_ROLES gates who labels at all.
    complaint = Complaint.objects.restrict(request.user).filter(pk=pk).first()
    if complaint is None:
        raise Http404("投诉不存在或不在您的权限范围内")
    post = request.POST
    try:
        label = actions.correct_label(
            request.user,
            complaint,
            post.get("cause", ""),
            post.get("need", ""),
            post.get("note", ""),
            version=post.get("version", ""),
        )
    except UserError as exc:
        messages.error(request, str(exc))
    else:
        tax = taxonomy.load()
        messages.success(
            request,
            _("已更正 %(event)s：%(cause)s，%(need)s（标注版本 %(version)d）")
            % {
                "event": complaint.event_id,
                "cause": tax.cause_label(label.cause),
                "need": tax.need_label(label.need),
                "version": label.version,
            },
        )
    target = post.get("next", "")
    if not url_has_allowed_host_and_scheme(target, {request.get_host()}, request.is_secure()):
        target = ""
    return redirect(target or "web:complaint-review")
