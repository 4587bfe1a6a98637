"""The commands and the queue: sms_send in-process with progress, without a gateway, and
through Celery on the machine's Redis (a db number and a queue of this test's own)."""

from __future__ import annotations

import io
import json
import os
import time
import uuid

import pytest
from django.core.management import call_command

from factories import make_sms_message, numbered_customer
from keycare.messaging import queue
from keycare.messaging.models import SmsMessage, SmsState

REDIS_DB = 11  # this app's tests' own database number on 127.0.0.1:6379


def _messages(org, manager, n):
    return [make_sms_message(numbered_customer(org, i, manager)) for i in range(1, n + 1)]


@pytest.mark.django_db
def test_sms_send_without_a_gateway_leaves_messages_queued(org, manager, monkeypatch):
    monkeypatch.delenv("KEYCARE_SMS_GATEWAY_URL", raising=False)
    monkeypatch.delenv("KEYCARE_SMS_BROKER", raising=False)
    _messages(org, manager, 3)
    out = io.StringIO()
    call_command("sms_send", "--json", stdout=out, stderr=io.StringIO())
    summary = json.loads(out.getvalue().strip().splitlines()[-1])
    assert summary["gateway"] is False and summary["due"] == 3
    assert "未配置短信网关" in out.getvalue()
    assert set(SmsMessage.objects.values_list("state", flat=True)) == {SmsState.QUEUED}


@pytest.mark.django_db(transaction=True)
def test_sms_send_in_process_through_the_gateway(org, manager, sender, receipts, monkeypatch):
    monkeypatch.delenv("KEYCARE_SMS_BROKER", raising=False)
    _messages(org, manager, 8)
    receipts.stop()  # the command listens itself (--listen), on the same port
    monkeypatch.setenv("KEYCARE_SMS_DLR_URL", receipts.url)
    out, err = io.StringIO(), io.StringIO()
    call_command(
        "sms_send", "--listen", "--wait", "30", "--batch", "3", "--json", stdout=out, stderr=err
    )
    summary = json.loads(out.getvalue().strip().splitlines()[-1])
    assert summary["sent"] == 8 and summary["batches"] == 3
    assert summary["states"]["delivered"] == 8
    assert "发送中 8/8" in err.getvalue()


@pytest.mark.django_db
def test_sms_send_refuses_bad_options(org):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="--batch"):
        call_command("sms_send", "--batch", "x", stdout=io.StringIO())


@pytest.fixture
def redis_queue():
    """Celery on Redis db 11 with a queue of this test's own; the queue is deleted after."""
    import redis

    name = f"keycare-sms-test-{uuid.uuid4().hex[:8]}"
    broker = f"redis://127.0.0.1:6379/{REDIS_DB}"
    queue.configure(broker=broker, queue=name)
    queue.app.conf.worker_enable_remote_control = False  # no pidbox keys left behind
    yield name
    client = redis.Redis(db=REDIS_DB)
    keys = client.keys(f"*{name}*")
    if keys:
        client.delete(*keys)
    ours = [m for m in client.zrange("_kombu.binding_deadlines", 0, -1) if name.encode() in m]
    if ours:
        client.zrem("_kombu.binding_deadlines", *ours)
    queue.reset_sender()
    queue.configure(broker="")
    queue.app.conf.worker_enable_remote_control = True


@pytest.mark.django_db(transaction=True)
def test_celery_worker_on_redis_sends_the_queue(org, manager, sender, receipts, redis_queue):
    from celery.contrib.testing.worker import start_worker

    _messages(org, manager, 10)
    assert not queue.eager()
    with start_worker(queue.app, pool="solo", perform_ping_check=False, loglevel="WARNING"):
        for _ in range(3):
            queue.send_due.delay(4)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and receipts.counts.get("delivered", 0) < 10:
            time.sleep(0.2)
    receipts.stop()
    assert SmsMessage.objects.filter(state=SmsState.DELIVERED).count() == 10
    assert os.environ["KEYCARE_SMS_GATEWAY_URL"]
