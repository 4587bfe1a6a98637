"""The daily reminder digest (§7.2.3): the workbench reminders of each manager who opted in
(``ManagerProfile.digest_sms`` / ``digest_email``), sent once a day per channel.

SMS goes into the messaging app's outbox (an ``SmsMessage`` without a customer, to the
manager's mobile): the sender delivers it inside the service window and records its receipts
like any other message. E-mail goes through Django's e-mail backend (``EMAIL_BACKEND``) to the
e-mail addresses of the manager's user accounts. ``ReminderDigest`` (unique per manager, day
and channel) is written in the same transaction as the outbox row, so a second run of the day
sends nothing twice.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, time

from django.contrib.auth import get_user_model
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from keycare.access import roles
from keycare.core.audit import record
from keycare.managers.models import DigestChannel, ManagerProfile, ReminderDigest
from keycare.managers.reminders import Reminder, reminders_for
from keycare.messaging.models import HoldReason, SmsMessage, SmsState
from keycare.org.models import Manager

SMS_ITEMS = 3  # reminders spelled out in an SMS; the rest are counted by kind
DIGEST_HOUR = 8  # a digest for a past or future date reads the reminders as of 08:00


@dataclass
class DigestSummary:
    day: date
    sent: Counter = field(default_factory=Counter)  # channel -> digests sent
    already: int = 0  # (manager, channel) sent earlier that day
    empty: int = 0  # managers with nothing to remind
    no_account: int = 0  # opted-in managers without a manager user account
    no_address: int = 0  # e-mail opted in, no address on their accounts


def send_digests(actor, day: date | None = None, channels=tuple(DigestChannel.values)):
    """Send the day's digest to every manager who opted in, by each channel they chose."""
    now = timezone.now()
    day = day or timezone.localdate(now)
    if day != timezone.localdate(now):
        now = timezone.make_aware(datetime.combine(day, time(DIGEST_HOUR)))
    summary = DigestSummary(day)
    profiles = ManagerProfile.objects.filter(
        Q(digest_sms=True) | Q(digest_email=True), manager__active=True
    ).select_related("manager")
    done = set(ReminderDigest.objects.filter(day=day).values_list("manager_id", "channel"))
    users = _manager_users()
    for profile in profiles.order_by("manager_id"):
        chosen = [c for c in channels if getattr(profile, f"digest_{c}")]
        todo = [c for c in chosen if (profile.manager_id, c) not in done]
        summary.already += len(chosen) - len(todo)
        if not todo:
            continue
        accounts = users.get(profile.manager_id, [])
        if not accounts:
            summary.no_account += 1
            continue
        found = reminders_for(accounts[0], now)
        if not found:
            summary.empty += 1
            continue
        for channel in todo:
            _send(actor, profile.manager, channel, day, found, accounts, summary)
    return summary


def _manager_users() -> dict[int, list]:
    """Manager pk -> their active manager-role user accounts."""
    found: dict[int, list] = {}
    rows = (
        get_user_model()
        .objects.filter(
            is_active=True,
            staffprofile__role=roles.ROLE_MANAGER,
            staffprofile__manager__isnull=False,
        )
        .select_related("staffprofile")
    )
    for user in rows.order_by("pk"):
        found.setdefault(user.staffprofile.manager_id, []).append(user)
    return found


def _send(actor, manager: Manager, channel, day, found, accounts, summary) -> None:
    addresses = sorted({u.email for u in accounts if u.email})
    if channel == DigestChannel.EMAIL and not addresses:
        summary.no_address += 1
        return
    with transaction.atomic():
        digest, created = ReminderDigest.objects.get_or_create(
            manager=manager,
            day=day,
            channel=channel,
            defaults={"city_id": manager.city_id, "reminders": len(found)},
        )
        if not created:  # another run got there first
            summary.already += 1
            return
        if channel == DigestChannel.SMS:
            digest.sms = _queue_sms(manager, day, found)
            digest.recipients = 1
        else:
            send_mail(
                _("KeyCare 事务提醒 %(day)s") % {"day": day.isoformat()},
                email_text(manager, day, found),
                None,
                addresses,
            )
            digest.recipients = len(addresses)
        digest.save(update_fields=["sms", "recipients"])
        record(actor, "reminders.digest", digest, channel=channel, reminders=len(found))
    summary.sent[channel] += 1


def _queue_sms(manager: Manager, day: date, found: list[Reminder]) -> SmsMessage:
    message = SmsMessage(
        customer=None,
        city_id=manager.city_id,
        manager=manager,
        business_date=day,
        recipient=(manager.mobile or "").strip(),
        text=sms_text(day, found),
        idempotency_key=f"digest:{manager.pk}:{day.isoformat()}",
    )
    if not message.recipient.isdigit():
        message.state, message.hold_reason = SmsState.HELD, HoldReason.NO_NUMBER
        message.reason = "客户经理没有有效的手机号码"
    message.save()
    return message


def _counts(found: list[Reminder]) -> str:
    counts = Counter(r.kind_label for r in found)
    return "、".join(f"{label} {n}" for label, n in counts.items())


def sms_text(day: date, found: list[Reminder]) -> str:
    """The SMS: the counts by kind, the first few reminders (already masked), the overdue."""
    overdue = sum(r.overdue for r in found)
    head = _("【KeyCare】%(day)s 事务提醒 %(n)s 项（%(counts)s）") % {
        "day": day.strftime("%m-%d"),
        "n": len(found),
        "counts": _counts(found),
    }
    items = "；".join(r.text for r in found[:SMS_ITEMS])
    tail = _("，其中 %(n)s 项已逾期") % {"n": overdue} if overdue else ""
    return f"{head}{tail}：{items}。" + _("详见工作台。")


def email_text(manager: Manager, day: date, found: list[Reminder]) -> str:
    lines = [
        _("%(name)s，您好：%(day)s 的事务提醒共 %(n)s 项（%(counts)s）。")
        % {"name": manager.name, "day": day.isoformat(), "n": len(found), "counts": _counts(found)},
        "",
    ]
    for r in found:
        mark = _("【已逾期】") if r.overdue else ""
        when = timezone.localtime(r.when).strftime("%Y-%m-%d %H:%M")
        lines.append(f"- {when} {r.kind_label} {mark}{r.text}")
    lines += ["", _("请登录 KeyCare 工作台处理。")]
    return "\n".join(lines)
