"""计划活动 (campaigns): list with progress, create from a segment, progress per manager, and
the manager's own campaign tasks with an outcome form.

Administrators create campaigns and follow them; account managers see the campaigns they have
tasks in and record each contact. Every read goes through ``restrict()``: counts and rows are
those of the user's scope (a city administrator sees their city's part of a province
campaign). Writes go through ``keycare.campaigns.actions``.
"""

from datetime import datetime, time, timedelta
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Count, F, Q
from django.http import Http404, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_date
from django.views.decorators.http import require_http_methods, require_POST

from keycare.access import roles
from keycare.access.presenter import free_text, masked_customer
from keycare.access.querysets import require_role
from keycare.campaigns import actions as campaign_actions
from keycare.campaigns.actions import AssignMode
from keycare.campaigns.models import Campaign, CampaignStatus, CampaignTask, Segment
from keycare.campaigns.segments import (
    SegmentError,
    conditions_of,
    parse_conditions,
    segment_count,
)
from keycare.campaigns.segments import segment_customers as scoped_segment_customers
from keycare.core.parsing import posted_int
from keycare.errors import UserError
from keycare.org.models import Manager
from keycare.tasks.models import ContactResult, Recommendation
from keycare.web import labels
from keycare.web.segments import require_admin

PAGE_SIZE = 30
TASK_PAGE_SIZE = 50
CAMPAIGN_ROLES = {roles.ROLE_MANAGER, roles.ROLE_PROVINCE_ADMIN, roles.ROLE_CITY_ADMIN}
DEFAULT_PERIOD_DAYS = 14
MAX_PERIOD_DAYS = 366
MAX_VERSION = 2**31 - 1
# Created inside the request: 83,300 tasks took 37 s on the shared 2-core machine (see
# docs/workflow.md), so larger selections are refused with a way forward.
MAX_CAMPAIGN_CUSTOMERS = 20_000
# Effective status shown and filtered on: an active campaign past its end date has ended.
STATUS_FILTERS = {
    "active": "进行中",
    "ended": "已结束",
    "draft": "草稿",
}


def _require_role(user):
    return require_role(user, CAMPAIGN_ROLES, "您的角色不能查看计划活动")


def _visible(user, role):
    """Campaigns the user may open: those with tasks in their scope, and (administrators)
    those of their city or province."""
    with_tasks = Q(pk__in=CampaignTask.objects.restrict(user).values("campaign_id"))
    if role == roles.ROLE_MANAGER:
        return Campaign.objects.filter(with_tasks)
    return Campaign.objects.filter(
        with_tasks | Q(pk__in=Campaign.objects.restrict(user).values("pk"))
    )


def _today_start():
    return timezone.make_aware(datetime.combine(timezone.localdate(), time.min))


def _progress(tasks):
    """total / done / done today for a CampaignTask queryset, as aggregate expressions."""
    return {
        "total": Count("id"),
        "done": Count("id", filter=Q(done_at__isnull=False)),
        "today": Count("id", filter=Q(done_at__gte=_today_start())),
    }


def _percent(done, total):
    return round(100 * done / total) if total else 0


def _effective_status(campaign, today):
    if campaign.status == CampaignStatus.FINISHED or (
        campaign.status == CampaignStatus.ACTIVE and campaign.end_date and campaign.end_date < today
    ):
        return "ended", STATUS_FILTERS["ended"]
    return campaign.status, campaign.get_status_display()


# --- list -------------------------------------------------------------------------------


