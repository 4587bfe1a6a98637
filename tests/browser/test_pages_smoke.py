"""Every page each role can reach, at 1366x768 and on a 390 px phone: it loads, logs no JavaScript
error, fits the width, and shows Chinese text. A screenshot of each page is kept as a test artefact.

The pages come from the navigation bar the role actually sees (``keycare.web.navigation``), plus the first detail page linked from each list (a task, a customer,
a rule, a campaign...), so a page added to the navigation is covered without editing this test.
"""

import re
import subprocess
from urllib.parse import urlsplit

import pytest

from keycare.access import roles
from keycare.campaigns.models import Campaign, CampaignStatus, CampaignTask
from keycare.org.models import Department
from keycare.tasks import actions as task_actions
from keycare.workorders import actions as workorder_actions

WIDTH = 1366
PHONE_WIDTH = 390
CJK = re.compile(r"[\u4e00-\u9fff]")
# Links that are actions or downloads, not pages to look at.
NOT_A_PAGE = ("export", "/new/", "unmask", "logout", "/i18n/", "/admin/", "/api/", "download")

ROLE_USERS = [
    (roles.ROLE_MANAGER, "mgr1"),
    (roles.ROLE_CITY_ADMIN, "cityadmin"),
    (roles.ROLE_PROVINCE_ADMIN, "provadmin"),
    (roles.ROLE_ANALYST, "analyst"),
    (roles.ROLE_AUDITOR, "auditor"),
]


@pytest.fixture(scope="module", autouse=True)
def cjk_font_installed():
    """Without a CJK font Chromium draws Chinese as empty boxes: the screenshots would lie."""
    fonts = subprocess.run(["fc-list", ":lang=zh"], capture_output=True, text=True).stdout
    assert fonts.strip(), "no Chinese font for Chromium: apt-get install fonts-wqy-microhei"


@pytest.fixture
def more_work(staff, manager_tasks):
    """A work order and a campaign, so their detail pages are linked from their lists."""
    manager = staff[roles.ROLE_MANAGER]
    task = task_actions.claim_task(manager, manager_tasks[1])
    workorder_actions.create_work_order(
        manager, task, department=Department.objects.get(code="NET"), title="宽带故障报修"
    )
    campaign = Campaign.objects.create(
        name="五星客户关怀", status=CampaignStatus.ACTIVE, city=task.customer.city,
        start_date=task.business_date, end_date=task.business_date,
    )  # fmt: skip
    campaign.managers.add(task.manager)
    CampaignTask.objects.create(campaign=campaign, customer=task.customer, manager=task.manager)


@pytest.mark.parametrize(("role", "username"), ROLE_USERS, ids=[r for r, _u in ROLE_USERS])
def test_every_page_of_the_role(
    role, username, page, page_log, login, shot, staff, manager_tasks, more_work
):  # fmt: skip
    login(page, username)
    nav = [a.get_attribute("href") for a in page.locator("header.top nav a").all()]
    assert nav, f"{role} sees no page at all"
    nav_paths = {urlsplit(href).path for href in nav}
    problems, seen_shapes = [], set()
    for href in nav:
        problems += check_page(page, href, role, shot)
        for detail in detail_links(page, nav_paths, seen_shapes):
            problems += check_page(page, detail, role, shot)
    problems += page_log["http"]
    assert not problems, f"{role}:\n" + "\n".join(problems)


@pytest.mark.parametrize(("role", "username"), ROLE_USERS, ids=[r for r, _u in ROLE_USERS])
def test_every_page_of_the_role_on_a_phone(
    role, username, phone, page_log, login, shot, staff, manager_tasks, more_work
):  # fmt: skip
    """At 390 px: the navigation is folded behind the menu button and opens on a tap, and no
    page (navigation pages and their first detail pages) is wider than the screen."""
    login(phone, username)
    toggle = phone.locator("header.top .menu-toggle")
    nav = phone.locator("header.top nav")
    assert toggle.is_visible(), "a menu button on a phone"
    assert not nav.is_visible(), "the navigation is folded on a phone"
    assert toggle.get_attribute("aria-expanded") == "false"
    header = phone.locator("header.top").bounding_box()
    assert header["height"] < 100, f"the folded header is {header['height']}px high"
    toggle.tap()
    assert nav.is_visible() and toggle.get_attribute("aria-expanded") == "true"
    links = nav.locator("a").all()
    assert links, f"{role} sees no page at all"
    for link in links:
        box = link.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE_WIDTH, link.inner_text()
        assert box["height"] < 60, f"{link.inner_text()!r} wraps ({box['height']}px high)"
    assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE_WIDTH
    shot(phone, f"phone_{role}_menu_open")
    with phone.expect_navigation():
        links[-1].tap()  # the menu leads somewhere
    assert not nav.is_visible(), "folded again on the next page"

    nav_hrefs = [a.get_attribute("href") for a in links]
    nav_paths = {urlsplit(href).path for href in nav_hrefs}
    problems, seen_shapes = [], set()
    for href in nav_hrefs:
        problems += check_page(phone, href, role, shot, PHONE_WIDTH, "phone")
        for detail in detail_links(phone, nav_paths, seen_shapes):
            problems += check_page(phone, detail, role, shot, PHONE_WIDTH, "phone")
    problems += page_log["http"]
    assert not problems, f"{role} at {PHONE_WIDTH}px:\n" + "\n".join(problems)


