"""The outbox: SMS tasks are queued once with their text; the send-time rules hold what must
not go out; claims are exclusive; receipts are recorded once and never move a message back."""

from datetime import datetime, time, timedelta
from types import SimpleNamespace

import pytest
from django.utils import timezone

from factories import DAY, make_sms_message, make_sms_task, make_task, set_service_window
from keycare.core.models import AuditEvent
from keycare.messaging import actions
from keycare.messaging.loaders import load_sms_outbox
from keycare.messaging.models import HoldReason, SmsMessage, SmsReceipt, SmsState
from keycare.messaging.rules import SendRules, window_end
from keycare.tasks.models import Outcome, ServiceTask

pytestmark = pytest.mark.django_db


def local(hour, minute=0, day=DAY):
    return timezone.make_aware(datetime.combine(day, time(hour, minute)))


def test_sms_tasks_are_queued_once_with_their_text(customers, moments):
    sms = make_sms_task(customers[0], moments["A04"], balance=5.5)
    make_task(customers[1], channel="call")
    counts = actions.queue_task_messages(None, ServiceTask.objects.all())
    assert counts == {"queued": 1, "held": 0}
    message = SmsMessage.objects.get()
    assert message.task == sms and message.recipient == customers[0].msisdn
    assert message.text == "张三丰您好，您的余额为5.50元。"
    assert message.state == SmsState.QUEUED and message.moment_codes == ["A04"]
    assert message.city == customers[0].city
    # Loading the run again (or any second call) queues nothing more.
    assert actions.queue_task_messages(None, ServiceTask.objects.all()) == {"queued": 0, "held": 0}
    assert SmsMessage.objects.count() == 1
    assert AuditEvent.objects.filter(action="sms.queue").count() == 1


def test_the_run_loader_step_queues_the_dates_unhandled_sms_tasks(customers, moments):
    make_sms_task(customers[0], moments["A04"], balance=3)
    make_sms_task(customers[1], moments["A04"], DAY - timedelta(days=1), balance=3)
    worked = make_sms_task(customers[2], moments["A04"], balance=3)
    ServiceTask.objects.filter(pk=worked.pk).update(state="in_progress")
    loader = SimpleNamespace(date=DAY, summary={})
    load_sms_outbox(loader)
    assert loader.summary["sms"] == {"queued": 1, "held": 0}
    assert list(SmsMessage.objects.values_list("customer", flat=True)) == [customers[0].pk]


def test_a_task_without_number_or_text_is_held_with_the_reason(customers, moments):
    customers[0].msisdn = ""
    customers[0].save()
    make_sms_task(customers[0], moments["A04"], balance=1)
    moments["A03"].sms_template = ""
    moments["A03"].save()
    make_sms_task(customers[1], moments["A03"])
    actions.queue_task_messages(None, ServiceTask.objects.all())
    held = dict(SmsMessage.objects.values_list("customer", "hold_reason"))
    assert held == {customers[0].pk: HoldReason.NO_NUMBER, customers[1].pk: HoldReason.NO_TEXT}
    assert set(SmsMessage.objects.values_list("state", flat=True)) == {SmsState.HELD}


def test_window_end_handles_windows_past_midnight():
    assert window_end(local(23), time(22), time(8)) == local(8, day=DAY + timedelta(days=1))
    assert window_end(local(7), time(22), time(8)) == local(8)
    assert window_end(local(9), time(22), time(8)) is None
    assert window_end(local(12), time(12), time(14)) == local(14)
    assert window_end(local(14), time(12), time(14)) is None
    assert window_end(local(3), time(0), time(0)) == local(3) + timedelta(days=1)


def test_quiet_hours_hold_until_the_service_window_opens(customers, moments):
    message = make_sms_message(customers[0])
    rules = SendRules(now=local(22, 30))
    hold = rules.check(message, set())
    assert hold.code == HoldReason.QUIET_HOURS and hold.until == local(9, day=DAY + timedelta(1))
    assert SendRules(now=local(10)).check(message, set()) is None


