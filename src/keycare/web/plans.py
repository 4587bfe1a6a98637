"""工作计划 (§7.2.1): monthly and weekly plans per manager, generated from the tier service
standards and due appointments, edited and submitted by the manager, approved or returned by
their administrator, with plan versus actual. Writes go through ``keycare.managers.actions``.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Count
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.dateparse import parse_date
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from keycare.access import roles
from keycare.access.presenter import free_text, masked_customer
from keycare.access.querysets import require_role
from keycare.core.parsing import posted_int
from keycare.customers.models import Customer
from keycare.errors import UserError
from keycare.keyaccounts.models import KeyAccount
from keycare.managers import actions, plans
from keycare.managers.models import PlanItem, PlanPeriod, PlanStatus, WorkKind, WorkPlan
from keycare.managers.scoping import is_admin
from keycare.org.models import Manager

PAGE_SIZE = 30
READER_ROLES = {roles.ROLE_MANAGER, roles.ROLE_PROVINCE_ADMIN, roles.ROLE_CITY_ADMIN}


@login_required
def plan_list(request):
    role, scope = require_role(request.user, READER_ROLES, _("您的角色不能查看工作计划"))
    scoped = WorkPlan.objects.restrict(request.user)
    filters = {
        "status": request.GET.get("status", ""),
        "period": request.GET.get("period", ""),
        "manager": request.GET.get("manager", "").strip()[:32],
    }
    listed = scoped
    for key, values in (("status", PlanStatus.values), ("period", PlanPeriod.values)):
        if filters[key] in values:
            listed = listed.filter(**{key: filters[key]})
        else:
            filters[key] = ""
    if filters["manager"]:
        listed = listed.filter(manager__manager_id=filters["manager"])
    page = Paginator(
        listed.select_related("manager").order_by("-start", "manager__manager_id", "period"),
        PAGE_SIZE,
    ).get_page(request.GET.get("page"))
    counts = dict(scoped.values_list("status").annotate(n=Count("*")).order_by())
    return render(
        request,
        "web/managers/plan_list.html",
        {
            "page": page,
            "rows": [{"plan": p, "actual": plans.plan_actual(p)} for p in page],
            "filters": filters,
            "stats": [(v, label, counts.get(v, 0)) for v, label in PlanStatus.choices],
            "statuses": PlanStatus.choices,
            "periods": PlanPeriod.choices,
            "is_manager": role == roles.ROLE_MANAGER and scope is not None,
            "today": timezone.localdate(),
        },
    )


@login_required
@require_POST
def plan_generate(request):
    _role, scope = require_role(request.user, {roles.ROLE_MANAGER}, _("只有客户经理可以生成计划"))
    manager = Manager.objects.filter(pk=scope).first() if scope else None
    if manager is None:
        raise Http404(_("您的账号没有关联客户经理"))
    day = _day(request.POST.get("day", ""))
    try:
        if day is None:
            raise UserError(_("请填写有效的计划日期"))
        plan = actions.generate_plan(
            request.user, manager, period=request.POST.get("period", ""), day=day
        )
    except UserError as error:
        messages.error(request, str(error))
        return redirect("web:plan-list")
    messages.success(request, _("已生成计划"))
    return redirect("web:plan-detail", pk=plan.pk)


def _day(raw):
    try:
        return parse_date((raw or "").strip())
    except ValueError:
        return None


def _plan(request, pk) -> WorkPlan:
    plan = WorkPlan.objects.restrict(request.user).select_related("manager").filter(pk=pk).first()
    if plan is None:
        raise Http404(_("计划不存在或不在您的权限范围内"))
    return plan


@login_required
def plan_detail(request, pk):
    role, _scope = require_role(request.user, READER_ROLES, _("您的角色不能查看工作计划"))
    plan = _plan(request, pk)
    items = list(plans.plan_items(plan))
    actual = plans.plan_actual(plan, items)
    owner = role == roles.ROLE_MANAGER
    return render(
        request,
        "web/managers/plan_detail.html",
        {
            "plan": plan,
            "items": [_item_row(i, actual.done[i.pk]) for i in items],
            "summary": [
                (label, actual.planned[k], actual.achieved[k], actual.recorded[k])
                for k, label in WorkKind.choices
            ],
            "completion": actual.completion,
            "editable": owner and plan.status in actions.EDITABLE,
            "reviewable": is_admin(request.user) and plan.status == PlanStatus.SUBMITTED,
            "accounts": KeyAccount.objects.filter(manager=plan.manager).order_by("name")
            if owner
            else [],
            "kinds": WorkKind.choices,
            "review_comment": free_text(plan.review_comment),
        },
    )


def _item_row(item, done) -> dict:
    customer = masked_customer(item.customer) if item.customer_id else {}
    return {"item": item, "done": done, "note": free_text(item.note), **customer}


@login_required
@require_POST
def plan_edit(request, pk):
    """The manager's edits: add or remove an item, submit the plan."""
    require_role(request.user, {roles.ROLE_MANAGER}, _("只有计划所属经理可以修改计划"))
    plan = _plan(request, pk)
    action = request.POST.get("action", "")
    try:
        if action == "add":
            _add_item(request, plan)
            messages.success(request, _("已添加计划事项"))
        elif action == "remove":
            item = PlanItem.objects.filter(
                plan=plan, pk=posted_int(request.POST.get("item", ""))
            ).first()
            if item is None:
                raise UserError(_("计划事项不存在"))
            actions.remove_plan_item(request.user, item)
            messages.success(request, _("已删除计划事项"))
        elif action == "submit":
            actions.submit_plan(request.user, plan, note=request.POST.get("note", ""))
            messages.success(request, _("计划已提交，等待审批"))
        else:
            raise UserError(_("未知的操作，请刷新页面后重试"))
    except UserError as error:
        messages.error(request, str(error))
    return redirect("web:plan-detail", pk=plan.pk)


def _add_item(request, plan):
    post = request.POST
    account, customer = None, None
    if post.get("key_account"):
        account = KeyAccount.objects.filter(
            manager=plan.manager, pk=posted_int(post["key_account"])
        ).first()
        if account is None:
            raise UserError(_("所选集团客户无效，请从列表中选择"))
    subscriber = post.get("subscriber", "").strip()[:32]
    if subscriber:
        customer = Customer.objects.filter(manager=plan.manager, subscriber_id=subscriber).first()
        if customer is None:
            raise UserError(_("您的客户中没有该用户编号：%(s)s") % {"s": subscriber})
    actions.add_plan_item(
        request.user,
        plan,
        kind=post.get("kind", ""),
        due_date=_day(post.get("due_date", "")),
        key_account=account,
        customer=customer,
        note=post.get("note", ""),
    )


@login_required
@require_POST
def plan_review(request, pk):
    if not is_admin(request.user):
        raise PermissionDenied(_("只有管理员可以审批计划"))
    plan = _plan(request, pk)
    try:
        actions.review_plan(
            request.user,
            plan,
            approve=request.POST.get("decision") == "approve",
            comment=request.POST.get("comment", ""),
        )
    except UserError as error:
        messages.error(request, str(error))
    else:
        messages.success(request, _("已审批计划"))
    return redirect("web:plan-detail", pk=plan.pk)
