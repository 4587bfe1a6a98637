"""日常工作 on a phone (390 px): a manager records a visit to a key account's key person and
finds it in the list; the form and the list fit the screen."""

from factories import make_manager_key_account
from keycare.keyaccounts.models import KeyPerson
from keycare.managers.models import WorkRecord


def test_manager_records_a_visit_on_the_phone(phone, login, shot, staff, org, managers):
    group = make_manager_key_account(org["city"], "K1", managers[0], name="玄武制造集团")
    boss = KeyPerson.objects.create(
        person_id="K1-KP1",
        key_account=group,
        role="decision_maker",
        name="钱总经理",
        title="总经理",
    )
    login(phone, "mgr1")
    phone.goto("/daily-work/")
    phone.click("#work-new")
    phone.wait_for_url("**/daily-work/new/")
    phone.select_option("#work-form select[name=key_account]", label="玄武制造集团")
    phone.select_option("#work-form select[name=key_persons]", index=0)
    phone.fill("#work-form input[name=place]", "玄武区总部")
    phone.fill("#work-form textarea[name=content]", "了解专线扩容需求")
    phone.fill("#work-form textarea[name=result]", "同意下周报价")
    phone.fill("#work-form input[name=next_step]", "发送报价")
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390
    shot(phone, "daily_work_01_form_phone")
    phone.click("#work-form button[type=submit]")
    phone.wait_for_url("**/daily-work/")
    assert "已保存工作记录" in phone.locator("ul.messages").inner_text()
    row = phone.locator("#work-rows tbody tr").first
    assert "玄武制造集团" in row.inner_text() and "钱" in row.inner_text()
    assert "钱总经理" not in row.inner_text()
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390
    shot(phone, "daily_work_02_list_phone")
    record = WorkRecord.objects.get()
    assert record.manager == managers[0] and list(record.key_persons.all()) == [boss]
