"""One error format for the whole API:

    {"error": {"code": "not_found", "message": "...", "details": {...}}}

Client errors are 4xx whatever raised them: DRF's own exceptions, Http404 and
PermissionDenied (DRF maps them), a UserError or Django ValidationError (400), and Django's
SuspiciousOperation family (TooManyFieldsSent, RequestDataTooBig, DisallowedHost, ...) and
BadRequest, which Django itself answers with a 400 on the web side. Anything else
(ValueError, OverflowError, DataError, RecursionError, ...) is a server bug, since input is
validated before it is used: it is logged and answered as a 500 in the same format, never a
traceback.
"""

import logging

from django.core.exceptions import (
    BadRequest,
    PermissionDenied,
    RequestDataTooBig,
    SuspiciousOperation,
    TooManyFieldsSent,
    TooManyFilesSent,
    ValidationError,
)
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
        if len(detail) == 1:  # one field: name it, and say what is wrong with it
            ((field, errors),) = detail.items()
            return f"请求参数有误 Invalid request: {field}: {_message(errors)}"
        return "请求参数有误 Invalid request"
    if isinstance(detail, list):
        return "; ".join(str(item) for item in detail)
    return str(detail)


class BadRequestError(exceptions.APIException):
    status_code = status.HTTP_400_BAD_REQUEST
    default_detail = "请求无效 Bad request"
    default_code = "bad_request"


# Checked in order: the first class the exception is an instance of gives the message.
SUSPICIOUS_MESSAGES = (
    (TooManyFieldsSent, "请求的字段过多 Too many fields in the request"),
    (TooManyFilesSent, "请求的文件过多 Too many files in the request"),
    (RequestDataTooBig, "请求体过大 Request body too large"),
    (SuspiciousOperation, "请求无效 Bad request"),
)


def _client_error(exc, context):
    """``exc`` as the DRF exception that answers it, when it is a client error."""
    if isinstance(exc, UserError):
        return exceptions.ValidationError({"non_field_errors": [str(exc)]})
    if isinstance(exc, ValidationError):
        return exceptions.ValidationError(
            exc.message_dict if hasattr(exc, "error_dict") else exc.messages
        )
    if isinstance(exc, SuspiciousOperation):
        # Logged as Django logs it on the web side (django.security.<class>); never echoed:
        # the text may quote the request (a Host header, a file name).
        request = context.get("request")
        logging.getLogger(f"django.security.{exc.__class__.__name__}").error(
            str(exc), extra={"status_code": 400, "request": getattr(request, "_request", None)}
        )
        message = next(text for cls, text in SUSPICIOUS_MESSAGES if isinstance(exc, cls))
        return BadRequestError(message)
    if isinstance(exc, BadRequest):
        return BadRequestError()
    return exc


def api_exception_handler(exc, context):
    exc = _client_error(exc, context)
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