@login_required
def campaign_list(request):
    role, _scope = _require_role(request.user)
    today = timezone.localdate()
    filters = {
        "status": request.GET.get("status", ""),
        "q": request.GET.get("q", "").strip()[:100],
    }
    campaigns = _visible(request.user, role)
    if filters["status"] == "active":
        campaigns = campaigns.filter(status=CampaignStatus.ACTIVE).exclude(end_date__lt=today)
    elif filters["status"] == "ended":
        campaigns = campaigns.filter(
            Q(status=CampaignStatus.FINISHED) | Q(status=CampaignStatus.ACTIVE, end_date__lt=today)
        )
    elif filters["status"] == "draft":
        campaigns = campaigns.filter(status=CampaignStatus.DRAFT)
    else:
        filters["status"] = ""
    if filters["q"]:
        campaigns = campaigns.filter(name__icontains=filters["q"])
    page = Paginator(
        campaigns.select_related("segment", "city").order_by("-start_date", "-id"), PAGE_SIZE
    ).get_page(request.GET.get("page"))
    tasks = CampaignTask.objects.restrict(request.user)
    progress = {
        row["campaign_id"]: row
        for row in tasks.filter(campaign_id__in=[c.pk for c in page])
        .values("campaign_id")
        .annotate(**_progress(tasks))
        .order_by()
    }
    rows = []
    for campaign in page:
        counts = progress.get(campaign.pk, {"total": 0, "done": 0, "today": 0})
        status, status_label = _effective_status(campaign, today)
        rows.append(
            {
                "campaign": campaign,
                "status": status,
                "status_label": status_label,
                **counts,
                "percent": _percent(counts["done"], counts["total"]),
            }
        )
    return render(
        request,
        "web/campaigns/list.html",
        {
            "page": page,
            "rows": rows,
            "filters": filters,
            "statuses": STATUS_FILTERS.items(),
            "query": urlencode({k: v for k, v in filters.items() if v}),
            "is_admin": role != roles.ROLE_MANAGER,
        },
    )


# --- create -----------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def campaign_new(request):
    role, scope = require_admin(request.user)
    segments = Segment.objects.restrict(request.user).order_by("name", "id")
    managers = Manager.objects.restrict(request.user).filter(active=True).order_by("manager_id")
    today = timezone.localdate()
    form = {
        "name": "",
        "description": "",
        "script": "",
        "segment": request.GET.get("segment", ""),
        "start_date": today.isoformat(),
        "end_date": (today + timedelta(days=DEFAULT_PERIOD_DAYS - 1)).isoformat(),
        "mode": AssignMode.OWN,
        "managers": [],
    }
    status = 200
    if request.method == "POST":
        form.update(
            {
                key: request.POST.get(key, "").strip()
                for key in ("name", "description", "script", "segment", "start_date", "end_date")
            }
        )
        form["mode"] = request.POST.get("mode", "")
        form["managers"] = request.POST.getlist("managers")[:5000]
        try:
            campaign = _create(request.user, role, scope, form, segments, managers)
        except UserError as error:
            messages.error(request, str(error))
            status = 400
        else:
            _warn_overload(request, campaign)
            messages.success(
                request, f"计划活动“{campaign.name}”已创建，共 {campaign.task_total} 位客户"
            )
            return redirect("web:campaign-detail", pk=campaign.pk)
    segment = _segment_or_none(segments, form["segment"])
    return render(
        request,
        "web/campaigns/new.html",
        {
            "form": form,
            "segments": list(segments),
            "managers": list(managers),
            "modes": labels.AssignMode.choices,  # translated labels of the same codes
            "preview": _preview(request.user, segment) if segment else None,
        },
        status=status,
    )


def _segment_or_none(segments, raw):
    pk = _as_id(raw)
    return segments.filter(pk=pk).first() if pk is not None else None


def _as_id(raw):
    """A posted primary key, or None when it is not one (not digits, or beyond any id)."""
    return posted_int(raw)


def _clean_segment(segment):
    try:
        return parse_conditions(conditions_of(segment.filter))
    except SegmentError as error:
        raise UserError(
            f"客户群“{segment.name}”的条件已失效，请先修改客户群：{'；'.join(error.messages)}"
        ) from None


def _preview(user, segment):
    """The segment's size in the user's scope and how it splits over the customers' managers."""
    try:
        clean = _clean_segment(segment)
        total = segment_count(user, clean, "change")
    except UserError as error:
        return {"error": str(error)}
    if total > MAX_CAMPAIGN_CUSTOMERS:
        return {"total": total, "by_manager": []}  # too many for one campaign anyway
    customers = scoped_segment_customers(user, clean, "change", MAX_CAMPAIGN_CUSTOMERS)
    by_manager = list(
        customers.values("manager__manager_id", "manager__name", "manager__active")
        .annotate(n=Count("id"))
        .order_by("-n", "manager__manager_id")[:20]
    )
    return {"total": total, "by_manager": by_manager}


