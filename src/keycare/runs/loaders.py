"""Load a published run into the application database (``keycare loadrun``).

One transaction, bulk writes, idempotent:
- loading the same run twice changes nothing (the second load is recognised and skipped);
- loading a re-run of the same date replaces that date's detections, suppressions and
  allocation decisions, updates the tasks nobody has started yet, removes unstarted tasks the
  re-run no longer allocates, and never touches a task a manager has worked on.
Unknown subscriber ids, manager ids and moment codes are counted and reported, not fatal.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path

from django.db import transaction
from django.utils import timezone

from keycare.core.audit import record
from keycare.customers.models import Customer
from keycare.errors import UserError
from keycare.moments.models import DefinitionSetVersion, MomentDefinition
from keycare.org.models import Manager
from keycare.runs import columns as spec
from keycare.runs.models import (
    Detection,
    QuarantineRow,
    RiskScore,
    Run,
    RunStatus,
    Suppression,
)

BATCH = 2000
LOOKUP_CHUNK = 5000

# What other apps load from a published run, in order, each a callable taking the RunLoader
# (the tasks app adds its tasks and allocation decisions in TasksConfig.ready()): runs sits
# below tasks in the layout, so it loads them without importing them.
LOAD_STEPS: list[Callable[[RunLoader], None]] = []


def register_load_step(step: Callable[[RunLoader], None]) -> None:
    if step not in LOAD_STEPS:
        LOAD_STEPS.append(step)


# --- reading the published run ----------------------------------------------------------


class PublishedRun:
    """A published run directory: its record (run.json) and its tables, by logical name."""

    def __init__(self, directory: Path):
        self.directory = directory
        path = directory / spec.RUN_RECORD
        try:
            self.record = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise UserError(f"{path}: 运行记录不存在 (run record not found)") from None
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise UserError(f"{path}: 运行记录无法解析 (invalid JSON: {exc})") from None

    def table(self, name: str) -> list[dict] | None:
        """Rows of one file as dicts of logical fields; None when the run has no such file."""
        path = self.directory / spec.FILES[name]
        if not path.exists():
            return None
        import pyarrow.parquet as pq

        try:
            data = pq.read_table(path).to_pydict()
        except Exception as exc:  # pyarrow raises several types for a damaged file
            raise UserError(f"{path}: 无法读取 Parquet 文件 ({exc})") from None
        return _rows(name, path, data)


def _rows(name: str, path: Path, data: dict) -> list[dict]:
    wanted = spec.COLUMNS[name]
    found = {}
    for field, candidates in wanted.items():
        column = next((c for c in candidates if c in data), None)
        if column is not None:
            found[field] = data[column]
    if "subscriber_id" in wanted and "subscriber_id" not in found:
        raise UserError(f"{path}: 缺少列 subscriber_id (missing column)")
    if "health_scores" in wanted and "health_scores" not in found:
        health = {c: data[c] for c in data if c.startswith(spec.HEALTH_PREFIX)}
        if health:
            found["health_scores"] = [
                {c[len(spec.HEALTH_PREFIX) :]: values[i] for c, values in health.items()}
                for i in range(len(next(iter(health.values()))))
            ]
    size = len(next(iter(data.values()))) if data else 0
    return [{field: values[i] for field, values in found.items()} for i in range(size)]


def published_dir(runs_dir: Path, business_date: date) -> Path:
    """The directory of the run published for a date (one fixed version, see engine.publish)."""
    from keycare.engine.publish import read_published

    runs_dir = Path(runs_dir)
    if not runs_dir.is_dir():
        raise UserError(f"{runs_dir}: 运行结果目录不存在 (runs directory not found)")
    published = read_published(runs_dir, business_date)
    if published is not None:
        return Path(published.path)
    plain = runs_dir / business_date.isoformat()
    if (plain / spec.RUN_RECORD).exists():  # a directory copied by hand, without the symlink
        return plain
    raise UserError(f"{plain}: 没有已发布的运行结果 (no published run for {business_date})")


# --- loading ----------------------------------------------------------------------------


def load_run(runs_dir, business_date, *, force: bool = False, actor=None) -> dict:
    """Load the published run of ``business_date`` from ``runs_dir``; returns a summary dict."""
    if isinstance(business_date, str):
        business_date = _parse_date(business_date, "--date")
    published = PublishedRun(published_dir(Path(runs_dir), business_date))
    fields = _run_fields(published.record, business_date)
    if not force:
        previous = Run.objects.filter(run_id=fields["run_id"], loaded_at__isnull=False).first()
        if previous is not None and previous.record == published.record:
            return {**previous.load_summary, "already_loaded": True}
    tables = {name: published.table(name) for name in spec.FILES}
    with transaction.atomic():
        loader = RunLoader(business_date, fields, published.record, tables)
        summary = loader.load()
        record(
            actor,
            "run.load",
            loader.run,
            business_date=business_date.isoformat(),
            **_audit_counts(summary),
        )
    return summary


class RunLoader:
    def __init__(self, business_date: date, fields: dict, run_record: dict, tables: dict):
        self.date = business_date
        self.fields = fields
        self.run_record = run_record
        self.tables = tables
        self.summary: dict = {
            "run_id": fields["run_id"],
            "business_date": business_date.isoformat(),
        }
        self.unknown_subscribers: set[str] = set()
        self.unknown_moments: dict[str, int] = defaultdict(int)
        self.unknown_managers: set[str] = set()

    def load(self) -> dict:
        self._prepare_lookups()
        self.run = self._upsert_run()
        self._load_quarantine()
        self._load_detections()
        self._load_suppressions()
        self._load_risk_scores()
        for step in LOAD_STEPS:
            step(self)
        self.summary.update(
            already_loaded=False,
            unknown_subscribers=len(self.unknown_subscribers),
            unknown_subscriber_sample=sorted(self.unknown_subscribers)[:5],
            unknown_moments=dict(self.unknown_moments),
            unknown_managers=len(self.unknown_managers),
        )
        self.run.load_summary = self.summary
        self.run.loaded_at = timezone.now()
        self.run.save(update_fields=["load_summary", "loaded_at"])
        return self.summary

    # lookups

    def _prepare_lookups(self) -> None:
        if not MomentDefinition.objects.exists():
            from keycare.moments.actions import sync_builtin_definitions

            sync_builtin_definitions(actor=None)
        self.moments = {
            m.code: m
            for m in MomentDefinition.objects.only("id", "code", "priority", "current_version")
        }
        self.rule_versions = self._rule_versions()
        subscriber_ids = {
            row["subscriber_id"]
            for name in ("detections", "suppressions", "tasks", "decisions", "risk")
            for row in (self.tables.get(name) or [])
        }
        self.customers = _lookup(Customer, "subscriber_id", subscriber_ids)
        manager_ids = {
            row.get("manager_id")
            for name in ("tasks", "decisions", "group_detections")
            for row in (self.tables.get(name) or [])
            if row.get("manager_id")
        }
        self.managers = _lookup(Manager, "manager_id", manager_ids)

    def _rule_versions(self) -> dict:
        """moment code -> rule version used by the run (from its definition set when known)."""
        self.definition_set = DefinitionSetVersion.objects.filter(
            content_hash=self.fields.get("definitions_version") or "-"
        ).first()
        if self.definition_set is not None:
            return dict(self.definition_set.moment_versions)
        return {code: m.current_version for code, m in self.moments.items()}

    def customer(self, subscriber_id):
        pk = self.customers.get(subscriber_id)
        if pk is None:
            self.unknown_subscribers.add(str(subscriber_id))
        return pk

    def moment(self, code):
        moment = self.moments.get(code)
        if moment is None:
            self.unknown_moments[str(code)] += 1
        return moment

    def manager(self, manager_id):
        if not manager_id:
            return None
        pk = self.managers.get(manager_id)
        if pk is None:
            self.unknown_managers.add(str(manager_id))
        return pk

    # run and its quarantine

    def _upsert_run(self) -> Run:
        values = {k: v for k, v in self.fields.items() if k != "run_id"}
        values.update(record=self.run_record, definition_set=self.definition_set)
        run, _ = Run.objects.update_or_create(run_id=self.fields["run_id"], defaults=values)
        Run.objects.filter(business_date=self.date).exclude(pk=run.pk).update(
            status=RunStatus.SUPERSEDED
        )
        return run

    def _load_quarantine(self) -> None:
        QuarantineRow.objects.filter(run=self.run).delete()
        rows = self.tables["quarantine"] or []
        QuarantineRow.objects.bulk_create(
            (
                QuarantineRow(
                    run=self.run,
                    file=str(row.get("file") or "")[:100],
                    row_number=row.get("row_number"),
                    raw=as_text(row.get("raw")),
                    rule=str(row.get("rule") or "")[:100],
                    reason=as_text(row.get("reason")),
                )
                for row in rows
            ),
            batch_size=BATCH,
        )
        self.summary["quarantine_rows"] = len(rows)

    # detections and suppressions: the date's set is replaced

    def _load_detections(self) -> None:
        Detection.objects.filter(business_date=self.date).delete()
        self.detections_by_customer: dict[int, dict[str, Detection]] = defaultdict(dict)
        for row in self.tables["detections"] or []:
            customer, moment = (
                self.customer(row["subscriber_id"]),
                self.moment(row.get("moment_code")),
            )
            if customer is None or moment is None:
                continue
            detection = Detection(
                run=self.run,
                customer_id=customer,
                moment_id=moment.pk,
                rule_version=self.rule_versions.get(moment.code),
                business_date=self.date,
                priority=as_int(row.get("priority"), moment.priority),
                channel=str(row.get("channel") or ""),
                params=json_value(row.get("params"), {}),
                explanation=as_text(row.get("explanation")),
            )
            self.detections_by_customer[customer][moment.code] = detection  # last one wins
        objects = [
            d for per_moment in self.detections_by_customer.values() for d in per_moment.values()
        ]
        Detection.objects.bulk_create(objects, batch_size=BATCH)
        self.summary["detections"] = len(objects)

    def _load_suppressions(self) -> None:
        Suppression.objects.filter(business_date=self.date).delete()
        objects = {}
        for row in self.tables["suppressions"] or []:
            customer, moment = (
                self.customer(row["subscriber_id"]),
                self.moment(row.get("moment_code")),
            )
            if customer is None or moment is None:
                continue
            objects[(customer, moment.pk)] = Suppression(
                run=self.run,
                customer_id=customer,
                moment_id=moment.pk,
                business_date=self.date,
                reason=as_text(row.get("reason")),
                suppressed_codes=as_codes(row.get("suppressed_codes")),
            )
        Suppression.objects.bulk_create(objects.values(), batch_size=BATCH)
        self.summary["suppressions"] = len(objects)

    # risk scores of the whole in-scope base: the date's set is replaced, old dates dropped

    def _load_risk_scores(self) -> None:
        RiskScore.objects.filter(business_date=self.date).delete()
        keep_from = (
            RiskScore.objects.filter(business_date__lt=self.date)
            .values_list("business_date", flat=True)
            .distinct()
            .order_by("-business_date")[RISK_SCORE_DAYS - 2 : RISK_SCORE_DAYS - 1]
        )
        if keep_from:
            RiskScore.objects.filter(business_date__lt=keep_from[0]).delete()
        with_moment = set(self.detections_by_customer)
        objects = {}
        for row in self.tables.get("risk") or []:
            customer = self.customer(row["subscriber_id"])
            probability = as_float(row.get("risk_probability"), None)
            if customer is None or probability is None:
                continue
            health = json_value(row.get("health_scores"), {}) or {}
            objects[customer] = RiskScore(
                run=self.run,
                customer_id=customer,
                business_date=self.date,
                risk_probability=probability,
                seed_score=as_float(row.get("seed_score"), None),
                **{f"health_{k}": as_float(health.get(k), None) for k in HEALTH_KEYS},
                reasons=as_reasons(row.get("reasons"))[:3],
                model_version=as_text(row.get("model_version"))[:64],
                has_moment=customer in with_moment,
            )
        RiskScore.objects.bulk_create(objects.values(), batch_size=BATCH)
        self.summary["risk_scores"] = len(objects)


HEALTH_KEYS = ("tariff_brand", "call_circle", "service", "business")
RISK_SCORE_DAYS = 7  # business dates of scores kept in the application (today included)


def _run_fields(run_record: dict, business_date: date) -> dict:
    fields = {}
    for field, keys in spec.RUN_KEYS.items():
        fields[field] = next((run_record[k] for k in keys if k in run_record), None)
    recorded_date = fields["business_date"]
    if (
        recorded_date
        and _parse_date(str(recorded_date)[:10], "run.json business_date") != business_date
    ):
        raise UserError(
            f"run.json: 业务日期 {recorded_date} 与 --date {business_date} 不一致 (business date mismatch)"
        )
    fields["business_date"] = business_date
    fields["run_id"] = str(fields["run_id"] or f"run-{business_date.isoformat()}")
    status = str(fields["status"] or RunStatus.SUCCEEDED)
    fields["status"] = RunStatus.SUCCEEDED if status == "published" else status
    for text in ("engine", "definitions_version", "model_version"):
        fields[text] = str(fields[text] or "")
    for mapping in ("inputs", "timings", "counts"):
        fields[mapping] = fields[mapping] or {}
    fields["quarantined"] = _count(fields["quarantined"])
    fields["suppressed"] = _count(fields["suppressed"])
    fields["detected"] = (
        sum(_count(v) for v in fields["counts"].values())
        if isinstance(fields["counts"], dict)
        else 0
    )
    fields["started_at"] = _datetime(fields["started_at"])
    fields["finished_at"] = _datetime(fields["finished_at"])
    return fields


def _lookup(model, field: str, keys: set) -> dict:
    found = {}
    keys = [k for k in keys if k is not None]
    for start in range(0, len(keys), LOOKUP_CHUNK):
        chunk = keys[start : start + LOOKUP_CHUNK]
        found.update(model.objects.filter(**{f"{field}__in": chunk}).values_list(field, "pk"))
    return found


def _parse_date(text: str, what: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise UserError(f"{what}: 日期格式应为 YYYY-MM-DD，收到 {text!r}") from None


def _datetime(value):
    if not value:
        return None
    if isinstance(value, (int, float)):
        return datetime.fromtimestamp(value, tz=timezone.get_current_timezone())
    try:
        parsed = datetime.fromisoformat(str(value))
    except ValueError:
        return None
    return parsed if timezone.is_aware(parsed) else timezone.make_aware(parsed)


def _count(value) -> int:
    if isinstance(value, dict):  # per-file counts
        return sum(_count(v) for v in value.values())
    try:
        return int(value or 0)
    except (TypeError, ValueError):
        return 0


def as_int(value, default):
    try:
        return int(value) if value is not None else default
    except (TypeError, ValueError):
        return default


def as_float(value, default):
    try:
        return float(value) if value is not None else default
    except (TypeError, ValueError):
        return default


def as_text(value) -> str:
    return "" if value is None else str(value)


def json_value(value, default):
    if value is None:
        return default
    if isinstance(value, (bytes, str)):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return default
    return value


def as_codes(value) -> list[str]:
    """Moment codes given as a list, a JSON list or a comma-separated string."""
    if value is None:
        return []
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            return [str(v) for v in json_value(text, [])]
        return [c.strip() for c in text.split(",") if c.strip()]
    return [str(v) for v in value]


def as_reasons(value) -> list:
    if value is None:
        return []
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            return list(json_value(text, []))
        return [r.strip() for r in text.replace("；", ";").split(";") if r.strip()]
    return list(value)


def _audit_counts(summary: dict) -> dict:
    keep = (
        "detections",
        "suppressions",
        "risk_scores",
        "quarantine_rows",
        "tasks",
        "new_alerts",
        "decisions",
        "unknown_subscribers",
    )
    return {k: summary[k] for k in keep if k in summary}
