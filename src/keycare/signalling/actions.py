"""Writes of the real-time path: detections, their urgent tasks, the state and the checkpoint,
all in one transaction per consumed batch (the broker is acknowledged only after it commits)."""

from __future__ import annotations

import os
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from keycare.core.audit import record
from keycare.customers.models import Customer
from keycare.errors import UserError
from keycare.messaging.actions import queue_direct_message
from keycare.messaging.models import HoldReason
from keycare.messaging.rules import SendRules, no_service
from keycare.signalling.detect import Detection, SubState, contract, moment_definitions
from keycare.signalling.models import (
    Outcome,
    RealtimeDetection,
    SignalState,
    StreamCheckpoint,
    StreamMinute,
)
from keycare.tasks.allocation_settings import live_config
from keycare.tasks.models import ServiceTask, TaskChannel

REALTIME_CYCLE = "realtime"
# Daily scores are on 0-100 (AllocationConfig.priority_max): a real-time task sorts above all.
URGENT_PRIORITY = 1000.0
HOLD_OUTCOME = {
    HoldReason.DND_LIST: Outcome.SUPPRESSED,
    HoldReason.OUT_OF_SCOPE: Outcome.OUT_OF_SCOPE,
    HoldReason.OPTED_OUT: Outcome.OPTED_OUT,
}


def _dt(ms: int | None):
    return None if ms is None else datetime.fromtimestamp(ms / 1000, UTC)


def _decide(det: RealtimeDetection, today, rules: SendRules, contacted: set[int]) -> str:
    """The daily path's rules, unchanged (``messaging.rules``): DND list, scope, suspension and
    marketing opt-out, then the contact cap (``AllocationConfig.is_capped`` over contacts
    made), which an urgent moment passes as in the allocation."""
    customer, spec = det.customer, moment_definitions()[det.moment]
    hold = no_service(customer, today, opted_out=customer.id in rules.opted_out)
    if hold is not None:
        return HOLD_OUTCOME[hold.code]
    if customer.id in contacted and not spec.get("urgent"):
        return Outcome.CAPPED
    if spec.get("channel") == "sms":
        return Outcome.SMS
    return Outcome.TASK if customer.manager_id else Outcome.NO_MANAGER


def _sms(det: RealtimeDetection, today):
    spec = moment_definitions()[det.moment]
    country = det.facts.get("country", "")
    names = contract().get("country_names", {})
    text = spec.get("sms_template", "").format(country_name=names.get(country, country))
    return queue_direct_message(
        det.customer,
        key=f"rt:{det.customer_id}:{det.moment}:{det.window}",
        business_date=today,
        moment_codes=[det.moment],
        text=text,
    )


def _urgent_task(customer: Customer, today, det: RealtimeDetection) -> ServiceTask:
    task, created = ServiceTask.objects.get_or_create(
        customer=customer,
        business_date=today,
        cycle=REALTIME_CYCLE,
        defaults={
            "manager_id": customer.manager_id,
            "priority_score": URGENT_PRIORITY,
            "channel": TaskChannel.CALL,
            "risk_reasons": [],
        },
    )
    record(None, "signalling.task", task, moment=det.moment, window=det.window, created=created)
    return task


def _new_detections(hits: list[tuple[Detection, datetime]], customers: dict[str, Customer]):
    """The hits whose (customer, moment, window) is not stored yet (a replay finds them all)."""
    keys = {(customers[h.subscriber_id].id, h.moment, h.window) for h, _ in hits}
    have = set(
        RealtimeDetection.objects.filter(
            customer_id__in={k[0] for k in keys}, moment__in={k[1] for k in keys}
        ).values_list("customer_id", "moment", "window")
    )
    fresh, seen = [], set()
    for h, detected_at in hits:
        key = (customers[h.subscriber_id].id, h.moment, h.window)
        if key in have or key in seen:
            continue
        seen.add(key)
        c = customers[h.subscriber_id]
        fresh.append(
            RealtimeDetection(
                customer=c,
                city_id=c.city_id,
                moment=h.moment,
                window=h.window,
                signal_time=_dt(h.signal_time),
                detected_at=detected_at,
                facts=h.facts,
            )
        )
    return fresh


@dataclass
class BatchStats:
    """What the operations page shows of one consumed batch (``StreamMinute``)."""

    consumer: str
    at_ms: int  # the consumer's clock when it read the batch (epoch ms)
    entries: int
    counts: dict  # the gate's verdicts of this batch
    lag: int | None = None
    pending: int | None = None
    started: float | None = None  # perf_counter() when the batch was read
    max_latency_ms: int | None = None  # signal -> detection, event-triggered detections
    busy_ms: int | None = None  # processing time measured elsewhere (Spark's batch duration)


def _record_stats(stream: str, stats: BatchStats, detections: int) -> None:
    """Add one batch to its (stream, consumer, minute) row; inside the batch's transaction."""
    minute = _dt(stats.at_ms - stats.at_ms % 60_000)
    busy = stats.busy_ms
    if busy is None:
        busy = 0 if stats.started is None else round((time.perf_counter() - stats.started) * 1000)
    row, _ = StreamMinute.objects.get_or_create(
        stream=stream, consumer=stats.consumer, minute=minute
    )
    c = stats.counts
    StreamMinute.objects.filter(pk=row.pk).update(
        batches=F("batches") + 1,
        entries=F("entries") + stats.entries,
        admitted=F("admitted") + c.get("admitted", 0),
        duplicate=F("duplicate") + c.get("duplicate", 0),
        late=F("late") + c.get("late", 0),
        invalid=F("invalid") + c.get("invalid", 0),
        detections=F("detections") + detections,
        busy_ms=F("busy_ms") + busy,
        max_latency_ms=(
            row.max_latency_ms
            if stats.max_latency_ms is None
            else max(stats.max_latency_ms, row.max_latency_ms or 0)
        ),
        lag=stats.lag,
        pending=stats.pending,
        updated_at=timezone.now(),
    )


