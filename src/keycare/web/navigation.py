"""The navigation bar: what each role may open. One place, used by every page."""

from django.urls import reverse
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


def nav_items(request):
    """Context processor: the links the current user's role may follow."""
    role, _scope = user_scope(getattr(request, "user", None))
    items = [
        {"url": reverse(name), "label": label} for name, label, allowed in NAV if role in allowed
    ]
    return {"nav_items": items, "user_role": role}
