"""The task page: customer 360 (masked), risk and health radar, scripts, and the workflow forms.

Every form posts the task version it was rendered with; ``keycare.tasks.actions`` refuses
the write when the task moved on (optimistic locking) and the user is told why, in Chinese,
through the messages framework. Nothing here trusts posted ids or dates: bad input becomes a
message, never a traceback.
"""

from datetime import timedelta

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Q
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.html import format_html_join
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from keycare.access.presenter import free_text, masked_value
from keycare.catalog.fields import load_catalog
from keycare.core.audit import record
from keycare.core.parsing import (
    EARLIEST_YEAR,
    LATEST_YEAR,
    DateTimeOutOfRange,
    posted_datetime,
    posted_int,
)
from keycare.errors import UserError
from keycare.moments.tactic_services import Suggester
from keycare.org.models import Department
from keycare.tasks import actions as task_actions
from keycare.tasks.models import (
    AppointmentKind,
    ContactResult,
    Outcome,
    Recommendation,
    ServiceTask,
    TaskMoment,
)
from keycare.tasks.payload import payload_queryset, task_payload
from keycare.web.labels import HealthDimension, has_labels, unit_label, value_label
from keycare.web.tactics import tactic_context
from keycare.web.task_rows import labels, next_open_task
from keycare.workorders import actions as workorder_actions
from keycare.workorders.models import WorkOrderPriority

RECENT_LIMIT = 10


@login_required
@require_http_methods(["GET", "POST"])
def task_detail(request, pk):
    if request.method == "POST":
        return _post(request, pk)
    task = _scoped_task(request.user, pk)
    suggester = Suggester()  # the library and active tactics, read once for the whole page
    payload = task_payload(task, masked=True, suggester=suggester)
    record(request.user, "view_customer", task.customer, task=task.pk)
    context = _context(request.user, task, payload, suggester.tactics)
    return render(request, "web/task_detail.html", context)


# --- reading ----------------------------------------------------------------------------


def _scoped_task(user, pk, action="view"):
    tasks = ServiceTask.objects.restrict(user, action)
    # A write needs only the task row (and reads a relation lazily, if at all), not the
    # payload's joins and moments: half the mix's POSTs are claims and completions.
    if action == "view":
        tasks = payload_queryset(tasks)
    task = tasks.filter(pk=pk).first()
    if task is None:
        raise Http404(_("任务不存在或不在您的权限范围内"))
    return task


