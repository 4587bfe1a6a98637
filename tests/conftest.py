"""Session-wide output scan (issue #6): no unmasked mobile or ID number leaves the application.

Every response the Django test client (and DRF's APIClient, built on it) gets back during the
run — HTML, JSON, XLSX (every XML part of the workbook), CSV — and every log record is scanned
for a Chinese mobile number (1[3-9] + 9 digits) or an 18-character ID number. A hit in output
for a user without ``access.unmask_personal_data`` fails the run, however the test that
produced it ended. The only exceptions are the audited reveals (``AUDITED_REVEALS``): the
answer to one endpoint may hold exactly the numbers its audit event justifies (the dialled
task's number; the CTI call list's numbers), and any other number in it is still a finding. Only outputs are scanned, never fixtures' inputs, so test data may hold
clear numbers. tests/security/test_output_scan.py proves the scan catches a leak.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import re
import zipfile
from urllib.parse import unquote_plus

import pytest
from django.test import client as django_test_client

# Not after "<digit>.": the fraction of a number is not a phone number (an Excel date serial
# such as 46350.13497551018, written between 03:07 and 04:48 Beijing time, matched once).
MOBILE_RE = re.compile(r"(?<!\d)(?<!\d\.)1[3-9]\d{9}(?!\d)")
# Area code, birth date 19xx/20xx, sequence, check digit: an ID number, not any 18 digits.
ID_RE = re.compile(
    r"(?<![0-9A-Za-z])[1-9]\d{5}(?:19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{3}[0-9Xx]"
    r"(?![0-9A-Za-z])"
)
UNMASK_PERMISSION = "access.unmask_personal_data"
PLUGIN_NAME = "keycare_output_scan"
# The domain tests' fixtures (org, manager, customers, moments, users), built by factories.py.
pytest_plugins = ["domain_fixtures"]


class OutputScanner(logging.Handler):
    def __init__(self):
        super().__init__(level=logging.DEBUG)
        self.findings: list[str] = []
        self.scanned = 0
        self.target = self  # where responses go; swapped by ``private()``

    def scan(self, where: str, text: str, user=None, request=None, sent: str = "") -> None:
        """``request``: (method, path, status) of the response, for the audited reveals;
        ``sent``: what the request itself carried (its query string and body)."""
        self.scanned += 1
        echoed = _numbers(sent)
        found = [
            (kind, match)
            for kind, match in _matches(text)
            if match.group().upper() not in echoed  # the user's own input, shown back to them
        ]
        # The permission is looked up only for a hit, so query-count tests are not disturbed.
        if not found or _may_unmask(user):
            return
        allowed = _audited_reveal(request, text, user) if request else set()
        for kind, match in found:
            if kind == "mobile" and match.group() in allowed:
                continue
            context = text[max(match.start() - 40, 0) : match.end() + 40]
            self.findings.append(f"{kind} {match.group()} in {where}: …{context!r}…")

    def scan_response(self, response, sent: str = "") -> None:
        request = getattr(response, "wsgi_request", None)
        where = f"{getattr(request, 'method', '?')} {getattr(request, 'path', '?')}"
        user = getattr(request, "user", None)
        self.scan(
            f"{where} -> {response.status_code}",
            _body_text(response),
            user,
            (getattr(request, "method", ""), getattr(request, "path", ""), response.status_code),
            sent,
        )

    def emit(self, record: logging.LogRecord) -> None:
        with contextlib.suppress(Exception):  # a scan must never break logging
            self.target.scan(f"log {record.name}:{record.levelname}", self.format(record))

    @contextlib.contextmanager
    def private(self):
        """Send what is produced inside the block to a fresh scanner (for the scan's own tests)."""
        fresh, saved = OutputScanner(), self.target
        self.target = fresh
        try:
            yield fresh
        finally:
            self.target = saved


def _matches(text: str):
    for kind, regex in (("mobile", MOBILE_RE), ("ID number", ID_RE)):
        for match in regex.finditer(text):
            yield kind, match


def _numbers(text: str) -> set[str]:
    return {match.group().upper() for _kind, match in _matches(text)} if text else set()


def _sent_text(request: dict) -> str:
    """The query string and body the test client sent, decoded as a form is. A number in
    them may come back in the answer to the same request (a form shown again with its
    errors, a search box): that tells the user nothing they did not type. The same number
    in any later response is still a finding."""
    payload = request.get("wsgi.input")
    body = getattr(payload, "_FakePayload__content", None)  # Django's test payload
    raw = body.getvalue().decode("utf-8", "replace") if body is not None else ""
    return f"{unquote_plus(request.get('QUERY_STRING', ''))}\n{unquote_plus(raw)}"


def _may_unmask(user) -> bool:
    if user is None or not getattr(user, "is_authenticated", False):
        return False
    try:
        return user.has_perm(UNMASK_PERMISSION)
    except Exception:  # no database in this test: treat as not allowed, so the body is scanned
        return False


def _dialled_number(match, text, user) -> set[str]:
    """The task page's dial answer: the number of that task's customer, once the user's
    ``task.dial`` event on that task exists."""
    from keycare.core.models import AuditEvent
    from keycare.tasks.models import ServiceTask

    task = ServiceTask.objects.select_related("customer").filter(pk=match[1]).first()
    dialled = AuditEvent.objects.filter(
        action="task.dial", actor=user, object_type="tasks.servicetask", object_id=match[1]
    )
    return {task.customer.msisdn} if task is not None and dialled.exists() else set()


def _cti_numbers(match, text, user) -> set[str]:
    """The CTI call list: each row's own customer number, for a CTI account with the clear
    permission whose latest ``cti.call_list`` event names exactly these tasks, in clear."""
    from keycare.core.models import AuditEvent
    from keycare.tasks.models import ServiceTask

    if not user.has_perm("access.cti_clear_numbers"):
        return set()
    rows = json.loads(text).get("results", [])
    event = AuditEvent.objects.filter(action="cti.call_list", actor=user).first()
    if event is None or not event.detail.get("clear"):
        return set()
    if event.detail.get("tasks") != [row["task_id"] for row in rows]:
        return set()
    numbers = dict(
        ServiceTask.objects.filter(pk__in=event.detail["tasks"]).values_list(
            "pk", "customer__msisdn"
        )
    )
    return {row["msisdn"] for row in rows if numbers.get(row["task_id"]) == row["msisdn"]}


# (method, path, what the answer may show in clear). Only a 200 answer to a signed-in user.
AUDITED_REVEALS = (
    ("POST", re.compile(r"/tasks/(\d+)/dial/"), _dialled_number),
    ("GET", re.compile(r"/api/cti/call-list/"), _cti_numbers),
)


def _audited_reveal(request, text, user) -> set[str]:
    method, path, status = request
    if status != 200 or not getattr(user, "is_authenticated", False):
        return set()
    for allowed_method, pattern, allowance in AUDITED_REVEALS:
        match = pattern.fullmatch(path or "")
        if match and method == allowed_method:
            try:
                return allowance(match, text, user)
            except Exception:  # no database, or not the expected body: nothing is allowed
                return set()
    return set()


def _body_text(response) -> str:
    if getattr(response, "streaming", False):
        return ""  # not consumed here: reading would empty it for the test
    content = response.content
    if content[:2] == b"PK":  # XLSX (a zip): scan every XML part
        with contextlib.suppress(zipfile.BadZipFile), zipfile.ZipFile(io.BytesIO(content)) as book:
            return "\n".join(
                book.read(name).decode("utf-8", "replace")
                for name in book.namelist()
                if name.endswith(".xml")
            )
    return content.decode("utf-8-sig", "replace")


SCANNER = OutputScanner()
_original_request = django_test_client.Client.request


def _scanning_request(self, **request):
    response = _original_request(self, **request)
    with contextlib.suppress(Exception):
        SCANNER.target.scan_response(response, _sent_text(request))
    return response


def pytest_configure(config):
    config.pluginmanager.register(SCANNER, PLUGIN_NAME)
    django_test_client.Client.request = _scanning_request
    logging.getLogger().addHandler(SCANNER)


def pytest_runtest_setup(item):
    # django.setup() applies settings.LOGGING, which replaces the root logger's handlers;
    # when that happens depends on test order, so the scanner re-attaches before each test.
    root = logging.getLogger()
    if SCANNER not in root.handlers:
        root.addHandler(SCANNER)


@pytest.fixture(autouse=True)
def _empty_cache():
    """Cached figures (the administrators' dashboards) must not outlive their test's data."""
    from django.core.cache import cache

    cache.clear()


def pytest_unconfigure(config):
    logging.getLogger().removeHandler(SCANNER)
    django_test_client.Client.request = _original_request


def pytest_sessionfinish(session, exitstatus):
    workeroutput = getattr(getattr(session, "config", None), "workeroutput", None)
    if workeroutput is not None:  # a pytest-xdist worker: the controller judges the run
        workeroutput[PLUGIN_NAME] = {"findings": SCANNER.findings, "scanned": SCANNER.scanned}
    if SCANNER.findings and exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error):
    """pytest-xdist's controller: a worker's exit status and summary are not the run's, so
    its findings are gathered here, printed, and fail the run (without this, a finding in
    a worker passed unseen)."""
    output = getattr(node, "workeroutput", {}).get(PLUGIN_NAME)
    if output:
        SCANNER.findings.extend(output["findings"])
        SCANNER.scanned += output["scanned"]


def pytest_terminal_summary(terminalreporter):
    if not SCANNER.findings:
        terminalreporter.write_line(f"output scan: {SCANNER.scanned} outputs, no clear numbers")
        return
    terminalreporter.section("output scan: unmasked personal data", red=True)
    for finding in SCANNER.findings[:50]:
        terminalreporter.write_line(finding)
    terminalreporter.write_line(f"{len(SCANNER.findings)} finding(s): the run fails.")
