"""Messaging API: router resources and extra paths (joined in api/routes.py and api/urls.py)."""

from keycare.api.messaging import SmsMessageViewSet

# prefix -> viewset, registered on the API router.
RESOURCES: dict = {"sms-messages": SmsMessageViewSet}

# Extra (non-router) paths under /api/.
urlpatterns: list = []
