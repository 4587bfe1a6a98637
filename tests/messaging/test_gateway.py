"""Sending through a real Kannel gateway on loopback: submit and delivery receipts per message;
the gateway going down loses nothing and sends nothing twice."""

from __future__ import annotations

import time

import pytest

from factories import make_sms_message, numbered_customer
from keycare.messaging import actions
from keycare.messaging.models import SmsMessage, SmsReceipt, SmsState
from keycare.messaging.sender import state_counts


def _customers(org, manager, n):
    return [numbered_customer(org, i, manager) for i in range(1, n + 1)]


def _wait_until(condition, timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return condition()


def _receipts_in(receipts, n, timeout=30.0):
    """Wait for the listener to record n messages' submit and delivery receipts, then stop it
    (the test database is in memory: the test reads it alone)."""
    done = _wait_until(
        lambda: receipts.counts.get("delivered", 0) >= n and receipts.recorded >= 2 * n, timeout
    )
    receipts.stop()
    return done


@pytest.mark.django_db(transaction=True)
def test_messages_go_out_with_submit_and_delivery_receipts(org, manager, sender, gateway, receipts):
    customers = _customers(org, manager, 12)
    for c in customers:
        make_sms_message(c, text=f"{c.name}您好，您的余额不足，请及时充值。")
    result = sender.send_batch(limit=100)
    assert result.claimed == 12 and result.counts["submitted"] == 12
    assert _receipts_in(receipts, 12), receipts.counts
    assert state_counts()["delivered"] == 12
    for message in SmsMessage.objects.all():
        assert message.submitted_at and message.delivered_at and message.gateway_message_id
        kinds = set(message.receipts.values_list("kind", "status"))
        assert kinds == {("submit", "accepted_by_smsc"), ("delivery", "delivered")}
    # The SMSC got each number exactly once.
    assert sorted(gateway.wait_delivered(12)) == sorted(c.msisdn for c in customers)


@pytest.mark.django_db(transaction=True)
def test_a_held_message_never_reaches_the_gateway(org, manager, sender, gateway, receipts):
    on_list, free = _customers(org, manager, 2)
    on_list.attributes = {"dnd": True}
    on_list.save()
    make_sms_message(on_list)
    make_sms_message(free)
    make_sms_message(free, 2)  # a second message to the same customer: frequency cap
    result = sender.send_batch()
    assert result.counts["submitted"] == 1 and result.counts["held"] == 2
    assert _receipts_in(receipts, 1), receipts.counts
    held = dict(SmsMessage.objects.filter(state=SmsState.HELD).values_list("pk", "hold_reason"))
    assert sorted(held.values()) == ["dnd_list", "frequency_cap"]
    assert gateway.wait_delivered(1) == [free.msisdn]


@pytest.mark.django_db(transaction=True)
def test_gateway_down_mid_run_loses_nothing_and_doubles_nothing(
    org, manager, sender, gateway, receipts, monkeypatch
):
    monkeypatch.setattr(actions, "BACKOFF_BASE_SECONDS", 0)  # retry at once in the test
    monkeypatch.setattr(actions, "MAX_ATTEMPTS", 1000)
    customers = _customers(org, manager, 60)
    for c in customers:
        make_sms_message(c)
    first = sender.send_batch(limit=20)
    assert first.counts["submitted"] == 20
    # Kill between batches, once the first batch's receipts are in: Kannel's smsbox loses the
    # delivery-report callbacks it holds when it dies (docs/messaging.md), so messages handed
    # over in the last instant before a crash stay 已提交网关 without a receipt.
    assert _wait_until(lambda: receipts.counts.get("delivered", 0) == 20)
    assert len(gateway.wait_delivered(20)) == 20  # and the SMSC has logged them
    gateway.kill_gateway()
    down = sender.send_batch(limit=20)
    assert down.gateway_down and down.counts["retry"] == 20
    assert SmsMessage.objects.filter(state=SmsState.QUEUED, attempts=1).count() == 20
    assert "网关" in SmsMessage.objects.filter(state=SmsState.QUEUED, attempts=1).first().reason
    gateway.start()
    while sender.send_batch(limit=20).claimed:
        pass
    assert _receipts_in(receipts, 60, timeout=60), (
        receipts.counts,
        state_counts(),
        gateway.delivered_count(),
        gateway.workdir,
    )
    assert state_counts()["delivered"] == 60
    time.sleep(1)  # anything sent twice would be logged by now
    recipients = gateway.wait_delivered(60)
    assert sorted(recipients) == sorted(c.msisdn for c in customers)  # each exactly once
    assert SmsReceipt.objects.filter(dlr_type=1).count() == 60
