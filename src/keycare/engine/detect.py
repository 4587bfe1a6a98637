"""Moment detection: one pass over the unified view for every due moment, then unpivot.

1. compile each moment (scope AND condition, per-city thresholds) to one boolean column,
   plus its parameters (JSON text) and Chinese explanation, computed only for hits;
2. materialise ``_moment_hits``: the subscribers for whom at least one moment holds;
3. unpivot to ``detections`` (one row per subscriber and moment), leaving out subscribers a
   no-service moment (N01 do-not-disturb, N02 suspended) holds for: those become
   ``suppressions`` naming the moments they suppressed.

No-service moments are guards: they are always evaluated when enabled, whatever ``moments``
asks for, so a customer who must not be disturbed never gets work.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass, field

from keycare.engine import explain
from keycare.engine.conditions import Compiled, Compiler, Param, referenced_fields
from keycare.engine.definitions import DefinitionSet, MomentDef, due_moments
from keycare.engine.view import (
    VIEW_NAME,
    build_view,
    field_types,
    quote_ident,
    sql_date,
    sql_string,
)
from keycare.errors import UserError

HITS = "_moment_hits"
MOMENT_VIEW = "_moment_view"
DETECTIONS = "detections"
SUPPRESSIONS = "suppressions"
DETECTION_COLUMNS = (
    "subscriber_id, moment_code, category, priority, channel, params, explanation, city_id, "
    "business_date"
)
SUPPRESSION_COLUMNS = (
    "subscriber_id, moment_code, reason, params, suppressed_codes, city_id, business_date"
)
#: Deterministic order for writing the outputs.
DETECTIONS_ORDER = "subscriber_id, moment_code"
SUPPRESSIONS_ORDER = "subscriber_id, moment_code"


@dataclass(frozen=True)
class CompiledMoment:
    moment: MomentDef
    flag_sql: str  # TRUE / FALSE (never NULL)
    params_sql: str  # JSON text
    explanation_sql: str
    compiled: Compiled
    scope_sql: str | None = None  # set when the scope reads only raw subscriber columns


@dataclass
class DetectionPlan:
    business_date: dt.date
    definitions_version: str
    moments: list[CompiledMoment]  # work moments, by code
    guards: list[CompiledMoment]  # no-service moments, by code

    @property
    def all(self) -> list[CompiledMoment]:
        return [*self.guards, *self.moments]

    @property
    def extra_aggs(self) -> list:
        aggs: dict = {}
        for cm in self.all:
            aggs.update(cm.compiled.aggs)
        return [aggs[name] for name in sorted(aggs)]

    @property
    def fields(self) -> set[str]:
        """Catalog fields the moments read (conditions, scopes, shown fields)."""
        codes: set[str] = set()
        for cm in self.all:
            m = cm.moment
            codes.update(referenced_fields(m.condition), m.show)
            if m.scope is not None:
                codes.update(referenced_fields(m.scope))
        return codes

    @property
    def subscriber_filter(self) -> str | None:
        """Subscribers some moment may hold for (the union of the scopes), or None for all."""
        scopes = [cm.scope_sql for cm in self.all]
        if not scopes or any(s is None for s in scopes):
            return None
        return " OR ".join(dict.fromkeys(scopes))

    @property
    def warnings(self) -> list[str]:
        seen: list[str] = []
        for cm in self.all:
            seen += [f"{cm.moment.code}: {w}" for w in cm.compiled.warnings]
        return seen


@dataclass
class DetectResult:
    business_date: dt.date
    definitions_version: str
    moments: list[str]  # codes evaluated (guards included)
    counts: dict[str, int]  # work moments: detections; no-service moments: suppressions
    suppressed: int  # subscribers suppressed by N01/N02
    suppressed_detections: int  # detections withheld because of them
    timings: dict[str, float] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    @property
    def detections(self) -> int:
        return sum(v for k, v in self.counts.items() if not k.startswith("N"))


# --------------------------------------------------------------------------- planning


def select_moments(
    defs: DefinitionSet,
    business_date: dt.date,
    moments: list[str] | None = None,
    weekly_weekday: int = 0,
    monthly_day: int = 3,
) -> list[MomentDef]:
    """The moments to evaluate: the given codes (as asked, whatever their cycle), or those due
    on the date; enabled no-service guards always."""
    by_code = defs.by_code
    if moments:
        unknown = [c for c in moments if c not in by_code]
        if unknown:
            raise UserError(
                f"unknown moment code {unknown[0]} (known: {', '.join(sorted(by_code))})"
            )
        chosen = [by_code[c] for c in sorted(set(moments))]
    else:
        chosen = due_moments(defs, business_date, weekly_weekday, monthly_day)
    guards = [m for m in defs.moments if m.is_no_service and m.enabled]
    picked = {m.code: m for m in [*chosen, *guards]}
    return [picked[c] for c in sorted(picked)]


def compile_moment(
    moment: MomentDef, business_date: dt.date, defs: DefinitionSet
) -> CompiledMoment:
    types = field_types(defs.fields)
    personal = frozenset(f.code for f in defs.fields if f.personal)
    compiler = Compiler(
        business_date, moment.threshold_specs, moment.city_thresholds, types, personal
    )
    compiled = compiler.compile(moment.condition)
    condition_sql = compiled.sql
    scope_sql = None
    if moment.scope is not None:
        scope = compiler.compile(moment.scope)
        compiled.aggs.update(scope.aggs)
        condition_sql = f"({scope.sql} AND {compiled.sql})"
        if not scope.aggs and set(referenced_fields(moment.scope)) <= _subscriber_columns(defs):
            scope_sql = scope.sql
    names = list(moment.threshold_specs)
    params = dict(compiled.params)
    for code in moment.show:
        params.setdefault(code, Param(quote_ident(code), types.get(code, "string")))
    params.update(compiler.thresholds_param_sql(names))
    if moment.city_thresholds:
        params["city_override"] = Param(compiler.override_city_sql(names), "string")
    text_params = {
        **params,
        "business_date": Param(sql_date(business_date), "date"),
        "city_id": Param(quote_ident("city_id"), "string"),
    }
    return CompiledMoment(
        moment=moment,
        flag_sql=f"COALESCE({condition_sql}, FALSE)",
        params_sql=explain.params_json_sql(params),
        explanation_sql=explain.template_sql(moment.explanation, text_params),
        compiled=compiled,
        scope_sql=scope_sql,
    )


def _subscriber_columns(defs: DefinitionSet) -> set[str]:
    """Raw fields read straight from a same-named ``subscribers`` column."""
    return {
        f.code
        for f in defs.fields
        if f.kind == "raw" and f.source == "subscribers" and (f.column or f.code) == f.code
    }


def plan_detection(
    defs: DefinitionSet,
    business_date: dt.date,
    moments: list[str] | None = None,
    *,
    weekly_weekday: int = 0,
    monthly_day: int = 3,
) -> DetectionPlan:
    chosen = select_moments(defs, business_date, moments, weekly_weekday, monthly_day)
    compiled = [compile_moment(m, business_date, defs) for m in chosen]
    return DetectionPlan(
        business_date,
        defs.version,
        moments=[c for c in compiled if not c.moment.is_no_service],
        guards=[c for c in compiled if c.moment.is_no_service],
    )


def moment_aggs(defs: DefinitionSet, business_date: dt.date, moments=None, **schedule) -> list:
    """Extra aggregates the moments need: pass them to ``build_view``."""
    return plan_detection(defs, business_date, moments, **schedule).extra_aggs


# --------------------------------------------------------------------------- SQL


def _flag(code: str) -> str:
    return quote_ident(f"__f_{code}")


def _params_col(code: str) -> str:
    return quote_ident(f"__p_{code}")


def _text_col(code: str) -> str:
    return quote_ident(f"__e_{code}")


def hits_sql(plan: DetectionPlan, view: str = VIEW_NAME) -> str:
    """Subscribers with at least one moment, their flags, parameters and explanations."""
    everything = plan.all
    flags = ",\n    ".join(f"{cm.flag_sql} AS {_flag(cm.moment.code)}" for cm in everything)
    outputs = []
    for cm in everything:
        flag = _flag(cm.moment.code)
        outputs.append(
            f"CASE WHEN {flag} THEN {cm.params_sql} END AS {_params_col(cm.moment.code)}"
        )
        outputs.append(
            f"CASE WHEN {flag} THEN {cm.explanation_sql} END AS {_text_col(cm.moment.code)}"
        )
    any_flag = " OR ".join(_flag(cm.moment.code) for cm in everything)
    flag_cols = ", ".join(_flag(cm.moment.code) for cm in everything)
    return (
        f"WITH flagged AS (\n  SELECT *,\n    {flags}\n  FROM {quote_ident(view)}\n)\n"
        f"SELECT subscriber_id, city_id, {flag_cols},\n  "
        + ",\n  ".join(outputs)
        + f"\nFROM flagged\nWHERE {any_flag}"
    )


def detections_sql(plan: DetectionPlan) -> str:
    day = sql_date(plan.business_date)
    guard = " OR ".join(_flag(g.moment.code) for g in plan.guards)
    parts = []
    for cm in plan.moments:
        m = cm.moment
        where = _flag(m.code) + (f" AND NOT ({guard})" if guard else "")
        parts.append(
            f"SELECT subscriber_id, {sql_string(m.code)} AS moment_code, "
            f"{sql_string(m.category)} AS category, {m.priority} AS priority, "
            f"{sql_string(m.channel)} AS channel, {_params_col(m.code)} AS params, "
            f"{_text_col(m.code)} AS explanation, city_id, {day} AS business_date "
            f"FROM {HITS} WHERE {where}"
        )
    if not parts:
        return (
            "SELECT CAST(NULL AS VARCHAR) AS subscriber_id, CAST(NULL AS VARCHAR) AS moment_code, "
            "CAST(NULL AS VARCHAR) AS category, CAST(NULL AS INTEGER) AS priority, "
            "CAST(NULL AS VARCHAR) AS channel, CAST(NULL AS VARCHAR) AS params, "
            "CAST(NULL AS VARCHAR) AS explanation, CAST(NULL AS VARCHAR) AS city_id, "
            f"{day} AS business_date WHERE 1 = 0"
        )
    return "\nUNION ALL\n".join(parts) + f"\nORDER BY {DETECTIONS_ORDER}"


def suppressions_sql(plan: DetectionPlan) -> str:
    day = sql_date(plan.business_date)
    if plan.moments:
        codes = ", ".join(
            f"CASE WHEN {_flag(cm.moment.code)} THEN {sql_string(cm.moment.code)} END"
            for cm in plan.moments
        )
        suppressed = f"CONCAT_WS(',', {codes})"
    else:
        suppressed = "''"
    parts = [
        f"SELECT subscriber_id, {sql_string(g.moment.code)} AS moment_code, "
        f"{_text_col(g.moment.code)} AS reason, {_params_col(g.moment.code)} AS params, "
        f"{suppressed} AS suppressed_codes, city_id, {day} AS business_date "
        f"FROM {HITS} WHERE {_flag(g.moment.code)}"
        for g in plan.guards
    ]
    if not parts:
        return (
            "SELECT CAST(NULL AS VARCHAR) AS subscriber_id, CAST(NULL AS VARCHAR) AS moment_code, "
            "CAST(NULL AS VARCHAR) AS reason, CAST(NULL AS VARCHAR) AS params, "
            "CAST(NULL AS VARCHAR) AS suppressed_codes, CAST(NULL AS VARCHAR) AS city_id, "
            f"{day} AS business_date WHERE 1 = 0"
        )
    return "\nUNION ALL\n".join(parts) + f"\nORDER BY {SUPPRESSIONS_ORDER}"


# --------------------------------------------------------------------------- running


def _view_columns(backend, view: str) -> set[str] | None:
    try:
        return set(backend.to_arrow(f"SELECT * FROM {quote_ident(view)} LIMIT 0").column_names)
    except Exception:  # the view does not exist yet (engines raise different errors)
        return None


def ensure_view(backend, plan: DetectionPlan, view: str = VIEW_NAME, catalog=None) -> None:
    """(Re)register ``view`` if it lacks a field or aggregate the plan needs."""
    needed = {a.name for a in plan.extra_aggs} | plan.fields
    columns = _view_columns(backend, view)
    if columns is None or not needed <= columns:
        build_view(backend, plan.business_date, plan.extra_aggs, catalog=catalog, name=view)


def detect(
    backend,
    business_date: dt.date,
    defs: DefinitionSet,
    moments: list[str] | None = None,
    city_thresholds: dict | None = None,
    *,
    weekly_weekday: int = 0,
    monthly_day: int = 3,
    view: str | None = None,
) -> DetectResult:
    """Evaluate the due (or given) moments; register ``detections`` and ``suppressions``.

    By default detection reads its own narrow view (``_moment_view``: the unified view's SQL
    restricted to the fields and aggregates the moments read, so unused tables are not even
    joined). Pass ``view="unified_view"`` to read a registered unified view instead; it is
    rebuilt if it lacks something the moments need.
    """
    timings: dict[str, float] = {}
    started = time.perf_counter()
    if city_thresholds:
        defs = defs.with_city_overrides(city_thresholds)
    plan = plan_detection(
        defs, business_date, moments, weekly_weekday=weekly_weekday, monthly_day=monthly_day
    )
    if view is None:
        view = MOMENT_VIEW
        build_view(
            backend,
            business_date,
            plan.extra_aggs,
            name=view,
            only=plan.fields,
            subscriber_filter=plan.subscriber_filter,
        )
    else:
        ensure_view(backend, plan, view)
    timings["compile"] = time.perf_counter() - started

    if not plan.all:
        backend.materialize(DETECTIONS, detections_sql(plan))
        backend.materialize(SUPPRESSIONS, suppressions_sql(plan))
        return DetectResult(business_date, defs.version, [], {}, 0, 0, timings, plan.warnings)

    step = time.perf_counter()
    backend.materialize(HITS, hits_sql(plan, view))
    timings["evaluate"] = time.perf_counter() - step

    step = time.perf_counter()
    backend.materialize(DETECTIONS, detections_sql(plan))
    backend.materialize(SUPPRESSIONS, suppressions_sql(plan))
    timings["unpivot"] = time.perf_counter() - step

    counts = {cm.moment.code: 0 for cm in plan.all}
    for table in (DETECTIONS, SUPPRESSIONS):
        rows = backend.to_arrow(
            f"SELECT moment_code, COUNT(*) AS n FROM {table} GROUP BY moment_code"
        ).to_pylist()
        counts.update({r["moment_code"]: r["n"] for r in rows})
    suppressed, withheld = 0, 0
    if plan.guards:
        guard = " OR ".join(_flag(g.moment.code) for g in plan.guards)
        flags = (
            " + ".join(f"CAST({_flag(cm.moment.code)} AS INTEGER)" for cm in plan.moments) or "0"
        )
        row = backend.to_arrow(
            f"SELECT COUNT(*) AS s, COALESCE(SUM({flags}), 0) AS w FROM {HITS} WHERE {guard}"
        ).to_pylist()[0]
        suppressed, withheld = int(row["s"]), int(row["w"])
    timings["total"] = time.perf_counter() - started
    return DetectResult(
        business_date,
        defs.version,
        [cm.moment.code for cm in plan.all],
        dict(sorted(counts.items())),
        suppressed,
        withheld,
        timings,
        plan.warnings,
    )
