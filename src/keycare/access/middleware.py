"""Session lifetime (OWASP ASVS 3.3): a session ends after 30 minutes without a request (idle)
and 12 hours after login however active it is (absolute).

Idle: the session's stored expiry (SESSION_COOKIE_AGE after its last save) ends it. Django
would keep it alive by saving the session on every request (SESSION_SAVE_EVERY_REQUEST): an
UPDATE and a commit after every page view's reads. Instead the session is saved, and its
expiry pushed back, at most once per KEYCARE_SESSION_REFRESH_SECONDS (a minute), so an idle
session ends between 29 and 30 minutes after its last request. (With the staff profile loaded
alongside the user, this took the load benchmark's p95 from 300 to 170 ms:
docs/performance.md.)
"""

import time

from django.conf import settings
from django.contrib.auth import logout

SESSION_STARTED_KEY = "keycare_login_at"
SESSION_REFRESHED_KEY = "keycare_refreshed_at"


def stamp_new_session(session, now: float | None = None) -> None:
    """Mark a session as started (and refreshed) now: at login, so the first page writes nothing."""
    session[SESSION_STARTED_KEY] = session[SESSION_REFRESHED_KEY] = now or time.time()


class SessionLifetimeMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            session = request.session
            now = time.time()
            started = session.get(SESSION_STARTED_KEY)
            if started is None:  # a session from before the stamp at login
                stamp_new_session(session, now)
            elif now - started > settings.KEYCARE_SESSION_ABSOLUTE_SECONDS:
                logout(request)
            elif (
                now - session.get(SESSION_REFRESHED_KEY, 0)
                >= settings.KEYCARE_SESSION_REFRESH_SECONDS
            ):
                session[SESSION_REFRESHED_KEY] = now  # modified: saved with a new expiry
        return self.get_response(request)
