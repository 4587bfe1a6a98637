"""Tactics in the browser: the manager opens a task from the workbench, sees the suggested
retention tactics next to the script, records the contact with one; the administrator finds it
counted on the tactics library page."""

from factories import make_tactics
from keycare.tasks.models import Outcome


def test_manager_sees_tactics_and_records_one_then_admin_sees_the_count(
    page, login, menu, shot, staff, manager_tasks
):
    make_tactics()
    top = manager_tasks[0]  # A03 bill drop, risk 0.72, a mid/high-value customer

    login(page, "mgr1")
    page.locator("#today-tasks tbody tr").first.get_by_role("link", name="处理").click()
    page.wait_for_url(f"**/tasks/{top.pk}/")
    tactics = page.locator("#moments #suggested-tactics .tactic")
    assert tactics.count() == 3
    assert [tactics.nth(i).get_attribute("data-code") for i in range(3)] == ["K05", "T04", "T01"]
    assert "话费优惠捆绑法" in tactics.nth(1).inner_text()
    assert "送话费" in tactics.nth(1).inner_text(), "the description is shown"
    shot(page, "tactics_01_task_suggestions")

    page.click("#form-claim button[type=submit]")
    page.wait_for_load_state()
    select = page.locator("#form-outcome select[name=tactic]")
    assert select.input_value() == "K05", "the first suggestion is the default"
    page.select_option("#form-outcome select[name=contact_result]", "reached")
    page.select_option("#form-outcome select[name=recommendation]", "accepted")
    select.select_option("T04")
    page.click("#form-outcome button[type=submit]")
    page.wait_for_load_state()
    assert "已记录接触结果" in page.locator("ul.messages").inner_text()
    assert Outcome.objects.get(task=top).tactic.code == "T04"
    shot(page, "tactics_02_outcome_recorded")

    page.context.clear_cookies()
    login(page, "provadmin")
    menu(page, "保有战术库")
    page.get_by_role("link", name="保有战术库").click()
    page.wait_for_url("**/tactics/")
    assert "产品捆绑法" in page.locator("#tactics").inner_text()
    assert page.locator("#matrix tbody tr").count() >= 5
    row = page.locator('#by-tactic tr[data-code="T04"]')
    assert row.locator("td").nth(1).inner_text() == "1"
    assert row.locator("td").nth(3).inner_text() == "1"
    shot(page, "tactics_03_library_page")
