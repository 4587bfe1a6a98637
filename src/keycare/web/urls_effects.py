"""Effects pages: routes and navigation entries (joined in web/urls.py and web/navigation.py)."""

from django.urls import path
from django.utils.translation import gettext_lazy as _

from keycare.access import roles
from keycare.web import effects

urlpatterns: list = [
    path("effects/", effects.effect_report, name="effect-report"),
    path(
        "effects/<int:pk>/<str:dimension>/<str:key>/",
        effects.effect_detail,
        name="effect-detail",
    ),
]

# (url name, label, roles that see it), as in web/navigation.NAV.
NAV: list = [
    (
        "web:effect-report",
        _("效果评估"),
        {roles.ROLE_PROVINCE_ADMIN, roles.ROLE_CITY_ADMIN, roles.ROLE_ANALYST},
    ),
]
