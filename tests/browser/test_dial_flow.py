"""拨号 in the browser: from the manager's workbench to a task, dial with a reason, see the
number once with a tel: link, and find it masked again on the way back."""

from keycare.core.models import AuditEvent


def test_manager_dials_a_task_from_the_workbench(page, login, shot, staff, manager_tasks):
    top = manager_tasks[0]
    number = top.customer.msisdn

    login(page, "mgr1")
    assert page.url.endswith("/workbench/")
    page.locator("#today-tasks tbody tr").first.get_by_role("link", name="处理").click()
    page.wait_for_url(f"**/tasks/{top.pk}/")
    assert number not in page.content(), "the task page shows the number masked"
    dial_form = page.locator("#form-dial")
    assert "今日还可显示" in page.locator("#task-dial").inner_text()
    shot(page, "dial_01_task_page")

    dial_form.locator("select[name=reason]").select_option("callback")
    dial_form.locator("input[name=note]").fill("客户约定今天回电")
    with page.expect_navigation():
        dial_form.locator("button[type=submit]").click()
    link = page.locator("#dial-link")
    assert link.inner_text() == number
    assert link.get_attribute("href") == f"tel:{number}"
    assert "预约回访" in page.locator("#dial-number").inner_text()
    shot(page, "dial_02_number_once")

    event = AuditEvent.objects.get(action="task.dial")
    assert event.detail["task"] == top.pk and event.detail["reason"] == "callback"

    page.click("#back-to-task")
    page.wait_for_url(f"**/tasks/{top.pk}/")
    assert number not in page.content(), "back on the task page the number is masked again"
    page.reload()
    assert number not in page.content(), "nor after a reload"
    assert AuditEvent.objects.filter(action="task.dial").count() == 1
