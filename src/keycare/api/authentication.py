"""API authentication: expiring tokens (kept apart from views, which DRF settings import)."""

from datetime import timedelta

from django.conf import settings
from django.utils import timezone
from rest_framework import exceptions
from rest_framework.authentication import TokenAuthentication


def token_lifetime() -> timedelta:
    return timedelta(hours=getattr(settings, "KEYCARE_API_TOKEN_HOURS", 12))


class ExpiringTokenAuthentication(TokenAuthentication):
    """Tokens expire (KEYCARE_API_TOKEN_HOURS, default 12) so a leaked one does not live forever.

    The token, its user and the user's staff profile (role and scope, read by every call)
    come in one query.
    """

    keyword = "Token"

    def authenticate_credentials(self, key):
        token = (
            self.get_model()
            .objects.select_related("user", "user__staffprofile")
            .filter(key=key)
            .first()
        )
        if token is None:
            raise exceptions.AuthenticationFailed("令牌无效 Invalid token")
        if not token.user.is_active:
            raise exceptions.AuthenticationFailed("用户已停用或删除 User inactive or deleted")
        if timezone.now() - token.created > token_lifetime():
            token.delete()
            raise exceptions.AuthenticationFailed("令牌已过期，请重新登录 Token expired")
        return token.user, token
