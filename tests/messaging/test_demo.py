"""The demo step sends the demo run's SMS without a broker: through a local Kannel when one
is installed (messages end delivered with receipts), else they wait as queued."""

from __future__ import annotations

import pytest

from factories import make_sms_message, numbered_customer, set_service_window
from keycare.core.demo_steps import DemoContext
from keycare.messaging import demo, kannel
from keycare.messaging.models import SmsMessage, SmsReceipt, SmsState


@pytest.mark.django_db(transaction=True)
def test_demo_step_sends_through_a_local_gateway(org, manager, tmp_path, settings, monkeypatch):
    monkeypatch.delenv("KEYCARE_SMS_GATEWAY_URL", raising=False)
    settings.KEYCARE_HOME = tmp_path
    set_service_window("00:00", "00:00")
    for n in range(1, 6):
        make_sms_message(numbered_customer(org, n, manager))
    demo.send_demo_sms(DemoContext(data_dir=tmp_path, date="2026-11-22", opts={}))
    assert SmsMessage.objects.filter(state=SmsState.DELIVERED).count() == 5
    assert SmsReceipt.objects.filter(dlr_type=1).count() == 5
    assert not (tmp_path / "kannel-demo").exists()  # the gateway was stopped and removed


@pytest.mark.django_db
def test_demo_step_without_a_gateway_leaves_messages_waiting(org, manager, monkeypatch, capsys):
    monkeypatch.delenv("KEYCARE_SMS_GATEWAY_URL", raising=False)
    monkeypatch.setattr(kannel, "available", lambda: False)
    make_sms_message(numbered_customer(org, 1, manager))
    demo.send_demo_sms(DemoContext(data_dir=None, date="2026-11-22", opts={}))
    assert SmsMessage.objects.get().state == SmsState.QUEUED
    assert "待发送" in capsys.readouterr().out
