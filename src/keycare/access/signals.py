"""Audit every login, logout and failed login; stamp the session's start at login."""

from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver

from keycare.access.middleware import stamp_new_session
from keycare.core.audit import record


def _ip(request) -> str | None:
    return request.META.get("REMOTE_ADDR") if request is not None else None


@receiver(user_logged_in)
def audit_login(sender, request, user, **kwargs):
    record(user, "login", user, ip=_ip(request))
    if getattr(request, "session", None) is not None:
        stamp_new_session(request.session)


@receiver(user_logged_out)
def audit_logout(sender, request, user, **kwargs):
    if user is not None:
        record(user, "logout", user, ip=_ip(request))


@receiver(user_login_failed)
def audit_failed_login(sender, credentials, request=None, **kwargs):
    # The attempted username is recorded; the password never is.
    record(
        None,
        "login_failed",
        object_type="auth.user",
        object_id=str(credentials.get("username", ""))[:64],
        ip=_ip(request),
    )
