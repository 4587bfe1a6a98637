"""Writes to the outbox. Each function runs in one transaction and writes an audit event; the
sender's writes are system actions audited per batch (one event per batch, with counts and
ids), not per message, so 100k messages do not write 100k audit rows.

Claiming is safe with several workers: ``claim_due`` moves due messages to ``sending`` inside
one transaction that locks them with ``SELECT ... FOR UPDATE SKIP LOCKED`` where the database
supports it (PostgreSQL); SQLite serialises writers, so the same UPDATE ... WHERE state=queued
cannot hand one message to two workers there either.
"""

from __future__ import annotations

import os
import threading
from contextlib import contextmanager
from datetime import datetime, timedelta

from django.db import DEFAULT_DB_ALIAS, connection, connections, transaction
from django.db.models import Case, F, OuterRef, Subquery, Value, When
from django.utils import timezone

from keycare.core.audit import record
from keycare.errors import UserError
from keycare.messaging.models import (
    OPEN_STATES,
    HoldReason,
    ReceiptKind,
    SmsMessage,
    SmsReceipt,
    SmsState,
)
from keycare.tasks.models import TaskChannel

BATCH = 2000
# A message claimed this long ago whose sender died goes back to the queue.
CLAIM_LEASE = timedelta(minutes=5)
# Retry delays after a gateway failure: 10 s, 20 s, 40 s ... capped at 10 minutes.
BACKOFF_BASE_SECONDS = 10
BACKOFF_MAX_SECONDS = 600
MAX_ATTEMPTS = 12
# A queued message not sent after this many days is expired (its moment has passed).
EXPIRE_AFTER = timedelta(days=3)
# Reconciliation (``reconcile``): a submit that timed out is checked after this long (a
# message the gateway took has had its "accepted by the SMSC" receipt by then) ...
SUBMIT_CHECK_AFTER = timedelta(seconds=int(os.environ.get("KEYCARE_SMS_SUBMIT_CHECK", "120")))
# ... and a message handed over with no final delivery report after this long is marked
# 未收到状态报告 (a late report still lands).
DLR_WAIT = timedelta(seconds=int(os.environ.get("KEYCARE_SMS_DLR_WAIT", "1800")))


_SQLITE_WRITER = threading.RLock()


@contextmanager
def db_turn():
    """SQLite has one writer: the sender and the receipt listener threads of one process take
    turns (across processes SQLite's own lock and timeout do). Other databases: no-op."""
    if connection.vendor == "sqlite":
        with _SQLITE_WRITER:
            yield
    else:
        yield


@contextmanager
def write_transaction(using: str | None = None):
    """``transaction.atomic`` for the outbox's writers, taking SQLite's write lock at BEGIN.

    Several processes write the outbox (senders, the receipt listener ``keycare
    sms_receipts``). Under WAL a deferred transaction that read first and then writes cannot
    be upgraded once another process committed in between: SQLite answers "database is
    locked" at once, without waiting for the busy timeout. ``BEGIN IMMEDIATE`` takes the
    write lock first, so a second writer waits (up to the timeout) and then reads fresh rows.
    Inside an outer transaction, and on other databases, it is a plain ``atomic``."""
    conn = connections[using or DEFAULT_DB_ALIAS]
    if conn.vendor != "sqlite" or conn.in_atomic_block:
        with transaction.atomic(using=using):
            yield
        return
    conn.ensure_connection()  # connecting resets transaction_mode from the settings
    previous = conn.transaction_mode
    conn.transaction_mode = "IMMEDIATE"
    try:
        with transaction.atomic(using=using):
            conn.transaction_mode = previous
            yield
    finally:
        conn.transaction_mode = previous


def lock_messages(ids) -> None:
    """Lock the messages a batch will write, in id order, before writing any of them.

    A sender recording its submits and the receipt listener recording the same messages'
    receipts each update several rows in one transaction; in whatever order each UPDATE met
    its rows, PostgreSQL found them waiting on each other ("deadlock detected", seen in CI).
    Taking the row locks in one order first makes the second writer wait instead. SQLite has
    one writer at a time already (``write_transaction``): there the call reads nothing."""
    if connection.vendor == "sqlite":
        return
    ids = sorted(set(ids))
    for start in range(0, len(ids), BATCH):
        list(
            SmsMessage.objects.filter(pk__in=ids[start : start + BATCH])
            .order_by("pk")
            .select_for_update(of=("self",))
            .values_list("pk", flat=True)
        )


