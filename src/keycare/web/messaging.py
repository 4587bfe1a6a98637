"""短信发送记录: the messages the outbox sent (or holds), for province and city administrators.

Scoped by ``restrict(user)`` (a city administrator sees their city; a message outside it is a
404), numbers masked on the server (``masked_customer``), filters by state, business date and
moment, counts per state for the filters in force, paginated; a message's page shows its
text, its history and the gateway's receipts. Viewing a message is audited. Resending a
failed, expired or held message goes through ``keycare.messaging.actions.resend``.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Count
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_date
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from keycare.access import roles
from keycare.access.presenter import free_text, masked_customer
from keycare.access.querysets import require_role
from keycare.core.audit import record
from keycare.errors import UserError
from keycare.messaging import actions
from keycare.messaging.models import (
    HoldReason,
    ReceiptKind,
    ReceiptStatus,
    SmsMessage,
    SmsState,
)
from keycare.moments.models import MomentDefinition
from keycare.tasks.models import TaskMoment
from keycare.web.task_rows import labels

SMS_ROLES = {roles.ROLE_PROVINCE_ADMIN, roles.ROLE_CITY_ADMIN}
PAGE_SIZE = 50


def _filters(request) -> dict:
    get = request.GET
    filters = {
        "state": get.get("state", ""),
        "date": get.get("date", ""),
        "moment": get.get("moment", "").strip().upper()[:8],
    }
    if filters["state"] not in SmsState.values:
        filters["state"] = ""
    try:
        day = parse_date(filters["date"]) if filters["date"] else None
    except ValueError:
        day = None
    if filters["date"] and day is None:
        messages.error(request, _("业务日期格式应为 YYYY-MM-DD，已忽略"))
    filters["date"] = day.isoformat() if day else ""
    if filters["moment"] and not filters["moment"].isalnum():
        filters["moment"] = ""
    return filters


def _filtered(messages_qs, filters):
    if filters["date"]:
        messages_qs = messages_qs.filter(business_date=filters["date"])
    if filters["moment"]:
        tasks = TaskMoment.objects.filter(moment__code=filters["moment"]).values("task_id")
        messages_qs = messages_qs.filter(task__in=tasks)
    return messages_qs


@login_required
def sms_list(request):
    require_role(request.user, SMS_ROLES, _("只有管理员可以查看短信发送记录"))
    filters = _filters(request)
    scoped = _filtered(SmsMessage.objects.restrict(request.user), filters)
    counts = dict(scoped.values_list("state").annotate(n=Count("*")).order_by())
    rows = scoped.filter(state=filters["state"]) if filters["state"] else scoped
    total = counts.get(filters["state"], 0) if filters["state"] else sum(counts.values())
    paginator = Paginator(rows.select_related("customer").order_by("-id"), PAGE_SIZE)
    paginator.count = total  # known from the state counts: no second COUNT
    page = paginator.get_page(request.GET.get("page"))
    return render(
        request,
        "web/messaging/sms_list.html",
        {
            "page": page,
            "rows": _rows(page),
            "filters": filters,
            "states": [(v, label, counts.get(v, 0)) for v, label in SmsState.choices],
            "total": sum(counts.values()),
            "policy": {
                "check_seconds": int(actions.SUBMIT_CHECK_AFTER.total_seconds()),
                "dlr_wait_minutes": int(actions.DLR_WAIT.total_seconds() // 60),
            },
            "moments": MomentDefinition.objects.exclude(category="no_service")
            .order_by("code")
            .values_list("code", "name_zh"),
        },
    )


def _rows(page) -> list[dict]:
    states, holds = labels(SmsState), labels(HoldReason)
    detail = sms_detail_urls()
    rows = []
    for message in page:
        shown = masked_customer(message.customer)
        rows.append(
            {
                "pk": message.pk,
                "url": detail(message.pk),
                "date": message.business_date,
                "name": shown["name"],
                "recipient": masked_customer({"msisdn": message.recipient}, ("msisdn",))["msisdn"],
                "moments": message.moment_codes,
                "text": free_text(message.text),
                "state": message.state,
                "state_label": states.get(message.state, message.state),
                "hold": holds.get(message.hold_reason, ""),
                "attempts": message.attempts,
                "submitted_at": message.submitted_at,
                "delivered_at": message.delivered_at,
            }
        )
    return rows


def sms_detail_urls():
    """pk -> the message's page on 短信发送记录 (one reverse() for a whole page of rows)."""
    marker = 987654321
    head, tail = reverse("web:sms-detail", args=[marker]).split(str(marker))
    return lambda pk: f"{head}{int(pk)}{tail}"


def _scoped_message(user, pk) -> SmsMessage:
    require_role(user, SMS_ROLES, _("只有管理员可以查看短信发送记录"))
    message = (
        SmsMessage.objects.restrict(user).select_related("customer", "city", "task").filter(pk=pk)
    ).first()
    if message is None:
        raise Http404(_("没有这条短信，或不在您的管辖范围内"))
    return message


@login_required
def sms_detail(request, pk):
    message = _scoped_message(request.user, pk)
    record(request.user, "sms.view", message)
    shown = masked_customer(message.customer)
    kinds, statuses = labels(ReceiptKind), labels(ReceiptStatus)
    receipts = [
        {
            "kind": kinds.get(r.kind, r.kind),
            "status": statuses.get(r.status, r.status),
            "dlr_type": r.dlr_type,
            "gateway_id": r.gateway_message_id,
            "detail": free_text(r.detail),
            "reported_at": timezone.localtime(r.reported_at),
            "received_at": timezone.localtime(r.received_at),
        }
        for r in message.receipts.order_by("reported_at", "id")
    ]
    return render(
        request,
        "web/messaging/sms_detail.html",
        {
            "message": message,
            "name": shown["name"],
            "recipient": masked_customer({"msisdn": message.recipient}, ("msisdn",))["msisdn"],
            "text": free_text(message.text),
            "reason": free_text(message.reason),
            "state_label": labels(SmsState).get(message.state, message.state),
            "hold_label": labels(HoldReason).get(message.hold_reason, ""),
            "receipts": receipts,
            "resendable": message.state in actions.RESENDABLE,
        },
    )


@login_required
@require_POST
def sms_resend(request, pk):
    message = _scoped_message(request.user, pk)
    try:
        actions.resend(request.user, message)
        messages.success(request, _("已重新放入发送队列"))
    except UserError as exc:
        messages.error(request, str(exc))
    return redirect("web:sms-detail", pk=message.pk)
