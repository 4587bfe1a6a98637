"""The daily run: ingest -> unified view -> detect -> write outputs -> publish.

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
    _definitions: Any = None
    ingest: IngestResult | None = None
    moment_codes: list[str] = field(default_factory=list)
    results: dict[str, Any] = field(default_factory=dict)
    outputs: dict[str, int] = field(default_factory=dict)

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
            "content_hash": self.content_hash,
            "timings": {s.name: round(s.seconds, 3) for s in self.steps},
            "seconds": round(sum(s.seconds for s in self.steps), 3),
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


def step_write(ctx: RunContext) -> int:
    """Write the outputs in a deterministic order (same content -> same bytes)."""
    total = 0
    for name, order in OUTPUT_ORDER.items():
        checkpoint(f"write:{name}")
        table = ctx.backend.to_arrow(f'SELECT * FROM "{name}" ORDER BY {order}')
        pub.write_table(table, ctx.staging.out / f"{name}.parquet")
        ctx.outputs[name] = table.num_rows
        total += table.num_rows
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


def default_steps() -> list[Step]:
    return [
        Step("ingest", step_ingest),
        Step("view", step_view),
        Step("detect", step_detect),
        Step("write", step_write),
    ]


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
) -> RunSummary:
    """Run the cycles due on ``business_date`` over the delivery in ``data_dir``.

    Publishes ``runs_dir/<business_date>`` atomically and returns the summary. A user
    error (bad delivery, quarantine rate above the limit, unknown moment) raises UserError
    and publishes nothing.
    """
    _check_arguments(business_date, data_dir, quarantine_limit, weekly_weekday, monthly_day)
    runs_dir = Path(runs_dir)
    pub.ensure_runs_dir(runs_dir)
    pub.clean_stale(runs_dir)
    started_at = datetime.now(UTC)
    own_backend = backend is None
    backend = backend or connect(engine, **(backend_options or {}))
    try:
        with pub.Staging(runs_dir) as staging:
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
                _definitions=definitions,
            )
            steps = default_steps() if steps is None else steps
            if any(s.name == "detect" for s in steps) or moments:
                ctx.moment_codes = select_moments(ctx)
            timings = _run_steps(ctx, steps)
            return _finish(ctx, timings, engine=backend.name, started_at=started_at)
    finally:
        if own_backend:
            backend.close()


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