def idempotency_key(task) -> str:
    """One message per task: its customer, date and cycle (a re-run keeps them)."""
    return f"task:{task.customer_id}:{task.business_date.isoformat()}:{task.cycle}"


def queue_task_messages(actor, tasks) -> dict:
    """Put the SMS tasks among ``tasks`` into the outbox; a task already queued is skipped."""
    from keycare.moments.tactic_services import Suggester
    from keycare.tasks.payload import payload_queryset, task_payload

    tasks = tasks.filter(channel=TaskChannel.SMS)
    keys = set(SmsMessage.objects.filter(task__in=tasks).values_list("idempotency_key", flat=True))
    suggester = Suggester()
    new = []
    for task in payload_queryset(tasks).order_by("pk").iterator(chunk_size=BATCH):
        key = idempotency_key(task)
        if key in keys:
            continue
        keys.add(key)
        new.append(_message_for(task, task_payload(task, masked=False, suggester=suggester)))
    with write_transaction():
        created = SmsMessage.objects.bulk_create(new, batch_size=BATCH, ignore_conflicts=True)
        counts = {
            "queued": sum(m.state == SmsState.QUEUED for m in new),
            "held": sum(m.state == SmsState.HELD for m in new),
        }
        if created:
            record(actor, "sms.queue", object_type="messaging.smsmessage", **counts)
    return counts


def _message_for(task, payload: dict) -> SmsMessage:
    return _checked(
        SmsMessage(
            task=task,
            customer_id=task.customer_id,
            city_id=task.city_id or task.customer.city_id,
            manager_id=task.manager_id,
            business_date=task.business_date,
            moment_codes=payload.get("moment_types") or [],
            recipient=(task.customer.msisdn or "").strip(),
            text=(payload.get("sms") or "").strip(),
            idempotency_key=idempotency_key(task),
        )
    )


def queue_direct_message(customer, *, key: str, business_date, moment_codes, text: str):
    """Queue one message without a task (the real-time path) under its idempotency ``key``:
    the same key again returns the message already queued, so a replay sends nothing more.
    Runs inside the caller's transaction; the caller audits."""
    message, _ = SmsMessage.objects.get_or_create(
        idempotency_key=key,
        defaults={
            "customer": customer,
            "city_id": customer.city_id,
            "manager_id": customer.manager_id,
            "business_date": business_date,
            "moment_codes": list(moment_codes),
            "recipient": (customer.msisdn or "").strip(),
            "text": text.strip(),
            **_unusable(customer.msisdn, text),
        },
    )
    return message


def _checked(message: SmsMessage) -> SmsMessage:
    for field, value in _unusable(message.recipient, message.text).items():
        setattr(message, field, value)
    return message


def _unusable(recipient, text) -> dict:
    """The hold for a message that cannot be sent at all (no number, no text); {} if none."""
    if not (recipient or "").strip().isdigit():
        hold, reason = HoldReason.NO_NUMBER, "客户没有有效的手机号码"
    elif not (text or "").strip():
        hold, reason = HoldReason.NO_TEXT, "时刻没有短信模板，无法生成短信内容"
    else:
        return {}
    return {"state": SmsState.HELD, "hold_reason": hold, "reason": reason}


# --- the sender's writes ------------------------------------------------------------------


def release_due(now: datetime | None = None) -> int:
    """Messages whose wait is over go back to the queue: quiet-hours and DND-window holds
    whose window has passed, and claims whose sender died (lease expired)."""
    now = now or timezone.now()
    with write_transaction():
        waited = SmsMessage.objects.filter(
            state=SmsState.HELD,
            hold_reason__in=(HoldReason.QUIET_HOURS, HoldReason.DND_WINDOW),
            next_attempt_at__lte=now,
        ).update(state=SmsState.QUEUED, hold_reason="", reason="", updated_at=now)
        stale = SmsMessage.objects.filter(
            state=SmsState.SENDING, claimed_at__lt=now - CLAIM_LEASE
        ).update(state=SmsState.QUEUED, claimed_at=None, updated_at=now)
    return waited + stale


