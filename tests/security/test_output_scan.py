"""The session-wide output scan (tests/conftest.py) catches a leak, and only a leak.

A throwaway URLconf serves leaking views; what the test client gets back goes to a private
scanner (so these deliberate leaks do not fail the run), and the findings are checked.
"""

import logging
from types import SimpleNamespace

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.http import HttpResponse, JsonResponse
from django.urls import path

from keycare.core.exports import csv_response, xlsx_response

CLEAR_MOBILE = "13812345678"
CLEAR_ID = "32010219800517123X"


def leak_html(request):
    return HttpResponse(f"<td>{CLEAR_MOBILE}</td>")


def leak_json(request):
    return JsonResponse({"id_number": CLEAR_ID})


def masked_html(request):
    # ... and an Excel date serial, whose fraction once looked like a mobile number.
    return HttpResponse(
        "<td>138****5678</td><td>320102********123X</td><td>20261123124733001</td>"
        "<v>46350.13497551018</v>"
    )


def leak_xlsx(request):
    return xlsx_response("x.xlsx", ["手机"], [[CLEAR_MOBILE]], user=request.user)


def leak_csv(request):
    return csv_response("x.csv", ["证件"], [[CLEAR_ID]], user=request.user)


urlpatterns = [
    path("html/", leak_html),
    path("json/", leak_json),
    path("masked/", masked_html),
    path("xlsx/", leak_xlsx),
    path("csv/", leak_csv),
]


@pytest.fixture
def scanner(pytestconfig, settings):
    settings.ROOT_URLCONF = __name__
    session_scanner = pytestconfig.pluginmanager.get_plugin("keycare_output_scan")
    assert session_scanner is not None, "tests/conftest.py did not register the output scan"
    with session_scanner.private() as private:
        yield private


@pytest.mark.django_db
@pytest.mark.parametrize(
    "url,kind",
    [("/html/", "mobile"), ("/json/", "ID number"), ("/xlsx/", "mobile"), ("/csv/", "ID number")],
)
def test_a_leak_in_any_response_format_is_found(client, scanner, url, kind):
    client.force_login(get_user_model().objects.create_user("plain"))
    assert client.get(url).status_code == 200
    assert len(scanner.findings) == 1
    assert scanner.findings[0].startswith(f"{kind} ")
    assert f"GET {url} -> 200" in scanner.findings[0]


@pytest.mark.django_db
def test_anonymous_and_api_client_responses_are_scanned(scanner):
    from rest_framework.test import APIClient

    APIClient().get("/json/")
    assert len(scanner.findings) == 1


@pytest.mark.django_db
def test_masked_values_and_other_long_numbers_are_not_findings(client, scanner):
    client.get("/masked/")
    assert scanner.scanned == 1
    assert scanner.findings == []


@pytest.mark.django_db
def test_a_user_with_the_unmask_permission_may_see_clear_values(client, scanner):
    user = get_user_model().objects.create_user("officer")
    user.user_permissions.add(Permission.objects.get(codename="unmask_personal_data"))
    client.force_login(user)
    client.get("/html/")
    assert scanner.findings == []


def test_a_leak_in_a_log_record_is_found(scanner):
    logging.getLogger("keycare.anything").warning("bad row for %s", CLEAR_MOBILE)
    assert len(scanner.findings) == 1 and "log keycare.anything:WARNING" in scanner.findings[0]


def test_findings_fail_a_session_that_would_otherwise_pass(pytestconfig, scanner):
    """The session hook turns a green run red when the (session) scanner found anything."""
    conftest = type(pytestconfig.pluginmanager.get_plugin("keycare_output_scan"))
    hook = next(
        plugin.pytest_sessionfinish
        for plugin in pytestconfig.pluginmanager.get_plugins()
        if getattr(plugin, "SCANNER", None) is not None and isinstance(plugin.SCANNER, conftest)
    )
    module = hook.__globals__
    saved = module["SCANNER"]
    leaking = conftest()
    leaking.findings.append("mobile 13812345678 in GET /x/")
    session = SimpleNamespace(exitstatus=pytest.ExitCode.OK)
    try:
        module["SCANNER"] = leaking
        hook(session, pytest.ExitCode.OK)
        assert session.exitstatus == pytest.ExitCode.TESTS_FAILED
        module["SCANNER"] = conftest()
        clean = SimpleNamespace(exitstatus=pytest.ExitCode.OK)
        hook(clean, pytest.ExitCode.OK)
        assert clean.exitstatus == pytest.ExitCode.OK
    finally:
        module["SCANNER"] = saved
