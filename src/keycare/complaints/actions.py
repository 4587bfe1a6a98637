"""Writes of the complaints app: train the text model, load and classify a delivery's texts."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from keycare.access import roles
from keycare.access.querysets import require_role
from keycare.complaints import services, taxonomy, textmodel
from keycare.complaints.models import Complaint, ComplaintKind, ComplaintLabel, LabelSource
from keycare.core.audit import record
from keycare.core.workflow import StaleTaskError, WorkflowError, user_or_none
from keycare.customers.delivery import open_delivery
from keycare.customers.models import Customer

BATCH = 2000
Say = Callable[[str], None]
# Who may correct a cause or need: the service-quality analysts and the administrators.
REVIEW_ROLES = {roles.ROLE_PROVINCE_ADMIN, roles.ROLE_CITY_ADMIN, roles.ROLE_ANALYST}
NOTE_MAX = 200
# Characters a note cannot keep (PostgreSQL refuses NUL; the rest would only garble the log).
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")


def train_model(size: int = services.TRAIN_SIZE, say: Say | None = None) -> dict:
    """Train on the synthetic operator's texts, evaluate, and make the model current."""
    say = say or (lambda text: None)
    tax = taxonomy.load()
    say(f"生成训练文本 {size} 条 (synthetic training texts)…")
    data = services.synthetic_set(size, services.TRAIN_SEED)
    corrected = services.corrections_set(tax)
    say(f"分析员更正 {len(corrected['text'])} 条 (analysts' corrections)…")
    weights = [1.0] * len(data["text"]) + [services.CORRECTION_WEIGHT] * len(corrected["text"])
    say("分词并训练原因、需求分类器 (segmenting with jieba, training)…")
    model = textmodel.train(
        data["text"] + corrected["text"],
        data["cause"] + corrected["cause"],
        data["need"] + corrected["need"],
        tax.version,
        weights=weights,
    )
    model.meta["corrections"] = {
        "rows": len(corrected["text"]),
        "weight": services.CORRECTION_WEIGHT,
        "latest_label_id": corrected["latest_id"],
    }
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
    _keep_corrections(objects)
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
                "label_source",
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


def _keep_corrections(objects: list[Complaint]) -> None:
    """A reload re-classifies texts, but an analyst's correction stands over the model."""
    corrected = dict(
        (event_id, (cause, group, need))
        for event_id, cause, group, need in Complaint.objects.filter(
            event_id__in=[o.event_id for o in objects], label_source=LabelSource.ANALYST
        ).values_list("event_id", "cause", "cause_group", "need")
    )
    for obj in objects:
        if obj.event_id in corrected:
            obj.cause, obj.cause_group, obj.need = corrected[obj.event_id]
            obj.label_source = LabelSource.ANALYST


def correct_label(
    actor, complaint: Complaint, cause: str, need: str, note: str = "", version=None
) -> ComplaintLabel:
    """An analyst's correction of a complaint's cause and need: a new label version (the
    replaced reading kept), the complaint's cause and need replaced, audited. ``version`` is
    the label version the analyst saw (optimistic locking: a concurrent correction wins)."""
    require_role(actor, REVIEW_ROLES, "当前角色无权更正投诉原因")
    tax = taxonomy.load()
    if cause not in tax.causes:
        raise WorkflowError(f"原因无效：{str(cause)[:40]!r}；请从原因分类中选择")
    if need not in tax.needs:
        raise WorkflowError(f"需求无效：{str(need)[:40]!r}；请从需求分类中选择")
    note = _CONTROL_RE.sub("", str(note or "")).strip()[:NOTE_MAX]
    expected = complaint.label_version if version in (None, "") else _int_version(version)
    with transaction.atomic():
        updated = Complaint.objects.filter(pk=complaint.pk, label_version=expected).update(
            cause=cause,
            cause_group=tax.group_of(cause),
            need=need,
            label_source=LabelSource.ANALYST,
            label_version=F("label_version") + 1,
        )
        if not updated:
            raise StaleTaskError("这条投诉的标注已被他人更正，请刷新后重试")
        label = ComplaintLabel.objects.create(
            complaint=complaint,
            version=expected + 1,
            cause=cause,
            need=need,
            previous_cause=complaint.cause,
            previous_need=complaint.need,
            previous_source=complaint.label_source,
            note=note,
            corrected_by=user_or_none(actor),
        )
        record(
            actor,
            "complaint.relabel",
            complaint,
            version=label.version,
            cause=cause,
            need=need,
            previous_cause=complaint.cause,
            previous_need=complaint.need,
            confidence=complaint.confidence,
        )
    complaint.refresh_from_db()
    return label


def _int_version(value) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise WorkflowError(f"标注版本无效：{str(value)[:20]!r}") from None


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
