"""Client errors are 4xx, never a 500; server bugs are still a 500 (keycare.api.errors).

Real requests through APIClient and Django's test client, except where only a direct call
can raise the exception (a genuine server bug, DisallowedHost inside a view).
"""

import json

import pytest
from django.core.cache import cache
from django.core.exceptions import BadRequest, DisallowedHost, SuspiciousFileOperation
from rest_framework.test import APIClient

from keycare.api.errors import api_exception_handler
from keycare.core.parsing import MAX_JSON_DEPTH

pytestmark = pytest.mark.django_db


@pytest.fixture
def anonymous():
    cache.clear()  # the token login is throttled (20/min per address)
    return APIClient(raise_request_exception=False)


@pytest.fixture
def api(world):
    client = APIClient(raise_request_exception=False)
    client.credentials(HTTP_AUTHORIZATION=f"Token {world.tokens['province_admin']}")
    return client


def _error(response) -> dict:
    assert response["Content-Type"].startswith("application/json")
    return response.json()["error"]


@pytest.mark.parametrize("body", ["[" * 50_000, '{"a":' * 50_000, "[" * 5_000 + "]" * 5_000])
def test_deep_json_to_the_anonymous_login_is_a_400(anonymous, body):
    response = anonymous.generic("POST", "/api/auth/token/", body, content_type="application/json")
    assert response.status_code == 400
    error = _error(response)
    assert error["code"] == "parse_error"
    assert "JSON nested too deeply" in error["message"] and "嵌套" in error["message"]


def test_json_depth_limit_is_exact(anonymous):
    def login(depth):  # the object is one level, the lists the rest
        lists = depth - 1
        body = '{"username": ' + "[" * lists + "]" * lists + ', "password": "x"}'
        cache.clear()
        return anonymous.generic("POST", "/api/auth/token/", body, content_type="application/json")

    at_limit = login(MAX_JSON_DEPTH)
    assert at_limit.status_code == 400 and _error(at_limit)["code"] != "parse_error"
    over = login(MAX_JSON_DEPTH + 1)
    assert over.status_code == 400 and _error(over)["code"] == "parse_error"


def test_deep_json_to_an_authenticated_endpoint_is_a_400(api, world):
    task = next(t for t in world.tasks if t.state == "in_progress")
    body = json.dumps({"task": task.pk, "kind": "alert", "due_at": "2026-12-01T10:00"})
    body = body[:-1] + ', "notes": ' + "[" * 50_000 + "}"
    response = api.generic("POST", "/api/appointments/", body, content_type="application/json")
    assert response.status_code == 400 and _error(response)["code"] == "parse_error"


@pytest.mark.parametrize("path", ["/api/auth/token/", "/api/appointments/"])
def test_too_many_form_fields_is_a_400(anonymous, api, path):
    client = anonymous if path == "/api/auth/token/" else api
    body = "&".join(f"f{n}=1" for n in range(1_001))
    response = client.generic("POST", path, body, content_type="application/x-www-form-urlencoded")
    assert response.status_code == 400
    error = _error(response)
    assert error["code"] == "bad_request"
    assert error["message"] == "请求的字段过多 Too many fields in the request"


def test_too_many_multipart_fields_is_a_400(api):
    part = '--B\r\nContent-Disposition: form-data; name="f"\r\n\r\n1\r\n'
    body = part * 1_001 + "--B--\r\n"
    response = api.generic(
        "POST", "/api/appointments/", body, content_type="multipart/form-data; boundary=B"
    )
    assert response.status_code == 400 and _error(response)["code"] == "bad_request"


@pytest.mark.parametrize("content_type", ["application/json", "application/x-www-form-urlencoded"])
def test_a_body_over_the_upload_limit_is_a_400(api, settings, content_type):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1_000
    body = '{"notes": "' + "A" * 1_000 + '"}' if "json" in content_type else "notes=" + "A" * 1_000
    response = api.generic("POST", "/api/appointments/", body, content_type=content_type)
    assert response.status_code == 400
    assert _error(response)["message"] == "请求体过大 Request body too large"


def test_a_body_within_the_upload_limit_is_read(api, world, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1_000
    task = next(t for t in world.tasks if t.state == "in_progress")
    body = {"task": task.pk, "kind": "alert", "due_at": "2026-12-01T10:00", "notes": "n" * 800}
    response = api.post("/api/appointments/", body, format="json")
    assert response.status_code == 201, response.content


def test_other_client_errors_keep_their_4xx(api):
    malformed = api.generic("POST", "/api/appointments/", "{", content_type="application/json")
    assert malformed.status_code == 400 and _error(malformed)["code"] == "parse_error"
    unsupported = api.generic("POST", "/api/appointments/", "x", content_type="text/plain")
    assert unsupported.status_code == 415
    assert _error(unsupported)["code"] == "unsupported_media_type"
    assert _error(api.get("/api/appointments/999999/"))["code"] == "not_found"
    assert api.delete("/api/appointments/").status_code == 405


def test_an_out_of_range_due_time_names_the_field(api, world):
    task = next(t for t in world.tasks if t.state == "in_progress")
    for value in ("0001-01-01T00:00:00", "9999-12-31T23:59:59"):
        body = {"task": task.pk, "kind": "alert", "due_at": value}
        response = api.post("/api/appointments/", body, format="json")
        assert response.status_code == 400
        error = _error(response)
        assert error["message"] == (
            "请求参数有误 Invalid request: due_at: 日期时间须在 1900 至 2100 年之间 "
            "Date-time must be between the years 1900 and 2100"
        )
        assert list(error["details"]) == ["due_at"]
        listed = api.get("/api/appointments/", {"due_before": value})
        assert listed.status_code == 400 and list(_error(listed)["details"]) == ["due_before"]
    for value in ("1900-01-01T00:00:00", "2100-12-31T23:59:59"):
        body = {"task": task.pk, "kind": "alert", "due_at": value}
        assert api.post("/api/appointments/", body, format="json").status_code == 201
        assert api.get("/api/appointments/", {"due_before": value}).status_code == 200


@pytest.mark.parametrize(
    "exc, message",
    [(DisallowedHost("Invalid HTTP_HOST header: 'evil<script>'"), "请求无效 Bad request"),
     (SuspiciousFileOperation("../../etc/passwd"), "请求无效 Bad request"),
     (BadRequest("bad"), "请求无效 Bad request")],
)  # fmt: skip
def test_suspicious_operations_are_a_400_that_echoes_nothing(exc, message):
    response = api_exception_handler(exc, {})
    assert response.status_code == 400
    assert response.data["error"] == {"code": "bad_request", "message": message, "details": {}}


@pytest.mark.parametrize(
    "exc",
    [ValueError("bug"), OverflowError("date value out of range"), RecursionError(), KeyError("x"),
     TypeError("bug")],
)  # fmt: skip
def test_server_bugs_are_still_a_500(exc):
    response = api_exception_handler(exc, {})
    assert response.status_code == 500
    assert response.data["error"]["code"] == "server_error"