def claim_due(limit: int, now: datetime | None = None) -> list[SmsMessage]:
    """Take up to ``limit`` due queued messages for sending (state ``sending``)."""
    now = now or timezone.now()
    with write_transaction():
        # Two index range reads of ``sms_due`` (state, next_attempt_at, id), each stopping at
        # ``limit`` rows: never-tried messages in id order, and retries that are due. One
        # query with "IS NULL OR <= now" sorted every queued row by id for each batch (its
        # cost grew with the queue, docs/performance.md).
        queued = SmsMessage.objects.filter(state=SmsState.QUEUED)
        fresh = queued.filter(next_attempt_at__isnull=True).order_by("id")
        retries = queued.filter(next_attempt_at__lte=now).order_by("next_attempt_at", "id")
        if connection.features.has_select_for_update_skip_locked:
            fresh = fresh.select_for_update(skip_locked=True, of=("self",))
            retries = retries.select_for_update(skip_locked=True, of=("self",))
        # Retries first (they have waited already), then the oldest new messages.
        ids = list(retries.values_list("id", flat=True)[:limit])
        if len(ids) < limit:
            ids += fresh.values_list("id", flat=True)[: limit - len(ids)]
        # The state condition makes the claim exclusive even where rows are not locked.
        SmsMessage.objects.filter(pk__in=ids, state=SmsState.QUEUED).update(
            state=SmsState.SENDING, claimed_at=now, attempts=F("attempts") + 1, updated_at=now
        )
    return list(
        SmsMessage.objects.filter(pk__in=ids, state=SmsState.SENDING, claimed_at=now)
        .select_related("customer")
        .order_by("id")
    )


def record_holds(holds: dict, now: datetime | None = None) -> int:
    """``holds``: message -> rules.Hold. Held messages leave ``sending``."""
    now = now or timezone.now()
    with write_transaction():
        for message, hold in holds.items():
            SmsMessage.objects.filter(pk=message.pk, state=SmsState.SENDING).update(
                state=SmsState.HELD,
                hold_reason=hold.code,
                reason=hold.reason,
                next_attempt_at=hold.until,
                claimed_at=None,
                # A temporary hold is not an attempt at the gateway.
                attempts=F("attempts") - 1,
                updated_at=now,
            )
        if holds:
            by_reason = {}
            for hold in holds.values():
                by_reason[hold.code] = by_reason.get(hold.code, 0) + 1
            record(None, "sms.hold", object_type="messaging.smsmessage", **by_reason)
    return len(holds)


def record_submissions(results, now: datetime | None = None, sent_at=None) -> dict:
    """Apply the gateway's answers (``gateway.SubmitResult``) to claimed messages.
    ``sent_at``: when the requests started leaving (a pending submit's time: the gateway may
    have had it from then)."""
    now = now or timezone.now()
    counts = {"submitted": 0, "failed": 0, "retry": 0, "unknown": 0}
    accepted: dict[str, list[int]] = {}
    for r in results:
        if r.outcome == "accepted":
            accepted.setdefault(r.status[:64], []).append(r.message_id)
    with write_transaction():
        lock_messages(r.message_id for r in results)
        for status, ids in accepted.items():
            # From sending only: a delivery receipt may have arrived first (then only the
            # submit time is filled in).
            SmsMessage.objects.filter(pk__in=ids, state=SmsState.SENDING).update(
                state=SmsState.SUBMITTED, claimed_at=None, reason="", updated_at=now
            )
            SmsMessage.objects.filter(pk__in=ids, submitted_at__isnull=True).update(
                submitted_at=now, submit_status=status
            )
        counts["submitted"] = sum(map(len, accepted.values()))
        _store_submit_ids(results)
        for result in results:
            if result.outcome == "rejected":
                counts["failed"] += _fail(result.message_id, result.status, now)
            elif result.outcome == "unavailable":
                counts["retry"] += _retry_later(result.message_id, result.status, now)
        counts["unknown"] = _submit_unknown(
            [r.message_id for r in results if r.outcome == "unknown"], results, now, sent_at
        )
        if results:
            record(
                None,
                "sms.submit",
                object_type="messaging.smsmessage",
                first_id=min(r.message_id for r in results),
                last_id=max(r.message_id for r in results),
                **counts,
            )
    return counts


def _submit_unknown(ids, results, now, sent_at=None) -> int:
    """The request left but no answer came: the gateway may have taken the message. It is not
    sent again until a receipt confirms it or ``reconcile`` proves the gateway did not."""
    if not ids:
        return 0
    status = next(r.status for r in results if r.message_id == ids[0])
    return SmsMessage.objects.filter(pk__in=ids, state=SmsState.SENDING).update(
        state=SmsState.SUBMIT_UNKNOWN,
        submitted_at=sent_at or now,
        submit_status=status[:64],
        reason=f"{status}：网关可能已接收，收到回执即确认；核对前不重发"[:500],
        claimed_at=None,
        updated_at=now,
    )


