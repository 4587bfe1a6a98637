"""Sending through a real Kannel gateway on loopback: submit and delivery receipts per message;
the gateway going down loses nothing and sends nothing twice."""

from __future__ import annotations

import signal
import time
from dataclasses import replace
from datetime import timedelta

import pytest
from django.utils import timezone

from factories import make_sms_message, numbered_customer
from keycare.core.models import AuditEvent
from keycare.messaging import actions
from keycare.messaging.gateway import KannelClient
from keycare.messaging.models import SmsMessage, SmsReceipt, SmsState
from keycare.messaging.sender import Sender, state_counts
from polling import wait_until


def _customers(org, manager, n):
    return [numbered_customer(org, i, manager) for i in range(1, n + 1)]


def _receipts_in(receipts, n, timeout=30.0):
    """Wait for the listener to record n messages' submit and delivery receipts, then stop it
    (the test database is in memory: the test reads it alone)."""
    done = wait_until(
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
    assert wait_until(lambda: receipts.counts.get("delivered", 0) == 20)
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


def _kill(gateway, box):
    process = gateway.processes[box]
    process.kill()
    process.wait(timeout=10)


def _slow(sender) -> Sender:
    """A sender whose submits give up after 1 s."""
    return Sender(KannelClient(replace(sender.client.config, timeout=1.0)), rate=0)


def _timed_out_submit(sender, gateway, box, limit=10):
    """``box`` stops answering (SIGSTOP): smsbox stopped never reads the requests; bearerbox
    stopped gets them from smsbox but does not acknowledge them yet. The sender times out."""
    process = gateway.processes[box]
    process.send_signal(signal.SIGSTOP)
    try:
        return _slow(sender).send_batch(limit=limit)
    except BaseException:
        process.send_signal(signal.SIGCONT)
        raise


@pytest.mark.django_db(transaction=True)
def test_a_submit_that_times_out_after_the_gateway_took_it_is_not_sent_twice(
    org, manager, sender, gateway, receipts
):
    customers = _customers(org, manager, 3)
    for c in customers:
        make_sms_message(c)
    result = _timed_out_submit(sender, gateway, "bearerbox")
    try:  # read while bearerbox is still stopped: once it wakes, receipts may arrive at once
        assert result.counts["unknown"] == 3 and result.counts["submitted"] == 0, result.counts
        assert state_counts()["submit_unknown"] == 3
        assert "核对前不重发" in SmsMessage.objects.first().reason
        assert sender.send_batch(limit=10).claimed == 0  # not due: never sent again blindly
    finally:
        gateway.processes["bearerbox"].send_signal(signal.SIGCONT)
    # bearerbox wakes and takes the messages smsbox handed it: the receipts confirm them.
    assert _receipts_in(receipts, 3), (receipts.counts, state_counts())
    assert state_counts()["delivered"] == 3
    later = timezone.now() + timedelta(hours=1)
    assert actions.reconcile(sender.client.status(), later) == {"requeued": 0, "unconfirmed": 0}
    time.sleep(1)
    assert sorted(gateway.wait_delivered(3)) == sorted(c.msisdn for c in customers)


@pytest.mark.django_db(transaction=True)
def test_a_timed_out_submit_is_requeued_only_when_the_gateway_proves_it_never_took_it(
    org, manager, sender, gateway, receipts, user
):
    lost, quiet = _customers(org, manager, 2)
    make_sms_message(lost)
    assert _timed_out_submit(sender, gateway, "smsbox").counts["unknown"] == 1
    _kill(gateway, "smsbox")  # dies with the request unread
    gateway.start()  # a new smsbox: the old one may have taken it and lost its receipts
    status = sender.client.status()
    assert status is not None and status.waiting == 0
    check = timezone.now() + actions.SUBMIT_CHECK_AFTER
    assert actions.reconcile(status, check - timedelta(seconds=5)) == {
        "requeued": 0,
        "unconfirmed": 0,
    }  # too early: a receipt may still come
    assert actions.reconcile(status, check) == {"requeued": 0, "unconfirmed": 1}
    unconfirmed = SmsMessage.objects.get(customer=lost)
    assert unconfirmed.state == SmsState.UNCONFIRMED and "不自动重发" in unconfirmed.reason
    assert sender.send_batch().claimed == 0 and gateway.delivered_count() == 0
    # The gateway ran throughout since this submit and holds nothing: it never took it.
    pending = make_sms_message(
        quiet, state=SmsState.SUBMIT_UNKNOWN, submitted_at=timezone.now() + timedelta(seconds=1)
    )
    assert actions.reconcile(sender.client.status(), check + timedelta(seconds=5)) == {
        "requeued": 1,
        "unconfirmed": 0,
    }
    assert AuditEvent.objects.filter(action="sms.reconcile").count() == 2
    actions.resend(user, unconfirmed)  # an administrator's decision for the unknown one
    assert sender.send_batch().counts["submitted"] == 2
    assert _receipts_in(receipts, 2), (receipts.counts, state_counts())
    assert SmsMessage.objects.get(pk=pending.pk).state == SmsState.DELIVERED
    time.sleep(1)
    assert sorted(gateway.wait_delivered(2)) == sorted([lost.msisdn, quiet.msisdn])


@pytest.mark.django_db(transaction=True)
def test_reports_lost_with_smsbox_are_reconciled_not_resent(
    org, manager, sender, gateway, receipts
):
    customers = _customers(org, manager, 5)
    for c in customers:
        make_sms_message(c)
    receipts.stop()  # KeyCare's listener is down: smsbox holds the reports, retrying
    assert sender.send_batch(limit=10).counts["submitted"] == 5
    assert len(gateway.wait_delivered(5)) == 5
    assert wait_until(lambda: "DLR: received 10" in gateway.status())  # 5 accepted + 5 final
    time.sleep(0.5)  # smsbox has them from bearerbox
    _kill(gateway, "smsbox")  # and dies holding them
    gateway.start()
    time.sleep(1)
    assert state_counts()["submitted"] == 5
    status = sender.client.status()
    waited = timezone.now() + actions.DLR_WAIT
    assert actions.reconcile(status, waited - timedelta(seconds=5))["unconfirmed"] == 0
    assert actions.reconcile(status, waited) == {"requeued": 0, "unconfirmed": 5}
    message = SmsMessage.objects.first()
    assert message.state == SmsState.UNCONFIRMED and "未收到状态报告" in message.reason
    assert sender.send_batch().claimed == 0  # not sent again: the SMSC has them once
    time.sleep(1)
    assert sorted(gateway.delivered_recipients()) == sorted(c.msisdn for c in customers)
    # A report that comes late still lands.
    actions.record_receipts([{"message_id": message.pk, "dlr_type": 1, "gateway_id": "late"}])
    assert SmsMessage.objects.get(pk=message.pk).state == SmsState.DELIVERED