def test_error_page_and_logout_on_a_phone(phone, page_log, login, shot, staff, manager_tasks):
    """A page that does not exist is KeyCare's own 404 (DEBUG is off, as in the demo), with a way
    home; logging out lands on KeyCare's login page, where the same user logs in again."""
    login(phone, "mgr1")
    response = phone.goto("/no-such-page/")
    assert response.status == 404
    # Chromium logs every 4xx document as a console error: this one is the point of the test.
    expected = [m for m in page_log["console"] if "404" in m and "/no-such-page/" in m]
    assert len(expected) == 1
    page_log["console"].remove(expected[0])
    assert phone.locator("main h1").inner_text() == "页面不存在"
    assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE_WIDTH
    assert "URLconf" not in phone.content()
    shot(phone, "phone_404")
    with phone.expect_navigation():
        phone.get_by_role("link", name="返回首页").tap()
    assert urlsplit(phone.url).path == "/workbench/"

    with phone.expect_navigation():
        phone.locator("header.top .user button[type=submit]").tap()
    assert urlsplit(phone.url).path == "/accounts/login/"
    assert phone.locator("main h1").inner_text() == "登录 KeyCare"
    shot(phone, "phone_after_logout")
    login(phone, "mgr1")
    assert urlsplit(phone.url).path == "/workbench/"
    assert page_log["http"] == [f"HTTP 404 GET {phone.url.split('/workbench/')[0]}/no-such-page/"]


def check_page(page, href, role, shot, width=WIDTH, prefix="smoke") -> list[str]:
    response = page.goto(href)
    page.wait_for_load_state("load")
    if response is None or not response.ok:
        return [f"{href}: HTTP {response.status if response else 'no response'}"]
    problems = []
    scroll_width = page.evaluate("document.documentElement.scrollWidth")
    if scroll_width > width:
        problems.append(f"{href}: {scroll_width}px wide, overflows {width}px")
    heading = page.locator("main h1").first
    if not heading.count() or not heading.is_visible() or not CJK.search(heading.inner_text()):
        problems.append(f"{href}: no visible Chinese page heading")
    slug = re.sub(r"\W+", "_", shape_of(urlsplit(href).path)).strip("_") or "home"
    shot(page, f"{prefix}_{role}_{slug}")
    return problems


def detail_links(page, nav_paths, seen_shapes, limit=2) -> list[str]:
    """The first links in the page body to pages of a shape (path with ids blanked) not seen yet."""
    found = []
    for link in page.locator("main a[href^='/']").all():
        href = link.get_attribute("href")
        path = urlsplit(href).path
        shape = shape_of(path)
        if path in nav_paths or shape in seen_shapes or any(w in href for w in NOT_A_PAGE):
            continue
        if link.get_attribute("download") is not None:
            continue
        seen_shapes.add(shape)
        found.append(href)
        if len(found) == limit:
            break
    return found


def shape_of(path: str) -> str:
    """/customers/17/ -> /customers/id/: one screenshot and one visit per kind of page."""
    return re.sub(r"/[^/]*\d[^/]*/", "/id/", path)


def test_manager_switches_to_english_with_the_header_selector(
    page, page_log, login, shot, staff, manager_tasks
):  # fmt: skip
    """The real switcher (a POST with the CSRF token) turns every page English; still 1366 wide."""
    login(page, "mgr1")
    with page.expect_navigation():
        page.select_option("header.top select[name=language]", "en")
    assert page.url.endswith("/workbench/"), "the switcher returns to the same page"
    assert page.locator("main h1").inner_text().startswith("Phone manager workbench")
    assert page.locator("html").get_attribute("lang") == "en"
    shot(page, "smoke_english_workbench")
    for href in [a.get_attribute("href") for a in page.locator("header.top nav a").all()]:
        page.goto(href)
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= WIDTH, f"{href} in English is {width}px wide"
        assert not CJK.search(page.locator("header.top nav").inner_text()), "navigation in English"
    page.goto(f"/tasks/{manager_tasks[0].pk}/")
    page.click("#form-claim button[type=submit]")
    page.wait_for_load_state()
    assert "Task claimed" in page.locator("ul.messages").inner_text()
    shot(page, "smoke_english_task")

    with page.expect_navigation():
        page.select_option("header.top select[name=language]", "zh-hans")
    assert CJK.search(page.locator("main h1").inner_text()), "back to Chinese"
    assert page_log["http"] == []


def test_administrator_pages_fit_the_width_in_english(
    page, page_log, login, shot, staff, more_work
):
    """English labels run longer than Chinese: the widest navigation must still fit 1366 px."""
    login(page, "provadmin")
    with page.expect_navigation():
        page.select_option("header.top select[name=language]", "en")
    problems = []
    for href in [a.get_attribute("href") for a in page.locator("header.top nav a").all()]:
        response = page.goto(href)
        if not response.ok:
            problems.append(f"{href}: HTTP {response.status}")
        width = page.evaluate("document.documentElement.scrollWidth")
        if width > WIDTH:
            problems.append(f"{href}: {width}px wide in English")
        slug = re.sub(r"\W+", "_", urlsplit(href).path).strip("_")
        shot(page, f"smoke_english_province_admin_{slug}")
    assert not problems, "\n".join(problems)
    assert page_log["http"] == []


def test_administrator_in_english_on_a_phone(phone, page_log, login, shot, staff, more_work):
    """English labels and the longer header (English, provadmin, Log out, Menu) still fit 390 px."""
    login(phone, "provadmin")
    with phone.expect_navigation():
        phone.select_option("header.top select[name=language]", "en")
    toggle = phone.locator("header.top .menu-toggle")
    assert "Menu" in toggle.inner_text()
    assert phone.locator("header.top").bounding_box()["height"] < 100
    toggle.tap()
    assert phone.locator("header.top nav").is_visible()
    assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE_WIDTH
    shot(phone, "phone_english_province_admin_menu_open")
    assert page_log["http"] == []
