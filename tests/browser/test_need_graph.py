"""Complaint understanding in the browser: the manager opens a complaint task, sees the
predicted cause and need with the cause's script and tactics, follows the link to the
customer's need graph (an ECharts graph); the administrator reads the rising causes and the
complaint texts from the navigation, also on a phone."""

from datetime import date, timedelta

from factories import make_complaint, make_moment, make_tactics, make_task
from keycare.complaints import taxonomy
from keycare.tasks.models import TaskMoment

DAY = date(2026, 11, 22)


def _complaint_task(customer):
    moment = make_moment("A01", name_zh="客户投诉", script="您好。", thresholds={"days": 1})
    task = make_task(customer, DAY, priority_score=99, risk_probability=0.3)
    TaskMoment.objects.create(task=task, moment=moment, priority=90, explanation="近1天投诉1次")
    for n in range(3):
        make_complaint(customer, "broadband_fault", "repair", DAY - timedelta(days=n),
                       text=f"家里宽带又断网了，第{n + 2}次报修")  # fmt: skip
    return task


def test_complaint_task_to_need_graph_and_rising_causes(
    page, phone, login, shot, staff, managers, make_customer
):
    make_tactics()
    customer = make_customer("C0001", managers[0], msisdn="13912345001", name="司马光")
    task = _complaint_task(customer)
    cause = taxonomy.load().causes["broadband_fault"]

    login(page, "mgr1")
    page.goto(f"/tasks/{task.pk}/")
    reading = page.locator("#complaint-reading")
    assert "家庭宽带 / 宽带故障" in reading.inner_text() and "故障修复" in reading.inner_text()
    assert page.locator("#script").inner_text() == cause.script
    first = page.locator("#suggested-tactics .tactic").first.get_attribute("data-code")
    assert first == cause.tactics[0]
    shot(page, "need_graph_01_task")

    reading.get_by_role("link", name="客户需求图谱").click()
    page.wait_for_url(f"**/knowledge/customers/{customer.pk}/")
    page.wait_for_selector("#need-graph canvas")
    assert page.locator("#predicted-need").inner_text() == "故障修复"
    assert "司马光" not in page.content() and "13912345001" not in page.content()
    assert page.locator("#customer-complaints tbody tr").count() == 3
    # No outcomes recorded yet: the cause's tactics from the taxonomy, saying so.
    assert cause.tactics[0] in page.locator("#similar-tactics").inner_text()
    shot(page, "need_graph_02_graph")

    login(phone, "cityadmin")
    phone.locator("header.top .menu-toggle").click()  # the navigation folds at 390 px
    phone.get_by_role("link", name="投诉原因趋势").click()
    phone.wait_for_url("**/knowledge/rising/")
    assert "家庭宽带 / 宽带故障" in phone.locator("#rising-causes").inner_text()
    width = phone.evaluate("document.documentElement.scrollWidth")
    assert width <= 392, "the page fits a 390 px phone (tables scroll in their card)"
    shot(phone, "need_graph_03_rising_phone")
    phone.locator("header.top .menu-toggle").click()
    phone.get_by_role("link", name="投诉文本").click()
    phone.wait_for_url("**/complaints/")
    assert phone.locator("#complaint-list tbody tr").count() == 3
    shot(phone, "need_graph_04_texts_phone")
