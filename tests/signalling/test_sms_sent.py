"""A real-time SMS detection goes through the outbox and a real Kannel gateway exactly once;
its latency stamp runs signal → detection → sent."""

import time
import uuid

import pytest

from factories import make_customer
from keycare.messaging.models import SmsMessage, SmsState
from keycare.signalling.consumer import Consumer, client, produce
from keycare.signalling.models import Outcome, RealtimeDetection
from polling import wait_until

US = {"mcc": "310", "country": "US", "city": "Los Angeles"}


@pytest.mark.django_db(transaction=True)
def test_detection_sms_is_sent_once_with_its_latency_stamp(org, manager, sender, gateway, receipts):
    customer = make_customer(org["C025"], "S1", manager)
    r, key = client(), f"test:signalling:{uuid.uuid4().hex}"
    now = int(time.time() * 1000)
    event = {"event_id": "x1", "type": "roaming_start", "subscriber_id": "S1", "event_time": now}
    try:
        for name in ("c1", "c2"):  # the second consumer replays the stream from the start
            produce(r, key, [{**event, **US}])
            consumer = Consumer(r, key, name)
            consumer.setup()
            while consumer.step(block_ms=50):
                pass
            assert sender.send_batch(limit=10).claimed == (2 if name == "c1" else 0)
            # SQLite locks a table while the receipt listener's thread writes to it: let both
            # delivery reports land before the replay writes again.
            assert wait_until(lambda: receipts.counts.get("delivered", 0) == 2)
    finally:
        r.delete(key)
    assert gateway.wait_delivered(2) == [customer.msisdn, customer.msisdn]  # RT01 and RT02
    assert (
        SmsMessage.objects.filter(state=SmsState.SUBMITTED).count()
        + SmsMessage.objects.filter(state=SmsState.DELIVERED).count()
        == 2
    )
    for det in RealtimeDetection.objects.select_related("sms"):
        stamp = det.latency_ms
        assert det.outcome == Outcome.SMS and det.sms.submitted_at >= det.detected_at
        assert stamp["detect"] >= 0 and 0 <= stamp["act"] <= stamp["sent"] < 60_000
