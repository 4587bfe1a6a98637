"""Churn-risk API: router resources and extra paths (joined in api/routes.py and api/urls.py)."""

from keycare.api.risk import RiskScoreViewSet

# prefix -> viewset, registered on the API router.
RESOURCES: dict = {"risk-scores": RiskScoreViewSet}

# Extra (non-router) paths under /api/.
urlpatterns: list = []
