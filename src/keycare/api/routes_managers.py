"""Account-manager API: router resources and extra paths (joined in api/routes.py and api/urls.py)."""

from keycare.api import managers

# prefix -> viewset, registered on the API router.
RESOURCES: dict = {
    "managers": managers.ManagerViewSet,
    "plans": managers.WorkPlanViewSet,
    "visits": managers.VisitViewSet,
    "assessments": managers.AssessmentViewSet,
}

# Extra (non-router) paths under /api/.
urlpatterns: list = []
