"""集团客户: the scoped key-account list, the group 360 page, a manager's information capture
and the per-tier service standards page.

Reads go through ``restrict()`` (a key-account manager sees their own groups and those groups'
members only; out of scope is 404). Key persons and members are personal data: masked on the
server (``keycare.access.presenter``); each view of a group's 360 page is audited.
"""

from __future__ import annotations

from datetime import timedelta

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Count, Q
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST

from keycare.access import roles
from keycare.access.presenter import masked_customer, masked_value
from keycare.access.querysets import require_role
from keycare.core.audit import record
from keycare.errors import UserError
from keycare.keyaccounts import actions, standards
from keycare.keyaccounts import tiers as tiers_module
from keycare.keyaccounts.models import (
    CreditRating,
    KeyAccount,
    KeyAccountArchive,
    KeyAccountMember,
    KeyAccountStatus,
    KeyLevel,
    KeyPersonRole,
    MemberRole,
    Tier,
    TierChange,
)
from keycare.org.models import City, Manager
from keycare.tasks.models import ServiceTask, TaskMoment, TaskState
from keycare.web import keyrules
from keycare.web.group_tasks import moment_name, open_group_tasks
from keycare.web.keyrules import this_month as _this_month
from keycare.web.labels import value_label
from keycare.web.task_rows import labels, pk_urls
from keycare.workorders.models import WorkOrder, WorkOrderStatus

PAGE_SIZE = 50
MEMBERS_SHOWN = 50
SEARCH_MAX = 40
RENEWAL_SOON_DAYS = 90
# The industry filter's choices are a scan of every group in scope (17 ms at 100k groups, on
# each list view); a group's industry seldom changes, so a few minutes' delay is harmless.
INDUSTRIES_CACHE_SECONDS = 300
MANAGER_CHOICES_MAX = 200
VIEW_ROLES = {
    roles.ROLE_PROVINCE_ADMIN,
    roles.ROLE_CITY_ADMIN,
    roles.ROLE_MANAGER,
    roles.ROLE_ANALYST,
}
EDIT_ROLES = {roles.ROLE_PROVINCE_ADMIN, roles.ROLE_CITY_ADMIN, roles.ROLE_MANAGER}
OPEN_TASK_STATES = [TaskState.UNHANDLED, TaskState.IN_PROGRESS]


def _ip(request):
    return request.META.get("REMOTE_ADDR")


# --- list -------------------------------------------------------------------------------------


def _filtered(request, groups):
    """(filtered groups, filters applied); unknown values are ignored."""
    filters = {
        name: request.GET.get(name, "").strip()[:SEARCH_MAX]
        for name in ("city", "manager", "tier", "archive", "industry", "q")
    }
    if filters["city"]:
        groups = groups.filter(city__code=filters["city"])
    if filters["manager"]:
        groups = groups.filter(manager__manager_id=filters["manager"])
    for name, choices in (("tier", Tier), ("archive", KeyAccountArchive)):
        if filters[name] in choices.values:
            groups = groups.filter(**{name: filters[name]})
        else:
            filters[name] = ""
    if filters["industry"]:
        groups = groups.filter(industry=filters["industry"])
    if filters["q"]:  # a group's ID or name (a company, not a person)
        q = filters["q"]
        groups = groups.filter(Q(key_account_id__startswith=q) | Q(name__contains=q))
    return groups, filters


@login_required
def keyaccount_list(request):
    role, scope = require_role(request.user, VIEW_ROLES, "当前角色无权查看集团客户")
    scoped = KeyAccount.objects.restrict(request.user)
    groups, filters = _filtered(request, scoped)
    if any(filters.values()):
        record(
            request.user,
            "search",
            object_type="keyaccounts.keyaccount",
            ip=_ip(request),
            filters={k: v for k, v in filters.items() if v},
        )
    # Counted for the page's rows only: a COUNT joined to the members of every group in the
    # filter aggregated ~400k members per tier at 100k groups (1 s a page, docs/performance.md).
    rows = groups.select_related("city", "manager").order_by("key_account_id")
    page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
    page.object_list = list(page.object_list)
    _count_members(page.object_list)
    return render(
        request,
        "web/keyaccounts/list.html",
        {
            "page": page,
            "filters": filters,
            "cities": City.objects.order_by("code").only("code", "name"),
            **_manager_filter(request.user),
            "tiers": Tier.choices,
            "archives": KeyAccountArchive.choices,
            "industries": cache.get_or_set(
                f"keyaccount-industries:{role}:{scope}",
                lambda: list(
                    scoped.order_by("industry").values_list("industry", flat=True).distinct()
                ),
                INDUSTRIES_CACHE_SECONDS,
            ),
        },
    )


