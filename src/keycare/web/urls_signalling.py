"""Signalling pages: routes and navigation entries (joined in web/urls.py and web/navigation.py)."""

from django.urls import path
from django.utils.translation import gettext_lazy as _

from keycare.web import signalling

urlpatterns: list = [
    path("signalling/operations/", signalling.operations, name="signalling-operations"),
]

# (url name, label, roles that see it), as in web/navigation.NAV.
NAV: list = [
    ("web:signalling-operations", _("实时信令监控"), set(signalling.OPS_ROLES)),
]
