"""Absolute session lifetime (OWASP ASVS 3.3): a session ends 12 hours after login,
however active it is. The idle timeout is Django's own (SESSION_COOKIE_AGE with
SESSION_SAVE_EVERY_REQUEST)."""

import time

from django.conf import settings
from django.contrib.auth import logout

SESSION_STARTED_KEY = "keycare_login_at"


class AbsoluteSessionTimeoutMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            started = request.session.get(SESSION_STARTED_KEY)
            now = time.time()
            if started is None:
                request.session[SESSION_STARTED_KEY] = now
            elif now - started > settings.KEYCARE_SESSION_ABSOLUTE_SECONDS:
                logout(request)
        return self.get_response(request)
