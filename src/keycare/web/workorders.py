"""工单 / 渠道协同 (work orders): department queues with an SLA clock, start and close.

Managers raise work orders from their tasks (the task page) and follow them here; they see
the orders of their own tasks. Administrators see the orders of their scope and work the
department queues on the departments' behalf: they start an order and close it with its
resolution, which is reported back on the originating task (``workorder_actions.close_work_order``).
Overdue orders are escalated by ``keycare escalate`` (cron); the list marks overdue orders
straight away, escalated or not yet.
"""

from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Count, Q
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from keycare.access import roles
from keycare.access.presenter import free_text, masked_customer
from keycare.access.querysets import require_role
from keycare.core.models import AuditEvent
from keycare.core.parsing import posted_int
from keycare.errors import UserError
from keycare.keyaccounts import standards
from keycare.org.models import Department
from keycare.workorders import actions as workorder_actions
from keycare.workorders.models import WorkOrder, WorkOrderPriority, WorkOrderStatus

PAGE_SIZE = 50
READER_ROLES = {roles.ROLE_MANAGER, roles.ROLE_PROVINCE_ADMIN, roles.ROLE_CITY_ADMIN}
# Administrators work the department queues (there is no department role yet).
HANDLER_ROLES = {roles.ROLE_PROVINCE_ADMIN, roles.ROLE_CITY_ADMIN}
OPEN_STATUSES = (WorkOrderStatus.OPEN, WorkOrderStatus.IN_PROGRESS, WorkOrderStatus.ESCALATED)
HISTORY_LIMIT = 20
HISTORY_LABELS = {
    "workorder.create": "派发",
    "workorder.start": "受理",
    "workorder.escalate": "超时升级",
    "workorder.close": "关闭",
}


def _require_reader(user):
    return require_role(user, READER_ROLES, "您的角色不能查看工单")[0]


@login_required
def workorder_list(request):
    role = _require_reader(request.user)
    now = timezone.now()
    scoped = WorkOrder.objects.restrict(request.user)
    departments = list(Department.objects.order_by("code"))
    filters, orders = _filtered(request, scoped, departments, now)
    stats = scoped.aggregate(
        **{s: Count("id", filter=Q(status=s)) for s in WorkOrderStatus.values},
        overdue=Count("id", filter=Q(status__in=OPEN_STATUSES, due_at__lt=now)),
    )
    queues = dict(
        scoped.filter(status__in=OPEN_STATUSES)
        .values_list("department_id")
        .annotate(n=Count("id"))
        .order_by()
    )
    page = Paginator(
        orders.select_related("customer", "department", "task__manager", "created_by").order_by(
            _ordering(filters["status"]), "id"
        ),
        PAGE_SIZE,
    ).get_page(request.GET.get("page"))
    return render(
        request,
        "web/workorders/list.html",
        {
            "page": page,
            "rows": [_row(order, now) for order in page],
            "filters": filters,
            "query": urlencode({k: v for k, v in filters.items() if v}),
            "stats": [(s, label, stats[s]) for s, label in WorkOrderStatus.choices],
            "overdue": stats["overdue"],
            "queues": [(d, queues.get(d.pk, 0)) for d in departments],
            "departments": departments,
            "statuses": WorkOrderStatus.choices,
            "priorities": WorkOrderPriority.choices,
            "is_handler": role in HANDLER_ROLES,
        },
    )


def _filtered(request, orders, departments, now):
    filters = {
        "department": request.GET.get("department", ""),
        "status": request.GET.get("status", ""),
        "priority": request.GET.get("priority", ""),
        "overdue": request.GET.get("overdue", ""),
    }
    codes = {d.code: d for d in departments}
    if filters["department"] in codes:
        orders = orders.filter(department=codes[filters["department"]])
    else:
        filters["department"] = ""
    if filters["status"] == "open":
        orders = orders.filter(status__in=OPEN_STATUSES)
    elif filters["status"] in WorkOrderStatus.values:
        orders = orders.filter(status=filters["status"])
    else:
        filters["status"] = ""
    if filters["priority"] in WorkOrderPriority.values:
        orders = orders.filter(priority=filters["priority"])
    else:
        filters["priority"] = ""
    if filters["overdue"] == "1":
        orders = orders.filter(status__in=OPEN_STATUSES, due_at__lt=now)
    else:
        filters["overdue"] = ""
    return filters, orders