def _fail(message_id: int, status: str, now) -> int:
    return SmsMessage.objects.filter(pk=message_id, state=SmsState.SENDING).update(
        state=SmsState.FAILED,
        submit_status=status[:64],
        reason=f"网关拒绝：{status}",
        claimed_at=None,
        updated_at=now,
    )


def _retry_later(message_id: int, status: str, now) -> int:
    message = SmsMessage.objects.filter(pk=message_id, state=SmsState.SENDING).first()
    if message is None:
        return 0
    if message.attempts >= MAX_ATTEMPTS:
        return _fail(message_id, f"{status}（已重试 {message.attempts} 次）", now)
    delay = min(BACKOFF_BASE_SECONDS * 2 ** (message.attempts - 1), BACKOFF_MAX_SECONDS)
    return SmsMessage.objects.filter(pk=message_id, state=SmsState.SENDING).update(
        state=SmsState.QUEUED,
        next_attempt_at=now + timedelta(seconds=delay),
        reason=f"网关不可用，{delay} 秒后重试：{status}"[:500],
        claimed_at=None,
        updated_at=now,
    )


def expire_stale(now: datetime | None = None) -> int:
    """Queued messages older than ``EXPIRE_AFTER`` are expired: the moment has passed."""
    now = now or timezone.now()
    with write_transaction():
        expired = SmsMessage.objects.filter(
            state=SmsState.QUEUED, created_at__lt=now - EXPIRE_AFTER
        ).update(state=SmsState.EXPIRED, reason="超过有效期仍未发出，已过期", updated_at=now)
        if expired:
            record(None, "sms.expire", object_type="messaging.smsmessage", expired=expired)
    return expired


# --- receipts -----------------------------------------------------------------------------

# Kannel DLR types: 1 delivered, 2 not delivered, 4 queued at the SMSC, 8 accepted by the
# SMSC, 16 rejected by the SMSC.
DLR_TYPES = {
    1: (ReceiptKind.DELIVERY, "delivered", SmsState.DELIVERED),
    2: (ReceiptKind.DELIVERY, "undelivered", SmsState.FAILED),
    4: (ReceiptKind.SUBMIT, "queued_at_smsc", None),
    8: (ReceiptKind.SUBMIT, "accepted_by_smsc", None),
    16: (ReceiptKind.SUBMIT, "rejected_by_smsc", SmsState.FAILED),
}


def record_receipts(receipts: list[dict]) -> dict:
    """Record gateway receipts (dicts: message_id, dlr_type, gateway_id, detail, reported_at).

    A receipt repeated by the gateway is recorded once (unique per message and type) and a
    message reaches a final state once: later receipts never move it back.
    """
    known = set(
        SmsMessage.objects.filter(pk__in={r["message_id"] for r in receipts}).values_list(
            "pk", flat=True
        )
    )
    rows = []
    for receipt in receipts:
        if receipt["message_id"] not in known or receipt["dlr_type"] not in DLR_TYPES:
            continue
        kind, status, _state = DLR_TYPES[receipt["dlr_type"]]
        if "EXPIRED" in (receipt.get("detail") or "").upper():
            status = "expired"
        rows.append(
            SmsReceipt(
                message_id=receipt["message_id"],
                kind=kind,
                status=status,
                dlr_type=receipt["dlr_type"],
                gateway_message_id=(receipt.get("gateway_id") or "")[:64],
                detail=(receipt.get("detail") or "")[:500],
                reported_at=receipt.get("reported_at") or timezone.now(),
            )
        )
    with write_transaction():
        lock_messages(r.message_id for r in rows)
        _insert_receipts(rows)
        counts = {"receipts": len(rows), "delivered": 0, "failed": 0, "expired": 0}
        finished: dict[str, list[int]] = {}
        for (state, status, at, detail), ids in _final_groups(rows).items():
            moved = _finish(ids, state, status, at, detail)
            counts[state] += len(moved)
            finished.setdefault(state, []).extend(moved)
        _confirm_submitted(rows)
        _fill_gateway_ids(rows)
        _move_tasks(finished)
    return counts


_RECEIPT_COLUMNS = (
    "message_id",
    "kind",
    "status",
    "dlr_type",
    "gateway_message_id",
    "detail",
    "reported_at",
    "received_at",
)


