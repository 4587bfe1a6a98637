"""The navigation bar: what each role may open. One place, used by every page."""

import functools

from django.urls import get_script_prefix, reverse
from django.utils.functional import SimpleLazyObject
from django.utils.translation import gettext_lazy as _

from keycare.access import roles
from keycare.access.querysets import user_scope
from keycare.web.domains import DOMAIN_URL_MODULES

# (url name, label, roles that see it). Only pages that exist: every entry must resolve
# (tests/web/test_shell.py opens each one for every role).
NAV = [
    ("web:manager-workbench", _("我的工作台"), {roles.ROLE_MANAGER}),
    ("web:admin-workbench", _("管理员工作台"), {roles.ROLE_PROVINCE_ADMIN, roles.ROLE_CITY_ADMIN}),
    (
        "web:task-list",
        _("预警任务"),
        {roles.ROLE_MANAGER, roles.ROLE_PROVINCE_ADMIN, roles.ROLE_CITY_ADMIN},
    ),
    ("web:sms-task-list", _("短信任务"), {roles.ROLE_PROVINCE_ADMIN, roles.ROLE_CITY_ADMIN}),
    (
        "web:appointment-list",
        _("预约"),
        {roles.ROLE_MANAGER, roles.ROLE_PROVINCE_ADMIN, roles.ROLE_CITY_ADMIN},
    ),
    (
        "web:customer-list",
        _("客户档案"),
        {roles.ROLE_MANAGER, roles.ROLE_PROVINCE_ADMIN, roles.ROLE_CITY_ADMIN, roles.ROLE_ANALYST},
    ),
    ("web:rule-list", _("关键时刻规则"), {roles.ROLE_PROVINCE_ADMIN, roles.ROLE_CITY_ADMIN}),
    ("web:tactic-library", _("保有战术库"), {roles.ROLE_PROVINCE_ADMIN, roles.ROLE_CITY_ADMIN}),
    ("web:segment-list", _("客户群"), {roles.ROLE_PROVINCE_ADMIN, roles.ROLE_CITY_ADMIN}),
    (
        "web:campaign-list",
        _("计划活动"),
        {roles.ROLE_MANAGER, roles.ROLE_PROVINCE_ADMIN, roles.ROLE_CITY_ADMIN},
    ),
    (
        "web:workorder-list",
        _("工单"),
        {roles.ROLE_MANAGER, roles.ROLE_PROVINCE_ADMIN, roles.ROLE_CITY_ADMIN},
    ),
    ("web:department-list", _("部门管理"), {roles.ROLE_PROVINCE_ADMIN, roles.ROLE_CITY_ADMIN}),
    ("web:run-list", _("日批运行"), {roles.ROLE_PROVINCE_ADMIN, roles.ROLE_CITY_ADMIN}),
]
# Each domain's entries come from its web/urls_<domain>.py; the audit log stays last.
for _module in DOMAIN_URL_MODULES:
    NAV += _module.NAV
NAV.append(("web:audit-list", _("审计日志"), {roles.ROLE_AUDITOR}))


# The bar shows menus, not 30 links: each entry belongs to one menu (tests/web/test_shell.py
# checks that every entry has one). In bar order.
GROUPS = [
    ("work", _("工作台")),
    ("service", _("服务执行")),
    ("customers", _("客户")),
    ("keyaccounts", _("集团客户")),
    ("managers", _("客户经理")),
    ("analysis", _("分析评估")),
    ("settings", _("规则与配置")),
    ("audit", _("审计")),
]
GROUP_OF = {
    "web:manager-workbench": "work",
    "web:admin-workbench": "work",
    "web:reminder-list": "work",
    "web:task-list": "service",
    "web:sms-task-list": "service",
    "web:sms-list": "service",
    "web:appointment-list": "service",
    "web:workorder-list": "service",
    "web:assigned-task-list": "service",
    "web:group-task-list": "service",
    "web:customer-list": "customers",
    "web:risk-high": "customers",
    "web:segment-list": "customers",
    "web:campaign-list": "customers",
    "web:complaint-list": "customers",
    "web:complaint-review": "customers",
    "web:keyaccount-list": "keyaccounts",
    "web:keyaccount-tiers": "keyaccounts",
    "web:keyaccount-standards": "keyaccounts",
    "web:keyaccount-rules": "keyaccounts",
    "web:keyaccount-potential": "keyaccounts",
    "web:manager-list": "managers",
    "web:plan-list": "managers",
    "web:work-list": "managers",
    "web:assessment-home": "managers",
    "web:analytics-home": "analysis",
    "web:effect-report": "analysis",
    "web:satisfaction-results": "analysis",
    "web:survey-list": "analysis",
    "web:rising-causes": "analysis",
    "web:rule-list": "settings",
    "web:tactic-library": "settings",
    "web:allocation-settings": "settings",
    "web:department-list": "settings",
    "web:risk-models": "settings",
    "web:run-list": "settings",
    "web:signalling-operations": "settings",
    "web:audit-list": "audit",
}
# An entry nobody filed yet still shows, in the last menu before the audit log.
FALLBACK_GROUP = "settings"


def nav_items(request):
    """Context processor: the links the current user's role may follow, flat and as menus."""
    role, _scope = user_scope(getattr(request, "user", None))
    entries = [(name, label) for name, label, allowed in NAV if role in allowed]
    # Lazy: a partial the page loads with htmx (the reminders panel) prints no menu.
    return {
        "nav_items": SimpleLazyObject(
            lambda: [{"url": _url(name), "label": label} for name, label in entries]
        ),
        "nav_groups": SimpleLazyObject(lambda: _grouped(entries, _current_url_name(request))),
        "user_role": role,
    }


def _url(name: str) -> str:
    return _reversed(name, get_script_prefix())


@functools.lru_cache(maxsize=512)
def _reversed(name: str, prefix: str) -> str:
    # The menu's URLs take no arguments: one reverse() per name and script prefix per process.
    return reverse(name)


def _grouped(entries, current: str) -> list[dict]:
    by_group: dict[str, list] = {key: [] for key, _label in GROUPS}
    for name, label in entries:
        by_group[GROUP_OF.get(name, FALLBACK_GROUP)].append(
            {"url": _url(name), "label": label, "current": name == current}
        )
    return [
        {
            "key": key,
            "label": label,
            "items": by_group[key],
            "current": any(item["current"] for item in by_group[key]),
        }
        for key, label in GROUPS
        if by_group[key]
    ]


def _current_url_name(request) -> str:
    match = getattr(request, "resolver_match", None)
    return f"{match.namespace}:{match.url_name}" if match and match.namespace else ""
