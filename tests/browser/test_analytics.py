"""The analyst in the browser (issue 19): logs in, lands on 分析工作台, opens the revenue
analysis, reads the ECharts charts, drills into a city, follows an indicator that then shows
on the workbench, and exports the table; on a phone the table scrolls inside its card."""

from datetime import date

from factories import indicator_row, load_indicator_rows, make_org, make_user
from keycare.access import roles
from keycare.core.models import AuditEvent

PASSWORD = "Keycare-Browser-2026!"


def _world():
    org = make_org()
    rows = []
    for month, scale in (("2026-09", 0.8), ("2026-10", 1.0)):
        for member, city, value, dim in (
            ("C025", "C025", 1000.0, "city"),
            ("C0512", "C0512", 400.0, "city"),
            ("all", "C025", 1000.0, "province"),
            ("all", "C0512", 400.0, "province"),
            ("XC025", "C025", 1000.0, "county"),
        ):
            rows.append(indicator_row("revenue", month, member, city, value * scale, dimension=dim))
    # The survey job has already published November's satisfaction: the revenue analysis and
    # the followed revenue card still open on October, revenue's newest month.
    rows.append(indicator_row("survey_index", "2026-11", "all", "C025", 80.0, 1.0, "province"))
    load_indicator_rows(date(2026, 10, 31), rows)
    make_user("analyst", roles.ROLE_ANALYST, password=PASSWORD)
    return org


def test_the_analyst_walks_an_analysis(page, login, shot):
    _world()
    login(page, "analyst", PASSWORD)
    page.wait_for_url("**/analytics/")
    assert page.locator("#analyses a").count() >= 10
    shot(page, "analytics_01_workbench")
    page.locator("#analyses").get_by_role("link", name="大客户业务收入分析").click()
    page.wait_for_url("**/analytics/analyses/revenue/")
    page.select_option("#analysis-filters select[name=dimension]", "city")
    page.click("#analysis-filters button[type=submit]")
    page.wait_for_url("**dimension=city**")
    page.wait_for_selector("#member-chart canvas")
    page.wait_for_selector("#trend-chart canvas")
    table = page.locator("#analysis-table").inner_text()
    assert "南京市" in table and "1000.00" in table and "25.0%" in table
    shot(page, "analytics_02_revenue_by_city")
    page.locator("#analysis-table").get_by_role("link", name="南京市").click()
    page.wait_for_url("**city=C025**")
    assert "南京市一区" in page.locator("#analysis-table").inner_text()
    page.locator("#analysis-table thead button[title='关注']").first.click()
    page.goto(page.url.split("/analytics/")[0] + "/analytics/")
    assert "1400.00" in page.locator("#followed").inner_text()
    page.wait_for_selector("#followed .chart canvas")
    shot(page, "analytics_03_followed")
    page.goto(page.url + "analyses/revenue/?dimension=city")
    with page.expect_download() as download:
        page.click("#export-xlsx")
    assert download.value.suggested_filename.endswith(".xlsx")
    assert AuditEvent.objects.filter(action="export").exists()


def test_the_analysis_table_scrolls_on_a_phone(phone, login, shot):
    _world()
    login(phone, "analyst", PASSWORD)
    phone.goto(phone.url + "analyses/revenue/?dimension=city")
    width = phone.evaluate("document.documentElement.scrollWidth")
    assert width <= 390 + 1, f"the page is {width}px wide on a 390px phone"
    shot(phone, "analytics_04_phone")
