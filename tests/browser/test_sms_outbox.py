"""短信发送记录 in the browser: a city administrator opens it from the navigation, filters the
delivered messages, opens one and reads its receipts; numbers stay masked; at 390 px the
table scrolls inside the page."""

from django.utils import timezone

from factories import make_sms_message
from keycare.messaging import actions
from keycare.messaging.models import SmsMessage, SmsState
from keycare.tasks.models import ServiceTask


def _outbox(tasks):
    messages = [make_sms_message(t.customer, n, task=t) for n, t in enumerate(tasks)]
    delivered = messages[0]
    SmsMessage.objects.filter(pk=delivered.pk).update(
        state=SmsState.SUBMITTED, submitted_at=timezone.now(), submit_status="0: Accepted"
    )
    actions.record_receipts(
        [
            {"message_id": delivered.pk, "dlr_type": 8, "gateway_id": "kannel-8"},
            {"message_id": delivered.pk, "dlr_type": 1, "gateway_id": "kannel-1"},
        ]
    )
    SmsMessage.objects.filter(pk=messages[1].pk).update(
        state=SmsState.HELD, hold_reason="quiet_hours", reason="非服务时段（09:00-21:00）"
    )
    return delivered


def test_city_admin_walks_to_a_messages_receipts(page, login, menu, shot, staff, manager_tasks):
    delivered = _outbox(manager_tasks)
    login(page, "cityadmin")
    menu(page, "短信发送记录")
    page.locator("nav").get_by_role("link", name="短信发送记录", exact=True).click()
    page.wait_for_url("**/sms/")
    rows = page.locator("#sms-rows tbody tr")
    assert rows.count() == 4
    text = page.locator("#sms-rows").inner_text()
    assert "13912345000" not in text and "139****5000" in text
    assert "非服务时段" in text
    shot(page, "sms_01_list")
    page.locator('#sms-states a[data-state="delivered"]').click()
    page.wait_for_url("**/sms/?state=delivered*")
    assert page.locator("#sms-rows tbody tr").count() == 1
    page.locator("#sms-rows tbody tr a").first.click()
    page.wait_for_url(f"**/sms/{delivered.pk}/")
    assert "已送达" in page.locator("#sms-state").inner_text()
    receipts = page.locator("#sms-receipts").inner_text()
    assert "短信中心已接收" in receipts and "已送达" in receipts and "kannel-8" in receipts
    shot(page, "sms_02_receipts")


def test_the_list_fits_a_phone(phone, login, shot, staff, manager_tasks):
    _outbox(manager_tasks)
    login(phone, "cityadmin")
    phone.goto(phone.url.split("/", 3)[0] + "//" + phone.url.split("/")[2] + "/sms/")
    width = phone.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, width
    shot(phone, "sms_03_phone")


def test_sms_task_list_links_each_tasks_message(page, login, menu, shot, staff, manager_tasks):
    """短信任务: the delivered message's task is handled; its status links to 短信发送记录."""
    ServiceTask.objects.filter(pk__in=[t.pk for t in manager_tasks]).update(channel="sms")
    delivered = _outbox(manager_tasks)
    login(page, "cityadmin")
    menu(page, "短信任务")
    page.locator("nav").get_by_role("link", name="短信任务", exact=True).click()
    page.wait_for_url("**/sms-tasks/")
    assert "稍后提供" not in page.locator("#sms-note").inner_text()
    statuses = page.locator("td.sms-status").all_inner_texts()
    assert sorted(statuses) == sorted(["已送达", "已拦截", "待发送", "待发送"]), statuses
    assert "处理后无变化" in page.locator("tbody").inner_text()  # the delivered task is handled
    shot(page, "sms_04_task_list")
    page.locator("td.sms-status a", has_text="已送达").click()
    page.wait_for_url(f"**/sms/{delivered.pk}/")
    assert "已送达" in page.locator("#sms-state").inner_text()
