"""Browser tests: Playwright (sync API) driving Debian's Chromium against pytest-django's live server.

Every test here is marked ``browser`` and ``django_db(transaction=True)``: the live server
runs in another thread of this process and must see the rows the test writes, which needs
committed data (a transactional test), not a rolled-back transaction.

The ``page`` fixture fails the test at teardown if the page logged a console error or raised
an uncaught exception. The ``shot`` fixture, ``shot(page, name)``, saves a screenshot as a
test artefact under ``$KEYCARE_ARTIFACTS`` (default ``var/test-artifacts/screenshots``); the
``login`` fixture, ``login(page, username, password)``, goes through the real login form. Both
are fixtures returning the helper, so test modules never import ``conftest`` by name.
"""

import importlib.util
import os
import re
import threading
from datetime import date
from pathlib import Path

import pytest
from django.conf import settings
from django.core.servers.basehttp import ThreadedWSGIServer
from django.test.testcases import LiveServerThread
from playwright.sync_api import sync_playwright

import factories
from factories import make_department, make_task
from keycare.access import roles
from keycare.tasks.models import TaskMoment

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
CHROMIUM = os.environ.get("KEYCARE_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
VIEWPORT = {"width": 1366, "height": 768}
PHONE = {"width": 390, "height": 844}
PASSWORD = "Keycare-Browser-2026!"
DAY = date(2026, 11, 22)


# --- the shared web set-up (org, moment, managers, make_customer) -------------------------
# tests/web is not a package, so its conftest cannot be imported by name; load it by path
# and re-export its fixtures so both suites build the same world.
def _load_web_fixtures():
    spec = importlib.util.spec_from_file_location(
        "keycare_tests_web_conftest", REPO / "tests" / "web" / "conftest.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_web = _load_web_fixtures()
org = _web.org
moment = _web.moment
managers = _web.managers
make_customer = _web.make_customer


class _SerializedWSGIServer(ThreadedWSGIServer):
    """The live server, one request at a time (connections stay threaded, for keep-alive).

    On SQLite the test database is in memory, and Django hands every request thread the test
    thread's one connection (``connections_override``). Two requests at once — a page and the
    panel htmx loads right after it — then ran on that connection together and deadlocked
    inside sqlite3 (both threads blocked in ``execute``: a CI run hung for good).
    """

    def set_app(self, application):
        lock = threading.Lock()

        def one_at_a_time(environ, start_response):
            with lock:
                return application(environ, start_response)

        super().set_app(one_at_a_time)


LiveServerThread.server_class = _SerializedWSGIServer


@pytest.hookimpl(tryfirst=True)  # before -m selection and pytest-django's reordering
def pytest_collection_modifyitems(config, items):
    """Mark everything under tests/browser (this hook sees the whole session's items)."""
    for item in items:
        if Path(str(item.path)).resolve().is_relative_to(HERE):
            item.add_marker(pytest.mark.browser)
            item.add_marker(pytest.mark.django_db(transaction=True))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """Keep each phase's report on the test, so the page fixture knows the test failed."""
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


# --- the browser ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser():
    """One Chromium per test module (never downloaded: Debian's /usr/bin/chromium).

    Playwright's sync API runs an asyncio event loop on this (the main) thread and leaves it
    registered as the thread's running loop between calls, so Django's async-safety check
    (``django.utils.asyncio.async_unsafe``) sees "a running event loop" and refuses every ORM
    call the test body makes (SynchronousOnlyOperation). Nothing async touches the database:
    the loop only drives the browser over a pipe, and the live server answers from its own
    thread. So DJANGO_ALLOW_ASYNC_UNSAFE is set, but only while this module's browser lives
    (the module scope ends the loop, so the rest of the session keeps the check).
    """
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        with sync_playwright() as playwright:
            chromium = playwright.chromium.launch(
                executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
            )
            yield chromium
            chromium.close()


@pytest.fixture
def page_log():
    """What went wrong in the page: console errors, uncaught exceptions, HTTP errors."""
    return {"console": [], "pageerror": [], "http": []}


@pytest.fixture
def page(browser, live_server, page_log, request):
    """A 1366x768 page on the live server; console errors and page errors fail the test.

    When the test fails, the page as it was is saved as ``FAILED-<test>.png`` for the artefacts.
    """
    yield from _open_page(browser, live_server, page_log, request, viewport=VIEWPORT)


@pytest.fixture
def phone(browser, live_server, page_log, request):
    """Like ``page``, on a phone: 390x844, touch, the page's viewport meta honoured."""
    yield from _open_page(
        browser, live_server, page_log, request, viewport=PHONE, is_mobile=True, has_touch=True
    )


def _open_page(browser, live_server, page_log, request, **options):
    context = browser.new_context(
        base_url=live_server.url,
        locale="zh-CN",
        timezone_id=settings.TIME_ZONE,
        **options,
    )
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.on("console", lambda msg: _on_console(page_log, msg))
    page.on("pageerror", lambda error: page_log["pageerror"].append(str(error)))
    page.on("response", lambda response: _on_response(page_log, response))
    yield page
    report = getattr(request.node, "report_call", None)
    if report is not None and report.failed:
        save_screenshot(page, f"FAILED-{request.node.name}")
    context.close()
    errors = page_log["console"] + page_log["pageerror"]
    if errors:
        pytest.fail("JavaScript errors in the page:\n" + "\n".join(errors), pytrace=False)


def _on_console(log, message):
    if message.type == "error":
        log["console"].append(f"console error: {message.text} ({message.location.get('url')})")


def _on_response(log, response):
    if response.status >= 400:
        log["http"].append(f"HTTP {response.status} {response.request.method} {response.url}")


def artifacts_dir() -> Path:
    default = REPO / "var" / "test-artifacts" / "screenshots"
    directory = Path(os.environ.get("KEYCARE_ARTIFACTS", default))
    directory.mkdir(parents=True, exist_ok=True)
    return directory


def save_screenshot(page, name: str) -> Path:
    """Save a full-page screenshot as a test artefact; returns its path."""
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("_") or "page"
    path = artifacts_dir() / f"{safe}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def form_login(page, username: str, password: str = PASSWORD):
    """Log in through the real login form (CSRF, axes, session) and land on the home page."""
    page.goto("/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    with page.expect_navigation() as landing:
        page.click("form button[type=submit]")
    if "/accounts/login/" in page.url:
        raise AssertionError(f"login as {username!r} failed: still on {page.url}")
    response = landing.value
    if response is not None and response.status >= 400:
        raise AssertionError(
            f"{username!r} logged in but {page.url} answered HTTP {response.status}"
        )


@pytest.fixture
def shot():
    """``shot(page, name)``: a fixture, so tests need not import this conftest by name."""
    return save_screenshot


@pytest.fixture
def login():
    """``login(page, username, password=PASSWORD)`` through the real login form."""
    return form_login


def open_menu(page, label: str) -> None:
    """Open the navigation menu that holds the link ``label`` (the bar groups its links into
    menus by domain), by clicking the menu's button as a user would."""
    key = page.evaluate(
        """(label) => {
          const link = [...document.querySelectorAll("header.top nav a")]
            .find((a) => a.textContent.trim() === label);
          if (!link) { return null; }
          const group = link.closest(".nav-group");
          return group ? (group.classList.contains("open") ? "" : group.dataset.group) : "";
        }""",
        label,
    )
    assert key is not None, f"no navigation link {label!r}"
    if key:
        page.locator(f'header.top .nav-group[data-group="{key}"] > .nav-group-toggle').click()


@pytest.fixture
def menu():
    """``menu(page, label)``: open the navigation menu holding the link ``label``."""
    return open_menu


# --- people and work ------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    """PBKDF2 costs over a second per hash on a loaded 2-core box, paid at every user creation
    and every form login; the login form, CSRF, axes and the session stay real."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def make_user(db):
    """make_user(role, username, manager=None, city=None) -> a user with a real password."""

    def make(role, username, manager=None, city=None):
        return factories.make_user(username, role, city=city, manager=manager, password=PASSWORD)

    return make


@pytest.fixture
def staff(org, managers, make_user):
    """One user per role: manager (M1's portfolio), city admin, province admin, analyst, auditor."""
    return {
        roles.ROLE_MANAGER: make_user(roles.ROLE_MANAGER, "mgr1", manager=managers[0]),
        roles.ROLE_CITY_ADMIN: make_user(roles.ROLE_CITY_ADMIN, "cityadmin", city=org["city"]),
        roles.ROLE_PROVINCE_ADMIN: make_user(roles.ROLE_PROVINCE_ADMIN, "provadmin"),
        roles.ROLE_ANALYST: make_user(roles.ROLE_ANALYST, "analyst"),
        roles.ROLE_AUDITOR: make_user(roles.ROLE_AUDITOR, "auditor"),
    }


@pytest.fixture
def manager_tasks(org, moment, managers, make_customer):
    """Three of today's tasks for manager M1 (one per priority) and one for M2; a department."""
    make_department("NET", "网络维护部")
    tasks = []
    for n, (manager, score) in enumerate([(managers[0], 95), (managers[0], 70), (managers[0], 40),
                                          (managers[1], 90)]):  # fmt: skip
        customer = make_customer(f"B{n:04d}", manager, msisdn=f"1391234500{n}", name=f"欧阳修{n}")
        task = make_task(
            customer, DAY, priority_score=score, risk_probability=0.72,
            risk_reasons=["账单下降 35%"],
            health_scores={"消费": 60, "通话": 45, "流量": 80, "缴费": 90, "交往圈": 30},
        )  # fmt: skip
        TaskMoment.objects.create(task=task, moment=moment, priority=80, explanation="账单下降")
        tasks.append(task)
    return tasks