def test_city_override_of_the_service_window_applies(customers, moments):
    from keycare.moments.models import CityThreshold

    CityThreshold.objects.create(
        moment=moments["N01"], city=customers[0].city, name="service_start", value="11:00"
    )
    message = make_sms_message(customers[0])
    assert SendRules(now=local(10)).check(message, set()).code == HoldReason.QUIET_HOURS
    assert SendRules(now=local(11)).check(message, set()) is None


def test_dnd_list_and_the_customers_own_window(customers, moments):
    set_service_window("00:00", "00:00")
    on_list = make_sms_message(customers[0])
    on_list.customer.attributes = {"dnd": True}
    assert SendRules(now=local(10)).check(on_list, set()).code == HoldReason.DND_LIST
    lunch = make_sms_message(customers[1])
    lunch.customer.attributes = {"dnd": False, "dnd_start": "12:00", "dnd_end": "14:00"}
    hold = SendRules(now=local(12, 30)).check(lunch, set())
    assert hold.code == HoldReason.DND_WINDOW and hold.until == local(14)
    assert SendRules(now=local(14, 1)).check(lunch, set()) is None


def test_frequency_cap_counts_contacts_made_in_the_allocation_window(customers, moments):
    set_service_window("00:00", "00:00")
    make_sms_message(customers[0], 1, state=SmsState.DELIVERED, business_date=DAY - timedelta(2))
    make_sms_message(customers[1], 1, state=SmsState.DELIVERED, business_date=DAY - timedelta(8))
    make_sms_message(customers[2], 1, state=SmsState.FAILED, business_date=DAY - timedelta(1))
    call = make_task(customers[3], DAY - timedelta(days=1))
    Outcome.objects.create(task=call, contact_result="reached")
    # Handed to the gateway, no receipt yet: in flight, a second message would double up.
    make_sms_message(customers[4], 1, state=SmsState.SUBMITTED, business_date=DAY - timedelta(1))
    waiting = [make_sms_message(c, 2) for c in customers]
    rules = SendRules()
    contacted = rules.contacted(waiting)
    assert contacted == {customers[0].pk, customers[3].pk, customers[4].pk}
    hold = rules.check(waiting[0], contacted)
    assert hold.code == HoldReason.FREQUENCY_CAP and hold.until is None
    # An urgent moment (about to be suspended) goes out inside the cool-down, as in allocation.
    assert "A05" in rules.urgent
    waiting[0].moment_codes = ["A04", "A05"]
    assert rules.check(waiting[0], contacted) is None


def test_the_cool_down_and_the_send_time_cap_read_the_same_contacts(customers, moments, tmp_path):
    """Delivered SMS are a source of the contact log: the allocation's cool-down (contact log
    export) and the sender's cap (contact_dates) see the same delivered message."""
    from keycare.engine.history import previous_contacts
    from keycare.tasks import contacts

    sent = make_sms_message(customers[0], 1, state=SmsState.DELIVERED, business_date=DAY)
    make_sms_message(customers[1], 1, state=SmsState.FAILED, business_date=DAY)
    assert [s.__name__ for s in contacts.SOURCES] == ["reached_calls", "delivered_sms"]
    table = contacts.contacts_between(DAY - timedelta(days=7), DAY + timedelta(days=1))
    assert table.to_pylist() == [
        {"subscriber_id": customers[0].subscriber_id, "contact_date": DAY, "channel": "sms"}
    ]
    seen = contacts.contact_dates([c.subscriber_id for c in customers], DAY - timedelta(7))
    assert seen == {customers[0].subscriber_id: {DAY}}
    # The next day's run caps the customer (cool-down) ...
    contacts.export_contact_log(DAY + timedelta(days=1), tmp_path)
    capped = previous_contacts(tmp_path, DAY + timedelta(days=1), 7).to_pylist()
    assert [r["subscriber_id"] for r in capped] == [customers[0].subscriber_id]
    # ... and so does the sender for a message of that day.
    later = make_sms_message(customers[0], 2, business_date=DAY + timedelta(days=1))
    other = make_sms_message(customers[1], 2, business_date=DAY + timedelta(days=1))
    assert SendRules().contacted([later, other]) == {sent.customer_id}


