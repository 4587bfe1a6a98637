"""Follow-up in the browser (issue 16): a manager logs in as on the demo, finds an overdue
appointment on the workbench and in 预约, and marks it done; a city administrator opens 部门管理,
creates a department and deactivates it."""

from datetime import timedelta

from django.utils import timezone

from factories import make_appointment
from keycare.core.models import AuditEvent
from keycare.org.models import Department
from keycare.tasks.models import Appointment


def flash(page) -> str:
    return page.locator("ul.messages").inner_text()


def test_manager_marks_an_overdue_appointment_done(page, login, menu, shot, staff, manager_tasks):
    task = manager_tasks[0]
    overdue = make_appointment(
        task.customer, timezone.now() - timedelta(days=2), task=task, notes="回访宽带"
    )
    make_appointment(task.customer, timezone.now() + timedelta(days=3), task=task)
    login(page, "mgr1")
    assert page.url.endswith("/workbench/")
    assert page.locator("#appointments-due form.appointment-done").count() == 1
    menu(page, "预约")
    page.locator("nav").get_by_role("link", name="预约", exact=True).click()
    page.wait_for_url("**/appointments/")
    shot(page, "follow_up_01_appointments")
    page.locator('#appointment-tabs a[data-status="overdue"]').click()
    page.wait_for_url("**/appointments/?status=overdue")
    rows = page.locator("#appointment-rows tbody tr")
    assert rows.count() == 1 and "已逾期" in rows.first.inner_text()
    rows.first.get_by_role("button", name="完成").click()
    page.wait_for_url("**/appointments/?status=overdue")
    assert "预约已完成" in flash(page)
    assert "没有预约" in page.locator("#appointment-rows").inner_text()
    done = page.locator('#appointment-tabs a[data-status="done"] .n').inner_text()
    assert done == "1"
    shot(page, "follow_up_02_appointment_done")
    overdue.refresh_from_db()
    assert overdue.done_at is not None
    assert Appointment.objects.filter(done_at__isnull=True).count() == 1
    assert AuditEvent.objects.filter(action="appointment.complete").count() == 1


def test_city_admin_creates_and_deactivates_a_department(page, login, menu, shot, staff, org):
    login(page, "cityadmin")
    menu(page, "部门管理")
    page.locator("nav").get_by_role("link", name="部门管理", exact=True).click()
    page.wait_for_url("**/departments/")
    page.click("#department-new")
    page.wait_for_url("**/departments/new/")
    page.fill("#department-form input[name=code]", "3201-FTTH")
    page.fill("#department-form input[name=name]", "家宽装维")
    page.click("#department-form button[type=submit]")
    page.wait_for_url("**/departments/")
    assert "已创建部门" in flash(page)
    row = page.locator('#department-rows tr[data-code="3201-FTTH"]')
    assert "南京市" in row.inner_text() and "启用" in row.inner_text()
    shot(page, "follow_up_03_departments")
    row.get_by_role("button", name="停用").click()
    page.wait_for_url("**/departments/")
    assert "已停用部门" in flash(page)
    department = Department.objects.get(code="3201-FTTH")
    assert department.city == org["city"] and not department.active
    # The province-wide department of the fixtures is not the city administrator's to manage.
    assert page.locator('#department-rows tr[data-code="NET"]').count() == 0
