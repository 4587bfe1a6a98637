"""The five roles of KeyCare and the Django groups that carry them.

A user's role is the group they belong to; their data scope (which city, which manager's
portfolio) is on their ``keycare.managers.models.StaffProfile``. Scoped models name their
paths to the city and to the manager in a ``scope`` class attribute (see
``keycare.customers.models``), so the access layer can restrict any queryset from these two
facts alone.
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy

ROLE_PROVINCE_ADMIN = "province_admin"
ROLE_CITY_ADMIN = "city_admin"
ROLE_MANAGER = "account_manager"
ROLE_ANALYST = "analyst"
ROLE_AUDITOR = "auditor"
# Not a person: the outbound-call system (CTI) that dials the day's call tasks.
ROLE_CTI = "cti"

# Role -> (中文名, English name, what it may see). Order: widest scope first.
ROLES: dict[str, tuple[str, str, str]] = {
    ROLE_PROVINCE_ADMIN: ("省级管理员", "Province administrator", "the whole province"),
    ROLE_CITY_ADMIN: ("地市管理员", "City administrator", "one city"),
    ROLE_MANAGER: ("客户经理", "Account manager", "their own portfolio"),
    ROLE_ANALYST: ("分析员", "Analyst", "aggregates and masked rows in their scope"),
    ROLE_AUDITOR: ("审计员", "Auditor", "the audit log only, no personal data"),
    ROLE_CTI: ("外呼系统", "Outbound-call system (CTI)", "the call list of its scope only"),
}

# The choices shown to users: Chinese msgids, English in the catalog (locale/en).
# The roles that read customer data at all (masked, in their scope); the auditor reads the
# audit log only, the CTI account only its feed.
CUSTOMER_READERS = frozenset({ROLE_PROVINCE_ADMIN, ROLE_CITY_ADMIN, ROLE_MANAGER, ROLE_ANALYST})

ROLE_LABELS = {
    ROLE_PROVINCE_ADMIN: gettext_lazy("省级管理员"),
    ROLE_CITY_ADMIN: gettext_lazy("地市管理员"),
    ROLE_MANAGER: gettext_lazy("客户经理"),
    ROLE_ANALYST: gettext_lazy("分析员"),
    ROLE_AUDITOR: gettext_lazy("审计员"),
    ROLE_CTI: gettext_lazy("外呼系统"),
}
ROLE_CHOICES = list(ROLE_LABELS.items())

# Which scope a role's StaffProfile must carry: "city", "manager" or None (no row scope).
ROLE_SCOPE = {
    ROLE_PROVINCE_ADMIN: None,
    ROLE_CITY_ADMIN: "city",
    ROLE_MANAGER: "manager",
    ROLE_ANALYST: None,  # province-wide unless the profile names a city
    ROLE_AUDITOR: None,
    ROLE_CTI: None,  # province-wide unless the profile names a city
}


def ensure_groups():
    """Create (or find) one Django group per role; returns {role: Group}. Idempotent."""
    from django.contrib.auth.models import Group

    return {role: Group.objects.get_or_create(name=role)[0] for role in ROLES}