def _parse_day(raw, what):
    try:
        day = parse_date(raw) if raw else None
    except ValueError:
        day = None
    if day is None:
        raise UserError(f"{what}无效：{raw!r}（格式如 2026-11-23）")
    return day


def _create(user, role, scope, form, segments, managers):
    segment = _segment_or_none(segments, form["segment"])
    if segment is None:
        raise UserError("请选择客户群（或客户群不在您的权限范围内）")
    start = _parse_day(form["start_date"], "开始日期")
    end = _parse_day(form["end_date"], "结束日期")
    if end < start:
        raise UserError("结束日期不能早于开始日期")
    if (end - start).days + 1 > MAX_PERIOD_DAYS:
        raise UserError(f"活动期最长 {MAX_PERIOD_DAYS} 天")
    if len(form["name"]) > 100:
        raise UserError("活动名称最多 100 个字符")
    ids = {_as_id(m) for m in form["managers"]}
    chosen = list(managers.filter(pk__in=ids - {None}))
    if len(chosen) != len(ids):
        raise UserError("所选经理中有不在您权限范围内或已停用的经理，请刷新后重新选择")
    days = (end - start).days + 1
    clean = _clean_segment(segment)
    size = segment_count(user, clean, "change")
    if size > MAX_CAMPAIGN_CUSTOMERS:
        raise UserError(
            f"客户群有 {size} 位客户，一个活动最多 {MAX_CAMPAIGN_CUSTOMERS} 位："
            "请缩小客户群（例如按地市或区县分别创建）"
        )
    customers = scoped_segment_customers(user, clean, "change", MAX_CAMPAIGN_CUSTOMERS)
    campaign = campaign_actions.create_campaign(
        user,
        name=form["name"],
        customers=customers,
        managers=chosen,
        segment=segment,
        start_date=start,
        end_date=end,
        description=form["description"],
        script=form["script"],
        city_id=scope if role == roles.ROLE_CITY_ADMIN else None,
        mode=form["mode"],
        capacity={m.pk: m.daily_capacity * days for m in chosen},
    )
    campaign.task_total = campaign.tasks.count()
    return campaign


def _warn_overload(request, campaign):
    """Own-manager assignment keeps every customer with their manager, even past capacity:
    say so, so the administrator can move customers or extend the period."""
    days = (campaign.end_date - campaign.start_date).days + 1
    over = [
        f"{row['manager__manager_id']}（{row['n']}/{row['manager__daily_capacity'] * days}）"
        for row in campaign.tasks.values("manager__manager_id", "manager__daily_capacity")
        .annotate(n=Count("id"))
        .order_by("manager__manager_id")
        if row["manager__daily_capacity"] is not None
        and row["n"] > row["manager__daily_capacity"] * days
    ]
    if over:
        messages.warning(
            request, "以下经理的活动客户数超过其活动期服务能力（客户数/能力）：" + "、".join(over)
        )


# --- detail -----------------------------------------------------------------------------


@login_required
def campaign_detail(request, pk):
    role, _scope = _require_role(request.user)
    campaign = (
        _visible(request.user, role).select_related("segment", "created_by").filter(pk=pk).first()
    )
    if campaign is None:
        raise Http404("活动不存在或不在您的权限范围内")
    tasks = CampaignTask.objects.restrict(request.user).filter(campaign=campaign)
    totals = tasks.aggregate(**_progress(tasks))
    filters, filtered = _task_filters(request, tasks)
    page = Paginator(
        filtered.select_related("customer", "manager").order_by(
            F("done_at").asc(nulls_first=True), "id"
        ),
        TASK_PAGE_SIZE,
    ).get_page(request.GET.get("page"))
    is_manager = role == roles.ROLE_MANAGER
    status, status_label = _effective_status(campaign, timezone.localdate())
    return render(
        request,
        "web/campaigns/detail.html",
        {
            "campaign": campaign,
            "status": status,
            "status_label": status_label,
            "totals": {**totals, "percent": _percent(totals["done"], totals["total"])},
            "managers": None if is_manager else _manager_progress(request, tasks),
            "page": page,
            "rows": [_task_row(t) for t in page],
            "filters": filters,
            "query": urlencode({k: v for k, v in filters.items() if v}),
            "is_manager": is_manager,
            "can_record": is_manager and campaign.status != CampaignStatus.FINISHED,
            "can_finish": not is_manager and campaign.status == CampaignStatus.ACTIVE,
            "contact_results": ContactResult.choices,
            "recommendations": Recommendation.choices,
        },
    )


