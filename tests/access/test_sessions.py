"""Login auditing, throttling and session lifetimes (OWASP ASVS level 2)."""

import time
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_login_failed
from django.contrib.sessions.models import Session
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from keycare.access.middleware import SESSION_REFRESHED_KEY, SESSION_STARTED_KEY
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
    assert settings.KEYCARE_SESSION_REFRESH_SECONDS == 60
    # The middleware refreshes the session; saving it on every request is what it replaces.
    assert settings.SESSION_SAVE_EVERY_REQUEST is False
    assert settings.KEYCARE_SESSION_ABSOLUTE_SECONDS == 12 * 3600


@pytest.fixture
def staff_client(client, user):
    user.is_staff = True
    user.save()
    client.force_login(user)
    client.get("/admin/")  # the first request stamps the session
    return client


def _stored_expiry(client):
    return Session.objects.get(session_key=client.session.session_key).expire_date


def _session_writes(client, path="/admin/"):
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(path).status_code == 200
    return [q["sql"] for q in ctx.captured_queries if q["sql"].startswith("UPDATE")]


def test_requests_within_the_refresh_interval_do_not_write_the_session(staff_client):
    expiry = _stored_expiry(staff_client)
    assert _session_writes(staff_client) == []
    assert _session_writes(staff_client) == []
    assert _stored_expiry(staff_client) == expiry


def test_a_request_after_the_refresh_interval_pushes_the_idle_expiry_back(staff_client):
    session = staff_client.session
    session[SESSION_REFRESHED_KEY] = time.time() - 61
    session.save()
    Session.objects.filter(session_key=session.session_key).update(
        expire_date=timezone.now() + timedelta(minutes=5)
    )
    writes = _session_writes(staff_client)
    assert len(writes) == 1 and "django_session" in writes[0]
    remaining = _stored_expiry(staff_client) - timezone.now()
    assert timedelta(minutes=29) < remaining <= timedelta(minutes=30)


def test_a_session_idle_for_thirty_minutes_is_ended(staff_client):
    Session.objects.filter(session_key=staff_client.session.session_key).update(
        expire_date=timezone.now() - timedelta(seconds=1)
    )
    response = staff_client.get("/admin/")
    assert response.status_code == 302  # back to the login page
    assert "/login/" in response["Location"]


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
