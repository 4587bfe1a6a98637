"""Allocation pages: routes and navigation entries (joined in web/urls.py and web/navigation.py)."""

from django.urls import path
from django.utils.translation import gettext_lazy as _

from keycare.access import roles
from keycare.web import allocation_settings as views

urlpatterns: list = [
    path("allocation/settings/", views.settings_edit, name="allocation-settings"),
    path(
        "allocation/settings/preview/", views.settings_preview, name="allocation-settings-preview"
    ),
    path(
        "allocation/settings/versions/",
        views.settings_versions,
        name="allocation-settings-versions",
    ),
    path(
        "allocation/settings/versions/<int:number>/",
        views.settings_version_detail,
        name="allocation-settings-version",
    ),
    path(
        "allocation/settings/versions/<int:number>/restore/",
        views.settings_restore,
        name="allocation-settings-restore",
    ),
]

# (url name, label, roles that see it), as in web/navigation.NAV.
NAV: list = [
    (
        "web:allocation-settings",
        _("派送设置"),
        {roles.ROLE_PROVINCE_ADMIN, roles.ROLE_CITY_ADMIN},
    ),
]