def _insert_receipts(rows) -> None:
    """INSERT ... ON CONFLICT DO NOTHING (a repeated report is recorded once), straight through
    the cursor: ``bulk_create`` spent ~0.3 ms a row preparing values, most of a receipt
    batch's time (docs/performance.md). SQLite and PostgreSQL both take this statement."""
    if not rows:
        return
    quote, ops = connection.ops.quote_name, connection.ops
    table = quote(SmsReceipt._meta.db_table)
    columns = ", ".join(quote(c) for c in _RECEIPT_COLUMNS)
    marks = ", ".join(["%s"] * len(_RECEIPT_COLUMNS))
    sql = (
        f"INSERT INTO {table} ({columns}) VALUES ({marks}) "
        f"ON CONFLICT ({quote('message_id')}, {quote('dlr_type')}) DO NOTHING"
    )
    received = ops.adapt_datetimefield_value(timezone.now())
    values = [
        (
            r.message_id,
            r.kind,
            r.status,
            r.dlr_type,
            r.gateway_message_id,
            r.detail,
            ops.adapt_datetimefield_value(r.reported_at),
            received,
        )
        for r in rows
    ]
    with connection.cursor() as cursor:
        for start in range(0, len(values), BATCH):
            cursor.executemany(sql, values[start : start + BATCH])


def _confirm_submitted(rows) -> None:
    """A receipt proves the gateway took a message whose submit timed out."""
    ids = [r.message_id for r in rows if r.kind == ReceiptKind.SUBMIT]
    if ids:
        SmsMessage.objects.filter(
            pk__in=ids, state__in=(SmsState.SUBMIT_UNKNOWN, SmsState.UNCONFIRMED)
        ).update(state=SmsState.SUBMITTED, reason="", updated_at=timezone.now())


def _move_tasks(finished: dict[str, list[int]]) -> None:
    """The tasks of messages that reached a final state: delivered ones are handled."""
    from keycare.tasks.actions import record_sms_results

    task_of = dict(
        SmsMessage.objects.filter(
            pk__in=[i for ids in finished.values() for i in ids], task__isnull=False
        ).values_list("pk", "task_id")
    )

    def tasks(*states):
        return [task_of[i] for s in states for i in finished.get(s, ()) if i in task_of]

    record_sms_results(
        tasks(SmsState.DELIVERED), tasks(SmsState.FAILED, SmsState.EXPIRED), timezone.now()
    )


def _final_groups(rows) -> dict:
    """Final receipts grouped by what they write, so a batch costs a few UPDATEs."""
    groups: dict[tuple, list[int]] = {}
    for row in rows:
        state = DLR_TYPES[row.dlr_type][2]
        if state is None:
            continue
        if row.status == "expired":
            state = SmsState.EXPIRED
        detail = "" if state == SmsState.DELIVERED else row.detail[:500]
        key = (str(state), row.status, row.reported_at, detail)
        groups.setdefault(key, []).append(row.message_id)
    return groups


# States a final report moves: the open ones and 未收到状态报告 (a report that came late).
AWAITING_REPORT = (*OPEN_STATES, SmsState.UNCONFIRMED)


def _finish(ids, state, status, at, detail) -> list[int]:
    """Open messages reach their final state once; a later receipt never moves them back.
    Returns the ids moved."""
    moved = []
    for start in range(0, len(ids), BATCH):
        chunk = SmsMessage.objects.filter(
            pk__in=ids[start : start + BATCH], state__in=AWAITING_REPORT
        ).values_list("pk", flat=True)
        chunk = list(chunk)
        SmsMessage.objects.filter(pk__in=chunk, state__in=AWAITING_REPORT).update(
            state=state,
            delivered_at=at,
            delivery_status=status,
            claimed_at=None,
            reason=detail,
            updated_at=timezone.now(),
        )
        moved += chunk
    return moved


def _store_submit_ids(results) -> None:
    """SMPP answers a submit with the gateway's id (Kannel's comes in a receipt instead,
    ``_fill_gateway_ids``): one UPDATE per chunk, not one per message."""
    given = sorted(
        (r.message_id, r.gateway_id[:64])
        for r in results
        if r.outcome == "accepted" and r.gateway_id
    )
    for start in range(0, len(given), BATCH):
        chunk = given[start : start + BATCH]
        SmsMessage.objects.filter(pk__in=[pk for pk, _id in chunk], gateway_message_id="").update(
            gateway_message_id=Case(*(When(pk=pk, then=Value(gid)) for pk, gid in chunk))
        )


