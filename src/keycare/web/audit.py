"""审计日志: the auditor searches and exports the audit log; nothing personal is shown.

Only the auditor role (and superusers) may open it. Searches and exports are themselves
audited. Free text in ``detail`` is shown through ``free_text`` so a mobile or ID number that
slipped into an event never reaches the screen or the spreadsheet.
"""

from __future__ import annotations

from datetime import date

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.shortcuts import render
from django.utils import timezone
from django.utils.dateparse import parse_date
from django.utils.translation import gettext as _

from keycare.access.presenter import free_text
from keycare.access.querysets import user_scope
from keycare.access.roles import ROLE_AUDITOR
from keycare.core.audit import object_type_aliases, record
from keycare.core.exports import xlsx_response
from keycare.core.models import AuditEvent
from keycare.web.labels import AuditAction, audit_detail_text, object_type_label, value_label

PAGE_SIZE = 50
EXPORT_ROW_CAP = 100_000
TEXT_FILTERS = ("actor", "action", "object_type", "object_id")
DATE_FILTERS = ("date_from", "date_to")


def _export_headers() -> list[str]:
    return [_("时间"), _("操作人"), _("操作"), _("对象类型"), _("对象编号"), _("详情"), "IP"]


def _require_auditor(user) -> None:
    role, _scope = user_scope(user)
    if not (user.is_superuser or role == ROLE_AUDITOR):
        raise PermissionDenied("the audit log is for auditors only")


def _parse_day(text: str) -> date | None:
    try:
        return parse_date(text) if text else None
    except ValueError:
        return None


def _filtered(params):
    """(filtered events, the filters actually applied); malformed dates are ignored."""
    filters = {name: params.get(name, "").strip()[:150] for name in TEXT_FILTERS + DATE_FILTERS}
    events = AuditEvent.objects.all()
    if filters["actor"]:
        events = events.filter(actor_name__icontains=filters["actor"])
    if filters["action"]:
        events = events.filter(action=filters["action"])
    if filters["object_type"]:
        events = events.filter(object_type__in=object_type_aliases(filters["object_type"]))
    if filters["object_id"]:
        events = events.filter(object_id=filters["object_id"])
    for name, lookup in (("date_from", "at__date__gte"), ("date_to", "at__date__lte")):
        day = _parse_day(filters[name])
        if day is None:
            filters[name] = ""
        else:
            events = events.filter(**{lookup: day})
    # Shown back in the form and written to the search's own audit event: a mobile or ID
    # number typed into a filter is masked like every other rendering of one.
    shown = {name: free_text(value) for name, value in filters.items()}
    return events.order_by("-at", "-id"), shown


def _detail_text(event: AuditEvent) -> str:
    """The detail as labelled "键：值" pairs (keycare.web.labels), never raw JSON."""
    if not event.detail:
        return ""
    return free_text(audit_detail_text(event.detail))


def _row(event: AuditEvent) -> dict:
    return {
        "at": timezone.localtime(event.at),
        "actor": event.actor_name,
        "action": value_label(AuditAction, event.action),
        "object_type": object_type_label(event.object_type) if event.object_type else "",
        "object_id": free_text(event.object_id),
        "detail": _detail_text(event),
        "ip": event.ip or "",
    }


def _export(request, events, filters):
    capped = events.only("at", "actor_name", "action", "object_type", "object_id", "detail", "ip")[
        :EXPORT_ROW_CAP
    ]
    rows = (list(_row(e).values()) for e in capped.iterator(chunk_size=2000))
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M%S")
    return xlsx_response(
        f"audit-log-{stamp}.xlsx",
        _export_headers(),
        rows,
        user=request.user,
        object_type="core.auditevent",
        filters={k: v for k, v in filters.items() if v},
    )


@login_required
def audit_list(request):
    _require_auditor(request.user)
    events, filters = _filtered(request.GET)
    applied = {k: v for k, v in filters.items() if v}
    if request.GET.get("export") == "xlsx":
        return _export(request, events, filters)
    if applied:
        record(request.user, "search", object_type="core.auditevent", filters=applied)
    page = Paginator(events, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "web/audit_list.html",
        {
            "page": page,
            "rows": [_row(e) for e in page],
            "filters": filters,
            "actions": AuditAction.choices,
        },
    )
