"""Read side of complaint understanding: the trained model, training data, evaluation sets,
and what the complaints say about one customer (for the task payload and the need graph)."""

from __future__ import annotations

import csv
from datetime import date, timedelta
from pathlib import Path

from django.conf import settings
from django.utils import timezone

from keycare.complaints import taxonomy, textmodel
from keycare.complaints.models import Complaint, ComplaintLabel, LabelSource
from keycare.errors import UserError

HANDWRITTEN_PATH = Path(__file__).parent / "data" / "handwritten.csv"
TRAIN_SEED, HOLDOUT_SEED = 20261, 20262
TRAIN_SIZE, HOLDOUT_SIZE = 24_000, 4_000

_LOADED: dict[str, textmodel.TextModel] = {}
# An analyst's correction weighs as much as this many generated texts in training: a few
# hundred real texts would otherwise drown in 24,000 synthetic ones.
CORRECTION_WEIGHT = 10.0
LOW_CONFIDENCE = 0.6  # below: worth a human look (the review queue)


def models_dir() -> Path:
    return Path(settings.KEYCARE_HOME) / "models" / "complaints"


def has_model() -> bool:
    return (models_dir() / "current").exists()


def current_model() -> textmodel.TextModel:
    """The model in use, loaded once per process per version (UserError when none)."""
    pointer = models_dir() / "current"
    version = pointer.read_text(encoding="utf-8").strip() if pointer.exists() else ""
    if version not in _LOADED:
        _LOADED.clear()
        _LOADED[version] = textmodel.load(models_dir(), taxonomy.load().version)
    return _LOADED[version]


def synthetic_set(size: int, seed: int) -> dict:
    from keycare.synth.complaints import sample

    return sample(size, seed)


def handwritten_set(path: Path = HANDWRITTEN_PATH) -> dict:
    """The hand-written evaluation texts (written independently of the generator)."""
    return read_labelled_csv(path)


def read_labelled_csv(path: Path, labelled: bool = True) -> dict:
    """Columns of a CSV with a ``text`` column (and ``cause``, ``need`` when ``labelled``)."""
    try:
        with open(path, encoding="utf-8-sig", newline="") as handle:
            rows = list(csv.DictReader(handle))
    except OSError as exc:
        raise UserError(f"{path}: 无法读取文件 (cannot read: {exc.strerror or exc})") from None
    except UnicodeDecodeError:
        raise UserError(f"{path}: 不是 UTF-8 编码的 CSV (not a UTF-8 CSV file)") from None
    needed = ("text", "cause", "need") if labelled else ("text",)
    missing = [c for c in needed if not rows or c not in rows[0]]
    if missing:
        raise UserError(f"{path}: 缺少列 (missing column): {', '.join(missing)}")
    return {c: [r[c] or "" for r in rows] for c in (rows[0].keys() if rows else needed)}


def corrections_set(tax=None) -> dict:
    """The texts analysts corrected, with their current (latest) cause and need, for
    training; causes or needs the taxonomy no longer has are left out."""
    tax = tax or taxonomy.load()
    rows = (
        Complaint.objects.filter(label_source=LabelSource.ANALYST)
        .order_by("id")
        .values_list("text", "cause", "need")
    )
    kept = [r for r in rows if r[1] in tax.causes and r[2] in tax.needs and r[0]]
    latest = ComplaintLabel.objects.order_by("-id").values_list("id", flat=True).first()
    return {
        "text": [r[0] for r in kept],
        "cause": [r[1] for r in kept],
        "need": [r[2] for r in kept],
        "latest_id": latest,
    }


def review_queue(complaints):
    """Model readings below LOW_CONFIDENCE not yet corrected, least confident first."""
    return complaints.filter(
        label_source=LabelSource.MODEL, confidence__lt=LOW_CONFIDENCE
    ).order_by("confidence", "-occurred_at", "-id")


def latest_reading(customer_id: int, business_date: date, days: int = 30) -> Complaint | None:
    """The customer's most recent classified complaint in the ``days`` up to the date."""
    since = business_date - timedelta(days=days - 1)
    return (
        Complaint.objects.filter(
            customer_id=customer_id,
            kind="complaint",
            occurred_at__date__gte=since,
            occurred_at__date__lte=business_date,
        )
        .exclude(cause="")
        .order_by("-occurred_at", "-id")
        .first()
    )


def reading_row(complaint: Complaint | None) -> dict | None:
    """A complaint's predicted cause and need as JSON-ready labels (task payload, pages)."""
    if complaint is None:
        return None
    tax = taxonomy.load()
    cause = tax.causes.get(complaint.cause)
    return {
        "event_id": complaint.event_id,
        "cause": complaint.cause,
        "cause_label": tax.cause_label(complaint.cause),
        "cause_group": complaint.cause_group,
        "need": complaint.need,
        "need_label": tax.need_label(complaint.need),
        "confidence": complaint.confidence,
        "tactics": list(cause.tactics) if cause else [],
        "script": cause.script if cause else "",
        "model_version": complaint.model_version,
    }


# Moments raised by complaints: their task carries the complaint's predicted cause and need.
COMPLAINT_MOMENTS = {"A01"}


def reading_for_task(task, moments) -> dict | None:
    """The predicted cause and need of the complaint behind a task's complaint moment."""
    complaint_moments = [m for m in moments if m.moment.code in COMPLAINT_MOMENTS]
    if not complaint_moments:
        return None
    days = max(int(_param(m.params, "days") or 30) for m in complaint_moments)
    return reading_row(latest_reading(task.customer_id, task.business_date, max(days, 30)))


def readings_for_tasks(tasks) -> dict:
    """task pk -> reading for many tasks in one query (exports): the same choice as
    ``reading_for_task`` (latest classified complaint in the 30 days up to the task's date)."""
    wanted = {
        t.pk: t for t in tasks if any(m.moment.code in COMPLAINT_MOMENTS for m in t.moments.all())
    }
    if not wanted:
        return {}
    days = [t.business_date for t in wanted.values()]
    rows = (
        Complaint.objects.filter(
            customer_id__in={t.customer_id for t in wanted.values()},
            kind="complaint",
            occurred_at__date__gte=min(days) - timedelta(days=29),
            occurred_at__date__lte=max(days),
        )
        .exclude(cause="")
        .order_by("-occurred_at", "-id")
    )
    by_customer: dict = {}
    for complaint in rows:
        by_customer.setdefault(complaint.customer_id, []).append(complaint)
    found = {}
    for pk, task in wanted.items():
        since = task.business_date - timedelta(days=29)
        latest = next(
            (c for c in by_customer.get(task.customer_id, [])
             if since <= timezone.localtime(c.occurred_at).date() <= task.business_date),
            None,
        )  # fmt: skip
        found[pk] = reading_row(latest)
    return found


def _param(params, name):
    params = params or {}
    if name in params:
        return params[name]
    nested = params.get("thresholds")
    return nested.get(name) if isinstance(nested, dict) else None


def cause_first(reading: dict | None, suggested: list[dict], rows_by_code: dict) -> list[dict]:
    """The suggested tactics with the complaint cause's tactics first (no repeats)."""
    if not reading:
        return suggested
    first = [rows_by_code[c] for c in reading["tactics"] if c in rows_by_code]
    codes = {t["code"] for t in first}
    return first + [t for t in suggested if t["code"] not in codes]
