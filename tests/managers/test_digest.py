"""The daily reminder digest: opted-in managers get their workbench reminders by SMS (through
the messaging outbox, which sends it like any message but without a customer's rules) and by
e-mail (Django's backend); once per manager, day and channel; audited; set on the reminders
page; ``keycare reminders digest``."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core import mail
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from factories import make_appointment, make_customer, make_manager, make_org, make_user
from keycare.access import roles
from keycare.core.models import AuditEvent
from keycare.managers import actions
from keycare.managers.digest import send_digests
from keycare.managers.models import ManagerProfile, ReminderDigest
from keycare.messaging.models import SmsMessage, SmsState
from keycare.messaging.rules import SendRules

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(db):
    place = make_org()["C025"]
    m1, m2, m3 = (make_manager(place, f"M{i}") for i in (1, 2, 3))
    for manager in (m1, m2, m3):
        customer = make_customer(place, f"S{manager.manager_id}", manager, name="李四光")
        make_appointment(customer, timezone.now() + timedelta(hours=2))
    user = make_user("m1", roles.ROLE_MANAGER, manager=m1, email="m1@example.com")
    make_user("m2", roles.ROLE_MANAGER, manager=m2)  # no e-mail address
    actions.set_digest(user, m1, sms=True, email=True)
    actions.set_digest(None, m2, sms=False, email=True)
    actions.set_digest(None, m3, sms=True, email=False)  # no user account
    return {"m1": m1, "m2": m2, "m3": m3, "user": user}


def test_digest_goes_out_once_per_manager_day_and_channel(world):
    summary = send_digests(None)
    assert dict(summary.sent) == {"sms": 1, "email": 1}
    assert (summary.no_address, summary.no_account) == (1, 1)
    sms = SmsMessage.objects.get()
    assert sms.customer_id is None and sms.manager_id == world["m1"].pk
    assert sms.recipient == "13900000000" and sms.state == SmsState.QUEUED
    assert "事务提醒 1 项" in sms.text and "李四光" not in sms.text  # names masked
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["m1@example.com"]
    assert "预约" in mail.outbox[0].body
    digests = ReminderDigest.objects.filter(manager=world["m1"])
    assert sorted(digests.values_list("channel", "reminders")) == [("email", 1), ("sms", 1)]
    assert digests.get(channel="sms").sms_id == sms.pk
    assert AuditEvent.objects.filter(action="reminders.digest").count() == 2
    again = send_digests(None)
    assert not again.sent and again.already == 2 and again.no_address == 1
    assert SmsMessage.objects.count() == 1 and len(mail.outbox) == 1


def test_a_staff_message_passes_the_customers_rules(world):
    send_digests(None, channels=("sms",))
    message = SmsMessage.objects.get()
    at_ten = timezone.localtime().replace(hour=10, minute=0)
    rules = SendRules(at_ten)
    assert rules.contacted([message]) == set()
    assert rules.check(message, contacted={None}) is None


def test_manager_opts_in_on_the_reminders_page(client, world):
    client.force_login(world["user"])
    page = client.get("/reminders/").content.decode()
    assert 'id="digest-form"' in page and 'name="sms" checked' in page
    response = client.post("/reminders/digest/", {"email": "on"}, follow=True)
    assert "已保存提醒摘要设置" in response.content.decode()
    profile = ManagerProfile.objects.get(manager=world["m1"])
    assert (profile.digest_sms, profile.digest_email) == (False, True)
    event = AuditEvent.objects.filter(action="reminders.digest_settings").latest("id")
    assert event.detail["before"] == {"sms": True, "email": True}
    admin = make_user("city", roles.ROLE_CITY_ADMIN, city=world["m1"].city)
    client.force_login(admin)
    assert 'id="digest-form"' not in client.get("/reminders/").content.decode()
    assert client.post("/reminders/digest/", {"sms": "on"}).status_code == 403


def test_command_sends_and_reports(world):
    out = StringIO()
    day = (timezone.localdate() + timedelta(days=1)).isoformat()
    call_command("reminders", "digest", "--date", day, "--channel", "sms", stdout=out)
    assert "短信 1，邮件 0" in out.getvalue()
    assert ReminderDigest.objects.get().day.isoformat() == day
    with pytest.raises(CommandError, match="YYYY-MM-DD"):
        call_command("reminders", "digest", "--date", "7/12/2026", stdout=StringIO())
