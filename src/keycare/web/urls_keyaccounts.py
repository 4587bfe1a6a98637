"""Key-account pages: routes and navigation entries (joined in web/urls.py and web/navigation.py)."""

from django.urls import path
from django.utils.translation import gettext_lazy as _

from keycare.access import roles
from keycare.web import keyaccounts, keyrules

urlpatterns: list = [
    path("key-accounts/", keyaccounts.keyaccount_list, name="keyaccount-list"),
    path("key-accounts/<int:pk>/", keyaccounts.keyaccount_detail, name="keyaccount-detail"),
    path("key-accounts/<int:pk>/edit/", keyaccounts.keyaccount_edit, name="keyaccount-edit"),
    path("key-accounts/tiers/", keyaccounts.tier_policy, name="keyaccount-tiers"),
    path("key-accounts/standards/", keyrules.service_standards, name="keyaccount-standards"),
    path("key-accounts/rules/", keyrules.rule_list, name="keyaccount-rules"),
    path("key-accounts/rules/<str:kind>/", keyrules.rule_edit, name="keyaccount-rule"),
    path("key-accounts/potential/", keyrules.potential_list, name="keyaccount-potential"),
    path(
        "key-accounts/potential/<int:pk>/move/",
        keyrules.potential_move,
        name="keyaccount-potential-move",
    ),
    path(
        "key-accounts/<int:pk>/points/redeem/",
        keyrules.points_redeem,
        name="keyaccount-points-redeem",
    ),
]

_VIEWERS = {
    roles.ROLE_PROVINCE_ADMIN,
    roles.ROLE_CITY_ADMIN,
    roles.ROLE_MANAGER,
    roles.ROLE_ANALYST,
}
_ADMINS = {roles.ROLE_PROVINCE_ADMIN, roles.ROLE_CITY_ADMIN}

# (url name, label, roles that see it), as in web/navigation.NAV.
NAV: list = [
    ("web:keyaccount-list", _("集团客户"), _VIEWERS),
    ("web:keyaccount-tiers", _("集团分层分级"), _ADMINS),
    (
        "web:keyaccount-standards",
        _("集团服务标准"),
        _ADMINS,
    ),
    ("web:keyaccount-rules", _("集团服务规则"), _ADMINS),
    (
        "web:keyaccount-potential",
        _("潜在大客户"),
        {roles.ROLE_PROVINCE_ADMIN, roles.ROLE_CITY_ADMIN, roles.ROLE_MANAGER},
    ),
]
