"""Token login, token expiry and the one error format."""

import json
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from keycare.core.models import AuditEvent

pytestmark = pytest.mark.django_db


@pytest.fixture
def user():
    return get_user_model().objects.create_user("li", password="a-long-pass-phrase-77")


def test_token_login_returns_a_token_and_audits(user):
    client = APIClient()
    response = client.post(
        "/api/auth/token/", {"username": "li", "password": "a-long-pass-phrase-77"}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["token"] == Token.objects.get(user=user).key
    assert AuditEvent.objects.filter(action="api_token_issued", object_id=str(user.pk)).exists()


def test_wrong_password_gets_the_error_format(user):
    response = APIClient().post(
        "/api/auth/token/", {"username": "li", "password": "nope"}, format="json"
    )
    assert response.status_code == 400
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "details"}


def test_expired_token_is_refused(user, settings):
    token = Token.objects.create(user=user)
    Token.objects.filter(pk=token.pk).update(created=timezone.now() - timedelta(hours=13))
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    response = client.get("/api/schema/", {"format": "json"})
    assert response.status_code == 401
    assert json.loads(response.content)["error"]["code"] in {
        "authentication_failed",
        "not_authenticated",
    }
    assert not Token.objects.filter(pk=token.pk).exists()


def test_schema_needs_login_and_is_openapi3(user):
    assert APIClient().get("/api/schema/").status_code == 401
    client = APIClient()
    client.force_authenticate(user)
    response = client.get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    assert json.loads(response.content)["openapi"].startswith("3.")


def test_login_throttle_cannot_be_dodged_with_a_forged_forwarded_for(user):
    from django.core.cache import cache

    cache.clear()
    client = APIClient()
    codes = [
        client.post(
            "/api/auth/token/",
            {"username": "li", "password": "nope"},
            format="json",
            HTTP_X_FORWARDED_FOR=f"10.0.0.{i}",
        ).status_code
        for i in range(21)
    ]
    cache.clear()
    assert codes[:20] == [400] * 20
    assert codes[20] == 429
