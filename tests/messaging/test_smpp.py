"""The SMPP transport through a real SMPP server on loopback: KeyCare (smpplib, transceiver)
-> Jasmin's SMPP server -> Jasmin's connector -> Kannel's drive_smpp as the SMSC
(``messaging/jasmin.py``). The SMSC acknowledges but never reports a handset delivery, so
the receipts through this chain are Jasmin's "accepted by the SMSC" (``stat:ACCEPTD``); the
handset statuses (DELIVRD, UNDELIV, EXPIRED, REJECTD) are checked through the mapping into
``actions.record_receipts`` (no server here sends them)."""

from __future__ import annotations

import signal
import time

import pytest

from factories import make_sms_message, numbered_customer, set_service_window
from keycare.messaging import actions, jasmin, smpp
from keycare.messaging.models import SmsMessage, SmsReceipt, SmsState
from keycare.messaging.sender import Sender, client_from_env, state_counts
from polling import wait_until


@pytest.fixture
def smpp_gateway(tmp_path):
    if not jasmin.available():
        pytest.fail("Jasmin / drive_smpp not installed: run scripts/install-system-deps.sh")
    gw = jasmin.JasminGateway(tmp_path / "jasmin")
    try:
        gw.start()
        yield gw
    finally:
        gw.cleanup()


@pytest.fixture
def smpp_sender(smpp_gateway, transactional_db, monkeypatch):
    set_service_window("00:00", "00:00")
    monkeypatch.setenv("KEYCARE_SMS_GATEWAY_URL", smpp_gateway.smpp_url)
    sender = Sender(client_from_env(), rate=0)
    yield sender
    sender.close()


def _customers(org, manager, n):
    return [numbered_customer(org, i, manager) for i in range(1, n + 1)]


def _accepted_in(client, n, timeout=30.0) -> bool:
    return wait_until(lambda: client.counts.get("receipts", 0) >= n, timeout)


def test_the_gateway_url_chooses_the_transport(monkeypatch):
    monkeypatch.setenv("KEYCARE_SMS_GATEWAY_URL", "smpp://kc:s%40cret@127.0.0.1:2775?window=8")
    config = smpp.SmppConfig.from_env()
    assert (config.host, config.port, config.system_id, config.password, config.window) == (
        "127.0.0.1",
        2775,
        "kc",
        "s@cret",
        8,
    )
    client = client_from_env()
    try:
        assert isinstance(client, smpp.SmppClient) and client.status() is None
    finally:
        client.close()
    monkeypatch.setenv("KEYCARE_SMS_GATEWAY_URL", "http://u:p@127.0.0.1:13013/cgi-bin/sendsms")
    assert type(client_from_env()).__name__ == "KannelClient"


@pytest.mark.parametrize(
    ("stat", "state", "status"),
    [
        ("DELIVRD", SmsState.DELIVERED, "delivered"),
        ("UNDELIV", SmsState.FAILED, "undelivered"),
        ("EXPIRED", SmsState.EXPIRED, "expired"),
        ("REJECTD", SmsState.FAILED, "rejected_by_smsc"),
    ],
)
@pytest.mark.django_db
def test_receipt_statuses_map_to_the_outbox_states(org, manager, stat, state, status):
    message = make_sms_message(numbered_customer(org, 1, manager), state=SmsState.SUBMITTED)
    text = f"id:abc-1 sub:001 dlvrd:001 submit date:2612070101 done date:2612070102 stat:{stat} err:000"
    smpp_id, parsed_stat, err = smpp.parse_receipt(text)
    assert (smpp_id, parsed_stat, err) == ("abc-1", stat, "000")
    actions.record_receipts([smpp.receipt_for(message.pk, smpp_id, parsed_stat, text)])
    message.refresh_from_db()
    assert message.state == state and message.delivery_status == status
    assert smpp.parse_receipt("not a receipt") is None
    assert smpp.receipt_for(message.pk, "x", "UNKNOWN", "") is None


def test_messages_go_out_over_smpp_with_the_smscs_receipts(org, manager, smpp_sender, smpp_gateway):
    customers = _customers(org, manager, 12)
    for c in customers:
        make_sms_message(c, text=f"{c.name}您好，您的余额不足，请及时充值。")
    long_text = "尊敬的客户您好，" + "您本月的国际漫游流量包即将用完，" * 9  # 152 chars: 3 parts
    long_one = make_sms_message(numbered_customer(org, 99, manager), text=long_text)
    result = smpp_sender.send_batch(limit=100)
    assert result.claimed == 13 and result.counts["submitted"] == 13, result.counts
    parts = len(smpp._encode(long_text))
    assert parts == 3 and all(coding == 8 for _m, coding, _e in smpp._encode(long_text))
    assert smpp_gateway.wait_smsc(12 + parts) == 12 + parts  # the SMSC got every part once
    assert _accepted_in(smpp_sender.client, 12 + parts), smpp_sender.client.counts
    smpp_sender.close()  # the writer thread is done: the test reads the database alone
    assert state_counts()["submitted"] == 13
    for message in SmsMessage.objects.all():
        assert message.submitted_at and message.gateway_message_id, message
        kinds = set(message.receipts.values_list("kind", "status"))
        assert kinds == {("submit", "accepted_by_smsc")}, (message.pk, kinds)
    assert SmsMessage.objects.get(pk=long_one.pk).receipts.count() == 1  # once per type
    recipients = smpp_gateway.smsc_recipients()
    assert sorted(set(recipients)) == sorted({c.msisdn for c in customers} | {long_one.recipient})
    assert recipients.count(long_one.recipient) == parts
    assert smpp_gateway.smsc_submits() == 12 + parts


