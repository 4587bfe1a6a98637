"""Writes of the complaints app: train the text model, load and classify a delivery's texts."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

from django.db import transaction
from django.utils import timezone

from keycare.complaints import services, taxonomy, textmodel
from keycare.complaints.models import Complaint, ComplaintKind
from keycare.core.audit import record
from keycare.customers.delivery import open_delivery
from keycare.customers.models import Customer

BATCH = 2000
Say = Callable[[str], None]


def train_model(size: int = services.TRAIN_SIZE, say: Say | None = None) -> dict:
    """Train on the synthetic operator's texts, evaluate, and make the model current."""
    say = say or (lambda text: None)
    tax = taxonomy.load()
    say(f"生成训练文本 {size} 条 (synthetic training texts)…")
    data = services.synthetic_set(size, services.TRAIN_SEED)
    say("分词并训练原因、需求分类器 (segmenting with jieba, training)…")
    model = textmodel.train(data["text"], data["cause"], data["need"], tax.version)
    say("评估 (evaluating on the held-out and hand-written sets)…")
    model.meta["evaluation"] = evaluate(model)
    path = textmodel.save(model, services.models_dir())
    return {"version": model.version, "path": str(path), **model.meta}


def evaluate(model: textmodel.TextModel) -> dict:
    holdout = services.synthetic_set(services.HOLDOUT_SIZE, services.HOLDOUT_SEED)
    hand = services.handwritten_set()
    return {
        "synthetic_holdout": textmodel.evaluate(
            model, holdout["text"], holdout["cause"], holdout["need"]
        ),
        "handwritten": textmodel.evaluate(model, hand["text"], hand["cause"], hand["need"]),
    }


def load_complaints(
    data_dir: Path, actor=None, say: Say | None = None, days: int | None = None
) -> dict:
    """Read the delivery's complaint and consultation texts, classify them and store them
    (``days``: only those of the last ``days`` days up to the delivery's business date).

    Idempotent: an event already stored is updated (re-classified with the current model).
    Events of subscribers not in the archive are counted, not stored."""
    say = say or (lambda text: None)
    model = services.current_model()
    tax = taxonomy.load()
    kinds = ", ".join(f"'{k}'" for k in ComplaintKind.values)
    with open_delivery(data_dir, ["events"]) as delivery:
        columns = set(delivery.table("events", "false").column_names)
        if "text" not in columns:
            return {"rows": 0, "note": "events file has no text column"}
        where = f"event_type IN ({kinds}) AND text IS NOT NULL AND text <> ''"
        if days and delivery.business_date:
            since = delivery.business_date - timedelta(days=days - 1)
            where += f" AND event_time >= TIMESTAMP '{since.isoformat()} 00:00:00'"
        rows = delivery.table("events", where).to_pylist()
    say(f"投诉/咨询文本 {len(rows)} 条，分类中 (classifying)…")
    started = time.monotonic()
    readings = model.predict([r["text"] for r in rows], progress=_progress(say))
    seconds = round(time.monotonic() - started, 2)
    customers = dict(
        Customer.objects.filter(subscriber_id__in={r["subscriber_id"] for r in rows}).values_list(
            "subscriber_id", "id"
        )
    )
    objects = [
        _complaint(row, reading, customers[row["subscriber_id"]], model.version, tax)
        for row, reading in zip(rows, readings, strict=True)
        if row["subscriber_id"] in customers
    ]
    with transaction.atomic():
        Complaint.objects.bulk_create(
            objects,
            batch_size=BATCH,
            update_conflicts=True,
            unique_fields=["event_id"],
            update_fields=[
                "text",
                "handling_result",
                "resolved",
                "cause",
                "cause_group",
                "need",
                "confidence",
                "model_version",
            ],
        )
        summary = {
            "rows": len(objects),
            "unknown_subscribers": len(rows) - len(objects),
            "classify_seconds": seconds,
            "version": model.version,
        }
        record(actor, "load", object_type="complaints", object_id=str(data_dir), **summary)
    return summary


def _complaint(row, reading, customer_id, version, tax) -> Complaint:
    occurred = row["event_time"]
    if isinstance(occurred, datetime) and timezone.is_naive(occurred):
        occurred = timezone.make_aware(occurred)
    return Complaint(
        event_id=row["event_id"],
        customer_id=customer_id,
        kind=row["event_type"],
        topic=row.get("category") or "",
        channel=row.get("channel") or "",
        occurred_at=occurred,
        text=row["text"],
        handling_result=row.get("handling_result") or "",
        resolved=row.get("resolved"),
        cause=reading["cause"],
        cause_group=tax.group_of(reading["cause"]),
        need=reading["need"],
        confidence=reading["confidence"],
        model_version=version,
    )


def _progress(say: Say):
    def report(done: int, total: int) -> None:
        say(f"  已分类 {done}/{total}")

    return report
