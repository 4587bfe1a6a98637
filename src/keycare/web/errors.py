"""Error pages: 400, 403, 404 and 500 in KeyCare's layout, in the user's language, with a way back.

Registered as Django's ``handler400``/``handler403``/``handler404``/``handler500`` in
``keycare.config.urls`` (Django uses them when DEBUG is off, as in ``keycare demo`` and in
production), and as ``CSRF_FAILURE_VIEW``. Under ``/api/`` the answer stays the API's JSON
error format (``keycare.api.errors``), never an HTML page.

The 500 page is rendered without the request's context processors (navigation, user): they
query the database, which may be what failed.
"""

from django.http import HttpResponse, JsonResponse
from django.template import loader
from django.template.response import TemplateResponse
from django.views.decorators.csrf import requires_csrf_token

API_PREFIX = "/api/"

# status -> (API error code, API message): the API's one error format, as keycare.api.errors.
API_ERRORS = {
    400: ("bad_request", "请求有误 Bad request"),
    403: ("permission_denied", "无权访问 Permission denied"),
    404: ("not_found", "接口不存在 Not found"),
    500: ("server_error", "服务器内部错误 Internal error"),
}


def _is_api(request) -> bool:
    return request.path.startswith(API_PREFIX)


def _api_error(status: int) -> JsonResponse:
    code, message = API_ERRORS[status]
    body = {"error": {"code": code, "message": message, "details": {}}}
    return JsonResponse(body, status=status, json_dumps_params={"ensure_ascii": False})


def _page(request, status: int, context=None):
    if _is_api(request):
        return _api_error(status)
    # Never the exception's text: it is written for developers and may name internals.
    return TemplateResponse(request, f"{status}.html", context or {}, status=status).render()


@requires_csrf_token
def bad_request(request, exception=None):
    return _page(request, 400)


@requires_csrf_token
def permission_denied(request, exception=None):
    return _page(request, 403)


@requires_csrf_token
def page_not_found(request, exception=None):
    return _page(request, 404)


@requires_csrf_token
def csrf_failure(request, reason=""):
    """A form sent from a page left open too long (or with cookies off): a 403 that says so."""
    return _page(request, 403, {"csrf_failure": True})


def server_error(request):
    if _is_api(request):
        return _api_error(500)
    return HttpResponse(loader.get_template("500.html").render(), status=500)
