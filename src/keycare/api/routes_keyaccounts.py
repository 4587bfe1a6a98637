"""Key-account API: router resources and extra paths (joined in api/routes.py and api/urls.py)."""

from keycare.api.keyaccounts import KeyAccountViewSet, PotentialKeyAccountViewSet

# prefix -> viewset, registered on the API router.
RESOURCES: dict = {
    "key-accounts": KeyAccountViewSet,
    "potential-key-accounts": PotentialKeyAccountViewSet,
}

# Extra (non-router) paths under /api/.
urlpatterns: list = []
