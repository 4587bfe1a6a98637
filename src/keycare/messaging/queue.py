"""The send queue: Celery on Redis (``KEYCARE_SMS_BROKER``, e.g. ``redis://127.0.0.1:6379/0``).

Why Celery and not Procrastinate: the embedded default runs on SQLite, which Procrastinate
cannot use (it needs PostgreSQL's LISTEN/NOTIFY and its own schema), while Celery runs the
same task eagerly in-process there and on the machine's Redis in production; Celery also gives
per-task rate limits, retries with exponential backoff and acknowledgement after the work
(``acks_late``) out of the box. The outbox table stays the source of truth: a task carries no
message, only "send up to N due messages", so a lost or repeated task loses or doubles nothing
(claims are exclusive, see ``actions.claim_due``).

Without ``KEYCARE_SMS_BROKER`` the tasks run eagerly, in the calling process.
"""

from __future__ import annotations

import os

from celery import Celery

from keycare.messaging.gateway import GatewayUnavailable

QUEUE = os.environ.get("KEYCARE_SMS_QUEUE", "keycare-sms")

app = Celery("keycare.messaging")


def configure(broker: str | None = None, queue: str | None = None) -> Celery:
    """(Re)configure the app from ``broker`` or the environment; no broker: run eagerly."""
    broker = broker if broker is not None else os.environ.get("KEYCARE_SMS_BROKER", "")
    app.conf.update(
        broker_url=broker or "memory://",
        task_always_eager=not broker,
        task_eager_propagates=True,
        task_default_queue=queue or QUEUE,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        broker_connection_retry_on_startup=True,
        task_ignore_result=True,
        worker_hijack_root_logger=False,
    )
    return app


def eager() -> bool:
    return bool(app.conf.task_always_eager)


configure()


@app.task(
    name="keycare.messaging.send_due",
    bind=True,
    autoretry_for=(GatewayUnavailable,),
    retry_backoff=5,
    retry_backoff_max=300,
    retry_jitter=True,
    max_retries=None,
    # At most 20 batches of 500 a second per worker: 10,000 messages/s, above the gateway's
    # contract rate that the sender's own limiter enforces per message (KEYCARE_SMS_RATE).
    rate_limit="20/s",
)
def send_due(self, limit: int = 500) -> dict:
    """Send up to ``limit`` due messages. Raises GatewayUnavailable (so Celery retries with
    backoff) when the gateway took none of them because it is down."""
    result = _sender().send_batch(limit)
    # Eagerly (no broker) a retry would run again at once: the caller's loop waits instead.
    if result.gateway_down and not self.request.is_eager:
        raise GatewayUnavailable(f"gateway unavailable: {result.counts}")
    return {"claimed": result.claimed, **result.counts}


_SENDERS: dict = {}


def _sender():
    """One gateway client per worker process (kept-alive connections across tasks)."""
    from keycare.messaging.sender import Sender

    if "sender" not in _SENDERS:
        _SENDERS["sender"] = Sender.from_env()
    return _SENDERS["sender"]


def reset_sender() -> None:
    sender = _SENDERS.pop("sender", None)
    if sender is not None:
        sender.close()