def test_claims_are_exclusive_and_holds_are_recorded(customers, moments):
    messages = [make_sms_message(customers[0], n) for n in range(6)]
    first = actions.claim_due(4)
    second = actions.claim_due(4)
    assert [m.pk for m in first] == [m.pk for m in messages[:4]]
    assert [m.pk for m in second] == [m.pk for m in messages[4:]]
    assert actions.claim_due(4) == []
    assert set(SmsMessage.objects.values_list("state", "attempts")) == {(SmsState.SENDING, 1)}
    from keycare.messaging.rules import Hold

    later = timezone.now() - timedelta(seconds=1)
    actions.record_holds({first[0]: Hold("quiet_hours", "非服务时段", later)})
    held = SmsMessage.objects.get(pk=first[0].pk)
    assert (held.state, held.attempts) == (SmsState.HELD, 0)
    assert actions.release_due() == 1
    assert SmsMessage.objects.get(pk=first[0].pk).state == SmsState.QUEUED


def test_a_gateway_failure_requeues_with_backoff_then_fails(customers, moments, monkeypatch):
    from keycare.messaging.gateway import SubmitResult

    message = make_sms_message(customers[0])
    actions.claim_due(1)
    counts = actions.record_submissions([SubmitResult(message.pk, "unavailable", "down")])
    assert counts["retry"] == 1
    message.refresh_from_db()
    assert message.state == SmsState.QUEUED and message.next_attempt_at > timezone.now()
    assert actions.claim_due(1) == []  # not due yet
    monkeypatch.setattr(actions, "MAX_ATTEMPTS", 2)
    SmsMessage.objects.update(next_attempt_at=None)
    actions.claim_due(1)
    actions.record_submissions([SubmitResult(message.pk, "unavailable", "down")])
    message.refresh_from_db()
    assert message.state == SmsState.FAILED and "2" in message.submit_status


def test_receipts_are_recorded_once_and_never_move_a_message_back(customers, moments):
    message = make_sms_message(customers[0], state=SmsState.SUBMITTED)
    at = timezone.now()
    submit = {"message_id": message.pk, "dlr_type": 8, "gateway_id": "gw-1", "reported_at": at}
    delivered = {"message_id": message.pk, "dlr_type": 1, "gateway_id": "gw-2", "reported_at": at}
    failed = {"message_id": message.pk, "dlr_type": 2, "reported_at": at, "detail": "x"}
    unknown = {"message_id": 999999, "dlr_type": 1, "reported_at": at}
    counts = actions.record_receipts([submit, delivered, unknown])
    assert counts["delivered"] == 1 and counts["receipts"] == 2
    actions.record_receipts([delivered, failed])
    message.refresh_from_db()
    assert message.state == SmsState.DELIVERED and message.gateway_message_id == "gw-1"
    assert message.delivered_at is not None and message.delivery_status == "delivered"
    assert sorted(SmsReceipt.objects.values_list("dlr_type", flat=True)) == [1, 2, 8]


def test_expired_receipt_and_resend(customers, moments, user):
    message = make_sms_message(customers[0], state=SmsState.SUBMITTED)
    actions.record_receipts(
        [{"message_id": message.pk, "dlr_type": 2, "detail": "id:1 stat:EXPIRED err:000"}]
    )
    message.refresh_from_db()
    assert message.state == SmsState.EXPIRED
    actions.resend(user, message)
    assert SmsMessage.objects.get(pk=message.pk).state == SmsState.QUEUED
    assert AuditEvent.objects.filter(action="sms.resend").count() == 1
    from keycare.errors import UserError

    with pytest.raises(UserError):
        actions.resend(user, SmsMessage.objects.get(pk=message.pk))
