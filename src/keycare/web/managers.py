"""客户经理档案 (§7.1): the managers list and each manager's profile.

Administrators see the managers of their scope (a city administrator their city's; another
city's manager is a 404) and keep the archive: profile and capacities, qualifications,
status, and the hand-over of the whole portfolio. An account manager sees their own profile,
read-only. Writes go through ``keycare.managers.actions`` (one transaction, audited).
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Count, Q
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.dateparse import parse_date
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from keycare.access import roles
from keycare.access.masking import mask_field
from keycare.access.presenter import masked_customer
from keycare.access.querysets import require_role
from keycare.core.parsing import posted_int
from keycare.customers.models import Assignment, Customer, ValueTier
from keycare.errors import UserError
from keycare.keyaccounts.models import KeyAccount
from keycare.managers import actions
from keycare.managers.models import (
    HandOver,
    ManagerProfile,
    ManagerStatus,
    Qualification,
    QualificationKind,
)
from keycare.managers.scoping import is_admin, visible_managers
from keycare.org.models import ManagerRole

PAGE_SIZE = 50
HISTORY_LIMIT = 50
KEY_ACCOUNT_LIMIT = 50
READER_ROLES = {roles.ROLE_MANAGER, roles.ROLE_PROVINCE_ADMIN, roles.ROLE_CITY_ADMIN}
ADMIN_ROLES = {roles.ROLE_PROVINCE_ADMIN, roles.ROLE_CITY_ADMIN}


@login_required
def manager_list(request):
    require_role(request.user, READER_ROLES, _("您的角色不能查看客户经理档案"))
    scoped = visible_managers(request.user)
    filters, managers = _filtered(request, scoped)
    page = Paginator(
        managers.select_related("city", "profile").order_by("manager_id"), PAGE_SIZE
    ).get_page(request.GET.get("page"))
    held = _portfolio_sizes([m.pk for m in page])
    status_counts = dict(
        ManagerProfile.objects.filter(manager__in=scoped)
        .values_list("status")
        .annotate(n=Count("*"))
        .order_by()
    )
    # Managers without a profile yet are in post.
    status_counts[ManagerStatus.ACTIVE] = scoped.count() - sum(
        n for s, n in status_counts.items() if s != ManagerStatus.ACTIVE
    )
    return render(
        request,
        "web/managers/list.html",
        {
            "page": page,
            "rows": [_row(m, held.get(m.pk, {})) for m in page],
            "filters": filters,
            "statuses": ManagerStatus.choices,
            "manager_roles": ManagerRole.choices,
            "stats": [(v, label, status_counts.get(v, 0)) for v, label in ManagerStatus.choices],
            "teams": _teams(scoped),
        },
    )


def _filtered(request, managers):
    filters = {
        "q": request.GET.get("q", "").strip()[:50],
        "status": request.GET.get("status", ""),
        "role": request.GET.get("role", ""),
        "team": request.GET.get("team", "").strip()[:64],
    }
    if filters["q"]:
        managers = managers.filter(
            Q(manager_id__icontains=filters["q"]) | Q(name__icontains=filters["q"])
        )
    if filters["status"] == ManagerStatus.ACTIVE:
        managers = managers.filter(Q(profile__isnull=True) | Q(profile__status=filters["status"]))
    elif filters["status"] in ManagerStatus.values:
        managers = managers.filter(profile__status=filters["status"])
    else:
        filters["status"] = ""
    if filters["role"] in ManagerRole.values:
        managers = managers.filter(role=filters["role"])
    else:
        filters["role"] = ""
    if filters["team"]:
        managers = managers.filter(profile__team=filters["team"])
    return filters, managers


def _teams(managers) -> list[str]:
    return list(
        ManagerProfile.objects.filter(manager__in=managers)
        .exclude(team="")
        .order_by("team")
        .values_list("team", flat=True)
        .distinct()
    )


def _portfolio_sizes(manager_ids) -> dict[int, dict]:
    sizes: dict[int, dict] = {pk: {"customers": 0, "key_accounts": 0} for pk in manager_ids}
    customers = (
        Customer.objects.filter(manager_id__in=manager_ids)
        .values_list("manager_id")
        .annotate(n=Count("*"))
        .order_by()
    )
    for pk, n in customers:
        sizes[pk]["customers"] = n
    accounts = (
        KeyAccount.objects.filter(manager_id__in=manager_ids)
        .values_list("manager_id")
        .annotate(n=Count("*"))
        .order_by()
    )
    for pk, n in accounts:
        sizes[pk]["key_accounts"] = n
    return sizes


def _row(manager, held) -> dict:
    profile = actions.profile_of(manager)
    return {
        "manager": manager,
        "mobile": mask_field("msisdn", manager.mobile),
        "profile": profile,
        "customers": held.get("customers", 0),
        "key_accounts": held.get("key_accounts", 0),
    }


# --- profile ------------------------------------------------------------------------------


def _scoped(user, pk):
    manager = visible_managers(user).select_related("city", "grid").filter(pk=pk).first()
    if manager is None:
        raise Http404(_("客户经理不存在或不在您的权限范围内"))
    return manager


@login_required
def manager_detail(request, pk):
    require_role(request.user, READER_ROLES, _("您的角色不能查看客户经理档案"))
    manager = _scoped(request.user, pk)
    admin = is_admin(request.user)
    tiers = dict(
        Customer.objects.filter(manager=manager)
        .values_list("value_tier")
        .annotate(n=Count("*"))
        .order_by()
    )
    assignments = (
        Assignment.objects.filter(manager=manager)
        .select_related("customer")
        .order_by("-start_date", "-id")[:HISTORY_LIMIT]
    )
    return render(
        request,
        "web/managers/detail.html",
        {
            "manager": manager,
            "mobile": mask_field("msisdn", manager.mobile),
            "profile": actions.profile_of(manager),
            "held": actions.portfolio_counts(manager),
            "tiers": [(v, label, tiers.get(v, 0)) for v, label in ValueTier.choices],
            "key_accounts": KeyAccount.objects.filter(manager=manager).order_by("name")[
                :KEY_ACCOUNT_LIMIT
            ],
            "assignments": [{"a": a, **masked_customer(a.customer)} for a in assignments],
            "qualifications": Qualification.objects.filter(manager=manager),
            "hand_overs": HandOver.objects.filter(manager=manager).select_related("by")[:20],
            "kinds": QualificationKind.choices,
            "statuses": ManagerStatus.choices,
            "is_admin": admin,
            "targets": _targets(request.user, manager) if admin else [],
        },
    )


def _targets(user, manager):
    """Who may take over: managers in post of the same city, other than this one."""
    return (
        visible_managers(user)
        .filter(city=manager.city, active=True)
        .exclude(pk=manager.pk)
        .order_by("manager_id")
    )


def _admin_post(request, pk):
    require_role(request.user, ADMIN_ROLES, _("只有管理员可以维护客户经理档案"))
    return _scoped(request.user, pk)


@login_required
@require_POST
def manager_profile_edit(request, pk):
    manager = _admin_post(request, pk)
    post = request.POST
    try:
        actions.update_profile(
            request.user,
            manager,
            daily_capacity=_number(post.get("daily_capacity"), _("每日外呼能力")),
            visit_capacity=_number(post.get("visit_capacity"), _("每周走访能力")),
            key_account_capacity=_number(post.get("key_account_capacity"), _("集团客户容量")),
            title=post.get("title", "").strip()[:64],
            team=post.get("team", "").strip()[:64],
            education=post.get("education", "").strip()[:32],
            hire_date=_date(post.get("hire_date"), _("入职日期"), required=False),
            notes=post.get("notes", "").strip()[:2000],
        )
    except UserError as error:
        messages.error(request, str(error))
    else:
        messages.success(request, _("已保存档案"))
    return redirect("web:manager-detail", pk=manager.pk)


@login_required
@require_POST
def manager_qualification_add(request, pk):
    manager = _admin_post(request, pk)
    post = request.POST
    try:
        kind = post.get("kind", "")
        if kind not in QualificationKind.values:
            raise UserError(_("请选择资格认证的类别"))
        actions.add_qualification(
            request.user,
            manager,
            kind=kind,
            name=post.get("name", "")[:100],
            issuer=post.get("issuer", "").strip()[:100],
            obtained_on=_date(post.get("obtained_on"), _("取得日期")),
            expires_on=_date(post.get("expires_on"), _("有效期至"), required=False),
        )
    except UserError as error:
        messages.error(request, str(error))
    else:
        messages.success(request, _("已添加资格认证"))
    return redirect("web:manager-detail", pk=manager.pk)


@login_required
@require_POST
def manager_qualification_remove(request, pk, qid):
    manager = _admin_post(request, pk)
    qualification = Qualification.objects.filter(manager=manager, pk=qid).first()
    if qualification is None:
        raise Http404(_("资格认证不存在"))
    actions.remove_qualification(request.user, qualification)
    messages.success(request, _("已删除资格认证"))
    return redirect("web:manager-detail", pk=manager.pk)


@login_required
@require_POST
def manager_status(request, pk):
    manager = _admin_post(request, pk)
    try:
        actions.set_status(
            request.user,
            manager,
            request.POST.get("status", ""),
            reason=request.POST.get("reason", "").strip()[:200],
        )
    except UserError as error:
        messages.error(request, str(error))
    else:
        messages.success(request, _("已更新状态"))
    return redirect("web:manager-detail", pk=manager.pk)


@login_required
@require_POST
def manager_hand_over(request, pk):
    manager = _admin_post(request, pk)
    wanted = {posted_int(v) for v in request.POST.getlist("targets")} - {None}
    targets = list(_targets(request.user, manager).filter(pk__in=wanted))
    try:
        if len(targets) != len(wanted):
            raise UserError(_("接收经理无效，请从列表中选择"))
        record = actions.hand_over(
            request.user, manager, targets, reason=request.POST.get("reason", "")[:200]
        )
        if request.POST.get("leave") == "1":
            actions.set_status(request.user, manager, ManagerStatus.LEFT, reason=record.reason)
    except UserError as error:
        messages.error(request, str(error))
    else:
        messages.success(
            request,
            _("已移交 %(c)s 位客户、%(k)s 个集团客户")
            % {"c": record.customers, "k": record.key_accounts},
        )
    return redirect("web:manager-detail", pk=manager.pk)


def _number(raw, label) -> int:
    value = posted_int(raw or "", max_digits=4)
    if value is None:
        raise UserError(_("%(label)s须为整数") % {"label": label})
    return value


def _date(raw, label, *, required=True):
    raw = (raw or "").strip()
    if not raw:
        if required:
            raise UserError(_("请填写%(label)s") % {"label": label})
        return None
    try:
        value = parse_date(raw)
    except ValueError:
        value = None
    if value is None or not 1900 <= value.year <= 2100:
        raise UserError(_("%(label)s无效：%(raw)s") % {"label": label, "raw": raw[:20]})
    return value