def test_gateway_down_between_batches_loses_nothing_and_doubles_nothing(
    org, manager, smpp_sender, smpp_gateway, monkeypatch
):
    monkeypatch.setattr(actions, "BACKOFF_BASE_SECONDS", 0)  # retry at once in the test
    monkeypatch.setattr(actions, "MAX_ATTEMPTS", 1000)
    customers = _customers(org, manager, 60)
    for c in customers:
        make_sms_message(c)
    first = smpp_sender.send_batch(limit=20)
    assert first.counts["submitted"] == 20, first.counts
    assert smpp_gateway.wait_smsc(20) == 20
    assert _accepted_in(smpp_sender.client, 20)
    smpp_gateway.kill_gateway(signal.SIGKILL)
    down = smpp_sender.send_batch(limit=20)
    assert down.gateway_down and down.counts["retry"] == 20, down.counts
    waiting = SmsMessage.objects.filter(state=SmsState.QUEUED, attempts=1)
    assert waiting.count() == 20 and "网关连接失败" in waiting.first().reason
    smpp_gateway.start()
    while smpp_sender.send_batch(limit=20).claimed:
        pass
    assert smpp_gateway.wait_smsc(60, timeout=60) == 60, smpp_gateway.workdir
    assert _accepted_in(smpp_sender.client, 60), smpp_sender.client.counts
    smpp_sender.close()
    assert state_counts()["submitted"] == 60
    time.sleep(1)  # anything sent twice would be logged by now
    assert smpp_gateway.smsc_submits() == 60
    assert sorted(smpp_gateway.smsc_recipients()) == sorted(c.msisdn for c in customers)
    assert SmsReceipt.objects.filter(dlr_type=8).count() == 60


def test_a_submit_left_without_an_answer_is_pending_and_confirmed_by_its_receipt(
    org, manager, smpp_gateway, transactional_db, monkeypatch
):
    set_service_window("00:00", "00:00")
    monkeypatch.setenv("KEYCARE_SMS_GATEWAY_URL", smpp_gateway.smpp_url + "?timeout=1")
    sender = Sender(client_from_env(), rate=0)
    customers = _customers(org, manager, 3)
    for c in customers:
        make_sms_message(c)
    try:
        sender.client._open()  # bound before Jasmin stops answering
        jasmind = smpp_gateway.processes["jasmind"]
        jasmind.send_signal(signal.SIGSTOP)  # takes the submit_sm, answers nothing
        try:
            result = sender.send_batch(limit=10)
        finally:
            jasmind.send_signal(signal.SIGCONT)
        assert result.counts["unknown"] == 3 and result.counts["submitted"] == 0, result.counts
        assert state_counts()["submit_unknown"] == 3
        assert sender.send_batch(limit=10).claimed == 0  # never resent blindly
        # Jasmin wakes, answers late and hands the messages on: their receipts confirm them.
        assert _accepted_in(sender.client, 3), sender.client.counts
    finally:
        sender.close()
    assert state_counts()["submitted"] == 3
    assert smpp_gateway.wait_smsc(3) == 3
    time.sleep(1)
    assert smpp_gateway.smsc_submits() == 3


def test_sms_gateway_command_serves_smpp_until_interrupted(
    org, manager, transactional_db, tmp_path, monkeypatch
):
    """`keycare sms_gateway --smpp` prints the URL to send with; a message sent there is taken
    and answered; stopping it (SIGTERM, as a service manager does; Ctrl-C takes the same path)
    stops Jasmin and its SMSC (nothing left running)."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "KEYCARE_HOME": str(tmp_path / "home"), "PYTHONUNBUFFERED": "1"}
    command = [sys.executable, "-m", "keycare.cli", "sms_gateway", "--smpp"]
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, text=True)  # noqa: S603
    try:
        url = ""
        for line in process.stdout:
            if "KEYCARE_SMS_GATEWAY_URL=" in line:
                url = line.split("=", 1)[1].strip().strip("'")
                break
        assert url.startswith("smpp://"), url
        set_service_window("00:00", "00:00")
        monkeypatch.setenv("KEYCARE_SMS_GATEWAY_URL", url)
        message = make_sms_message(numbered_customer(org, 1, manager))
        sender = Sender(client_from_env(), rate=0)
        try:
            assert sender.send_batch(limit=10).counts["submitted"] == 1
            assert _accepted_in(sender.client, 1), sender.client.counts
        finally:
            sender.close()
        message.refresh_from_db()
        assert message.receipts.filter(status="accepted_by_smsc").exists()
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            assert process.wait(timeout=60) is not None
        finally:
            process.kill()  # no-op once it exited; never leave it running
    assert wait_until(lambda: not jasmin._jasmind_running(), 30.0)
