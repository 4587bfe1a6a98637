"""The stored unified view in the browser (issue 19 item 3): an administrator builds a segment
on derived fields of the loaded run's unified view and sees the live count, saves it, opens a
customer's 360 with all 15 categories; an analyst reads the survey indicators on the
satisfaction analysis."""

from django.utils import timezone

from factories import make_manager, make_org, make_survey_task, make_user, publish_unified_view
from factories import numbered_customer as make_customer
from keycare.access import roles
from keycare.analytics.loaders import load_survey_indicators
from keycare.campaigns.models import Segment
from keycare.catalog.fields import load_catalog
from keycare.surveys import actions

PASSWORD = "Keycare-Browser-2026!"


def _world(runs_dir):
    org = make_org()
    manager = make_manager(org["C025"], "M1")
    customers = [make_customer(org, n, manager) for n in range(1, 5)]
    rows = []
    for n, customer in enumerate(customers, start=1):
        row = {  # a value in every field, so every category has rows to show
            f.code: {"string": "x", "int": 1, "float": 1.5, "bool": False}.get(f.type)
            for f in load_catalog().fields
        }
        row |= {"subscriber_id": customer.subscriber_id, "city_id": "C025", "brand": "gotone"}
        row |= {"bill_avg_3m": 100.0 * n, "voice_change_pct_m1": -20.0 * n, "is_key_person": n == 4}
        row |= {"data_mb_8w": 512.0 * n, "tenure_months": 12 * n}
        rows.append(row)
    publish_unified_view(runs_dir, rows)
    make_user("padmin", roles.ROLE_PROVINCE_ADMIN, password=PASSWORD)
    return org, manager, customers


def test_a_segment_on_derived_fields_and_the_full_360(page, login, shot, settings, tmp_path):
    settings.KEYCARE_RUNS_DIR = tmp_path / "runs"
    _org, _manager, customers = _world(settings.KEYCARE_RUNS_DIR)
    login(page, "padmin", PASSWORD)
    base = page.url.split("/", 3)[:3]
    root = "/".join(base)
    page.goto(root + "/segments/new/")
    page.fill("input[name=name]", "高消费通话下降")
    page.select_option("select[name=field]", "bill_avg_3m")
    page.select_option("select[name=op]", "gte")
    page.fill("input[name=value]", "200")
    page.wait_for_selector("#segment-count [data-count='3']")
    page.click("button[name=add_row]")
    page.locator("select[name=field]").nth(1).select_option("voice_change_pct_m1")
    page.locator("select[name=op]").nth(1).select_option("lt")
    page.locator("input[name=value]").nth(1).fill("-70")
    page.wait_for_selector("#segment-count [data-count='1']")
    shot(page, "unified_01_segment_live_count")
    page.locator("input[name=value]").nth(1).fill("lots")
    page.wait_for_selector("#segment-count .bad")
    assert "应为数字" in page.locator("#segment-count").inner_text()
    page.locator("input[name=value]").nth(1).fill("-70")
    page.click("button[name=save]")
    page.wait_for_url("**/segments/*/")
    assert Segment.objects.get().name == "高消费通话下降"
    page.goto(f"{root}/customers/{customers[3].pk}/")
    sections = page.locator("#customer-360 h3").all_inner_texts()
    assert len(sections) == 15, sections
    assert "近3月月均消费" in page.locator("#customer-360").inner_text()
    assert "截至 2026-11-22" in page.locator("#view-as-of").inner_text()
    shot(page, "unified_02_customer_360")


def test_the_analyst_reads_survey_indicators(page, login, shot):
    org = make_org()
    manager = make_manager(org["C025"], "M1")
    answerer = make_user("m1", roles.ROLE_MANAGER, manager=manager)
    for n, score in ((1, 9), (2, 4)):
        task = make_survey_task(make_customer(org, n, manager))
        actions.answer_survey(answerer, task.pk, {"q1": score, "q2": score, "q3": score})
    load_survey_indicators()
    make_user("analyst", roles.ROLE_ANALYST, password=PASSWORD)
    login(page, "analyst", PASSWORD)
    page.wait_for_url("**/analytics/")
    period = timezone.localdate().strftime("%Y-%m")
    page.goto(page.url + f"analyses/satisfaction/?dimension=city&period={period}")
    page.wait_for_selector("#member-chart canvas")
    table = page.locator("#analysis-table").inner_text()
    assert "南京市" in table and "65.00" in table  # (90 + 40) / 2
    shot(page, "unified_03_survey_indicators")