def _manager_filter(user) -> dict:
    """The manager filter's choices: a drop-down for a city's few dozen key-account managers; a
    typed 工号 for a province's thousand (a list that long is no help, and costs 100 ms a view)."""
    ids = list(
        Manager.objects.restrict(user)
        .filter(role="key_account_manager")
        .order_by("manager_id")
        .values_list("manager_id", flat=True)[: MANAGER_CHOICES_MAX + 1]
    )
    if len(ids) > MANAGER_CHOICES_MAX:
        return {"managers": [], "manager_typed": True}
    return {"managers": ids, "manager_typed": False}


def _count_members(groups) -> None:
    counts = dict(
        KeyAccountMember.objects.filter(key_account__in=[g.pk for g in groups])
        .order_by()
        .values_list("key_account")
        .annotate(n=Count("id"))
    )
    for g in groups:
        g.member_count = counts.get(g.pk, 0)


# --- the group 360 page -----------------------------------------------------------------------


def _scoped_group(user, pk, action: str = "view") -> KeyAccount:
    group = (
        KeyAccount.objects.restrict(user, action)
        .select_related("city", "manager")
        .filter(pk=pk)
        .first()
    )
    if group is None:
        raise Http404("集团客户不存在或不在您的权限范围内")
    return group


def _members(user, group) -> tuple[list[dict], int]:
    """The first members (masked) with their open moments and churn risk; the member count.

    Rows are plain dicts, every cell ready to print (as ``task_rows``): 50 of them per view."""
    members = KeyAccountMember.objects.restrict(user).filter(key_account=group)
    shown = list(
        members.order_by("-role", "customer__subscriber_id").values(
            "customer_id", "role", "customer__subscriber_id", "customer__name", "customer__msisdn"
        )[:MEMBERS_SHOWN]
    )
    tasks = {}  # each member's latest open task: (task id, risk)
    open_tasks = (
        ServiceTask.objects.filter(
            customer_id__in=[m["customer_id"] for m in shown], state__in=OPEN_TASK_STATES
        )
        .order_by("customer_id", "-business_date")
        .values_list("customer_id", "pk", "risk_probability")
    )
    for customer_id, pk, risk in open_tasks:
        tasks.setdefault(customer_id, (pk, risk))
    moments: dict[int, list[str]] = {}
    carried = (
        TaskMoment.objects.filter(task_id__in=[pk for pk, _risk in tasks.values()])
        .select_related("moment")
        .only("task_id", "moment__code", "moment__name_zh", "moment__name_en")
        .order_by("-priority", "moment__code")
    )
    for tm in carried:
        moments.setdefault(tm.task_id, []).append(moment_name(tm.moment))
    customer_url, task_url = pk_urls("web:customer-detail"), pk_urls("web:task-detail")
    member_roles = labels(MemberRole)
    rows = []
    for m in shown:
        task_id, risk = tasks.get(m["customer_id"], (None, None))
        rows.append(
            {
                **masked_customer(m, prefix="customer__"),
                "subscriber_id": m["customer__subscriber_id"],
                "customer_url": customer_url(m["customer_id"]),
                "role": member_roles.get(m["role"], m["role"]),
                "task_url": task_url(task_id) if task_id else "",
                "moments": "、".join(moments.get(task_id, [])) or "—",
                "risk": "—" if risk is None else f"{risk:.2f}",
            }
        )
    return rows, members.count()


def _relationship_graph(group, persons: list) -> dict:
    """ECharts graph data: key persons (masked names, role labels) and who reports to whom."""
    categories = [str(label) for _value, label in KeyPersonRole.choices]
    index = {value: i for i, (value, _label) in enumerate(KeyPersonRole.choices)}
    nodes = [
        {
            "id": str(p.pk),
            "name": f"{masked_value('name', p.name)}（{p.title or value_label(KeyPersonRole, p.role)}）",
            "category": index.get(p.role, len(categories) - 1),
            "symbolSize": 26 + 6 * (p.influence or 1),
        }
        for p in persons
    ]
    links = [
        {"source": str(p.pk), "target": str(p.reports_to_id)} for p in persons if p.reports_to_id
    ]
    group_node = {"id": "group", "name": group.name, "category": len(categories), "symbolSize": 44}
    tops = [{"source": str(p.pk), "target": "group"} for p in persons if not p.reports_to_id]
    return {
        "nodes": [group_node, *nodes],
        "links": links + tops,
        "categories": [{"name": c} for c in categories] + [{"name": _("集团")}],
    }


def _key_persons(persons: list) -> list[dict]:
    return [
        {
            "person": p,
            "name": masked_value("name", p.name),
            "mobile": masked_value("mobile", p.mobile),
            "birthday": masked_value("birth_date", p.birth_date),
        }
        for p in persons
    ]


