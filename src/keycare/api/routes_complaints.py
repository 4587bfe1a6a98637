"""Complaints API: router resources and extra paths (joined in api/routes.py and api/urls.py)."""

# prefix -> viewset, registered on the API router.
RESOURCES: dict = {}

# Extra (non-router) paths under /api/.
urlpatterns: list = []