def _task_filters(request, tasks):
    filters = {
        "state": request.GET.get("state", ""),
        "manager": request.GET.get("manager", "").strip()[:32],
        "result": request.GET.get("result", ""),
    }
    if filters["state"] == "open":
        tasks = tasks.filter(done_at__isnull=True)
    elif filters["state"] == "done":
        tasks = tasks.filter(done_at__isnull=False)
    else:
        filters["state"] = ""
    if filters["manager"]:
        tasks = tasks.filter(manager__manager_id=filters["manager"])
    if filters["result"] in ContactResult.values:
        tasks = tasks.filter(contact_result=filters["result"])
    else:
        filters["result"] = ""
    return filters, tasks


def _manager_progress(request, tasks):
    rows = (
        tasks.values("manager__manager_id", "manager__name")
        .annotate(
            **_progress(tasks),
            reached=Count("id", filter=Q(contact_result=ContactResult.REACHED)),
            accepted=Count("id", filter=Q(recommendation=Recommendation.ACCEPTED)),
        )
        .order_by("manager__manager_id")
    )
    page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("mpage"))
    for row in page:
        row["percent"] = _percent(row["done"], row["total"])
    return page


def _task_row(task):
    return {
        "task": task,
        "notes": free_text(task.notes),
        **masked_customer(task.customer),
    }


@login_required
@require_POST
def campaign_finish(request, pk):
    """An administrator ends an active campaign early."""
    role, _scope = require_admin(request.user)
    campaign = _visible(request.user, role).filter(pk=pk).first()
    if campaign is None:
        raise Http404("活动不存在或不在您的权限范围内")
    try:
        campaign_actions.finish_campaign(request.user, campaign)
    except UserError as error:
        messages.error(request, str(error))
    else:
        messages.success(request, f"计划活动“{campaign.name}”已结束")
    return redirect("web:campaign-detail", pk=campaign.pk)


# --- the manager's outcome --------------------------------------------------------------


@login_required
@require_POST
def campaign_task_complete(request, pk):
    role, _scope = _require_role(request.user)
    if role != roles.ROLE_MANAGER:
        raise PermissionDenied("只有负责的客户经理可以记录活动任务的结果")
    task = CampaignTask.objects.restrict(request.user, "change").filter(pk=pk).first()
    if task is None:
        raise Http404("活动任务不存在或不在您的权限范围内")
    version = _as_id(request.POST.get("version", ""))
    if version is not None and version > MAX_VERSION:
        version = None
    if version is None:
        messages.error(request, "页面缺少任务版本号，请刷新后重试")
    else:
        try:
            campaign_actions.complete_campaign_task(
                request.user,
                task,
                contact_result=request.POST.get("contact_result", ""),
                recommendation=request.POST.get("recommendation", Recommendation.NONE),
                notes=request.POST.get("notes", "").strip()[:2000],
                version=version,
            )
        except UserError as error:
            messages.error(request, str(error))
        else:
            messages.success(request, f"已记录：{masked_customer(task.customer)['name']}")
    return redirect(_back_to(request, task))


def _back_to(request, task):
    """Back to the page the form was on (only a query string is taken from the client)."""
    base = reverse("web:campaign-detail", kwargs={"pk": task.campaign_id})
    posted = QueryDict(request.POST.get("back", "")[:500])
    kept = urlencode(
        {k: posted[k] for k in ("state", "manager", "result", "page") if posted.get(k)}
    )
    return f"{base}?{kept}" if kept else base
