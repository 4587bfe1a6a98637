"""A manager's day in the browser: log in, work a task from open to handled, book a follow-up.

"When its time comes": the appointment is booked a few minutes ahead and first shows as not
yet due (未到期); then the server's clock is moved forward. The live server runs in a thread
of this test process, so patching ``django.utils.timezone.now`` moves the clock the workbench
compares ``due_at`` against, exactly as real time passing would (the shift stays under the
30-minute idle session timeout, so the manager stays logged in).
"""

from datetime import timedelta

from django.utils import timezone

from keycare.tasks.models import Appointment, Outcome, ServiceTask, TaskState

BOOK_AHEAD = timedelta(minutes=5)
CLOCK_SHIFT = timedelta(minutes=10)


def flash(page) -> str:
    return page.locator("ul.messages").inner_text()


def state_count(page, label: str) -> int:
    card = page.locator("#task-states .stat", has_text=label)
    return int(card.locator(".n").inner_text())


def test_manager_works_a_task_to_handled_and_sees_the_appointment_fall_due(
    page, page_log, login, shot, staff, manager_tasks, monkeypatch
):
    top, m2_task = manager_tasks[0], manager_tasks[3]

    login(page, "mgr1")
    assert page.url.endswith("/workbench/"), "a manager's home is the workbench"
    shot(page, "manager_01_workbench")
    assert state_count(page, "未处理") == 3
    rows = page.locator("#today-tasks tbody tr")
    assert rows.count() == 3, "only M1's tasks, not M2's"
    assert "欧阳修" not in page.locator("#today-tasks").inner_text(), "names are masked"

    # Highest priority first: open it.
    rows.first.get_by_role("link", name="处理").click()
    page.wait_for_url(f"**/tasks/{top.pk}/")
    assert page.locator("#task-state").inner_text() == "未处理"
    page.wait_for_selector("#health-radar canvas")  # ECharts drew the radar
    profile = page.locator("#customer-360").inner_text()
    assert "全球通" in profile and "欧阳修" not in profile, "coded fields labelled, names masked"
    shot(page, "manager_02_task_open")

    page.click("#form-claim button[type=submit]")
    page.wait_for_load_state()
    assert "已领取任务" in flash(page)
    assert page.locator("#task-state").inner_text() == "处理中"
    shot(page, "manager_03_claimed")

    # Record the contact (no conclusion yet), then complete with "no change".
    page.select_option("#form-outcome select[name=contact_result]", "reached")
    page.select_option("#form-outcome select[name=recommendation]", "accepted")
    page.fill("#form-outcome textarea[name=notes]", "客户同意升级套餐，约定再回访")
    page.click("#form-outcome button[type=submit]")
    page.wait_for_load_state()
    assert "已记录接触结果" in flash(page)
    assert "客户同意升级套餐" in page.locator("#contacts").inner_text()
    shot(page, "manager_04_outcome_recorded")

    # The contact is on record: completing reuses it (the default) rather than logging it twice.
    contact = page.locator("#form-outcome select[name=contact_result]")
    assert contact.input_value() == "" and "沿用已记录" in contact.inner_text()
    page.select_option("#form-outcome select[name=finish]", "no_change")
    page.click("#form-outcome button[type=submit]")
    page.wait_for_load_state()
    assert "任务已完成处理" in flash(page)
    assert page.locator("#task-state").inner_text() == "处理后无变化"
    assert page.locator("#form-outcome").count() == 0, "a handled task takes no more outcomes"
    shot(page, "manager_05_handled")

    # A care-marketing follow-up a few minutes from now (the form takes minutes).
    due_at = timezone.localtime(timezone.now() + BOOK_AHEAD).replace(second=0, microsecond=0)
    page.select_option("#form-appointment select[name=kind]", "care_marketing")
    page.fill("#form-appointment input[name=due_at]", due_at.strftime("%Y-%m-%dT%H:%M"))
    page.fill("#form-appointment input[name=notes]", "回访升级后体验")
    page.click("#form-appointment button[type=submit]")
    page.wait_for_load_state()
    assert f"已创建预约：{due_at:%Y-%m-%d %H:%M}" in flash(page)
    shot(page, "manager_06_appointment_booked")

    page.goto("/workbench/")
    assert state_count(page, "未处理") == 2
    assert state_count(page, "处理后无变化") == 1
    upcoming = page.locator("#appointments-upcoming").inner_text()
    assert f"{due_at:%m-%d %H:%M}" in upcoming and "关怀营销类预约" in upcoming
    assert f"{due_at:%m-%d %H:%M}" not in page.locator("#appointments-due").inner_text()
    shot(page, "manager_07_appointment_not_yet_due")

    # Time passes: the server's clock moves past the appointment.
    real_now = timezone.now
    monkeypatch.setattr(timezone, "now", lambda: real_now() + CLOCK_SHIFT)
    page.reload()
    assert page.url.endswith("/workbench/"), "still logged in after the clock moved"
    due = page.locator("#appointments-due").inner_text()
    assert f"{due_at:%m-%d %H:%M}" in due and "关怀营销类预约" in due
    assert f"{due_at:%m-%d %H:%M}" not in page.locator("#appointments-upcoming").inner_text()
    due_card = page.locator("#appointments .stat", has_text="已到期")
    assert due_card.locator(".n").inner_text() == "1"
    shot(page, "manager_08_appointment_due")

    # Following the due appointment leads back to its task.
    page.locator("#appointments-due").get_by_role("link", name="打开").click()
    page.wait_for_url(f"**/tasks/{top.pk}/")

    # What the browser did is what the database holds.
    top.refresh_from_db()
    assert top.state == TaskState.HANDLED_NO_CHANGE
    outcomes = Outcome.objects.filter(task=top)
    assert list(outcomes.values_list("contact_result", "recommendation")) == [
        ("reached", "accepted")
    ]
    appointment = Appointment.objects.get(task=top)
    assert appointment.due_at == due_at and appointment.done_at is None
    assert ServiceTask.objects.get(pk=m2_task.pk).state == TaskState.UNHANDLED
    assert page_log["http"] == []


def test_two_tabs_cannot_both_complete_a_task(page, login, shot, staff, manager_tasks):
    """Optimistic locking seen from the browser: the stale tab is told why and nothing changes."""
    task = manager_tasks[0]
    login(page, "mgr1")
    page.goto(f"/tasks/{task.pk}/")
    page.click("#form-claim button[type=submit]")
    page.wait_for_load_state()
    other = page.context.new_page()
    other.goto(f"/tasks/{task.pk}/")  # both tabs now hold the same version

    page.select_option("#form-outcome select[name=contact_result]", "reached")
    page.select_option("#form-outcome select[name=finish]", "no_change")
    page.click("#form-outcome button[type=submit]")
    page.wait_for_load_state()
    assert "任务已完成处理" in flash(page)

    other.select_option("#form-outcome select[name=contact_result]", "refused")
    other.select_option("#form-outcome select[name=finish]", "no_change")
    other.click("#form-outcome button[type=submit]")
    other.wait_for_load_state()
    shot(other, "manager_09_second_tab_refused")
    assert "任务已完成处理" not in flash(other)
    assert other.locator("ul.messages li.error").count() == 1
    task.refresh_from_db()
    assert task.state == TaskState.HANDLED_NO_CHANGE
    assert list(Outcome.objects.filter(task=task).values_list("contact_result", flat=True)) == [
        "reached"
    ]