def commit_batch(
    stream: str,
    hits: list[tuple[Detection, datetime]],
    customers: dict[str, Customer],
    states: dict[str, SubState],
    max_event_time: int,
    counts: dict,
    *,
    stats: BatchStats | None = None,
) -> list[RealtimeDetection]:
    """Store one consumed batch: new detections and their tasks, changed states, the checkpoint
    and the batch's figures for the operations page."""
    today = timezone.localdate()
    with transaction.atomic():
        stored = _new_detections(hits, customers)
        if stored:
            rules = SendRules(config=live_config())
            contacted = rules.contacted(stored)
        for det in stored:
            det.outcome = _decide(det, today, rules, contacted)
            if det.outcome == Outcome.TASK:
                det.task = _urgent_task(det.customer, today, det)
            elif det.outcome == Outcome.SMS:
                det.sms = _sms(det, today)
                contacted.add(det.customer_id)  # as the sender: one proactive SMS per batch
            det.acted_at = timezone.now()
            det.save()
        if stored:
            record(
                None,
                "signalling.detect",
                object_type="signalling.realtimedetection",
                **Counter(d.outcome for d in stored),
            )
        _save_states(states, customers)
        _advance_checkpoint(stream, max_event_time, counts)
        if stats is not None:
            _record_stats(stream, stats, len(stored))
    return stored


def _advance_checkpoint(stream: str, max_event_time: int, counts: dict) -> None:
    cp, _ = StreamCheckpoint.objects.select_for_update().get_or_create(stream=stream)
    cp.max_event_time = max(cp.max_event_time, max_event_time)
    cp.counts = {k: cp.counts.get(k, 0) + v for k, v in counts.items()}
    cp.save()


def record_batch_stats(stream: str, stats: BatchStats, detections: int) -> None:
    """A batch's figures written apart from its detections: the Spark path, whose input
    counts exist only once the micro-batch has completed (after ``foreachBatch`` committed its
    detections). The checkpoint's counters and the minute row, in one transaction."""
    with transaction.atomic():
        _advance_checkpoint(stream, 0, stats.counts)
        _record_stats(stream, stats, detections)


def _save_states(states: dict[str, SubState], customers: dict[str, Customer]) -> None:
    rows = [
        SignalState(
            customer_id=customers[sid].id,
            off_since=_dt(s.off_since),
            abroad_since=_dt(s.abroad_since),
            country=s.country,
        )
        for sid, s in states.items()
        if sid in customers
    ]
    SignalState.objects.bulk_create(
        rows,
        update_conflicts=True,
        unique_fields=["customer"],
        update_fields=["off_since", "abroad_since", "country", "updated_at"],
        batch_size=1000,
    )


# Facts that locate a customer (PIPL Art. 28: 行踪轨迹); stripped from detections past retention.
LOCATION_FACTS = ("country", "city", "hours_abroad")


def retention_days() -> int:
    """How long location-derived data is kept: ``KEYCARE_SIGNALLING_RETENTION_DAYS`` (30)."""
    raw = os.environ.get("KEYCARE_SIGNALLING_RETENTION_DAYS", "30")
    try:
        days = int(raw)
    except ValueError:
        raise UserError(f"KEYCARE_SIGNALLING_RETENTION_DAYS: not a whole number: {raw!r}") from None
    if days < 1:
        raise UserError("KEYCARE_SIGNALLING_RETENTION_DAYS must be at least 1")
    return days


def purge(actor, days: int | None = None, now=None) -> dict:
    """Delete per-subscriber signalling state not updated within the retention period and
    strip the location facts of older detections (the detection itself stays: it is the
    record of a contact). One transaction, audited with the counts."""
    days = days or retention_days()
    cutoff = (now or timezone.now()) - timedelta(days=days)
    with transaction.atomic():
        states, _ = SignalState.objects.filter(updated_at__lt=cutoff).delete()
        old = RealtimeDetection.objects.filter(detected_at__lt=cutoff).exclude(facts={})
        stripped = []
        for det in old.only("id", "facts"):
            kept = {k: v for k, v in det.facts.items() if k not in LOCATION_FACTS}
            if kept != det.facts:
                det.facts = kept
                stripped.append(det)
        RealtimeDetection.objects.bulk_update(stripped, ["facts"], batch_size=1000)
        # The operations page's per-minute figures (counts only) age out with the rest.
        minutes, _ = StreamMinute.objects.filter(minute__lt=cutoff).delete()
        counts = {"days": days, "states": states, "detections": len(stripped), "stats": minutes}
        record(actor, "signalling.purge", object_type="signalling.signalstate", **counts)
    return counts


def record_detection_read(user, ip: str | None, page: str, ids: list[int]) -> None:
    """Location facts are sensitive (PIPL Art. 28): every page or API read of detections is audited."""
    record(
        user,
        "signalling.view",
        object_type="signalling.realtimedetection",
        ip=ip,
        page=page,
        rows=len(ids),
        ids=ids,
    )