def _context(user, task, payload, tactics):
    customer_tasks = ServiceTask.objects.restrict(user).filter(customer_id=task.customer_id)
    contacts = _contact_rows(customer_tasks)
    return {
        "task": task,
        "next_task": next_open_task(ServiceTask.objects.restrict(user), task),
        "payload": payload,
        "groups": catalog_groups(payload),
        "radar": _radar(task.health_scores),
        "recent_moments": _recent_moment_rows(customer_tasks),
        "contacts": contacts,
        # Completing may then reuse the recorded contact instead of logging a second one.
        "has_contact": any(o["task_id"] == task.pk for o in contacts),
        "contact_results": ContactResult.choices,
        "recommendations": Recommendation.choices,
        "appointment_kinds": AppointmentKind.choices,
        "departments": list(_departments_for(task).order_by("code").values("pk", "name")),
        "priorities": WorkOrderPriority.choices,
        "default_due": (timezone.localtime() + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M"),
        "default_title": "；".join(m["name"] for m in payload["moments"])[:100]
        or _("客户诉求协同"),
        **tactic_context(payload, tactics),
    }


# The history blocks read only the columns they print (no task or moment JSON per row).
def _recent_moment_rows(customer_tasks) -> list[dict]:
    rows = (
        TaskMoment.objects.filter(task__in=customer_tasks)
        .order_by("-task__business_date", "-priority")
        .values("task__business_date", "moment__code", "moment__name_zh", "explanation")
    )
    return [
        {
            "date": r["task__business_date"].isoformat(),
            "moment": f"{r['moment__code']} {r['moment__name_zh']}",
            "explanation": r["explanation"],
        }
        for r in rows[:RECENT_LIMIT]
    ]


def _contact_rows(customer_tasks) -> list[dict]:
    results, recommendations = labels(ContactResult), labels(Recommendation)
    rows = (
        Outcome.objects.filter(task__in=customer_tasks)
        .order_by("-recorded_at", "-id")
        .values(
            "task_id",
            "recorded_at",
            "contact_result",
            "recommendation",
            "notes",
            "recorded_by__username",
        )
    )
    return [
        {
            "task_id": r["task_id"],
            "at": timezone.localtime(r["recorded_at"]).strftime("%Y-%m-%d %H:%M"),
            "result": results.get(r["contact_result"], r["contact_result"]),
            "recommendation": recommendations.get(r["recommendation"], r["recommendation"]),
            "notes": free_text(r["notes"]),
            "by": r["recorded_by__username"] or "",
        }
        for r in rows[:RECENT_LIMIT]
    ]


def catalog_groups(payload):
    """Catalog fields with a value for this customer, grouped by category; personal ones masked
    (the customer 360 of the task page and the customer page).

    Labels (in the request's language), values and units are joined here: the 360 view prints
    ~150 rows per page view. Enumerated values and units are shown with their labels
    (``keycare.web.labels``: gotone -> 全球通, id_card -> 居民身份证, years -> 年).
    """
    catalog = load_catalog()
    english = (get_language() or "").startswith("en")
    values = {**payload["attributes"], **payload["customer"]}  # payload already masks known codes
    units = {unit: unit_label(unit) for unit in catalog.units}
    yes_no = {True: str(_("是")), False: str(_("否"))}
    groups = []
    for category in catalog.categories.values():
        rows = []
        for field in catalog.in_category(category.code):
            value = values.get(field.code)
            if value is None or value == "":
                continue
            if field.personal:
                value = masked_value(field.code, value, personal=True)
            elif isinstance(value, bool):
                value = yes_no[value]
            elif has_labels(field.code):
                value = value_label(field.code, value)
            unit = units.get(field.unit, field.unit) if field.unit else ""
            rows.append(
                {
                    "label": field.en if english else field.zh,
                    "code": field.code,
                    "value": f"{value} {unit}" if unit else value,
                }
            )
        if rows:
            groups.append(
                {
                    "zh": category.zh,
                    "en": category.en,
                    "name": category.en if english else category.zh,
                    "rows": rows,
                    "html": _kv_html(rows),
                }
            )
    return groups


def _kv_html(rows) -> str:
    # ~150 rows a page: escaped here in one pass, a third of the template engine's cost.
    return format_html_join(
        "", '<dt title="{}">{}</dt><dd>{}</dd>', ((r["code"], r["label"], r["value"]) for r in rows)
    )


def _radar(health_scores):
    scores = {k: v for k, v in (health_scores or {}).items() if isinstance(v, (int, float))}
    if not scores:
        return None
    top = max(100.0, *map(float, scores.values()))
    return {
        "indicators": [
            {"name": value_label(HealthDimension, str(name)), "max": top} for name in scores
        ],
        "values": [float(v) for v in scores.values()],
    }


# --- writing ----------------------------------------------------------------------------


def _post(request, pk):
    task = _scoped_task(request.user, pk, action="change")
    handler = POST_HANDLERS.get(request.POST.get("action", ""))
    if handler is None:
        messages.error(request, _("未知的操作，请刷新页面后重试"))
        return redirect("web:task-detail", pk=task.pk)
    try:
        version = _version(request)
        text = handler(request, task, version)
    except UserError as error:
        messages.error(request, str(error))
    else:
        messages.success(request, text)
    return redirect("web:task-detail", pk=task.pk)


def _version(request):
    version = posted_int(request.POST.get("version", ""), max_digits=9)
    if version is None:
        raise UserError(_("页面缺少任务版本号，请刷新后重试"))
    return version


def _claim(request, task, version):
    task_actions.claim_task(request.user, task, version=version)
    return _("已领取任务，开始处理")


def _outcome(request, task, version):
    outcome = {
        "contact_result": request.POST.get("contact_result", ""),
        "recommendation": request.POST.get("recommendation", Recommendation.NONE),
        "notes": request.POST.get("notes", "").strip(),
        "tactic": request.POST.get("tactic", "").strip() or None,
    }
    finish = request.POST.get("finish", "")
    if finish == "":
        task_actions.record_outcome(request.user, task, version=version, **outcome)
        return _("已记录接触结果")
    # 处理后有新预警 is not the manager's to choose: the next run's detections set it.
    if finish != "no_change":
        raise UserError(_("处理结论无效：%(value)r") % {"value": finish})
    if outcome["contact_result"] == "" and Outcome.objects.filter(task=task).exists():
        # The contact was already recorded ("仅记录" first): completing must not log it twice.
        outcome = None
    task_actions.complete_task(request.user, task, version=version, outcome=outcome)
    return _("任务已完成处理")


def _appointment(request, task, version):
    due_at = _parse_due(request.POST.get("due_at", ""))
    task_actions.create_appointment(
        request.user,
        task,
        kind=request.POST.get("kind", ""),
        due_at=due_at,
        notes=request.POST.get("notes", "").strip(),
        version=version,
    )
    when = f"{timezone.localtime(due_at):%Y-%m-%d %H:%M}"
    return _("已创建预约：%(when)s") % {"when": when}


def _parse_due(raw):
    try:
        due_at = posted_datetime(raw)
    except DateTimeOutOfRange:
        raise UserError(
            _("预约时间超出范围：%(value)r（年份须在 %(first)s 至 %(last)s 之间）")
            % {"value": raw, "first": EARLIEST_YEAR, "last": LATEST_YEAR}
        ) from None
    if due_at is None:
        raise UserError(_("预约时间无效：%(value)r（格式如 2026-11-23T15:30）") % {"value": raw})
    return due_at


def _departments_for(task):
    """The active departments a task's work order may go to: province-wide or its city's."""
    return Department.objects.filter(active=True).filter(
        Q(city__isnull=True) | Q(city_id=task.city_id)
    )


def _work_order(request, task, version):
    department = _department(task, request.POST.get("department", ""))
    order = workorder_actions.create_work_order(
        request.user,
        task,
        department=department,
        title=request.POST.get("title", ""),
        description=request.POST.get("description", "").strip(),
        priority=request.POST.get("priority", WorkOrderPriority.NORMAL),
        version=version,
    )
    return _("已派发工单 WO-%(id)s 至%(department)s") % {
        "id": order.pk,
        "department": department.name,
    }


def _department(task, raw):
    department_id = posted_int(raw)
    department = None
    if department_id is not None:
        department = _departments_for(task).filter(pk=department_id).first()
    if department is None:
        raise UserError(_("部门无效，请从列表中选择"))
    return department


POST_HANDLERS = {
    "claim": _claim,
    "outcome": _outcome,
    "appointment": _appointment,
    "workorder": _work_order,
}
