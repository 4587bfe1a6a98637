"""预约: the follow-ups of a manager (their own) or an administrator (their scope), by status,
and the "done" action used here and on the manager workbench.

Statuses, in the local time zone: overdue (open, due before today), due (open, due today),
upcoming (open, due after today) and done. Every read goes through ``restrict(user)``; an
appointment outside the user's scope is a 404. Completing goes through
``keycare.tasks.actions.complete_appointment`` (one transaction, audited, refused twice).
"""

from datetime import datetime, time, timedelta

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Count, Q
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from keycare.access import roles
from keycare.access.presenter import free_text, masked_customer
from keycare.access.querysets import require_role
from keycare.errors import UserError
from keycare.tasks import actions as task_actions
from keycare.tasks.models import Appointment, AppointmentKind
from keycare.web.task_rows import labels, task_detail_urls

PAGE_SIZE = 50
APPOINTMENT_ROLES = {roles.ROLE_MANAGER, roles.ROLE_CITY_ADMIN, roles.ROLE_PROVINCE_ADMIN}
# (value, label) of the status tabs; "" lists every open appointment.
STATUSES = [
    ("", gettext_lazy("全部未完成")),
    ("overdue", gettext_lazy("已逾期")),
    ("due", gettext_lazy("今日到期")),
    ("upcoming", gettext_lazy("未到期")),
    ("done", gettext_lazy("已完成")),
]
NOTES_MAX = 500


def _status_filters() -> dict[str, Q]:
    today = timezone.make_aware(datetime.combine(timezone.localdate(), time.min))
    tomorrow = today + timedelta(days=1)
    open_ = Q(done_at__isnull=True)
    return {
        "": open_,
        "overdue": open_ & Q(due_at__lt=today),
        "due": open_ & Q(due_at__gte=today, due_at__lt=tomorrow),
        "upcoming": open_ & Q(due_at__gte=tomorrow),
        "done": Q(done_at__isnull=False),
    }


@login_required
def appointment_list(request):
    role, _scope = require_role(request.user, APPOINTMENT_ROLES)
    filters = _status_filters()
    status = request.GET.get("status", "")
    if status not in filters:
        status = ""
    scoped = Appointment.objects.restrict(request.user)
    counts = scoped.aggregate(
        **{key or "open": Count("id", filter=q) for key, q in filters.items()}
    )
    rows = scoped.filter(filters[status])
    rows = rows.order_by("-done_at", "-id") if status == "done" else rows.order_by("due_at", "id")
    total = counts[status or "open"]
    paginator = Paginator(rows, PAGE_SIZE)
    paginator.count = total  # known from the tab counts: no second COUNT
    page = paginator.get_page(request.GET.get("page"))
    return render(
        request,
        "web/appointment_list.html",
        {
            "page": page,
            "rows": _rows(page, status),
            "filters": {"status": status},
            "status": status,
            "tabs": [(key, label, counts[key or "open"]) for key, label in STATUSES],
            "show_manager": role != roles.ROLE_MANAGER,
        },
    )


def _rows(page, status) -> list[dict]:
    kinds = labels(AppointmentKind)
    detail_url = task_detail_urls()
    today = timezone.localdate()
    fields = (
        *("id", "due_at", "done_at", "kind", "notes", "task_id"),
        *("customer__name", "customer__msisdn", "manager__manager_id", "manager__name"),
    )
    rows = []
    for a in page.object_list.values(*fields):
        due = timezone.localtime(a["due_at"])
        if a["done_at"] is not None:
            state = _("已完成")
        elif due.date() < today:
            state = _("已逾期")
        elif due.date() == today:
            state = _("今日到期")
        else:
            state = _("未到期")
        rows.append(
            {
                "pk": a["id"],
                "due": due.strftime("%Y-%m-%d %H:%M"),
                "done": (
                    timezone.localtime(a["done_at"]).strftime("%Y-%m-%d %H:%M")
                    if a["done_at"]
                    else ""
                ),
                "state": state,
                "overdue": a["done_at"] is None and due.date() < today,
                "kind": kinds.get(a["kind"], a["kind"]),
                "notes": free_text(a["notes"]),
                "url": detail_url(a["task_id"]) if a["task_id"] else None,
                "manager": a["manager__name"] or "—",
                **masked_customer(a, prefix="customer__"),
            }
        )
    return rows


@login_required
@require_POST
def appointment_done(request, pk):
    require_role(request.user, APPOINTMENT_ROLES)
    appointment = Appointment.objects.restrict(request.user, "change").filter(pk=pk).first()
    if appointment is None:
        raise Http404(_("预约不存在或不在您的权限范围内"))
    notes = request.POST.get("notes", "").strip()[:NOTES_MAX]
    try:
        task_actions.complete_appointment(request.user, appointment, notes=notes)
    except UserError as error:
        messages.error(request, str(error))
    else:
        when = timezone.localtime(appointment.due_at).strftime("%Y-%m-%d %H:%M")
        messages.success(request, _("预约已完成：%(when)s") % {"when": when})
    return redirect(_next_url(request))


def _next_url(request) -> str:
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return "web:appointment-list"
