"""The application shell: logging out, error pages, the navigation, and how the demo serves."""

import re

import pytest
from django.conf import settings as django_settings
from django.test import Client
from django.urls import reverse

from factories import make_user
from keycare.access import roles
from keycare.core.management.commands import demo as demo_command
from keycare.web import navigation
from keycare.web.views import HOME_BY_ROLE

pytestmark = pytest.mark.django_db

PASSWORD = "Keycare-Shell-2026!"
ALL_ROLES = [
    roles.ROLE_MANAGER,
    roles.ROLE_CITY_ADMIN,
    roles.ROLE_PROVINCE_ADMIN,
    roles.ROLE_ANALYST,
    roles.ROLE_AUDITOR,
]
# What Django's technical 404 page (DEBUG on) shows: the URL patterns it tried.
TECHNICAL_404 = ("URLconf", "Using the URLconf", "tried these URL patterns", "admin/")


@pytest.fixture(autouse=True)
def fast_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def user_of(org, managers):
    """user_of(role) -> a user with that role and the scope the role needs."""

    def make(role):
        return make_user(
            f"u_{role}",
            role,
            manager=managers[0] if role == roles.ROLE_MANAGER else None,
            city=org["city"] if role == roles.ROLE_CITY_ADMIN else None,
            password=PASSWORD,
        )

    return make


# --- 1. logging out --------------------------------------------------------------------------


def test_logout_returns_to_keycares_login_page_and_the_user_can_log_in_again(client, user_of):
    user_of(roles.ROLE_MANAGER)
    credentials = {"username": f"u_{roles.ROLE_MANAGER}", "password": PASSWORD}
    assert client.post("/accounts/login/", credentials).status_code == 302
    assert "_auth_user_id" in client.session
    response = client.post("/accounts/logout/")
    assert response.status_code == 302
    assert response["Location"] == reverse("login") == "/accounts/login/"
    assert "_auth_user_id" not in client.session

    page = client.get(response["Location"]).content.decode()
    assert "登录 KeyCare" in page
    assert "/admin/" not in page, "no way into the admin login from KeyCare's login page"

    again = client.post("/accounts/login/", credentials)
    assert again.status_code == 302 and again["Location"] == "/"
    assert client.get("/workbench/").status_code == 200


def test_the_logout_button_posts_to_keycares_logout(client, login_as, managers):
    login_as(roles.ROLE_MANAGER, manager=managers[0])
    page = client.get("/workbench/").content.decode()
    assert re.search(r'<form action="/accounts/logout/" method="post">', page)


# --- 2. error pages --------------------------------------------------------------------------


def assert_keycare_error_page(response, status, heading):
    assert response.status_code == status
    assert response["Content-Type"].startswith("text/html")
    page = response.content.decode()
    assert 'class="top"' in page and "keycare.css" in page, "KeyCare's layout"
    assert f"<h1>{heading}</h1>" in page
    assert re.search(r'<a class="button" href="/">返回首页</a>', page), "a way back"
    assert "history.back()" in page
    for technical in TECHNICAL_404 + ("Traceback", "Page not found", "Forbidden"):
        assert technical not in page, f"{technical!r} on the {status} page"
    return page


def test_unknown_page_is_keycares_404_in_chinese(client, user_of):
    client.force_login(user_of(roles.ROLE_MANAGER))
    page = assert_keycare_error_page(client.get("/no-such-page/"), 404, "页面不存在")
    assert "预警任务" in page, "the navigation is still there"


def test_missing_object_is_keycares_404(client, user_of):
    client.force_login(user_of(roles.ROLE_PROVINCE_ADMIN))
    assert_keycare_error_page(client.get("/runs/999999/"), 404, "页面不存在")


def test_forbidden_page_is_keycares_403_in_chinese(client, user_of):
    client.force_login(user_of(roles.ROLE_MANAGER))
    page = assert_keycare_error_page(client.get("/audit/"), 403, "无权访问此页面")
    assert "the audit log is for auditors only" not in page, "no internal message shown"


def test_error_pages_follow_the_english_language(client, user_of):
    client.force_login(user_of(roles.ROLE_MANAGER))
    client.post("/i18n/setlang/", {"language": "en", "next": "/"})
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    page = response.content.decode()
    assert "<h1>Page not found</h1>" in page and "Back to home" in page
    assert "页面不存在" not in page
    forbidden = client.get("/audit/").content.decode()
    assert "<h1>You may not open this page</h1>" in forbidden


def test_rejected_form_is_keycares_403_saying_why():
    """A login form left open past its CSRF cookie (the most common 403 a user meets)."""
    response = Client(enforce_csrf_checks=True).post(
        "/accounts/login/", {"username": "x", "password": "y"}
    )
    page = assert_keycare_error_page(response, 403, "无权访问此页面")
    assert "请刷新页面后重试" in page
    assert "CSRF verification failed" not in page, "not Django's own page"


