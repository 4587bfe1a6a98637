"""Login auditing, throttling and session lifetimes (OWASP ASVS level 2)."""

import time

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_login_failed

from keycare.access.middleware import SESSION_STARTED_KEY
from keycare.core.models import AuditEvent

pytestmark = pytest.mark.django_db


@pytest.fixture
def user():
    return get_user_model().objects.create_user("wang", password="correct-horse-battery-9")


def test_login_and_logout_are_audited_and_rotate_the_session(client, user):
    user.is_staff = True
    user.save()
    client.get("/admin/login/")
    before = client.cookies["csrftoken"].value and client.session.session_key
    client.post("/admin/login/", {"username": "wang", "password": "correct-horse-battery-9"})
    assert client.session["_auth_user_id"] == str(user.pk)
    assert client.session.session_key != before
    client.logout()
    actions = list(AuditEvent.objects.order_by("id").values_list("action", flat=True))
    assert actions == ["login", "logout"]


def test_failed_login_is_audited_without_the_password(client, user):
    client.post("/admin/login/", {"username": "wang", "password": "wrong-guess"})
    event = AuditEvent.objects.get(action="login_failed")
    assert event.object_id == "wang"
    assert "wrong-guess" not in str(event.detail)


def test_repeated_failures_lock_the_account_out(client, user):
    for _ in range(5):
        client.post("/admin/login/", {"username": "wang", "password": "wrong"})
    response = client.post(
        "/admin/login/", {"username": "wang", "password": "correct-horse-battery-9"}
    )
    assert response.status_code == 429
    assert "_auth_user_id" not in client.session


def test_idle_and_absolute_timeouts_are_configured(settings):
    assert settings.SESSION_COOKIE_AGE == 30 * 60
    assert settings.SESSION_SAVE_EVERY_REQUEST is True
    assert settings.KEYCARE_SESSION_ABSOLUTE_SECONDS == 12 * 3600


def test_session_older_than_twelve_hours_is_ended(client, user):
    user.is_staff = True
    user.save()
    client.force_login(user)
    client.get("/admin/")
    session = client.session
    session[SESSION_STARTED_KEY] = time.time() - 12 * 3600 - 1
    session.save()
    response = client.get("/admin/")
    assert response.status_code == 302  # back to the login page
    assert "_auth_user_id" not in client.session


def test_failed_login_signal_without_request_is_recorded():
    user_login_failed.send(sender=None, credentials={"username": "nobody"})
    assert AuditEvent.objects.filter(action="login_failed", object_id="nobody").exists()
