"""The unified customer view (客户统一视图) for one business date, as one SQL statement.

Plan, all in the DuckDB dialect with portable functions only (SQLGlot renders it for Spark):

1. one grouped scan per source table (bills, usage_weekly, events, call_circle, ...) computing
   every aggregate of that table with conditional aggregation,
   ``SUM(CASE WHEN <where> AND <window> THEN col END)``; windows are turned into literals at
   build time (month labels, Monday dates, timestamp bounds), so no date arithmetic runs per row;
2. ``subscribers`` LEFT JOIN those aggregates (defaults for subscribers without rows);
3. row-level ``expr`` fields in dependency order, one SELECT layer per dependency depth.

Extra aggregates requested by moment conditions (event counts, first-time checks) are added to
the same scans, so detection never scans a table twice.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import sqlglot
from sqlglot import exp

from keycare.engine import calendar as cal
from keycare.errors import UserError
from keycare.yamlio import safe_load

VIEW_NAME = "unified_view"
BASE_TABLE = "subscribers"

# The column that places a row of a source table in time, and its contract type.
TIME_COLUMNS = {
    "bills": ("bill_month", "month"),
    "call_circle": ("month", "month"),
    "usage_weekly": ("week_start", "date"),
    "events": ("event_time", "timestamp"),
    "key_account_members": ("joined_date", "date"),
    "assignments": ("assigned_date", "date"),
}
# Sources whose contract key is (subscriber_id, time column): a subscriber has at most one row
# per period of this window unit (tests/engine/test_view.py checks it against the contract).
ONE_ROW_PER = {"bills": "month", "call_circle": "month", "usage_weekly": "week"}
# How a non-subscriber source of raw fields joins to subscribers: source -> join column.
RAW_JOIN_KEYS = {"assignments": "subscriber_id", "org": "grid_id", "key_accounts": "key_account_id"}

AGGREGATES = {"sum", "count", "avg", "max", "min", "count_distinct", "latest"}
WINDOW_UNITS = {"month", "week", "day"}


@dataclass(frozen=True)
class Window:
    """Offsets back from the business date D, inclusive (0 = D's month / week / day)."""

    unit: str
    start: int  # the catalog's `from`: the most recent period
    end: int  # the catalog's `to`: the oldest period

    def date_range(self, business_date: dt.date) -> tuple[dt.date, dt.date]:
        """First and last calendar day covered."""
        if self.unit == "day":
            return (
                business_date - dt.timedelta(days=self.end),
                business_date - dt.timedelta(days=self.start),
            )
        if self.unit == "week":
            return (
                cal.week_monday(business_date, self.end),
                cal.week_monday(business_date, self.start) + dt.timedelta(days=6),
            )
        return cal.month_first_day(business_date, self.end), cal.month_last_day(
            business_date, self.start
        )


@dataclass(frozen=True)
class AggSpec:
    """One aggregate of a source table per subscriber (a catalog field or a moment's need)."""

    name: str
    source: str
    agg: str
    column: str | None = None
    where: str | None = None
    window: Window | None = None
    default: object = None
    key: str = "subscriber_id"

    def resolved_default(self):
        if self.default is not None:
            return self.default
        return 0 if self.agg in ("sum", "count", "count_distinct") else None


@dataclass(frozen=True)
class FieldInfo:
    """What the engine needs to know of a catalog field (independent of the loader's class)."""

    code: str
    type: str
    kind: str
    source: str
    column: str | None = None
    derivation: dict = field(default_factory=dict, hash=False, compare=False)
    personal: bool = False
    zh: str = ""
    unit: str | None = None


# --------------------------------------------------------------------------- catalog access

_CATALOG_YAML = Path(__file__).resolve().parent.parent / "catalog" / "fields.yaml"


def _get(obj, name, default=None):
    if isinstance(obj, dict):
        return obj.get(name, default)
    return getattr(obj, name, default)


def _as_plain(value):
    """Derivation specs may be dataclasses or dicts; the view wants dicts."""
    if value is None or isinstance(value, dict):
        return dict(value or {})
    if hasattr(value, "__dict__"):
        return {k: v for k, v in vars(value).items() if v is not None}
    return {}


def catalog_fields(catalog=None) -> list[FieldInfo]:
    """The catalog as FieldInfo records: from ``keycare.catalog.fields.load_catalog()`` when
    available, else straight from fields.yaml (same format)."""
    if catalog is None:
        return list(_default_fields())
    return _field_infos(catalog)


@cache
def _default_fields() -> tuple[FieldInfo, ...]:
    return tuple(_field_infos(_load_default_catalog()))


def _field_infos(catalog) -> list[FieldInfo]:
    items = _get(catalog, "fields", catalog)
    if isinstance(items, dict):
        items = list(items.values())
    infos = []
    for item in items:
        derivation = _as_plain(_get(item, "derivation"))
        if "window" in derivation:
            derivation["window"] = _as_plain(derivation["window"])
        infos.append(
            FieldInfo(
                code=_get(item, "code"),
                type=_get(item, "type"),
                kind=_get(item, "kind", "raw"),
                source=_get(item, "source", BASE_TABLE),
                column=_get(item, "column"),
                derivation=derivation,
                personal=bool(_get(item, "personal", False)),
                zh=_get(item, "zh", "") or "",
                unit=_get(item, "unit"),
            )
        )
    return infos


def _load_default_catalog():
    try:
        from keycare.catalog.fields import load_catalog
    except ImportError:
        with _CATALOG_YAML.open(encoding="utf-8") as fh:
            return safe_load(fh)["fields"]
    return load_catalog()


def field_types(fields: list[FieldInfo]) -> dict[str, str]:
    types = {f.code: f.type for f in fields}
    types["business_date"] = "date"
    return types


# --------------------------------------------------------------------------- SQL helpers


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def sql_string(value: str) -> str:
    return "'" + str(value).replace("'", "''") + "'"


def sql_date(day: dt.date) -> str:
    return f"CAST('{day.isoformat()}' AS DATE)"


def sql_timestamp(day: dt.date) -> str:
    return f"CAST('{day.isoformat()} 00:00:00' AS TIMESTAMP)"


def window_predicate(source: str, window: Window, business_date: dt.date) -> str:
    """A predicate over the source's time column selecting the window, with literal bounds."""
    try:
        column, column_type = TIME_COLUMNS[source]
    except KeyError:
        raise UserError(
            f"source {source!r} has no time column, so it cannot take a window"
        ) from None
    col = quote_ident(column)
    if column_type == "month":
        if window.unit != "month":
            raise UserError(
                f"{source}.{column} holds months; a {window.unit} window does not apply"
            )
        newest = cal.month_label(business_date, window.start)
        oldest = cal.month_label(business_date, window.end)
        return f"{col} BETWEEN {sql_string(oldest)} AND {sql_string(newest)}"
    first, last = window.date_range(business_date)
    if column_type == "timestamp":
        return (
            f"{col} >= {sql_timestamp(first)} AND "
            f"{col} < {sql_timestamp(last + dt.timedelta(days=1))}"
        )
    return f"{col} BETWEEN {sql_date(first)} AND {sql_date(last)}"


def _agg_expression(spec: AggSpec, business_date: dt.date, one_row: bool = False) -> str:
    """The aggregate as SQL; ``one_row``: over at most one row per subscriber (``_one_row``),
    so the row's own value, without GROUP BY."""
    conditions = []
    if spec.where:
        conditions.append(f"({spec.where})")
    if spec.window is not None:
        conditions.append(f"({window_predicate(spec.source, spec.window, business_date)})")
    cond = " AND ".join(conditions)
    column = quote_ident(spec.column) if spec.column else None

    def gated(value: str) -> str:
        return f"CASE WHEN {cond} THEN {value} END" if cond else value

    if one_row:
        if spec.agg == "count":
            return f"CASE WHEN {cond} THEN 1 ELSE 0 END" if cond else "1"
        if spec.agg == "count_distinct":
            return f"CASE WHEN {gated(column)} IS NOT NULL THEN 1 ELSE 0 END"
        return gated(column)  # sum, avg, min, max, latest of one value: the value
    if spec.agg == "count":
        return f"COUNT({gated('1')})"
    if spec.agg == "count_distinct":
        return f"COUNT(DISTINCT {gated(column)})"
    if spec.agg == "latest":
        time_col = quote_ident(TIME_COLUMNS[spec.source][0])
        return f"ARG_MAX({gated(column)}, {gated(time_col)})"
    return f"{spec.agg.upper()}({gated(column)})"


def _literal(value) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return f"CAST('{value!r}' AS DOUBLE)"
    if isinstance(value, dt.date):
        return sql_date(value)
    return sql_string(value)


# --------------------------------------------------------------------------- aggregates


def agg_spec_from_field(f: FieldInfo) -> AggSpec:
    d = f.derivation
    agg = d.get("agg")
    if agg not in AGGREGATES:
        raise UserError(f"catalog field {f.code}: unknown aggregate {agg!r}")
    if agg != "count" and not d.get("column"):
        raise UserError(f"catalog field {f.code}: aggregate {agg} needs a column")
    window = None
    if d.get("window"):
        w = d["window"]
        unit = w.get("unit")
        if unit not in WINDOW_UNITS:
            raise UserError(f"catalog field {f.code}: unknown window unit {unit!r}")
        window = Window(unit, int(w.get("from", 0)), int(w.get("to", w.get("from", 0))))
    return AggSpec(
        name=f.code,
        source=f.source,
        agg=agg,
        column=d.get("column"),
        where=d.get("where"),
        window=window,
        default=d.get("default"),
    )


def agg_name(prefix: str, *parts) -> str:
    """A stable, readable column name for an extra aggregate."""
    text = "_".join(str(p) for p in parts if p not in (None, ""))
    clean = re.sub(r"[^a-z0-9_]+", "_", text.lower()).strip("_")
    if len(clean) > 48:
        clean = (
            clean[:36] + "_" + hashlib.sha1(text.encode(), usedforsecurity=False).hexdigest()[:8]
        )
    return f"_{prefix}_{clean}"


def _one_row(source: str, specs: list[AggSpec]) -> bool:
    """Every aggregate reads the same single period of a source with one row per subscriber
    and period (``ONE_ROW_PER``): e.g. last month's call circle. Grouping 8M such rows by
    subscriber cost ~4 CPU seconds at 10M subscribers, for groups of one."""
    unit = ONE_ROW_PER.get(source)
    windows = {s.window for s in specs}
    if unit is None or len(windows) != 1 or any(s.key != "subscriber_id" for s in specs):
        return False
    (window,) = windows
    return window is not None and window.unit == unit and window.start == window.end


def _grouped_scan(
    source: str, specs: list[AggSpec], business_date: dt.date, scoped: bool = False
) -> str:
    key = quote_ident(specs[0].key)
    one_row = _one_row(source, specs)
    columns = ",\n    ".join(
        f"{_agg_expression(s, business_date, one_row)} AS {quote_ident(s.name)}" for s in specs
    )
    # Rows outside every window cannot contribute: filter them before grouping.
    filters = []
    if all(s.window is not None for s in specs):
        windows = sorted({s.window for s in specs}, key=lambda w: (w.unit, w.start, w.end))
        filters.append(
            "("
            + " OR ".join(f"({window_predicate(source, w, business_date)})" for w in windows)
            + ")"
        )
    if scoped:
        filters.append(f"{key} IN (SELECT {key} FROM scoped)")
    prefilter = f"\n  WHERE {' AND '.join(filters)}" if filters else ""
    if one_row:
        return f"SELECT {key},\n    {columns}\n  FROM {quote_ident(source)}{prefilter}"
    return (
        f"SELECT {key},\n    {columns}\n  FROM {quote_ident(source)}{prefilter}\n  GROUP BY {key}"
    )


# --------------------------------------------------------------------------- expressions


def required_fields(fields: list[FieldInfo], codes) -> list[FieldInfo]:
    """The fields named by ``codes`` plus what their expressions need, in catalog order."""
    by_code = {f.code: f for f in fields}
    needed: set[str] = set()
    todo = [c for c in codes if c in by_code]
    while todo:
        code = todo.pop()
        if code in needed:
            continue
        needed.add(code)
        f = by_code[code]
        if f.kind == "derived" and "expr" in f.derivation:
            todo.extend(c for c in _referenced_columns(f.derivation["expr"]) if c in by_code)
    return [f for f in fields if f.code in needed]


@cache
def _referenced_columns(sql: str) -> frozenset[str]:
    try:
        tree = sqlglot.parse_one(sql, read="duckdb")
    except sqlglot.errors.ParseError as exc:
        raise UserError(f"cannot parse expression {sql!r}: {exc}") from None
    return frozenset(c.name for c in tree.find_all(exp.Column))


def expr_layers(expr_fields: list[FieldInfo]) -> list[list[FieldInfo]]:
    """Group row-level expression fields by dependency depth (depth 0 uses no other expr)."""
    by_code = {f.code: f for f in expr_fields}
    deps = {f.code: _referenced_columns(f.derivation["expr"]) & by_code.keys() for f in expr_fields}
    depth: dict[str, int] = {}

    def visit(code: str, trail: tuple[str, ...]) -> int:
        if code in trail:
            cycle = " -> ".join((*trail[trail.index(code) :], code))
            raise UserError(f"catalog field {code}: circular expression ({cycle})")
        if code not in depth:
            depth[code] = 1 + max((visit(d, (*trail, code)) for d in deps[code]), default=-1)
        return depth[code]

    for code in by_code:
        visit(code, ())
    layers: list[list[FieldInfo]] = [[] for _ in range(max(depth.values(), default=-1) + 1)]
    for f in expr_fields:
        layers[depth[f.code]].append(f)
    return layers


# --------------------------------------------------------------------------- the view


def view_sql(
    business_date: dt.date,
    extra_aggs=(),
    catalog=None,
    fields: list[FieldInfo] | None = None,
    subscriber_filter: str | None = None,
) -> str:
    """The SELECT statement of the unified view for ``business_date``.

    ``subscriber_filter``: a predicate over ``subscribers`` columns; only those subscribers
    get a row, and the source tables are semi-joined to them BEFORE aggregation (detection
    reads ~10 % of subscribers: the mid/high-end scope).
    """
    fields = fields if fields is not None else catalog_fields(catalog)
    raw = [f for f in fields if f.kind == "raw"]
    aggs = [agg_spec_from_field(f) for f in fields if f.kind == "derived" and "agg" in f.derivation]
    exprs = [f for f in fields if f.kind == "derived" and "expr" in f.derivation]
    unknown = [
        f.code
        for f in fields
        if f.kind == "derived" and f not in exprs and "agg" not in f.derivation
    ]
    if unknown:
        raise UserError(f"catalog field {unknown[0]}: derived field needs `agg` or `expr`")
    aggs += _dedupe_extra(extra_aggs, {a.name for a in aggs} | {f.code for f in fields})

    types = {f.code: f.type for f in fields}
    by_source: dict[str, list[AggSpec]] = {}
    for spec in aggs:
        by_source.setdefault(spec.source, []).append(spec)

    ctes = []
    joins = []
    select = []
    base_from = quote_ident(BASE_TABLE)
    if subscriber_filter:
        ctes.append(f"scoped AS (SELECT * FROM {base_from} WHERE {subscriber_filter})")
        base_from = "scoped"
    for f in raw:
        column = f.column or f.code
        if f.source == BASE_TABLE:
            select.append(f"s.{quote_ident(column)} AS {quote_ident(f.code)}")
        else:
            alias = f"r_{f.source}"
            select.append(f"{alias}.{quote_ident(column)} AS {quote_ident(f.code)}")
    for source in sorted({f.source for f in raw} - {BASE_TABLE}):
        key = RAW_JOIN_KEYS.get(source)
        if key is None:
            raise UserError(f"raw catalog fields from {source!r} cannot be joined to subscribers")
        cols = sorted({f.column or f.code for f in raw if f.source == source} | {key})
        alias = f"r_{source}"
        ctes.append(
            f"{alias} AS (SELECT {', '.join(quote_ident(c) for c in cols)} FROM {quote_ident(source)})"
        )
        joins.append(f"LEFT JOIN {alias} ON {alias}.{quote_ident(key)} = s.{quote_ident(key)}")
    select.append(f"{sql_date(business_date)} AS business_date")

    for source in sorted(by_source):
        specs = by_source[source]
        alias = f"a_{source}"
        scan = _grouped_scan(source, specs, business_date, scoped=bool(subscriber_filter))
        ctes.append(f"{alias} AS (\n  {scan}\n)")
        key = quote_ident(specs[0].key)
        joins.append(f"LEFT JOIN {alias} ON {alias}.{key} = s.{key}")
        for spec in specs:
            col = f"{alias}.{quote_ident(spec.name)}"
            default = spec.resolved_default()
            value = col if default is None else f"COALESCE({col}, {_literal(default)})"
            sql_type = _sql_type(types.get(spec.name) or _agg_type(spec))
            select.append(f"CAST({value} AS {sql_type}) AS {quote_ident(spec.name)}")

    body = ",\n  ".join(select)
    base = f"SELECT\n  {body}\nFROM {base_from} s\n" + "\n".join(joins)
    ctes.append(f"base AS (\n{base}\n)")
    previous = "base"
    for depth, layer in enumerate(expr_layers(exprs)):
        cols = ",\n    ".join(
            f"CAST({f.derivation['expr']} AS {_sql_type(f.type)}) AS {quote_ident(f.code)}"
            for f in layer
        )
        name = f"layer{depth + 1}"
        ctes.append(f"{name} AS (\n  SELECT *,\n    {cols}\n  FROM {previous}\n)")
        previous = name
    return "WITH " + ",\n".join(ctes) + f"\nSELECT * FROM {previous}"


def _sql_type(catalog_type: str) -> str:
    return {
        "string": "VARCHAR",
        "int": "BIGINT",
        "float": "DOUBLE",
        "bool": "BOOLEAN",
        "date": "DATE",
    }.get(catalog_type, "VARCHAR")


def _agg_type(spec: AggSpec) -> str:
    return "int" if spec.agg in ("count", "count_distinct") else "float"


def _dedupe_extra(extra_aggs, taken: set[str]) -> list[AggSpec]:
    seen: dict[str, AggSpec] = {}
    for spec in extra_aggs:
        if spec.name in taken:
            raise UserError(f"extra aggregate {spec.name} clashes with a catalog field")
        if spec.name in seen and seen[spec.name] != spec:
            raise UserError(f"two different extra aggregates are both named {spec.name}")
        seen[spec.name] = spec
    return list(seen.values())


def build_view(
    backend,
    business_date: dt.date,
    extra_aggs=(),
    *,
    catalog=None,
    name: str = VIEW_NAME,
    materialize: bool = False,
    only=None,
    subscriber_filter: str | None = None,
) -> str:
    """Register relation ``unified_view`` (lazily unless ``materialize``); return its SQL.

    ``only``: field codes to keep (plus subscriber_id, city_id and what their expressions
    need): a narrower view for a step that reads few fields, e.g. detection.
    """
    fields = catalog_fields(catalog)
    if only is not None:
        fields = required_fields(fields, {"subscriber_id", "city_id", *only})
    sql = view_sql(business_date, extra_aggs, fields=fields, subscriber_filter=subscriber_filter)
    if materialize:
        backend.materialize(name, sql)
    else:
        backend.create_view(name, sql)
    return sql
