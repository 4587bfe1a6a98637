"""Re-labelling in the browser: the analyst opens 投诉分类复核 from the navigation, reads the
low-confidence readings least confident first, corrects the cause and need of one, sees it
leave the queue, and finds it marked 人工更正 on the complaint texts."""

from factories import make_complaint
from keycare.complaints.models import Complaint, ComplaintLabel


def test_analyst_corrects_a_low_confidence_reading(
    page, login, menu, shot, staff, managers, make_customer
):
    customer = make_customer("C0001", managers[0], msisdn="13912345001", name="司马光")
    make_complaint(customer, "broadband_fault", "repair", text="宽带又断了", confidence=0.95)
    unsure = make_complaint(
        customer, "slow_data", "repair", text="这个月流量怎么多扣了三十块，回电13912345001",
        confidence=0.38,
    )  # fmt: skip
    make_complaint(customer, "staff_attitude", "apology", text="营业员爱答不理", confidence=0.52)

    login(page, "analyst")
    menu(page, "投诉分类复核")
    page.get_by_role("link", name="投诉分类复核").click()
    page.wait_for_url("**/complaints/review/")
    rows = page.locator("#review-queue tbody tr")
    assert rows.count() == 2  # the confident reading is not in the queue
    first = rows.first
    assert first.get_attribute("data-event") == unsure.event_id  # least confident first
    assert "13912345001" not in page.content() and "139****5001" in first.inner_text()
    shot(page, "complaint_review_01_queue")

    first.locator("select[name=cause]").select_option("overage_charge")
    first.locator("select[name=need]").select_option("explanation")
    first.locator("input[name=note]").fill("客户问的是超套餐流量费")
    first.get_by_role("button", name="确认或更正").click()
    page.wait_for_selector("ul.messages")
    assert "已更正" in page.content()
    assert page.locator("#review-queue tbody tr").count() == 1
    shot(page, "complaint_review_02_corrected")

    complaint = Complaint.objects.get(pk=unsure.pk)
    assert (complaint.cause, complaint.need, complaint.label_version) == (
        "overage_charge", "explanation", 1,
    )  # fmt: skip
    assert ComplaintLabel.objects.get().note == "客户问的是超套餐流量费"

    page.get_by_role("link", name="返回投诉文本").click()
    page.wait_for_url("**/complaints/")
    row = page.locator("#complaint-list tbody tr", has_text="多扣了三十块")
    assert "超套餐费用" in row.inner_text() and "人工更正" in row.inner_text()
    assert "待复核的低置信度分类 1 条" in page.locator("#review-link").inner_text()
    shot(page, "complaint_review_03_list")
