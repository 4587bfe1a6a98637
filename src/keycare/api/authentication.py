"""API authentication: expiring tokens (kept apart from views, which DRF settings import)."""

from datetime import timedelta

from django.conf import settings
from django.utils import timezone
from rest_framework import exceptions
from rest_framework.authentication import TokenAuthentication


def token_lifetime() -> timedelta:
    return timedelta(hours=getattr(settings, "KEYCARE_API_TOKEN_HOURS", 12))


class ExpiringTokenAuthentication(TokenAuthentication):
    """Tokens expire (KEYCARE_API_TOKEN_HOURS, default 12) so a leaked one does not live forever."""

    keyword = "Token"

    def authenticate_credentials(self, key):
        user, token = super().authenticate_credentials(key)
        if timezone.now() - token.created > token_lifetime():
            token.delete()
            raise exceptions.AuthenticationFailed("令牌已过期，请重新登录 Token expired")
        return user, token
