"""The daily run: ingest -> unified view -> detect -> [risk -> allocate] -> write -> publish.

Steps are a list of named functions over one ``RunContext``; later stages (risk scoring,
allocation) are added by inserting steps, not by writing a second pipeline::

    steps = default_steps()
    steps.insert(index_of(steps, "write"), Step("risk", score_risk))
    run_daily(day, data_dir, runs_dir, steps=steps)

A step reads and registers relations on ``ctx.backend`` and returns the number of rows it
produced (or None); the runner times it, reports progress and records both in run.json.
Nothing becomes visible before every step has finished and the output directory has been
published atomically (see keycare.engine.publish).

No Django here: paths and options come in as arguments.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa

from keycare.engine import publish as pub
from keycare.engine.backends import connect
from keycare.engine.backends.base import Backend
from keycare.engine.ingest import DEFAULT_QUARANTINE_LIMIT, IngestResult, ingest
from keycare.errors import UserError

ENGINE_VERSION = 1
DEFAULT_WEEKLY_WEEKDAY = 0  # Monday
DEFAULT_MONTHLY_DAY = 3  # bills of the closed month are in by the 3rd
NO_SERVICE_CODES = ("N01", "N02")
OUTPUT_ORDER = {
    "detections": "subscriber_id, moment_code",
    "suppressions": "subscriber_id, moment_code",
    "quarantine": "file, row_number",
}
# Written only when the risk and allocate steps ran (relation, file stem, order).
ALLOCATION_OUTPUTS = (
    ("risk_scores", "risk_scores", "subscriber_id"),
    ("allocation_tasks", "tasks", "subscriber_id"),
    ("allocation_decisions", "decisions", "subscriber_id, moment_code, source"),
    # Allocate's input as it saw it: carries risk and value over with capped candidates and
    # lets the allocation settings page preview other settings against the same day.
    ("allocation_candidates", "candidates", "subscriber_id, moment_code, source"),
)

Progress = Callable[[str, str, dict], None]


@dataclass(frozen=True)
class Step:
    name: str
    run: Callable[[RunContext], int | None]


@dataclass
class StepResult:
    name: str
    seconds: float
    rows: int | None

    def as_dict(self) -> dict:
        rate = self.rows / self.seconds if self.rows and self.seconds > 0 else None
        return {
            "name": self.name,
            "seconds": round(self.seconds, 3),
            "rows": self.rows,
            "rows_per_s": round(rate) if rate else None,
        }


@dataclass
class RunContext:
    """What steps share. ``results`` lets later steps read what earlier ones produced."""

    backend: Backend
    business_date: date
    data_dir: Path
    staging: pub.Staging
    quarantine_limit: float = DEFAULT_QUARANTINE_LIMIT
    requested_moments: list[str] | None = None
    weekly_weekday: int = DEFAULT_WEEKLY_WEEKDAY
    monthly_day: int = DEFAULT_MONTHLY_DAY
    city_overrides: dict | None = None
    progress: Progress | None = None
    models_dir: Path | None = None
    allocation_config: Any = None
    risk_tasks_above: float | None = None  # raise risk tasks in spare capacity (None: off)
    reasons_above: float | None = None  # explain scores from this risk (None: the default)
    group_definitions: Any = None  # group moments (None: the built-in group_moments.yaml)
    tier_policy: tuple[int, dict] | None = None  # (version, policy) to tier groups with
    _definitions: Any = None
    ingest: IngestResult | None = None
    moment_codes: list[str] = field(default_factory=list)
    results: dict[str, Any] = field(default_factory=dict)
    outputs: dict[str, int] = field(default_factory=dict)
    record_extra: dict[str, Any] = field(default_factory=dict)  # merged into run.json

    @property
    def definitions(self):
        """The moment definitions (loaded on first use)."""
        if self._definitions is None:
            from keycare.engine.definitions import load_definitions

            self._definitions = load_definitions(city_overrides=self.city_overrides)
        return self._definitions

    @property
    def definitions_version(self) -> str | None:
        return getattr(self._definitions, "version", None)

    def report(self, step: str, status: str, **info) -> None:
        if self.progress:
            self.progress(step, status, info)


@dataclass
class RunSummary:
    run_id: str
    status: str
    business_date: date
    path: Path | None
    counts: dict[str, int]
    suppressed: int
    quarantined: int
    steps: list[StepResult]
    content_hash: str | None
    record: dict

    def as_json(self) -> dict:
        """The one-line machine-readable summary schedulers read."""
        return {
            "run_id": self.run_id,
            "status": self.status,
            "business_date": self.business_date.isoformat(),
            "path": str(self.path) if self.path else None,
            "counts": self.counts,
            "detections": sum(self.counts.values()),
            "suppressed": self.suppressed,
            "quarantined": self.quarantined,
            # Per delivered file, so a caller can check rows_in = accepted + quarantined.
            "files": {
                name: {k: f[k] for k in ("rows_in", "accepted", "quarantined")}
                for name, f in self.record.get("inputs", {}).items()
            },
            "content_hash": self.content_hash,
            "timings": {s.name: round(s.seconds, 3) for s in self.steps},
            "seconds": round(sum(s.seconds for s in self.steps), 3),
            **{k: self.record[k] for k in ("decisions", "model_version") if k in self.record},
        }


# --------------------------------------------------------------------------- steps


def step_ingest(ctx: RunContext) -> int:
    ctx.ingest = ingest(
        ctx.backend,
        ctx.data_dir,
        staging_dir=ctx.staging.work,
        quarantine_limit=ctx.quarantine_limit,
        business_date=ctx.business_date,
        progress=lambda name: ctx.report("ingest", "file", file=name),
    )
    return ctx.ingest.rows_in


MOMENT_VIEW = "_moment_view"


def step_view(ctx: RunContext) -> int:
    """The unified view, narrowed to the fields and aggregates the due moments read.

    Materialised here so the view's scans and the moments' evaluation are timed apart.
    """
    from keycare.engine.detect import plan_detection
    from keycare.engine.view import build_view

    plan = plan_detection(
        ctx.definitions,
        ctx.business_date,
        ctx.requested_moments,
        weekly_weekday=ctx.weekly_weekday,
        monthly_day=ctx.monthly_day,
    )
    ctx.results["plan"] = plan
    build_view(
        ctx.backend,
        ctx.business_date,
        plan.extra_aggs,
        name=MOMENT_VIEW,
        only=plan.fields,
        # Only subscribers some due moment is scoped to (about 11% at 1M: the mid/high tier),
        # as detect() does on its own; view + detect 14.8 -> 6.7 CPU s at 1M.
        subscriber_filter=plan.subscriber_filter,
        materialize=True,
    )
    return ctx.backend.scalar(f"SELECT count(*) FROM {MOMENT_VIEW}")


def step_detect(ctx: RunContext) -> int:
    from keycare.engine.detect import detect

    result = detect(
        ctx.backend,
        ctx.business_date,
        ctx.definitions,
        moments=ctx.requested_moments,
        weekly_weekday=ctx.weekly_weekday,
        monthly_day=ctx.monthly_day,
        view=MOMENT_VIEW if "plan" in ctx.results else None,
    )
    ctx.results["detect"] = result
    return result.detections


def step_groups(ctx: RunContext) -> int:
    """Key accounts: the due group moments (each for the group's manager) and, with a tier
    policy, every group's value score and tier (see engine/groups.py, engine/group_tiers.py)."""
    from keycare.engine.group_tiers import score_tiers
    from keycare.engine.groups import detect_groups

    result = detect_groups(
        ctx.backend,
        ctx.business_date,
        ctx.group_definitions,
        weekly_weekday=ctx.weekly_weekday,
        monthly_day=ctx.monthly_day,
    )
    ctx.results["groups"] = result
    ctx.record_extra["group_moments"] = {
        "definitions_version": result.definitions_version,
        "groups": result.groups,
        "counts": result.counts,
    }
    if ctx.tier_policy is not None:
        version, policy = ctx.tier_policy
        ctx.record_extra["group_tiers"] = score_tiers(ctx.backend, policy, version)
    return result.detections


def _write_groups(ctx: RunContext) -> int:
    from keycare.engine.group_tiers import GROUP_TIERS, GROUP_TIERS_ORDER
    from keycare.engine.groups import GROUP_DETECTIONS, GROUP_DETECTIONS_ORDER

    outputs = [(GROUP_DETECTIONS, GROUP_DETECTIONS_ORDER)]
    if "group_tiers" in ctx.record_extra:
        outputs.append((GROUP_TIERS, GROUP_TIERS_ORDER))
    total = 0
    for name, order in outputs:
        checkpoint(f"write:{name}")
        table = ctx.backend.to_arrow(f'SELECT * FROM "{name}" ORDER BY {order}')
        pub.write_table(table, ctx.staging.out / f"{name}.parquet")
        ctx.outputs[name] = table.num_rows
        total += table.num_rows
    return total


def step_write(ctx: RunContext) -> int:
    """Write the outputs in a deterministic order (same content -> same bytes)."""
    total = 0
    for name, order in OUTPUT_ORDER.items():
        checkpoint(f"write:{name}")
        table = ctx.backend.to_arrow(f'SELECT * FROM "{name}" ORDER BY {order}')
        pub.write_table(table, ctx.staging.out / f"{name}.parquet")
        ctx.outputs[name] = table.num_rows
        total += table.num_rows
    if "groups" in ctx.results:
        total += _write_groups(ctx)
    if "allocation" in ctx.record_extra:
        total += _write_allocation(ctx)
    checkpoint("write:moment_counts")
    counts = moment_counts(ctx)
    ctx.results["moment_counts"] = counts
    pub.write_table(counts, ctx.staging.out / "moment_counts.parquet")
    ctx.outputs["moment_counts"] = counts.num_rows
    return total


def moment_counts(ctx: RunContext) -> pa.Table:
    """Detections per evaluated moment (zeros included); N01/N02 count suppressions."""
    detected = _grouped(ctx.backend, "detections")
    suppressed = _grouped(ctx.backend, "suppressions")
    codes = sorted(set(ctx.moment_codes) | set(detected) | set(suppressed))
    counts = [suppressed.get(c, 0) if c in NO_SERVICE_CODES else detected.get(c, 0) for c in codes]
    return pa.table(
        {"moment_code": pa.array(codes, pa.string()), "count": pa.array(counts, pa.int64())}
    )


def _grouped(backend: Backend, relation: str) -> dict[str, int]:
    rows = backend.to_arrow(
        f'SELECT moment_code, count(*) AS n FROM "{relation}" GROUP BY moment_code'
    ).to_pylist()
    return {r["moment_code"]: r["n"] for r in rows}


def _write_allocation(ctx: RunContext) -> int:
    total = 0
    appended = ctx.results.get("risk_tasks") or {}
    for relation, stem, order in ALLOCATION_OUTPUTS:
        checkpoint(f"write:{stem}")
        source = f'SELECT * FROM "{relation}"'
        if relation in appended:  # risk tasks raised in spare capacity (same columns)
            source += f' UNION ALL SELECT * FROM "{appended[relation]}"'
        table = ctx.backend.to_arrow(f"SELECT * FROM ({source}) ORDER BY {order}")
        pub.write_table(table, ctx.staging.out / f"{stem}.parquet")
        ctx.outputs[stem] = table.num_rows
        total += table.num_rows
    return total


RISK_SCOPE = "_risk_scope"
RISK_EMPTY_SQL = """
    SELECT CAST(NULL AS VARCHAR) AS subscriber_id, CAST(NULL AS DATE) AS business_date,
           CAST(NULL AS DOUBLE) AS risk_probability, CAST(NULL AS DOUBLE) AS seed_score,
           CAST(NULL AS DOUBLE) AS health_tariff_brand, CAST(NULL AS DOUBLE) AS health_call_circle,
           CAST(NULL AS DOUBLE) AS health_service, CAST(NULL AS DOUBLE) AS health_business,
           CAST(NULL AS VARCHAR) AS reason_1, CAST(NULL AS VARCHAR) AS reason_2,
           CAST(NULL AS VARCHAR) AS reason_3, CAST(NULL AS VARCHAR) AS reasons,
           CAST(NULL AS VARCHAR) AS model_version
    WHERE FALSE"""


def step_risk(ctx: RunContext) -> int:
    """Score every live in-scope subscriber with the promoted model in ``ctx.models_dir``.

    In scope: the subscribers some moment applies to (the unified view's population, the
    mid/high tier in network by default), with or without a moment today -- seed 001 ranks the
    whole in-base mid/high population by risk. The run never trains (``keycare risk train`` is
    its own, monthly job). No promoted model: the run goes on without risk (empty
    ``risk_scores``; allocation then ranks by value and moment priority) and says so, in the
    terminal and in run.json -- a missing model must not stop the day's tasks.
    """
    from keycare.engine.risk.operator import score_risk
    from keycare.engine.risk.registry import NO_MODEL_MESSAGE, promoted_dir

    models_dir = ctx.models_dir or ctx.staging.work / "models"
    info: dict[str, Any] = {"models_dir": str(models_dir), "source": "promoted"}
    try:
        model_dir = promoted_dir(models_dir)
    except UserError as exc:
        model_dir, info["reason"] = None, str(exc)
    if model_dir is None:
        info.setdefault("reason", NO_MODEL_MESSAGE)
        ctx.report("risk", "warning", message=info["reason"])
        return _no_risk(ctx, {**info, "source": "none"})
    ctx.backend.materialize(RISK_SCOPE, _risk_scope_sql(ctx))
    scored = score_risk(
        ctx.backend,
        ctx.business_date,
        model_dir,
        scope=RISK_SCOPE,
        baseline=_risk_baseline(ctx),
        reasons_above=_reasons_floor(ctx),
    )
    info.update(
        version=scored.model_version,
        scored=scored.rows,
        reasons_above=scored.reasons_above,
        explained=scored.explained,
        drift=scored.drift,
        baseline=scored.baseline,
    )
    ctx.record_extra.update(model_version=scored.model_version, risk_model=info)
    ctx.results["risk"] = scored
    return scored.rows


def _reasons_floor(ctx: RunContext) -> float:
    """The risk from which scores get reasons: the configured floor, lowered to the risk
    tasks' threshold when that is lower (a risk task always carries its reasons)."""
    from keycare.engine.risk import DEFAULT_HIGH_RISK

    floor = DEFAULT_HIGH_RISK if ctx.reasons_above is None else ctx.reasons_above
    if ctx.risk_tasks_above is not None:
        floor = min(floor, ctx.risk_tasks_above)
    return floor


BASELINE_LOOKBACK_RUNS = 90


def _risk_baseline(ctx: RunContext) -> dict | None:
    """The drift baseline the latest earlier run kept (earlier dates only: a re-run of a
    date reads the same baseline)."""
    earlier = [d for d in pub.published_dates(ctx.staging.runs_dir) if d < ctx.business_date]
    for day in sorted(earlier, reverse=True)[:BASELINE_LOOKBACK_RUNS]:
        run = pub.read_published(ctx.staging.runs_dir, day)
        baseline = ((run.record if run else {}).get("risk_model") or {}).get("baseline")
        if baseline:
            return baseline
    return None


def _risk_scope_sql(ctx: RunContext) -> str:
    if "plan" in ctx.results:  # the view holds exactly the subscribers in some moment's scope
        return f"SELECT DISTINCT subscriber_id FROM {MOMENT_VIEW}"
    return "SELECT DISTINCT subscriber_id FROM subscribers"


def _no_risk(ctx: RunContext, info: dict) -> int:
    ctx.backend.materialize("risk_scores", RISK_EMPTY_SQL)
    ctx.record_extra.update(model_version=None, risk_model=info)
    ctx.results["risk"] = None
    return 0


ALLOCATION_CANDIDATES = "_allocation_candidates"
ALLOCATION_MANAGERS = "_allocation_managers"
ALLOCATION_CONTACTS = "_allocation_contacts"
ALLOCATION_CARRY_IN = "_allocation_carry_in"
ALLOCATION_CARRY_OVER = "_allocation_carry_over"
CARRY_OVER_SQL = f"""
    SELECT c.subscriber_id, c.moment_code, c.priority, c.channel, c.sms_allowed, c.city_id,
           c.manager_id, c.risk, c.value, h.last_contact_date, c.suppressed, c.age, c.urgent
    FROM {ALLOCATION_CARRY_IN} c LEFT JOIN {ALLOCATION_CONTACTS} h USING (subscriber_id)"""


def _candidates_sql(ctx: RunContext) -> str:
    """One row per detection (plus one suppressed row per suppression) in allocate's columns.

    manager: the subscriber's assignment; risk: the calibrated churn probability; value: the
    average total bill of the last three closed months (plan fee when there is no bill).
    last_contact_date: the latest contact made (contact log) in the cool-down window before
    the business date (``ALLOCATION_CONTACTS``, see keycare.engine.history); urgent: the
    moment is served inside the cool-down (the definitions' ``urgent``).
    """
    known = ctx.definitions.by_code if ctx.definitions is not None else {}
    sms = [code for code, m in sorted(known.items()) if m.sms_allowed]
    sms_list = ", ".join(f"'{c}'" for c in sms) or "NULL"
    urgent = ", ".join(f"'{c}'" for c, m in sorted(known.items()) if m.urgent) or "NULL"
    defined = ", ".join(f"'{c}'" for c in sorted(known)) or "NULL"
    return f"""
    WITH scope AS (
        SELECT subscriber_id FROM detections UNION SELECT subscriber_id FROM suppressions
    ),
    assigned AS (
        SELECT subscriber_id, max(manager_id) AS manager_id FROM assignments
        WHERE subscriber_id IN (SELECT subscriber_id FROM scope) GROUP BY subscriber_id
    ),
    spend AS (
        SELECT subscriber_id, avg(total_fee) AS bill_avg_3m FROM (
            SELECT subscriber_id, total_fee, row_number() OVER (
                PARTITION BY subscriber_id ORDER BY bill_month DESC) AS rn
            FROM bills WHERE subscriber_id IN (SELECT subscriber_id FROM scope)
        ) WHERE rn <= 3 GROUP BY subscriber_id
    ),
    facts AS (
        SELECT s.subscriber_id, a.manager_id, r.risk_probability AS risk,
               COALESCE(b.bill_avg_3m, s.plan_fee) AS value
        FROM subscribers s
        LEFT JOIN assigned a USING (subscriber_id)
        LEFT JOIN spend b USING (subscriber_id)
        LEFT JOIN risk_scores r USING (subscriber_id)
        WHERE s.subscriber_id IN (SELECT subscriber_id FROM scope)
    )
    SELECT d.subscriber_id, d.moment_code, CAST(d.priority AS DOUBLE) AS priority,
           d.channel,
           CASE WHEN d.moment_code IN ({sms_list}) THEN TRUE
                WHEN d.moment_code IN ({defined}) THEN FALSE
                ELSE COALESCE(d.channel = 'sms', FALSE) END AS sms_allowed,
           CAST(d.city_id AS VARCHAR) AS city_id, f.manager_id, f.risk, f.value,
           h.last_contact_date, FALSE AS suppressed,
           COALESCE(d.moment_code IN ({urgent}), FALSE) AS urgent
    FROM detections d LEFT JOIN facts f USING (subscriber_id)
    LEFT JOIN {ALLOCATION_CONTACTS} h USING (subscriber_id)
    UNION ALL
    SELECT p.subscriber_id, p.moment_code, CAST(NULL AS DOUBLE), CAST(NULL AS VARCHAR), FALSE,
           CAST(NULL AS VARCHAR), f.manager_id, f.risk, f.value, h.last_contact_date, TRUE,
           FALSE
    FROM suppressions p LEFT JOIN facts f USING (subscriber_id)
    LEFT JOIN {ALLOCATION_CONTACTS} h USING (subscriber_id)"""


MANAGERS_SQL = """
    SELECT manager_id, CAST(daily_capacity AS BIGINT) AS daily_capacity,
           COALESCE(CAST(active AS BOOLEAN), FALSE) AS active
    FROM managers"""


CANDIDATES_OUTPUT_SQL = """
    SELECT subscriber_id, moment_code, priority, channel, sms_allowed, city_id, manager_id, risk,
           value, last_contact_date, suppressed, age, urgent, first_date, source
    FROM _alloc_all"""


def step_allocate(ctx: RunContext) -> int:
    """Allocate the detections (with their risk) to the managers' daily capacity.

    Registers ``allocation_decisions`` (one per candidate row) and ``allocation_tasks``
    (one per customer with a call, SMS or deferred task); see keycare.engine.allocate.
    """
    from dataclasses import asdict

    from keycare.engine.allocate import AllocationConfig, allocate, control_period

    config = ctx.allocation_config or AllocationConfig()
    history = _register_history(ctx, config)
    ctx.backend.materialize(ALLOCATION_CANDIDATES, _candidates_sql(ctx))
    ctx.backend.materialize(ALLOCATION_MANAGERS, MANAGERS_SQL)
    carry_over = ALLOCATION_CARRY_OVER if history["carried_over"] else None
    if not ctx.backend.scalar(f"SELECT count(*) FROM {ALLOCATION_CANDIDATES}") and not carry_over:
        _no_candidates(ctx, asdict(config))
        ctx.record_extra["allocation"]["history"] = history
        return 0
    result = allocate(
        ALLOCATION_CANDIDATES,
        ALLOCATION_MANAGERS,
        config,
        business_date=ctx.business_date,
        carry_over=carry_over,
        backend=ctx.backend,
        fetch=False,
    )
    history["recent_contact"] = ctx.backend.scalar(
        "SELECT count(DISTINCT subscriber_id) FROM ("
        f" SELECT subscriber_id, last_contact_date FROM {ALLOCATION_CANDIDATES}"
        + (
            f" UNION ALL SELECT subscriber_id, last_contact_date FROM {carry_over}"
            if carry_over
            else ""
        )
        + ") WHERE last_contact_date IS NOT NULL"
    )
    ctx.backend.create_view("allocation_candidates", CANDIDATES_OUTPUT_SQL)
    ctx.results["allocation"] = result
    period = control_period(config, ctx.business_date)
    ctx.record_extra["allocation"] = {
        "config": asdict(config),
        "decisions": result.counts,
        "history": history,
        # Which rotating control group the day used (None: the group does not rotate).
        "control_period": period and {k: str(v) for k, v in period.items()},
    }
    ctx.record_extra["decisions"] = result.counts
    return sum(result.counts.values())


def step_risk_tasks(ctx: RunContext) -> int:
    """High-risk customers without a moment today, as calls in the capacity the moments left
    (keycare.engine.risk.tasks); only when ``risk_tasks_above`` is set and risk was scored."""
    if ctx.risk_tasks_above is None or ctx.results.get("risk") is None:
        return 0
    if "allocation" not in ctx.record_extra:
        return 0
    from keycare.engine.allocate import AllocationConfig
    from keycare.engine.risk import tasks

    config = ctx.allocation_config or AllocationConfig()
    history = ctx.record_extra["allocation"].get("history") or {}
    raised = tasks.register(
        ctx.backend,
        ctx.risk_tasks_above,
        ALLOCATION_MANAGERS,
        ALLOCATION_CONTACTS,
        ALLOCATION_CANDIDATES,
        ALLOCATION_CARRY_OVER if history.get("carried_over") else None,
        config.default_capacity,
    )
    ctx.results["risk_tasks"] = {
        "allocation_tasks": tasks.RISK_TASKS,
        "allocation_decisions": tasks.RISK_DECISIONS,
    }
    ctx.record_extra["risk_tasks"] = {"threshold": ctx.risk_tasks_above, "raised": raised}
    decisions = ctx.record_extra.get("decisions")
    if decisions is not None:
        decisions["call"] = decisions.get("call", 0) + raised
    return raised


def _register_history(ctx: RunContext, config) -> dict:
    """Register the contact history and the carry-over from the runs published before today.

    Only earlier dates are read, so a re-run of the same date sees the same history.
    """
    from keycare.engine.history import contact_log_info, previous_contacts, previous_deferred

    runs_dir = ctx.staging.runs_dir
    contacts = previous_contacts(runs_dir, ctx.business_date, config.contact_cap_days)
    moments = ctx.definitions.by_code if ctx.definitions is not None else None
    carry, source_run = previous_deferred(runs_dir, ctx.business_date, moments)
    ctx.backend.register_arrow(ALLOCATION_CONTACTS, contacts)
    ctx.backend.register_arrow(ALLOCATION_CARRY_IN, carry)
    ctx.backend.materialize(ALLOCATION_CARRY_OVER, CARRY_OVER_SQL)
    return {
        "contact_window_days": config.contact_cap_days,
        # The log is an input: its hash is in the run id through this dict.
        "contact_log": contact_log_info(runs_dir),
        "contacted_customers": contacts.num_rows,
        "carried_over": carry.num_rows,
        "carried_over_from": source_run,
        "recent_contact": 0,
    }


def _no_candidates(ctx: RunContext, config: dict) -> int:
    """Nothing detected: empty outputs with allocate's columns (it needs at least one row)."""
    from keycare.engine.allocate import DECISIONS

    ctx.backend.materialize(
        "allocation_decisions",
        "SELECT CAST(NULL AS VARCHAR) AS subscriber_id, CAST(NULL AS VARCHAR) AS moment_code,"
        " CAST(NULL AS VARCHAR) AS source, CAST(NULL AS VARCHAR) AS decision,"
        " CAST(NULL AS VARCHAR) AS reason, CAST(NULL AS VARCHAR) AS reason_code,"
        " CAST(NULL AS VARCHAR) AS manager_id, CAST(NULL AS DOUBLE) AS priority_score,"
        " CAST(NULL AS BIGINT) AS manager_rank, CAST(NULL AS BIGINT) AS capacity,"
        " CAST(NULL AS BIGINT) AS age, CAST(NULL AS DATE) AS first_date WHERE FALSE",
    )
    ctx.backend.materialize(
        "allocation_tasks",
        "SELECT CAST(NULL AS VARCHAR) AS subscriber_id, CAST(NULL AS VARCHAR) AS manager_id,"
        " CAST(NULL AS VARCHAR) AS moments, CAST(NULL AS VARCHAR) AS decision,"
        " CAST(NULL AS DOUBLE) AS priority_score WHERE FALSE",
    )
    ctx.backend.materialize(
        "allocation_candidates",
        "SELECT subscriber_id, moment_code, priority, channel, sms_allowed, city_id, manager_id,"
        " risk, value, last_contact_date, suppressed, CAST(NULL AS BIGINT) AS age, urgent,"
        " CAST(NULL AS DATE) AS first_date, CAST(NULL AS VARCHAR) AS source"
        f" FROM {ALLOCATION_CANDIDATES} WHERE FALSE",
    )
    ctx.results["allocation"] = None
    ctx.record_extra["allocation"] = {"config": config, "decisions": dict.fromkeys(DECISIONS, 0)}
    ctx.record_extra["decisions"] = dict.fromkeys(DECISIONS, 0)
    return 0


# --------------------------------------------------------------------------- indicators


def step_indicators(ctx: RunContext) -> int:
    """The indicator layer (engine/indicators.yaml): daily and monthly aggregates per
    dimension member, published as indicators.parquet (see keycare.engine.indicators)."""
    from keycare.engine.history import previous_indicators
    from keycare.engine.indicators import (
        RunOutputs,
        compute_indicators,
        delivered_months,
        load_indicators,
        months_to_publish,
    )

    outputs = RunOutputs(
        detections="detect" in ctx.results,
        tasks=ctx.results.get("allocation") is not None,
        risk=ctx.results.get("risk") is not None,
    )
    version = load_indicators().version
    # 月报固化: a closed bill month keeps the figures of the run that first published it, so
    # the run publishes only the months new since the previous run (all on a first run).
    previous, previous_run = previous_indicators(ctx.staging.runs_dir, ctx.business_date)
    months = months_to_publish(delivered_months(ctx.backend), previous, version)
    table = compute_indicators(ctx.backend, ctx.business_date, outputs, bill_months=months)
    checkpoint("write:indicators")
    pub.write_table(table, ctx.staging.out / "indicators.parquet")
    ctx.outputs["indicators"] = table.num_rows
    earlier = previous.months if previous is not None and previous.version == version else set()
    ctx.record_extra["indicators"] = {
        "version": version,
        "rows": table.num_rows,
        "bill_months": months,  # the months this run publishes
        "months": sorted(earlier | set(months)),  # every month published so far
        "previous_run": previous_run,
    }
    return table.num_rows


# --------------------------------------------------------------------------- unified view

UNIFIED_VIEW = "unified_view"
# The customers the application archives (customers.loader): the high-value tier and every
# key-account member. The published view holds them, every catalog field raw and derived.
ARCHIVE_SCOPE = (
    "value_tier = 'mid_high' OR key_account_id IS NOT NULL"
    " OR subscriber_id IN (SELECT subscriber_id FROM key_account_members)"
)
# Decimal places kept of a derived double: sums of doubles add in no fixed order in a
# parallel aggregate, so their last bits vary; rounding keeps a re-run byte-identical.
VIEW_DIGITS = 6
VIEW_ROW_GROUP = 1 << 17  # rows: ~300 MB of the view held at a time


def step_unified_view(ctx: RunContext) -> int:
    """Publish the full unified view (every catalog field) of the archived customers as
    ``unified_view.parquet``: the application's customer 360 and segments read it."""
    from keycare.engine.view import build_view

    build_view(ctx.backend, ctx.business_date, name=UNIFIED_VIEW, subscriber_filter=ARCHIVE_SCOPE)
    # Streamed a row group at a time: at 10M subscribers the view is 1.7M customers by ~300
    # fields, and holding it whole (plus its rounded copy) took 10 GiB.
    reader = ctx.backend.arrow_reader(
        f"SELECT * FROM {UNIFIED_VIEW} ORDER BY subscriber_id", VIEW_ROW_GROUP
    )
    checkpoint("write:unified_view")
    rows = pub.write_batches(
        reader,
        ctx.staging.out / f"{UNIFIED_VIEW}.parquet",
        VIEW_ROW_GROUP,
        transform=lambda table: round_doubles(table, VIEW_DIGITS),
    )
    ctx.outputs[UNIFIED_VIEW] = rows
    return rows


def round_doubles(table: pa.Table, digits: int) -> pa.Table:
    import pyarrow.compute as pc

    for i, column in enumerate(table.schema):
        if pa.types.is_floating(column.type):
            table = table.set_column(i, column.name, pc.round(table.column(i), digits))
    return table


def default_steps() -> list[Step]:
    """Detection only: ingest -> view -> detect -> groups -> write."""
    return [
        Step("ingest", step_ingest),
        Step("view", step_view),
        Step("detect", step_detect),
        Step("groups", step_groups),
        Step("write", step_write),
    ]


def allocation_steps() -> list[Step]:
    """The full daily run: detection, risk scoring, allocation, indicators, the unified
    view, then write."""
    steps = default_steps()
    at = index_of(steps, "write")
    steps[at:at] = [
        Step("risk", step_risk),
        Step("allocate", step_allocate),
        Step("risk_tasks", step_risk_tasks),
    ]
    steps.insert(index_of(steps, "write"), Step("indicators", step_indicators))
    steps.insert(index_of(steps, "write"), Step("unified_view", step_unified_view))
    return steps


def index_of(steps: list[Step], name: str) -> int:
    return next(i for i, s in enumerate(steps) if s.name == name)


# --------------------------------------------------------------------------- the run


def run_daily(
    business_date: date,
    data_dir: Path,
    runs_dir: Path,
    engine: str = "duckdb",
    moments: list[str] | None = None,
    progress: Progress | None = None,
    *,
    quarantine_limit: float = DEFAULT_QUARANTINE_LIMIT,
    weekly_weekday: int = DEFAULT_WEEKLY_WEEKDAY,
    monthly_day: int = DEFAULT_MONTHLY_DAY,
    definitions=None,
    city_overrides: dict | None = None,
    steps: list[Step] | None = None,
    backend: Backend | None = None,
    backend_options: dict | None = None,
    models_dir: Path | None = None,
    allocation_config=None,
    risk_tasks_above: float | None = None,
    reasons_above: float | None = None,
    group_definitions=None,
    tier_policy: tuple[int, dict] | None = None,
) -> RunSummary:
    """Run the cycles due on ``business_date`` over the delivery in ``data_dir``.

    Publishes ``runs_dir/<business_date>`` atomically and returns the summary. A user
    error (bad delivery, quarantine rate above the limit, unknown moment) raises UserError
    and publishes nothing.

    With ``models_dir`` the default steps are ``allocation_steps()`` (risk scoring of every
    in-scope subscriber with the model promoted there -- none promoted: no risk today, said
    in run.json -- and allocation, publishing risk_scores, tasks and decisions); without it, detection only.
    """
    _check_arguments(business_date, data_dir, quarantine_limit, weekly_weekday, monthly_day)
    runs_dir = Path(runs_dir)
    pub.ensure_runs_dir(runs_dir)
    pub.clean_stale(runs_dir)
    started_at = datetime.now(UTC)
    own_backend = backend is None
    with pub.Staging(runs_dir) as staging:
        if own_backend:
            backend = connect(engine, **_backend_options(engine, staging, backend_options))
        try:
            ctx = RunContext(
                backend=backend,
                business_date=business_date,
                data_dir=Path(data_dir),
                staging=staging,
                quarantine_limit=quarantine_limit,
                requested_moments=list(moments) if moments else None,
                weekly_weekday=weekly_weekday,
                monthly_day=monthly_day,
                city_overrides=city_overrides,
                progress=progress,
                models_dir=Path(models_dir) if models_dir is not None else None,
                allocation_config=allocation_config,
                risk_tasks_above=risk_tasks_above,
                reasons_above=reasons_above,
                group_definitions=group_definitions,
                tier_policy=tier_policy,
                _definitions=definitions,
            )
            if steps is None:
                steps = default_steps() if models_dir is None else allocation_steps()
            if any(s.name == "detect" for s in steps) or moments:
                ctx.moment_codes = select_moments(ctx)
            timings = _run_steps(ctx, steps)
            return _finish(ctx, timings, engine=backend.name, started_at=started_at)
        finally:
            if own_backend:
                backend.close()


# DuckDB's own memory in a run it opens (its default is 80% of the machine): what does not
# fit spills to the run's scratch folder. At 10M subscribers the unbounded run peaked at
# 17.6 GiB, with 4GB at 6.4-6.8 GiB, but one run in nine stopped out of memory; 5GB leaves
# room under the 8 GiB target (docs/performance.md, "Reasons from the high-risk threshold").
RUN_MEMORY_LIMIT = "5GB"


def _backend_options(engine: str, staging: pub.Staging, options: dict | None) -> dict:
    if engine != "duckdb":
        return dict(options or {})
    spill = staging.work / "spill"
    spill.mkdir(exist_ok=True)
    return {"memory_limit": RUN_MEMORY_LIMIT, "spill_dir": spill, **(options or {})}


def _check_arguments(business_date, data_dir, quarantine_limit, weekly_weekday, monthly_day):
    if not isinstance(business_date, date):
        raise UserError(f"business date must be a date, got {business_date!r}")
    if not Path(data_dir).is_dir():
        raise UserError(f"数据目录不存在 (data directory not found): {data_dir}")
    if not 0 <= quarantine_limit <= 1:
        raise UserError(f"隔离率上限应在 0 到 1 之间 (quarantine limit): {quarantine_limit}")
    if weekly_weekday not in range(7):
        raise UserError(f"weekly weekday must be 0 (Monday) .. 6 (Sunday), got {weekly_weekday}")
    if monthly_day not in range(1, 29):
        raise UserError(f"monthly day must be 1 .. 28, got {monthly_day}")


def select_moments(ctx: RunContext) -> list[str]:
    """The moment codes to evaluate: the requested ones (whatever their cycle: an operator
    re-running one moment means it), or every moment due on the date; the no-service guards
    always. Unknown codes are a user error, raised before any work is done."""
    from keycare.engine.detect import select_moments as detect_select

    chosen = detect_select(
        ctx.definitions,
        ctx.business_date,
        ctx.requested_moments,
        weekly_weekday=ctx.weekly_weekday,
        monthly_day=ctx.monthly_day,
    )
    return [m.code for m in chosen]


def _run_steps(ctx: RunContext, steps: list[Step]) -> list[StepResult]:
    results = []
    for step in steps:
        checkpoint(f"step:{step.name}")
        ctx.report(step.name, "start")
        started = time.perf_counter()
        rows = step.run(ctx)
        result = StepResult(step.name, time.perf_counter() - started, rows)
        results.append(result)
        ctx.report(step.name, "done", seconds=result.seconds, rows=rows)
    return results


def run_id_for(ctx: RunContext) -> str:
    """``YYYYMMDD-<hash>``: the same inputs, definitions and selection give the same id."""
    basis = {
        "engine_version": ENGINE_VERSION,
        "business_date": ctx.business_date.isoformat(),
        "inputs": {
            n: f.sha256 for n, f in sorted((ctx.ingest.files if ctx.ingest else {}).items())
        },
        "definitions": ctx.definitions_version,
        "moments": ctx.moment_codes,
        "cycle": [ctx.weekly_weekday, ctx.monthly_day],
    }
    if ctx.record_extra.get("model_version"):
        basis["model"] = ctx.record_extra["model_version"]
        basis["risk_baseline"] = (ctx.record_extra["risk_model"].get("baseline") or {}).get("since")
    if ctx.record_extra.get("allocation"):
        allocation = ctx.record_extra["allocation"]
        basis["allocation"] = allocation["config"]
        # The history read from earlier runs is an input too: a re-published earlier day
        # changes what this day allocates, so it must change this day's id.
        basis["history"] = allocation.get("history")
    if ctx.record_extra.get("risk_tasks"):
        basis["risk_tasks"] = ctx.record_extra["risk_tasks"]["threshold"]
    if ctx.record_extra.get("indicators"):  # another indicator definition, another output
        # The months published depend on the earlier runs: another history, another output.
        info = ctx.record_extra["indicators"]
        basis["indicators"] = [info["version"], info["bill_months"]]
    if ctx.record_extra.get("group_moments"):
        basis["group_moments"] = ctx.record_extra["group_moments"]["definitions_version"]
    if ctx.tier_policy is not None:  # the policy's content: a version number alone could lie
        basis["tier_policy"] = [ctx.tier_policy[0], ctx.tier_policy[1]]
    digest = hashlib.sha256(json.dumps(basis, sort_keys=True).encode()).hexdigest()[:10]
    return f"{ctx.business_date:%Y%m%d}-{digest}"


def _finish(ctx: RunContext, timings: list[StepResult], engine: str, started_at) -> RunSummary:
    run_id = run_id_for(ctx)
    data_hash, files = pub.content_hash(ctx.staging.out)
    counts = _counts_from_output(ctx)
    record = {
        "run_id": run_id,
        "business_date": ctx.business_date.isoformat(),
        "status": "published",
        "engine": engine,
        "engine_version": ENGINE_VERSION,
        "started_at": started_at.isoformat(timespec="seconds"),
        "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "data_dir": str(ctx.data_dir.resolve()),
        "inputs": {n: f.as_dict() for n, f in (ctx.ingest.files if ctx.ingest else {}).items()},
        "definitions_version": ctx.definitions_version,
        "moments": ctx.moment_codes,
        "cycle": {"weekly_weekday": ctx.weekly_weekday, "monthly_day": ctx.monthly_day},
        "steps": [s.as_dict() for s in timings],
        "outputs": {
            name: {"rows": ctx.outputs.get(name.removesuffix(".parquet")), "sha256": digest}
            for name, digest in files.items()
        },
        "content_hash": data_hash,
        "counts": counts,
        "suppressed": ctx.outputs.get("suppressions", 0),
        "quarantined": ctx.outputs.get("quarantine", 0),
        **ctx.record_extra,
    }
    pub.write_json(record, ctx.staging.out / pub.RUN_RECORD)
    checkpoint("publish:before")
    path = pub.publish(ctx.staging, ctx.business_date, run_id, checkpoint=checkpoint)
    checkpoint("publish:done")
    return RunSummary(
        run_id=run_id,
        status="published",
        business_date=ctx.business_date,
        path=path,
        counts=counts,
        suppressed=record["suppressed"],
        quarantined=record["quarantined"],
        steps=timings,
        content_hash=data_hash,
        record=record,
    )


def _counts_from_output(ctx: RunContext) -> dict[str, int]:
    table = ctx.results.get("moment_counts")
    if table is None:
        return {}
    return {
        r["moment_code"]: r["count"]
        for r in table.to_pylist()
        if r["moment_code"] not in NO_SERVICE_CODES
    }


# --------------------------------------------------------------------------- kill hook


def checkpoint(name: str) -> None:
    """Test hook: ``KEYCARE_KILL_AT=<name>`` makes the process SIGKILL itself here.

    The kill test uses it to stop a run at every step boundary and every stage of the
    publication; in production the variable is unset and this is a dictionary lookup.
    """
    target = os.environ.get("KEYCARE_KILL_AT")
    if target and target == name:
        os.kill(os.getpid(), signal.SIGKILL)
