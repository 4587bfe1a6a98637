"""Surveys pages: routes and navigation entries (joined in web/urls.py and web/navigation.py)."""

from django.urls import path
from django.utils.translation import gettext_lazy as _

from keycare.access import roles
from keycare.web import surveys_pages as pages

urlpatterns: list = [
    path("surveys/", pages.survey_list, name="survey-list"),
    path("surveys/<int:pk>/", pages.survey_answer, name="survey-answer"),
    path("surveys/results/", pages.satisfaction_results, name="satisfaction-results"),
    path("surveys/model/", pages.satisfaction_model_new, name="satisfaction-model-new"),
    path("s/<str:token>/", pages.survey_link, name="survey-link"),
]

# (url name, label, roles that see it), as in web/navigation.NAV.
NAV: list = [
    (
        "web:survey-list",
        _("满意度调查"),
        {roles.ROLE_MANAGER, roles.ROLE_PROVINCE_ADMIN, roles.ROLE_CITY_ADMIN},
    ),
    (
        "web:satisfaction-results",
        _("满意度分析"),
        {roles.ROLE_PROVINCE_ADMIN, roles.ROLE_CITY_ADMIN, roles.ROLE_ANALYST},
    ),
]
