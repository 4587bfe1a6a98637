"""Managers' work in the browser: a manager generates this month's plan and submits it; the
city administrator approves it from the reminders, then hands a manager's portfolio over from
the archive; a manager opts in to the daily reminder digest and the province administrator
reads the revenue and satisfaction indicators of the month's assessment."""

from django.utils import timezone

from factories import make_manager_key_account, make_survey_task
from keycare.customers.models import Customer
from keycare.managers.models import PlanStatus, WorkPlan
from keycare.runs.models import Run
from keycare.surveys.actions import record_answer
from keycare.surveys.models import SurveyResponse
from keycare.tasks.models import AllocationDecision


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


def test_digest_opt_in_and_the_result_indicators(page, login, shot, staff, managers, make_customer):
    """A manager opts in to the SMS digest; the province administrator computes this month's
    assessment and reads revenue (against the control group) and satisfaction per manager."""
    served, held_out = make_customer("S921", managers[0]), make_customer("S922", managers[1])
    today = timezone.localdate()
    run = Run.objects.create(run_id="run-browser", business_date=today)
    for customer, decision in ((served, "call"), (held_out, "control")):
        AllocationDecision.objects.create(
            run=run, customer=customer, manager=customer.manager, business_date=today,
            decision=decision,
        )  # fmt: skip
    survey = make_survey_task(served, source="browser")
    record_answer(None, survey, {q["code"]: 9 for q in survey.template.questions}, "sms")
    login(page, "mgr1")
    page.goto("/reminders/")
    page.check("#digest-form input[name=sms]")
    page.click("#digest-form button[type=submit]")
    assert "已保存提醒摘要设置" in flash(page)
    assert page.is_checked("#digest-form input[name=sms]")
    assert not page.is_checked("#digest-form input[name=email]")
    shot(page, "managers_04_digest_opt_in")
    page.context.clear_cookies()
    login(page, "provadmin")
    page.goto("/assessments/")
    page.fill("#assessment-compute input[name=month]", f"{today:%Y-%m}")
    page.click("#assessment-compute button[type=submit]")
    page.wait_for_url("**/assessments/*/")
    head = page.locator("#assessment-rows thead").inner_text()
    assert "收入提升（对照组）" in head and "客户满意度" in head
    row = page.locator('#assessment-rows tr[data-manager="M1"]').inner_text()
    index = SurveyResponse.objects.get().index
    assert "+0.00 元/户/月" in row and f"{index:.1f}" in row
    shot(page, "managers_05_result_indicators")
    page.goto("/assessments/")
    indicators = page.locator("#indicators").inner_text()
    assert "客户满意度" in indicators and "元/户/月" in indicators
