"""Analytics API: router resources and extra paths (joined in api/routes.py and api/urls.py)."""

from django.urls import path

from keycare.api import analytics

# prefix -> viewset, registered on the API router.
RESOURCES: dict = {}

# Extra (non-router) paths under /api/.
urlpatterns: list = [
    path("indicators/", analytics.IndicatorListView.as_view(), name="indicator-list"),
    path(
        "indicators/<str:code>/values/",
        analytics.IndicatorValuesView.as_view(),
        name="indicator-values",
    ),
    path("analyses/", analytics.AnalysisListView.as_view(), name="analysis-list"),
]
