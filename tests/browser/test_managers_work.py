"""Managers' work in the browser: a manager generates this month's plan and submits it; the
city administrator approves it from the reminders, then hands a manager's portfolio over from
the archive."""

from factories import make_manager_key_account
from keycare.customers.models import Customer
from keycare.managers.models import PlanStatus, WorkPlan


def flash(page) -> str:
    return page.locator("ul.messages").inner_text()


def test_plan_submitted_then_approved(page, login, shot, staff, org, managers, make_customer):
    make_manager_key_account(org["city"], "K1", managers[0], name="鼓楼集团")
    make_customer("S901", managers[0])
    login(page, "mgr1")
    page.goto("/plans/")
    page.click("#plan-generate button[type=submit]")
    page.wait_for_url("**/plans/*/")
    assert "已生成计划" in flash(page)
    assert "鼓楼集团" in page.locator("#plan-items").inner_text()
    shot(page, "managers_01_plan")
    page.click("#submit-form button[type=submit]")
    assert "计划已提交" in flash(page)
    page.context.clear_cookies()
    login(page, "cityadmin")
    page.goto("/reminders/")
    page.locator("#reminders a", has_text="待审批").first.click()
    page.wait_for_url("**/plans/*/")
    page.fill("#review-form input[name=comment]", "同意")
    page.click("#review-form button[value=approve]")
    assert "已审批计划" in flash(page)
    assert WorkPlan.objects.get().status == PlanStatus.APPROVED
    shot(page, "managers_02_plan_approved")


def test_hand_over_from_the_archive(page, login, shot, staff, managers, make_customer):
    for i in range(3):
        make_customer(f"S91{i}", managers[0])
    login(page, "cityadmin")
    page.goto("/managers/")
    page.click(f'#manager-rows tr[data-manager="{managers[0].manager_id}"] a')
    page.wait_for_url("**/managers/*/")
    page.select_option("#hand-over-form select[name=targets]", value=str(managers[1].pk))
    page.fill("#hand-over-form input[name=reason]", "调岗")
    page.check("#hand-over-form input[name=leave]")
    page.click("#hand-over-form button[type=submit]")
    assert "已移交 3 位客户" in flash(page)
    assert "离岗" in page.locator("#manager-status").inner_text()
    assert Customer.objects.filter(manager=managers[1]).count() == 3
    shot(page, "managers_03_hand_over")