def _fill_gateway_ids(rows) -> None:
    """The gateway's id of a message comes with its first submit receipt: one UPDATE with a
    subquery per chunk (a bulk_update's CASE over 2,000 rows cost half of a receipt batch)."""
    ids = sorted(
        {r.message_id for r in rows if r.kind == ReceiptKind.SUBMIT and r.gateway_message_id}
    )
    first = (
        SmsReceipt.objects.filter(message=OuterRef("pk"), kind=ReceiptKind.SUBMIT)
        .exclude(gateway_message_id="")
        .order_by("id")
        .values("gateway_message_id")[:1]
    )
    for start in range(0, len(ids), BATCH):
        SmsMessage.objects.filter(pk__in=ids[start : start + BATCH], gateway_message_id="").update(
            gateway_message_id=Subquery(first)
        )


# --- reconciliation -------------------------------------------------------------------------


def reconcile(status, now: datetime | None = None) -> dict:
    """Settle messages whose fate the gateway did not report (run by the sender once a minute).

    ``status``: the gateway's ``GatewayStatus`` now (None: unreachable -- nothing is decided).

    * 提交结果待核对 (the submit timed out) after ``SUBMIT_CHECK_AFTER`` with no receipt:
      - the gateway has run without a restart since before the submit and holds nothing
        (store and queues empty): a message it took would have had its "accepted by the SMSC"
        receipt (dlr-mask asks for it) -- it did not take it: queued again;
      - the gateway restarted since: it may have taken it and lost its receipts -> 未收到状态报告;
      - messages wait inside the gateway: wait.
    * handed over (已提交网关 or 待核对) with no final report after ``DLR_WAIT`` (whatever the
      gateway's status: smsbox may have died holding the reports) -> 未收到状态报告: not sent again automatically (that could double
      it); a late report still moves it; an administrator may resend it.
    """
    now = now or timezone.now()
    counts = {"requeued": 0, "unconfirmed": 0}
    with write_transaction():
        checked = SmsMessage.objects.filter(
            state=SmsState.SUBMIT_UNKNOWN, submitted_at__lte=now - SUBMIT_CHECK_AFTER
        )
        if status is None or status.waiting:
            checked = checked.none()  # unreachable or still busy: decide later
        up_since = status.up_since if status else now
        counts["requeued"] = checked.filter(submitted_at__gt=up_since).update(
            state=SmsState.QUEUED,
            submitted_at=None,
            submit_status="",
            next_attempt_at=None,
            reason="核对：网关运行中且无积压，未收到回执，判定网关未接收，重新排队",
            updated_at=now,
        )
        counts["unconfirmed"] = checked.update(
            state=SmsState.UNCONFIRMED,
            reason="提交超时且网关其间重启，无法确认是否已发出；为避免重复不自动重发，可由管理员重新发送",
            updated_at=now,
        )
        counts["unconfirmed"] += SmsMessage.objects.filter(
            state__in=(SmsState.SUBMITTED, SmsState.SUBMIT_UNKNOWN),
            submitted_at__lte=now - DLR_WAIT,
        ).update(
            state=SmsState.UNCONFIRMED,
            reason=(
                f"提交后 {int(DLR_WAIT.total_seconds() // 60)} 分钟未收到状态报告（网关的回执可能丢失）；"
                "为避免重复不自动重发，迟到的报告仍会更新状态，可由管理员重新发送"
            ),
            updated_at=now,
        )
        if any(counts.values()):
            record(None, "sms.reconcile", object_type="messaging.smsmessage", **counts)
    return counts


# --- administrators' actions --------------------------------------------------------------


RESENDABLE = (SmsState.FAILED, SmsState.EXPIRED, SmsState.HELD, SmsState.UNCONFIRMED)


def resend(actor, message: SmsMessage) -> SmsMessage:
    """Queue a failed, expired or held message again (an administrator's decision, audited)."""
    with write_transaction():
        updated = SmsMessage.objects.filter(pk=message.pk, state__in=RESENDABLE).update(
            state=SmsState.QUEUED,
            hold_reason="",
            reason="管理员重新发送",
            next_attempt_at=None,
            updated_at=timezone.now(),
        )
        if not updated:
            raise UserError("只有发送失败、已过期、已拦截或未收到状态报告的短信可以重新发送")
        record(actor, "sms.resend", message, previous_state=message.state)
    message.refresh_from_db()
    return message
