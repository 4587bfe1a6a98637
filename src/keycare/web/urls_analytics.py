"""Analytics pages: routes and navigation entries (joined in web/urls.py and web/navigation.py)."""

from django.urls import path
from django.utils.translation import gettext_lazy as _

from keycare.access import roles
from keycare.web import analytics_pages as pages

urlpatterns: list = [
    path("analytics/", pages.analytics_home, name="analytics-home"),
    path("analytics/follow/", pages.follow_indicator, name="analytics-follow"),
    path("analytics/unfollow/", pages.unfollow_indicator, name="analytics-unfollow"),
    path("analytics/analyses/<str:code>/", pages.analysis_page, name="analysis"),
    path("analytics/analyses/<str:code>/save/", pages.save_analysis, name="analysis-save"),
    path("analytics/reports/request/", pages.report_request, name="analytics-report-request"),
    path("analytics/reports/<int:pk>/<str:fmt>/", pages.report_download, name="analytics-report"),
    path(
        "analytics/saved/<int:pk>/delete/",
        pages.delete_saved_analysis,
        name="analysis-saved-delete",
    ),
]

# (url name, label, roles that see it), as in web/navigation.NAV.
NAV: list = [
    (
        "web:analytics-home",
        _("统计分析"),
        {roles.ROLE_PROVINCE_ADMIN, roles.ROLE_CITY_ADMIN, roles.ROLE_ANALYST},
    ),
]
