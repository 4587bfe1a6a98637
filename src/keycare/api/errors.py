"""One error format for the whole API:

    {"error": {"code": "not_found", "message": "...", "details": {...}}}

Unexpected exceptions are logged and answered as a 500 in the same format, never a traceback.
"""

import logging

from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler

from keycare.access.masking import scrub_text
from keycare.errors import UserError

logger = logging.getLogger(__name__)


def _message(detail) -> str:
    if isinstance(detail, dict):
        if set(detail) == {"non_field_errors"}:
            return _message(detail["non_field_errors"])  # a UserError: its text is the message
        return "请求参数有误 Invalid request"
    if isinstance(detail, list):
        return "; ".join(str(item) for item in detail)
    return str(detail)


def api_exception_handler(exc, context):
    if isinstance(exc, UserError):
        exc = exceptions.ValidationError({"non_field_errors": [str(exc)]})
    elif isinstance(exc, ValidationError):
        exc = exceptions.ValidationError(
            exc.message_dict if hasattr(exc, "error_dict") else exc.messages
        )
    response = exception_handler(exc, context)
    if response is None:
        logger.exception("unhandled API error", exc_info=exc)
        return Response(
            {
                "error": {
                    "code": "server_error",
                    "message": "服务器内部错误 Internal error",
                    "details": {},
                }
            },
            status=status.HTTP_500_INTERNAL_SERVER_ERROR,
        )
    if isinstance(exc, Http404):
        code = "not_found"
    elif isinstance(exc, PermissionDenied):
        code = "permission_denied"
    else:
        code = getattr(exc, "default_code", "error")
    detail = getattr(exc, "detail", response.data)
    details = detail if isinstance(detail, dict | list) else {}
    body = {"error": {"code": code, "message": _message(detail), "details": details}}
    response.data = _safe_echo(body)
    return response


def _safe_echo(value):
    """Messages may echo the input ("X is not a valid choice"): a mobile or ID number in it is
    masked like any other output, and a lone surrogate must not break the JSON encoder."""
    if isinstance(value, str):
        return scrub_text(value.encode("utf-8", "replace").decode("utf-8"))
    if isinstance(value, dict):
        return {_safe_echo(k): _safe_echo(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_safe_echo(v) for v in value]
    return value