def test_server_error_is_keycares_500(user_of, monkeypatch):
    client = Client(raise_request_exception=False)
    client.force_login(user_of(roles.ROLE_MANAGER))

    monkeypatch.setattr("keycare.web.views.HOME_BY_ROLE", None)  # home() fails on a None lookup
    response = client.get("/")
    assert response.status_code == 500
    page = response.content.decode()
    assert "<h1>服务器出错了</h1>" in page and 'href="/"' in page
    assert "Traceback" not in page and "TypeError" not in page


def test_bad_request_is_keycares_400(client):
    response = client.get("/", headers={"host": "evil.example"})  # not in ALLOWED_HOSTS
    assert response.status_code == 400
    page = response.content.decode()
    assert "<h1>请求有误</h1>" in page and 'href="/"' in page


def test_handlers_are_registered():
    from keycare.config import urls

    for code in (400, 403, 404, 500):
        assert getattr(urls, f"handler{code}").startswith("keycare.web.errors.")


@pytest.mark.parametrize("path", ["/api/no-such-endpoint/", "/api/v1/nothing/here/"])
def test_api_errors_stay_json(client, user_of, path):
    client.force_login(user_of(roles.ROLE_MANAGER))
    response = client.get(path)
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json()["error"]["code"] == "not_found"


def test_api_error_without_login_stays_json():
    response = Client().get("/api/no-such-endpoint/")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


# --- 4. the navigation -----------------------------------------------------------------------


@pytest.mark.parametrize("role", ALL_ROLES)
def test_every_navigation_entry_of_every_role_opens_a_page(client, user_of, role):
    client.force_login(user_of(role))
    home = client.get("/", follow=True)
    assert home.status_code == 200
    items = home.context["nav_items"]
    assert items, f"{role} sees no navigation"
    expected = [url for url, _label, allowed in navigation.NAV if role in allowed]
    assert [item["url"] for item in items] == [reverse(name) for name in expected]
    for item in items:
        response = client.get(item["url"])
        assert response.status_code == 200, f"{role}: {item['label']} {item['url']}"


def test_every_navigation_entry_resolves_and_leads_somewhere():
    """No entry is kept for a page that does not exist (统计分析 had none before issue 19)."""
    for name, label, allowed in navigation.NAV:
        assert reverse(name), label
        assert allowed, f"{label} is shown to nobody"
    by_label = {str(label): name for name, label, _allowed in navigation.NAV}
    assert by_label.get("统计分析", "web:analytics-home") == "web:analytics-home"


def test_every_navigation_entry_belongs_to_a_menu():
    """The bar shows menus by domain; an entry left out of GROUP_OF would land in a catch-all."""
    unfiled = [name for name, _label, _allowed in navigation.NAV if name not in navigation.GROUP_OF]
    assert not unfiled, f"add these to navigation.GROUP_OF: {unfiled}"
    assert set(navigation.GROUP_OF.values()) <= {key for key, _label in navigation.GROUPS}


@pytest.mark.parametrize("role", ALL_ROLES)
def test_menus_hold_every_link_of_the_role_once(client, user_of, role):
    client.force_login(user_of(role))
    context = client.get("/", follow=True).context
    grouped = [item["url"] for group in context["nav_groups"] for item in group["items"]]
    assert sorted(grouped) == sorted(item["url"] for item in context["nav_items"])
    current = [group["label"] for group in context["nav_groups"] if group["current"]]
    assert len(current) == 1, f"{role}: the home page's menu is marked ({current})"


@pytest.mark.parametrize("role", ALL_ROLES)
def test_home_sends_every_role_to_a_page_of_its_navigation(client, user_of, role):
    client.force_login(user_of(role))
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"] == reverse(HOME_BY_ROLE[role])
    assert any(response["Location"] == item["url"] for item in navigation_of(client))


def navigation_of(client):
    return client.get("/", follow=True).context["nav_items"]


# --- 2. the demo serves with DEBUG off -------------------------------------------------------


def test_demo_serves_with_debug_off_and_static_files(monkeypatch, settings, tmp_path):
    settings.DEBUG = True  # the development default the demo must not serve with
    settings.KEYCARE_DATA_DIR = tmp_path
    calls = []

    def record(name, *args, **kwargs):
        calls.append((name, args, kwargs, django_settings.DEBUG))

    monkeypatch.setattr(demo_command, "call_command", record)
    demo_command.Command().run(
        subscribers=10, months=1, seed=1, date="2026-11-22", addr="127.0.0.1:8123", no_serve=False
    )
    serve = [call for call in calls if call[0] == "runserver"]
    assert len(serve) == 1
    _name, args, kwargs, debug = serve[0]
    assert args == ("127.0.0.1:8123",)
    assert debug is False, "the demo must serve with DEBUG off"
    assert kwargs.get("insecure_serving") is True, "static files still served with DEBUG off"
    assert kwargs.get("use_reloader") is False
