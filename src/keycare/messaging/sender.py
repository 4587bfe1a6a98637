"""Sending due messages: release finished waits, claim a batch, apply the send-time rules,
hand the rest to the gateway at a bounded rate, record the answers.

Used in-process (embedded default, ``keycare sms_send`` without a broker) and by the Celery
task (``keycare.messaging.queue``); both call ``send_batch``.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, field

from django.db.models import Count, Q
from django.utils import timezone

from keycare.messaging import actions
from keycare.messaging.gateway import GatewayConfig, KannelClient
from keycare.messaging.models import SmsMessage, SmsState
from keycare.messaging.rules import SendRules

BATCH_SIZE = 500
# Messages per second handed to the gateway; the operator's SMSC contract sets the real value.
DEFAULT_RATE = float(os.environ.get("KEYCARE_SMS_RATE", "1000"))
# How often a sender reconciles pending submits and missing reports (actions.reconcile).
RECONCILE_EVERY = 60.0


def client_from_env():
    """The gateway client ``KEYCARE_SMS_GATEWAY_URL`` names: ``smpp://`` -> the SMPP transport
    (``messaging/smpp.py``), otherwise Kannel's HTTP sendsms (``gateway.KannelClient``)."""
    from keycare.messaging import smpp

    if smpp.is_smpp_url(os.environ.get("KEYCARE_SMS_GATEWAY_URL", "")):
        return smpp.SmppClient(smpp.SmppConfig.from_env())
    return KannelClient(GatewayConfig.from_env())


class RateLimiter:
    """A token bucket: at most ``rate`` messages per second, bursts of one second."""

    def __init__(self, rate: float):
        self.rate = rate
        self.tokens = rate
        self.last = time.monotonic()
        self.lock = threading.Lock()

    def take(self, n: int) -> None:
        if self.rate <= 0:
            return
        with self.lock:
            now = time.monotonic()
            self.tokens = min(self.rate, self.tokens + (now - self.last) * self.rate)
            self.last = now
            self.tokens -= n
            wait = -self.tokens / self.rate if self.tokens < 0 else 0
        if wait:
            time.sleep(wait)


@dataclass
class BatchResult:
    claimed: int = 0
    counts: dict = field(default_factory=dict)

    @property
    def gateway_down(self) -> bool:
        # Unreachable, or not answering (pending submits): stop and wait for it.
        stuck = self.counts.get("retry", 0) + self.counts.get("unknown", 0)
        return stuck > 0 and not self.counts.get("submitted", 0)


class Sender:
    def __init__(self, client, rate: float = DEFAULT_RATE):
        self.client = client
        self.limiter = RateLimiter(rate)
        self.reconciled_at = -RECONCILE_EVERY

    @classmethod
    def from_env(cls, **kwargs) -> Sender:
        return cls(client_from_env(), **kwargs)

    def close(self) -> None:
        self.client.close()

    def reconcile(self, now=None) -> dict:
        """Settle pending submits and missing reports against the gateway's status now."""
        self.reconciled_at = time.monotonic()
        status = self.client.status()
        with actions.db_turn():
            return actions.reconcile(status, now)

    def send_batch(self, limit: int = BATCH_SIZE) -> BatchResult:
        now = timezone.now()
        if time.monotonic() - self.reconciled_at >= RECONCILE_EVERY:
            self.reconcile()
        with actions.db_turn():
            actions.release_due(now)
            claimed = actions.claim_due(limit, now)
            ready = self._apply_rules(claimed, now)
        result = BatchResult(claimed=len(claimed))
        submitted = []
        for start in range(0, len(ready), 100):
            chunk = ready[start : start + 100]
            self.limiter.take(len(chunk))
            submitted += self.client.submit_many(chunk)
        with actions.db_turn():
            result.counts = actions.record_submissions(submitted, sent_at=now)
        result.counts["held"] = len(claimed) - len(ready)
        return result

    def _apply_rules(self, claimed, now) -> list:
        """The claimed messages that may go out now; the others are held (recorded)."""
        if not claimed:
            return []
        rules = SendRules(now)
        contacted = rules.contacted(claimed)
        holds, ready = {}, []
        for message in claimed:
            hold = rules.check(message, contacted)
            if hold is None:
                ready.append(message)
                if message.customer_id is not None:  # a second message in this batch is capped
                    contacted.add(message.customer_id)
            else:
                holds[message] = hold
        actions.record_holds(holds, now)
        return ready


def due_count() -> int:
    now = timezone.now()
    return (
        SmsMessage.objects.filter(state=SmsState.QUEUED)
        .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
        .count()
    )


def state_counts(messages=None) -> dict[str, int]:
    messages = SmsMessage.objects.all() if messages is None else messages
    counts = dict(messages.values_list("state").annotate(n=Count("*")).order_by())
    return {state: counts.get(state, 0) for state in SmsState.values}


@dataclass
class RunSummary:
    sent: int = 0
    held: int = 0
    failed: int = 0
    retry: int = 0
    batches: int = 0
    seconds: float = 0.0
    stopped: str = ""  # why the loop stopped early ("" when nothing was left to send)

    @property
    def rate(self) -> float:
        return self.sent / self.seconds if self.seconds else 0.0


def send_all(sender: Sender, *, batch: int = BATCH_SIZE, limit: int | None = None, progress=None):
    """Send due messages in-process until none is left (or ``limit`` were claimed, or the
    gateway is down: the messages then wait in the queue for the next run)."""
    summary, started = RunSummary(), time.monotonic()
    total = due_count() if limit is None else min(limit, due_count())
    claimed = 0
    while limit is None or claimed < limit:
        size = batch if limit is None else min(batch, limit - claimed)
        result = sender.send_batch(size)
        if not result.claimed:
            break
        claimed += result.claimed
        summary.batches += 1
        summary.sent += result.counts.get("submitted", 0)
        summary.held += result.counts.get("held", 0)
        summary.failed += result.counts.get("failed", 0)
        summary.retry += result.counts.get("retry", 0)
        summary.seconds = time.monotonic() - started
        if progress:
            progress(summary, claimed, total)
        if result.gateway_down:
            summary.stopped = "gateway_down"
            break
    summary.seconds = time.monotonic() - started
    return summary