def _revenue_chart(group) -> dict:
    rows = list(
        group.revenue.order_by("month").values_list("month", "total_revenue", "info_revenue")
    )
    return {
        "months": [m for m, _t, _i in rows],
        "total": [float(t) for _m, t, _i in rows],
        "info": [float(i) for _m, _t, i in rows],
        "labels": {"total": _("总收入"), "info": _("信息化收入")},
    }


def _open_work(group) -> dict:
    """Open tasks and work orders of the group's members: the group is in the user's scope, and
    so are its members (a key-account manager serves the whole group). Rows ready to print."""
    member_ids = KeyAccountMember.objects.filter(key_account=group).values("customer_id")
    tasks = (
        ServiceTask.objects.filter(customer_id__in=member_ids, state__in=OPEN_TASK_STATES)
        .order_by("-business_date", "-id")
        .values("pk", "business_date", "state", "customer__subscriber_id")[:20]
    )
    orders = (
        WorkOrder.objects.filter(customer_id__in=member_ids)
        .exclude(status=WorkOrderStatus.CLOSED)
        .order_by("due_at")
        .values("pk", "title", "due_at", "status")[:20]
    )
    task_url, order_url = pk_urls("web:task-detail"), pk_urls("web:workorder-detail")
    states, statuses = labels(TaskState), labels(WorkOrderStatus)
    return {
        "tasks": [
            {**t, "url": task_url(t["pk"]), "state": states.get(t["state"], t["state"])}
            for t in tasks
        ],
        "work_orders": [
            {**o, "url": order_url(o["pk"]), "status": statuses.get(o["status"], o["status"])}
            for o in orders
        ],
    }


# The history names fields and shows coded values by their labels, never as codes.
FIELD_LABELS = {
    "name": gettext_lazy("名称"),
    "industry": gettext_lazy("行业"),
    "delivered_tier": gettext_lazy("交付层级"),
    "tier": gettext_lazy("层级"),
    "value_score": gettext_lazy("价值得分"),
    "manager_id": gettext_lazy("客户经理"),
    "annual_revenue": gettext_lazy("年收入"),
    "credit_rating": gettext_lazy("信誉度"),
    "key_customer": gettext_lazy("大客户"),
    "key_level": gettext_lazy("大客户级别"),
    "status": gettext_lazy("状态"),
    "employees": gettext_lazy("员工数"),
    "strategic": gettext_lazy("战略客户"),
    "address": gettext_lazy("地址"),
    "main_business": gettext_lazy("主营业务"),
    "website": gettext_lazy("网站"),
    "notes": gettext_lazy("备注"),
}
CODED = {
    "delivered_tier": Tier,
    "tier": Tier,
    "status": KeyAccountStatus,
    "credit_rating": CreditRating,
    "key_level": KeyLevel,
}


def _change_rows(group) -> list[dict]:
    rows = []
    for c in group.changes.select_related("by")[:20]:
        source = CODED.get(c.field)
        show = (lambda v, s=source: value_label(s, v)) if source else _shown
        rows.append(
            {
                "change": c,
                "field": FIELD_LABELS.get(c.field, c.field),
                "old": show(c.old_value),
                "new": show(c.new_value),
            }
        )
    return rows


def _shown(value: str) -> str:
    if value in ("True", "False"):
        return str(_("是") if value == "True" else _("否"))
    return value


def _visit_rows(group, data: dict) -> list[dict]:
    start, end = _this_month()
    visits = standards.planned_visits(start, end, KeyAccount.objects.filter(pk=group.pk), data=data)
    roles_named = data["roles"]
    return [{"role": roles_named.get(v.role, v.role), "due_by": v.due_by} for v in visits]


@login_required
def keyaccount_detail(request, pk):
    require_role(request.user, VIEW_ROLES, "当前角色无权查看集团客户")
    group = _scoped_group(request.user, pk)
    record(request.user, "keyaccount.view", group, ip=_ip(request))
    members, member_count = _members(request.user, group)
    version, data = standards.current()
    today = timezone.localdate()
    contracts = list(group.contracts.order_by("end_date"))
    persons = list(group.key_persons.select_related("reports_to").order_by("person_id"))
    for c in contracts:
        c.renewal_soon = c.status == "active" and c.end_date <= today + timedelta(RENEWAL_SOON_DAYS)
    return render(
        request,
        "web/keyaccounts/detail.html",
        {
            "group": group,
            "members": members,
            "member_count": member_count,
            "key_persons": _key_persons(persons),
            "graph": _relationship_graph(group, persons),
            "products": list(group.products.order_by("status", "product_type", "product_id")),
            "revenue": _revenue_chart(group),
            "contracts": contracts,
            "work": _open_work(group),
            "group_tasks": open_group_tasks(group),
            "visits": _visit_rows(group, data),
            "standard": data["tiers"].get(group.tier),
            "standards_version": version,
            "changes": _change_rows(group),
            "can_edit": require_role(request.user, VIEW_ROLES)[0] in EDIT_ROLES,
            **keyrules.group_rules_context(group),
        },
    )


