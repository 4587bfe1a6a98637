"""Signalling API: router resources and extra paths (joined in api/routes.py and api/urls.py)."""

from keycare.api.signalling import RealtimeDetectionViewSet

# prefix -> viewset, registered on the API router.
RESOURCES: dict = {"realtime-detections": RealtimeDetectionViewSet}

# Extra (non-router) paths under /api/.
urlpatterns: list = []
