"""Key-account pages: routes and navigation entries (joined in web/urls.py and web/navigation.py)."""

from django.urls import path
from django.utils.translation import gettext_lazy as _

from keycare.access import roles
from keycare.web import keyaccounts

urlpatterns: list = [
    path("key-accounts/", keyaccounts.keyaccount_list, name="keyaccount-list"),
    path("key-accounts/<int:pk>/", keyaccounts.keyaccount_detail, name="keyaccount-detail"),
    path("key-accounts/<int:pk>/edit/", keyaccounts.keyaccount_edit, name="keyaccount-edit"),
    path("key-accounts/tiers/", keyaccounts.tier_policy, name="keyaccount-tiers"),
    path("key-accounts/standards/", keyaccounts.service_standards, name="keyaccount-standards"),
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
]