@login_required
@require_POST
def keyaccount_edit(request, pk):
    require_role(request.user, EDIT_ROLES, "当前角色无权修改集团客户档案")
    group = _scoped_group(request.user, pk, "change")
    values = {
        k: request.POST.get(k, "")
        for k in ("address", "main_business", "website", "notes", "employees")
    }
    values["strategic"] = request.POST.get("strategic") == "on"
    try:
        changed = actions.update_profile(
            request.user,
            group,
            values,
            version=int(request.POST.get("version") or 0),
            reason=request.POST.get("reason", ""),
        )
    except (UserError, ValueError) as error:
        messages.error(request, str(error) if isinstance(error, UserError) else "版本号无效")
    else:
        messages.success(request, f"已保存 {changed} 项修改" if changed else "没有修改")
    return redirect("web:keyaccount-detail", pk=group.pk)


# --- tiers ------------------------------------------------------------------------------------

TIER_ADMINS = {roles.ROLE_PROVINCE_ADMIN}
CRITERIA = [
    ("employees", gettext_lazy("员工数")),
    ("monthly_revenue", gettext_lazy("月均收入")),
    ("info_revenue", gettext_lazy("月均信息化收入")),
    ("info_products", gettext_lazy("信息化产品数")),
    ("key_industry", gettext_lazy("重点行业")),
    ("strategic", gettext_lazy("战略客户")),
]


def _posted_policy(post, base: dict) -> dict:
    """The policy in force with the numbers typed into the form (a bad number: UserError)."""
    policy = {**base, "weights": dict(base["weights"]), "references": dict(base["references"])}
    policy["cutoffs"] = dict(base["cutoffs"])
    for section in ("weights", "references", "cutoffs"):
        for name in policy[section]:
            raw = post.get(f"{section}.{name}", "").strip()
            try:
                policy[section][name] = float(raw) if "." in raw else int(raw)
            except ValueError:
                raise UserError(f"“{raw or '（空）'}”不是数字（{section}.{name}）") from None
    industries = post.get("key_industries", "")
    policy["key_industries"] = [
        i.strip() for i in industries.replace("，", ",").split(",") if i.strip()
    ]
    return policy


@login_required
@require_http_methods(["GET", "POST"])
def tier_policy(request):
    role, _scope = require_role(
        request.user, {roles.ROLE_PROVINCE_ADMIN, roles.ROLE_CITY_ADMIN}, "当前角色无权查看分层策略"
    )
    version, policy = tiers_module.current()
    shown, result = policy, None
    if request.method == "POST":
        if role not in TIER_ADMINS:
            raise PermissionDenied("只有省级管理员可以调整分层策略")
        try:
            shown = _posted_policy(request.POST, policy)
            if request.POST.get("action") == "publish":
                published, counts = actions.publish_tier_policy(
                    request.user,
                    shown,
                    note=request.POST.get("note", ""),
                    reason=request.POST.get("reason", ""),
                )
                messages.success(
                    request,
                    f"分层策略 v{published.version} 已生效，{counts['moved']} 个集团调整层级",
                )
                return redirect("web:keyaccount-tiers")
            result = tiers_module.preview(shown)
        except UserError as error:
            messages.error(request, str(error))
    changes = TierChange.objects.restrict(request.user).select_related("key_account", "by")[:50]
    return render(
        request,
        "web/keyaccounts/tiers.html",
        {
            "version": version,
            "policy": shown,
            "criteria": [
                {
                    "code": c,
                    "label": label,
                    "weight": shown["weights"][c],
                    "reference": shown["references"].get(c),
                }
                for c, label in CRITERIA
            ],
            "cutoffs": [
                (t, dict(Tier.choices)[t], shown["cutoffs"][t]) for t in tiers_module.CUT_TIERS
            ],
            "result": result,
            "moves": [
                {
                    **m,
                    "from_label": dict(Tier.choices).get(m["from"], m["from"]),
                    "to_label": dict(Tier.choices)[m["to"]],
                }
                for m in (result or {}).get("moves", [])
            ],
            "tier_counts": [
                (
                    label,
                    (result or {}).get("before", {}).get(t),
                    (result or {}).get("by_tier", {}).get(t),
                )
                for t, label in Tier.choices
            ],
            "changes": changes,
            "can_edit": role in TIER_ADMINS,
        },
    )
