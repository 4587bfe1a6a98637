"""The session-wide output scan (tests/conftest.py) catches a leak, and only a leak.

A throwaway URLconf serves leaking views; what the test client gets back goes to a private
scanner (so these deliberate leaks do not fail the run), and the findings are checked.
"""

import logging
import subprocess
import sys
from pathlib import Path
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


def echo(request):
    return HttpResponse(f"<input name='q' value='{request.GET.get('q') or request.POST['q']}'>")


def fake_dial(request, pk):
    """Shows the task customer's number and, when asked, another one: only the first is the
    audited reveal's to show."""
    from keycare.tasks.models import ServiceTask

    number = ServiceTask.objects.get(pk=pk).customer.msisdn
    extra = CLEAR_MOBILE if "extra" in request.GET else ""
    return HttpResponse(f"<a href='tel:{number}'>{number}</a>{extra}")


def fake_call_list(request):
    from keycare.tasks.models import ServiceTask

    rows = [
        {"task_id": t.pk, "msisdn": t.customer.msisdn}
        for t in ServiceTask.objects.select_related("customer").order_by("pk")
    ]
    return JsonResponse({"results": rows})


urlpatterns = [
    path("tasks/<int:pk>/dial/", fake_dial),
    path("tasks/<int:pk>/other/", fake_dial),
    path("api/cti/call-list/", fake_call_list),
    path("html/", leak_html),
    path("echo/", echo),
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


def test_a_finding_in_an_xdist_worker_fails_the_run_and_is_printed():
    """Under ``make test`` every test runs in a pytest-xdist worker, whose own exit status and
    summary the run ignores: the controller must gather the workers' findings."""
    probe = Path(__file__).with_name("leak_probe.py")
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-n", "2", "-p", "no:cacheprovider", str(probe)],
        capture_output=True,
        text=True,
        cwd=Path(__file__).parents[2],
        timeout=300,
    )
    assert "1 passed" in run.stdout, run.stdout + run.stderr
    assert "log keycare.probe:WARNING" in run.stdout, run.stdout
    assert "1 finding(s): the run fails." in run.stdout, run.stdout
    assert run.returncode == pytest.ExitCode.TESTS_FAILED, run.stdout


@pytest.mark.django_db
def test_the_users_own_input_may_come_back_in_that_answer_only(client, scanner):
    """A form shown again with what was typed discloses nothing; the same number in a later
    answer, which the request did not carry, is a finding."""
    client.force_login(get_user_model().objects.create_user("typist"))
    client.get("/echo/", {"q": f"{CLEAR_MOBILE}@SUM(1,1)"})
    client.post("/echo/", {"q": CLEAR_MOBILE})
    assert scanner.findings == []
    client.get("/html/", {"q": "13900000000"})
    assert len(scanner.findings) == 1 and CLEAR_MOBILE in scanner.findings[0]


# --- the audited reveals: exactly what their audit event justifies, nothing else --------


@pytest.fixture
def dial_world(db):
    from factories import (
        BUSINESS_DATE,
        make_manager,
        make_org,
        make_task,
        make_user,
        numbered_customer,
    )
    from keycare.access import roles

    org = make_org()
    manager = make_manager(org["C025"])
    task = make_task(numbered_customer(org, 1, manager), BUSINESS_DATE)
    user = make_user("dialler", roles.ROLE_MANAGER, manager=manager)
    return task, user


def leaks(scanner) -> set[str]:
    """The findings without their context: what leaked where (a number shown twice is one)."""
    return {finding.split(": …")[0] for finding in scanner.findings}


def audit_dial(user, task):
    from keycare.core.audit import record

    record(user, "task.dial", task, task=task.pk, reason="outbound_service")


def test_a_dial_answer_without_its_audit_event_is_a_leak(client, scanner, dial_world):
    task, user = dial_world
    client.force_login(user)
    client.post(f"/tasks/{task.pk}/dial/")
    assert leaks(scanner) == {
        f"mobile {task.customer.msisdn} in POST /tasks/{task.pk}/dial/ -> 200"
    }


def test_an_audited_dial_may_show_that_number_only(client, scanner, dial_world):
    task, user = dial_world
    audit_dial(user, task)
    client.force_login(user)
    client.post(f"/tasks/{task.pk}/dial/")
    assert scanner.findings == []
    client.post(f"/tasks/{task.pk}/dial/?extra=1")
    assert leaks(scanner) == {f"mobile {CLEAR_MOBILE} in POST /tasks/{task.pk}/dial/ -> 200"}
    client.get(f"/tasks/{task.pk}/dial/")  # not the POST answer
    client.post(f"/tasks/{task.pk}/other/")  # not the dial endpoint
    assert len(leaks(scanner)) == 3


def test_another_users_dial_event_allows_nothing(client, scanner, dial_world):
    from factories import make_user

    task, user = dial_world
    audit_dial(user, task)
    client.force_login(make_user("someone-else"))
    client.post(f"/tasks/{task.pk}/dial/")
    assert len(leaks(scanner)) == 1


def test_a_call_list_in_clear_needs_the_cti_permission_and_its_audit_event(
    client, scanner, dial_world
):
    from factories import make_cti_user
    from keycare.core.audit import record

    task, _user = dial_world
    for cti in (make_cti_user("cti-masked", clear=False), make_cti_user("cti-clear")):
        client.force_login(cti)
        client.get("/api/cti/call-list/")  # no cti.call_list event yet
    assert len(scanner.findings) == 2
    record(cti, "cti.call_list", tasks=[task.pk], clear=True)
    client.get("/api/cti/call-list/")
    assert len(scanner.findings) == 2, "the audited list may show its own numbers"
