"""Complaints API: router resources and extra paths (joined in api/routes.py and api/urls.py)."""

from keycare.api.complaints import ComplaintViewSet

# prefix -> viewset, registered on the API router.
RESOURCES: dict = {"complaints": ComplaintViewSet}

# Extra (non-router) paths under /api/.
urlpatterns: list = []