def _ordering(status):
    # Open queues by deadline (most urgent first); closed ones most recent first.
    return "-closed_at" if status == WorkOrderStatus.CLOSED else "due_at"


def sla_clock(order, now) -> dict:
    """Time left, or overdue by, for an open order; met or missed for a closed one."""
    if order.status == WorkOrderStatus.CLOSED and order.closed_at:
        late = order.closed_at - order.due_at
        if late.total_seconds() > 0:
            return {"text": f"超时 {_duration(late)} 后关闭", "css": "warn", "overdue": False}
        return {"text": "在时限内关闭", "css": "ok", "overdue": False}
    left = order.due_at - now
    if left.total_seconds() < 0:
        return {"text": f"已超时 {_duration(-left)}", "css": "bad", "overdue": True}
    return {"text": f"剩余 {_duration(left)}", "css": "", "overdue": False}


def _duration(delta) -> str:
    minutes = int(delta.total_seconds() // 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    if days:
        return f"{days}天{hours}小时"
    if hours:
        return f"{hours}小时{minutes}分"
    return f"{minutes}分"


def _row(order, now):
    return {
        "order": order,
        "title": free_text(order.title),
        **masked_customer(order.customer),
        "sla": sla_clock(order, now),
    }


# --- detail -----------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def workorder_detail(request, pk):
    role = _require_reader(request.user)
    order = (
        WorkOrder.objects.restrict(request.user)
        .select_related("customer", "department", "task__manager", "created_by", "closed_by")
        .filter(pk=pk)
        .first()
    )
    if order is None:
        raise Http404("工单不存在或不在您的权限范围内")
    if request.method == "POST":
        return _post(request, role, order)
    history = AuditEvent.objects.filter(
        object_type="workorders.workorder", object_id=str(order.pk)
    ).order_by("at", "id")[:HISTORY_LIMIT]
    return render(
        request,
        "web/workorders/detail.html",
        {
            "order": order,
            **masked_customer(order.customer),
            "title": free_text(order.title),
            "description": free_text(order.description),
            "resolution": free_text(order.resolution),
            "sla": sla_clock(order, timezone.now()),
            "fault_label": standards.current()[1]["fault_classes"].get(
                order.fault_class, order.fault_class
            ),
            "history": [
                {"at": e.at, "who": e.actor_name, "what": HISTORY_LABELS.get(e.action, e.action)}
                for e in history
            ],
            "is_handler": role in HANDLER_ROLES,
            "is_open": order.status in OPEN_STATUSES,
        },
    )


def _post(request, role, order):
    if role not in HANDLER_ROLES:
        raise PermissionDenied("只有管理员（代协同部门）可以受理或关闭工单")
    action = request.POST.get("action", "")
    version = _version(request.POST.get("version", ""))
    if version is None:
        messages.error(request, "页面缺少工单版本号，请刷新后重试")
        return redirect("web:workorder-detail", pk=order.pk)
    try:
        if action == "start":
            workorder_actions.start_work_order(request.user, order, version=version)
            messages.success(request, f"已受理工单 WO-{order.pk}")
        elif action == "close":
            resolution = request.POST.get("resolution", "")[:4000]
            workorder_actions.close_work_order(
                request.user, order, resolution=resolution, version=version
            )
            messages.success(request, f"工单 WO-{order.pk} 已关闭，处理结果已反馈到原任务")
        else:
            messages.error(request, "未知的操作，请刷新页面后重试")
    except UserError as error:
        messages.error(request, str(error))
    return redirect("web:workorder-detail", pk=order.pk)


def _version(raw):
    return posted_int(raw, max_digits=9)
