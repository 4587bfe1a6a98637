"""Churn-risk pages: routes and navigation entries (joined in web/urls.py and web/navigation.py)."""

from django.urls import path
from django.utils.translation import gettext_lazy as _

from keycare.web import risk

urlpatterns: list = [
    path("risk/high/", risk.high_risk_list, name="risk-high"),
    path("risk/models/", risk.model_list, name="risk-models"),
    path("risk/models/promote/", risk.model_promote, name="risk-model-promote"),
]

# (url name, label, roles that see it), as in web/navigation.NAV.
NAV: list = [
    ("web:risk-high", _("高风险客户"), set(risk.LIST_ROLES)),
    ("web:risk-models", _("风险模型"), set(risk.MODEL_ROLES)),
]
