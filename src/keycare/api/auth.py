"""Token login for other systems: POST /api/auth/token/ (username, password) -> token.

A new login rotates the token; tokens expire (see keycare.api.authentication).
"""

from drf_spectacular.utils import extend_schema
from rest_framework.authtoken.models import Token
from rest_framework.authtoken.serializers import AuthTokenSerializer
from rest_framework.response import Response
from rest_framework.throttling import AnonRateThrottle
from rest_framework.views import APIView

from keycare.api.authentication import token_lifetime
from keycare.core.audit import record


class LoginThrottle(AnonRateThrottle):
    scope = "login"


class ObtainTokenView(APIView):
    authentication_classes = []
    permission_classes = []
    throttle_classes = [LoginThrottle]
    serializer_class = AuthTokenSerializer

    @extend_schema(
        request=AuthTokenSerializer,
        responses={
            200: {
                "type": "object",
                "properties": {"token": {"type": "string"}, "expires_in": {"type": "integer"}},
            }
        },
    )
    def post(self, request):
        serializer = AuthTokenSerializer(data=request.data, context={"request": request})
        serializer.is_valid(raise_exception=True)
        user = serializer.validated_data["user"]
        Token.objects.filter(user=user).delete()
        token = Token.objects.create(user=user)
        record(user, "api_token_issued", user, ip=request.META.get("REMOTE_ADDR"))
        return Response({"token": token.key, "expires_in": int(token_lifetime().total_seconds())})
