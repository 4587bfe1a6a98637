"""实时信令监控 in the browser: the province administrator opens it from the menu after the
consumer ran in process (as the demo does) and sees the figures, the chart and the latest
detections, masked; the view is audited."""

from datetime import UTC, datetime, timedelta

from keycare.core.models import AuditEvent
from keycare.signalling.consumer import Consumer
from keycare.synth.signalling import generate


def test_operations_page_from_the_menu(page, login, menu, shot, staff, managers, make_customer):
    subs = [make_customer(f"S{i:03d}", managers[i % 2]).subscriber_id for i in range(60)]
    start = datetime.now(UTC) - timedelta(hours=6)
    stream = generate(subs, start=start, hours=6, travel_rate=0.5, burst_size=10)
    consumer = Consumer(None, "browser:signalling", "demo", batch=500)
    consumer.setup(broker=False)
    consumer.feed([e for _, e in stream], arrivals=[a for a, _ in stream])

    login(page, "provadmin")
    menu(page, "实时信令监控")
    page.get_by_role("link", name="实时信令监控").click()
    page.wait_for_url("**/signalling/operations/")
    assert page.locator("#ops-figures .stat").count() == 9
    page.wait_for_selector("#ops-chart canvas")
    assert page.locator("#recent-detections tbody tr").count() >= 1
    assert "S0" in page.locator("#recent-detections tbody").inner_text()
    shot(page, "signalling_01_operations")
    assert AuditEvent.objects.filter(action="signalling.view").exists()
