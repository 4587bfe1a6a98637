"""The indicator layer (指标体系): indicators as data, computed by the run on any backend.

``indicators.yaml`` defines dimensions, indicators and analyses (its header is the format).
``compute_indicators`` turns one business date's delivery plus the run's outputs into one
long table, published as ``indicators.parquet``::

    indicator, grain, period, dimension, member, city_id, num, den

- grain ``day`` (period ``YYYY-MM-DD``): the snapshot indicators (source ``view``) on D;
  a month's figure for them is its last published day (the application reads it so);
- grain ``month`` (period ``YYYY-MM``): the bill indicators (source ``bills``) for the bill
  months the run publishes (``months_to_publish``): a closed bill month is attributed as of
  the run that first published it, so a run publishes only the months that are new since the
  previous published run; the first run (or one with other definitions) publishes every
  month in the delivery, so trends, month on month and year on year start complete.

Every row carries ``city_id``: num and den are additive, so a city user's figures are their
city's rows and the province's are the sum over cities; value = sum(num) / sum(den) * scale.
No Django here; the SQL is canonical (DuckDB) and the backend renders it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pyarrow as pa
import sqlglot
from sqlglot import exp

from keycare.errors import UserError
from keycare.yamlio import safe_load

DEFINITIONS_PATH = Path(__file__).with_name("indicators.yaml")
GROUPS = ("customer", "volume", "revenue", "manager", "service", "marketing")
SOURCES = ("view", "bills", "surveys")
GRAIN_BY_SOURCE = {"view": "day", "bills": "month", "surveys": "month"}
# One row per answered satisfaction survey (built by the application from its survey
# responses, not by the run): the month answered, the customer's dimensions, the index,
# whether it fell below the model's threshold, and the five dimension scores (0-100).
SURVEY_DIMENSIONS = ("product", "manager", "channel", "communication", "relationship")
SURVEY_COLUMNS = (
    "month",
    "city_id",
    "county_id",
    "grid_id",
    "value_tier",
    "brand",
    "manager_id",
    "industry",
    "satisfaction_index",
    "low_score",
    *(f"dim_{d}" for d in SURVEY_DIMENSIONS),
)
# Columns the run adds to the unified view for the indicators (from its published outputs).
RUN_COLUMNS = ("n_detections", "has_task", "risk_probability", "industry")
# Dimension columns the base always carries (besides subscriber_id).
DIMENSION_FIELDS = ("city_id", "county_id", "grid_id", "value_tier", "brand", "manager_id")
BILL_COLUMNS = (
    "bill_month total_fee plan_fee voice_fee data_fee sms_fee vas_fee roaming_fee "
    "intl_roaming_fee overage_fee supplementary_fee voice_minutes data_mb sms_count paid"
).split()
# One row per subscriber, plus one per (alerted subscriber, moment) with ``moment_code`` set.
ROWS = "_indicator_rows"
BASE = "_indicator_base"  # ROWS without the moment rows: one per subscriber
MOMENT_BASE = "_indicator_moment_base"  # the moment rows: an alert counts once per moment
PARTS = "_indicator_parts"  # ROWS summed per key combination: what the passes read
VIEW = "_indicator_view"
DIMS_VIEW = "_indicator_dims_view"
BILLS = "_indicator_bills"
# Decimal places kept of each sum: far below any unit shown (yuan, minutes, MB, counts).
SUM_DIGITS = 6
SCHEMA = pa.schema(
    [
        ("indicator", pa.string()),
        ("grain", pa.string()),
        ("period", pa.string()),
        ("dimension", pa.string()),
        ("member", pa.string()),
        ("city_id", pa.string()),
        ("num", pa.float64()),
        ("den", pa.float64()),
    ]
)


@dataclass(frozen=True)
class Dimension:
    code: str
    zh: str
    en: str
    column: str
    bills: bool = True

    @property
    def constant(self) -> bool:
        return self.column.startswith("'")


@dataclass(frozen=True)
class Indicator:
    code: str
    zh: str
    en: str
    group: str
    unit: str
    num: str
    den: str | None = None
    scale: float = 1.0
    source: str = "view"
    better: str = "up"
    columns: tuple[str, ...] = ()

    @property
    def grain(self) -> str:
        return GRAIN_BY_SOURCE[self.source]

    def value(self, num, den):
        """The indicator's value from summed num and den (None when undefined)."""
        if num is None:
            return None
        if self.den is None:
            return num * self.scale
        return num / den * self.scale if den else None


@dataclass(frozen=True)
class Analysis:
    code: str
    zh: str
    en: str
    section: str
    indicators: tuple[str, ...]
    dimensions: tuple[str, ...]


@dataclass(frozen=True)
class IndicatorSet:
    dimensions: dict[str, Dimension]
    indicators: dict[str, Indicator]
    analyses: dict[str, Analysis]
    version: str

    def of_source(self, source: str) -> list[Indicator]:
        return [i for i in self.indicators.values() if i.source == source]


# --------------------------------------------------------------------------- loading


@cache
def load_indicators(path: Path = DEFINITIONS_PATH) -> IndicatorSet:
    """The indicator definitions, checked; UserError names the entry and the problem."""
    text = Path(path).read_text(encoding="utf-8")
    data = safe_load(text) or {}
    dims = {
        code: Dimension(code, d["zh"], d["en"], d["column"], bool(d.get("bills", True)))
        for code, d in (data.get("dimensions") or {}).items()
    }
    allowed = {
        "view": _view_columns(),
        "bills": set(BILL_COLUMNS),
        "surveys": set(SURVEY_COLUMNS),
    }
    indicators: dict[str, Indicator] = {}
    for raw in data.get("indicators") or []:
        ind = _indicator(raw, allowed)
        if ind.code in indicators:
            raise UserError(f"indicator {ind.code}: defined twice")
        indicators[ind.code] = ind
    analyses = {}
    for raw in data.get("analyses") or []:
        analysis = _analysis(raw, indicators, dims)
        analyses[analysis.code] = analysis
    version = hashlib.sha256(text.encode()).hexdigest()[:12]
    return IndicatorSet(dims, indicators, analyses, version)


def _indicator(raw: dict, allowed: dict[str, set]) -> Indicator:
    code = raw.get("code") or "?"
    source = raw.get("source", "view")
    if source not in SOURCES:
        raise UserError(f"indicator {code}: source must be one of {SOURCES}, not {source!r}")
    if raw.get("group") not in GROUPS:
        raise UserError(f"indicator {code}: group must be one of {GROUPS}")
    if raw.get("better", "up") not in ("up", "down"):
        raise UserError(f"indicator {code}: better must be up or down")
    columns: set[str] = set()
    for key in ("num", "den"):
        if raw.get(key) is not None:
            columns |= _check_formula(code, key, str(raw[key]), allowed[source])
    if raw.get("num") is None:
        raise UserError(f"indicator {code}: num is required")
    return Indicator(
        code=code,
        zh=str(raw["zh"]),
        en=str(raw["en"]),
        group=raw["group"],
        unit=str(raw.get("unit") or ""),
        num=str(raw["num"]),
        den=str(raw["den"]) if raw.get("den") is not None else None,
        scale=float(raw.get("scale", 1)),
        source=source,
        better=raw.get("better", "up"),
        columns=tuple(sorted(columns)),
    )


def _check_formula(code: str, key: str, sql: str, allowed: set[str]) -> set[str]:
    """Columns a formula reads; only sum(...) / count(...) at the top, so roll-ups are exact."""
    try:
        tree = sqlglot.parse_one(sql, read="duckdb")
    except sqlglot.errors.ParseError as exc:
        raise UserError(f"indicator {code}: {key} is not valid SQL: {exc}") from None
    aggs = list(tree.find_all(exp.AggFunc))
    if not aggs or any(not isinstance(a, exp.Sum | exp.Count) for a in aggs):
        raise UserError(f"indicator {code}: {key} must be sum(...) or count(...) (additive)")
    columns = {c.name for c in tree.find_all(exp.Column)}
    for column in tree.find_all(exp.Column):
        if not any(isinstance(p, exp.Sum | exp.Count) for p in _parents(column)):
            raise UserError(f"indicator {code}: {key} reads {column.name} outside an aggregate")
    unknown = sorted(columns - allowed)
    if unknown:
        raise UserError(f"indicator {code}: {key} reads unknown field {unknown[0]}")
    return columns


def _parents(node):
    while node.parent is not None:
        node = node.parent
        yield node


def _analysis(raw: dict, indicators: dict, dims: dict) -> Analysis:
    code = raw.get("code") or "?"
    for name in raw.get("indicators") or []:
        if name not in indicators:
            raise UserError(f"analysis {code}: unknown indicator {name}")
    for name in raw.get("dimensions") or []:
        if name not in dims:
            raise UserError(f"analysis {code}: unknown dimension {name}")
    if not raw.get("indicators") or not raw.get("dimensions"):
        raise UserError(f"analysis {code}: needs indicators and dimensions")
    return Analysis(
        code,
        str(raw["zh"]),
        str(raw["en"]),
        str(raw.get("section") or ""),
        tuple(raw["indicators"]),
        tuple(raw["dimensions"]),
    )


def _view_columns() -> set[str]:
    from keycare.engine.view import catalog_fields

    return {f.code for f in catalog_fields()} | set(RUN_COLUMNS)


# --------------------------------------------------------------------------- computing


@dataclass(frozen=True)
class RunOutputs:
    """Which of the run's relations exist (detections, allocation_tasks, risk_scores)."""

    detections: bool = True
    tasks: bool = False
    risk: bool = False


@dataclass(frozen=True)
class Published:
    """What the runs before this one published: the indicator definitions' version of the
    newest of them and every bill month published so far (``YYYY-MM``)."""

    version: str
    months: frozenset[str]


def delivered_months(backend) -> list[str]:
    """The bill months in the delivery (``bills``), oldest first."""
    table = backend.to_arrow("SELECT DISTINCT bill_month FROM bills WHERE bill_month IS NOT NULL")
    return sorted(str(m) for m in table.column(0).to_pylist())


def months_to_publish(delivered, previous: Published | None, version: str) -> list[str]:
    """The bill months a run publishes: those not published before (月报固化: a closed month
    keeps the figures of the run that first published it), or every delivered month when
    nothing was published before or the definitions changed since."""
    if previous is None or previous.version != version:
        return sorted(delivered)
    return sorted(set(delivered) - previous.months)


def compute_indicators(
    backend,
    business_date: dt.date,
    outputs: RunOutputs = RunOutputs(),
    definitions=None,
    bill_months=None,
) -> pa.Table:
    """Every indicator for every dimension member (and city), as one sorted Arrow table.

    ``bill_months``: the bill months (``YYYY-MM``) to publish (None: every delivered month;
    empty: none, the bills are not read)."""
    defs = definitions or load_indicators()
    months = None if bill_months is None else sorted(bill_months)
    _register_base(backend, business_date, defs, outputs, months)
    parts = []
    view_indicators = defs.of_source("view")
    bill_indicators = defs.of_source("bills")
    day = business_date.isoformat()
    dims = list(defs.dimensions.values())
    # One GROUPING SETS pass per relation instead of one scan per dimension.
    if view_indicators:
        parts += _view_passes(backend, dims, view_indicators, day, outputs.detections)
    if bill_indicators and months != []:
        billed = [d for d in dims if d.bills]
        parts += _grouping_sets(backend, BILLS, billed, bill_indicators, None)
    table = pa.Table.from_pylist(parts, schema=SCHEMA) if parts else SCHEMA.empty_table()
    # A parallel SUM of doubles adds in no fixed order, so its last bits vary from run to run;
    # rounding keeps a re-run of the same day byte-identical (the run's content hash).
    table = round_sums(table)
    return table.sort_by(
        [(c, "ascending") for c in ("indicator", "grain", "period", "dimension", "member")]
        + [("city_id", "ascending")]
    )


def round_sums(table: pa.Table) -> pa.Table:
    """num and den rounded to SUM_DIGITS decimals, to the double nearest that decimal.

    Python's round() is correctly rounded, so two sums that differ only in their last bits
    (another summation order: parallel threads, two-level aggregation) give the same double;
    ``pc.round`` (scale, round, unscale) can keep such differences (367.03000000000003).
    """
    for column in ("num", "den"):
        values = [None if v is None else round(v, SUM_DIGITS) for v in table[column].to_pylist()]
        table = table.set_column(
            table.schema.get_field_index(column), column, pa.array(values, pa.float64())
        )
    return table


def _register_base(
    backend, business_date, defs: IndicatorSet, outputs: RunOutputs, months=None
) -> None:
    """``ROWS`` (with the views ``BASE`` and ``MOMENT_BASE`` over it) and ``BILLS``.

    Nothing here is materialised: at 10M subscribers a stored base was 10M rows of ~40
    columns (3.5 GB) written once and read twice; ``_view_passes`` sums it as it is read."""
    from keycare.engine.view import build_view, sql_string

    needed = {c for i in defs.of_source("view") for c in i.columns} - set(RUN_COLUMNS)
    fields = sorted(needed | set(DIMENSION_FIELDS) | {"key_account_id"})
    build_view(backend, business_date, name=VIEW, only=fields)
    columns = sorted(set(fields) | {"subscriber_id"})
    select = ", ".join(f"v.{c}" for c in columns)
    joins = [_INDUSTRY_JOIN]
    extras = ["k.industry AS industry"]
    if outputs.detections:
        # Each alerted subscriber joins one row without a moment (carrying its number of
        # alerts) and one row per distinct moment (counting 1): the subscriber's row and its
        # moment rows come from one read of the view.
        joins.append(
            "LEFT JOIN (SELECT subscriber_id, CAST(NULL AS VARCHAR) AS moment_code,"
            " count(*) AS n FROM detections GROUP BY subscriber_id"
            " UNION ALL SELECT DISTINCT subscriber_id, moment_code, 1 AS n FROM detections)"
            " d ON d.subscriber_id = v.subscriber_id"
        )
        extras += [
            "CAST(COALESCE(d.n, 0) AS BIGINT) AS n_detections",
            "CAST(d.moment_code AS VARCHAR) AS moment_code",
        ]
    else:
        extras += [
            "CAST(0 AS BIGINT) AS n_detections",
            "CAST(NULL AS VARCHAR) AS moment_code",
        ]
    if outputs.tasks:
        joins.append(
            "LEFT JOIN (SELECT DISTINCT subscriber_id FROM allocation_tasks"
            " WHERE decision IN ('call', 'sms')) t ON t.subscriber_id = v.subscriber_id"
        )
        extras.append("t.subscriber_id IS NOT NULL AS has_task")
    else:
        extras.append("FALSE AS has_task")
    if outputs.risk:
        joins.append(
            "LEFT JOIN (SELECT subscriber_id, max(risk_probability) AS p FROM risk_scores"
            " GROUP BY subscriber_id) r ON r.subscriber_id = v.subscriber_id"
        )
        extras.append("CAST(r.p AS DOUBLE) AS risk_probability")
    else:
        extras.append("CAST(NULL AS DOUBLE) AS risk_probability")
    backend.create_view(
        ROWS, f"SELECT {select}, {', '.join(extras)} FROM {VIEW} v {' '.join(joins)}"
    )
    backend.create_view(BASE, f"SELECT * FROM {ROWS} WHERE moment_code IS NULL")
    backend.create_view(MOMENT_BASE, f"SELECT * FROM {ROWS} WHERE moment_code IS NOT NULL")
    bill_indicators = defs.of_source("bills")
    if bill_indicators:
        # The bills need the subscriber's dimensions only, not the view's aggregates.
        build_view(
            backend, business_date, name=DIMS_VIEW, only=[*DIMENSION_FIELDS, "key_account_id"]
        )
        read = sorted({c for i in bill_indicators for c in i.columns} | {"bill_month"})
        dims = ", ".join(f"v.{c}" for c in DIMENSION_FIELDS)
        bills = ", ".join(f"x.{c}" for c in read)
        where = ""
        if months is not None:
            listed = ", ".join(sql_string(m) for m in months) or "NULL"
            where = f" WHERE x.bill_month IN ({listed})"
        # A view: the one GROUPING SETS pass over it is its only reader (materialising it
        # wrote every bill row once more; perf doc).
        backend.create_view(
            BILLS,
            f"SELECT {bills}, {dims}, k.industry AS industry FROM bills x"
            f" JOIN {DIMS_VIEW} v ON v.subscriber_id = x.subscriber_id {_INDUSTRY_JOIN}{where}",
        )


_INDUSTRY_JOIN = (
    "LEFT JOIN (SELECT key_account_id, max(industry) AS industry FROM key_accounts"
    " GROUP BY key_account_id) k ON k.key_account_id = v.key_account_id"
)


def compute_survey_indicators(responses: pa.Table, definitions=None) -> pa.Table:
    """The ``surveys`` indicators over answered surveys (one row each, ``SURVEY_COLUMNS``):
    the same long rows as ``indicators.parquet``, one month per ``month`` in the input."""
    from keycare.engine.backends import connect

    defs = definitions or load_indicators()
    indicators = defs.of_source("surveys")
    parts: list[dict] = []
    if indicators and responses.num_rows:
        with connect("duckdb", threads=1) as backend:
            backend.register_arrow("_survey_rows", responses)
            for dim in defs.dimensions.values():
                if dim.constant or dim.column in SURVEY_COLUMNS:
                    parts += _grouped(backend, "_survey_rows", dim, indicators, None, "month")
    table = pa.Table.from_pylist(parts, schema=SCHEMA) if parts else SCHEMA.empty_table()
    return table.sort_by(
        [(c, "ascending") for c in ("indicator", "period", "dimension", "member", "city_id")]
    )


def _grouped(
    backend,
    relation: str,
    dim: Dimension,
    indicators,
    day: str | None,
    period_column: str = "bill_month",
) -> list[dict]:
    """One GROUP BY over ``relation`` for all ``indicators``, unpivoted into long rows."""
    member = "'all'" if dim.constant else f"COALESCE(CAST({dim.column} AS VARCHAR), '')"
    keys = ["COALESCE(city_id, '')"] + ([] if dim.constant else [member])
    period = "CAST(NULL AS VARCHAR)" if day else period_column
    if not day:
        keys.append(period_column)
    cols = []
    for n, ind in enumerate(indicators):
        cols.append(f"CAST({ind.num} AS DOUBLE) AS n{n}")
        cols.append(
            f"CAST({ind.den} AS DOUBLE) AS d{n}" if ind.den else f"CAST(NULL AS DOUBLE) AS d{n}"
        )
    sql = (
        f"SELECT {member} AS member, COALESCE(city_id, '') AS city_id, {period} AS period,"
        f" {', '.join(cols)} FROM {relation} GROUP BY {', '.join(keys)}"
    )
    out = []
    for row in backend.to_arrow(sql).to_pylist():
        _emit(out, indicators, row, day or row["period"], dim.code, row["member"], row["city_id"])
    return out


def _emit(out, indicators, row, period, dimension, member, city_id) -> None:
    """One published row per indicator whose numerator or denominator is not zero."""
    for n, ind in enumerate(indicators):
        num, den = row[f"n{n}"], row[f"d{n}"]
        if not num and not den:
            continue  # an absent row reads as zero; keeps the table small
        out.append(
            {
                "indicator": ind.code,
                "grain": ind.grain,
                "period": period,
                "dimension": dimension,
                "member": member,
                "city_id": city_id,
                "num": num,
                "den": den,
            }
        )


@dataclass(frozen=True)
class _KeyPlan:
    """The keys of one GROUPING SETS pass: ``exprs`` (alias -> SQL over the relation; k0 the
    city, kp the bill month), the grouping sets with the dimensions each publishes, and the
    dimension keys whose GROUPING() bits tell the sets apart; ``columns``: what the keys read."""

    exprs: dict[str, str]
    columns: list[str]
    sets: dict[tuple[str, ...], list[tuple[Dimension, str | None]]]
    dim_keys: list[str]
    period_key: list[str]

    @property
    def aliases(self) -> str:
        return ", ".join(self.exprs)

    def keyed(self, relation: str) -> str:
        inner = ", ".join(f"{expr} AS {alias}" for alias, expr in self.exprs.items())
        return f"(SELECT {inner}, * FROM {relation}) r"


def _key_plan(dims: list[Dimension], day: str | None, period_column: str) -> _KeyPlan:
    """One grouping set per distinct key set (city plus the dimension's column; the constant
    dimensions and ``city`` share the set (city))."""
    exprs: dict[str, str] = {"k0": "COALESCE(city_id, '')"}
    columns = ["city_id"]
    key_of: dict[str, str] = {}  # dimension column -> key alias
    sets: dict[tuple[str, ...], list[tuple[Dimension, str | None]]] = {}
    for dim in dims:
        if dim.constant:
            gset, alias = ("k0",), None
        elif dim.column == "city_id":
            gset, alias = ("k0",), "k0"
        else:
            if dim.column not in key_of:
                key_of[dim.column] = f"k{len(exprs)}"
                exprs[key_of[dim.column]] = f"COALESCE(CAST({dim.column} AS VARCHAR), '')"
                columns.append(dim.column)
            alias = key_of[dim.column]
            gset = ("k0", alias)
        sets.setdefault(gset, []).append((dim, alias))
    period_key = [] if day else ["kp"]
    if not day:
        exprs["kp"] = period_column
        columns.append(period_column)
    dim_keys = [k for k in exprs if k not in ("k0", "kp")]
    return _KeyPlan(exprs, columns, sets, dim_keys, period_key)


def _sums(indicators) -> list[str]:
    """Each indicator's numerator and denominator over a group: n0, d0, n1, d1, ..."""
    cols = []
    for n, ind in enumerate(indicators):
        cols.append(f"CAST({ind.num} AS DOUBLE) AS n{n}")
        cols.append(
            f"CAST({ind.den} AS DOUBLE) AS d{n}" if ind.den else f"CAST(NULL AS DOUBLE) AS d{n}"
        )
    return cols


def _preaggregated(columns: list[str], indicators, relation: str) -> str:
    """One GROUP BY over every column the keys read (one hash table over the big relation,
    e.g. 13M bill rows -> ~114k groups at 1M subscribers): the parts the grouping sets then
    sum, computing the keys over the parts, not over every row. Exact because every formula
    is a sum of sum()/count() terms."""
    listed = ", ".join(columns)
    return f"SELECT {listed}, {', '.join(_sums(indicators))} FROM {relation} GROUP BY {listed}"


def _grouping_sets(
    backend,
    relation: str,
    dims: list[Dimension],
    indicators,
    day: str | None,
    period_column: str = "bill_month",
) -> list[dict]:
    """The rows of ``_grouped`` for every dimension in ``dims`` from one scan of
    ``relation``, summed into parts first, told apart by GROUPING()."""
    if not dims:
        return []
    plan = _key_plan(dims, day, period_column)
    source = plan.keyed(f"({_preaggregated(plan.columns, indicators, relation)})")
    return _sets_pass(backend, source, plan, indicators, day)


def _view_passes(backend, dims: list[Dimension], indicators, day: str, moments: bool) -> list:
    """The snapshot indicators: ``ROWS`` read once into ``PARTS`` (one GROUP BY over every
    dimension column and the moment: 181k groups at 10M subscribers), then one GROUPING SETS
    pass over the subscriber parts and one over the moment parts."""
    plain = [d for d in dims if d.code != "moment"]
    moment = [d for d in dims if d.code == "moment"] if moments else []
    plan = _key_plan(plain, day, "")
    backend.materialize(PARTS, _preaggregated([*plan.columns, "moment_code"], indicators, ROWS))
    subscriber_parts = plan.keyed(f"(SELECT * FROM {PARTS} WHERE moment_code IS NULL)")
    out = _sets_pass(backend, subscriber_parts, plan, indicators, day)
    if moment:
        mplan = _key_plan(moment, day, "")
        moment_parts = mplan.keyed(f"(SELECT * FROM {PARTS} WHERE moment_code IS NOT NULL)")
        out += _sets_pass(backend, moment_parts, mplan, indicators, day)
    return out


def _sets_pass(backend, source: str, plan: _KeyPlan, indicators, day) -> list:
    """One GROUPING SETS query over parts ``source`` (its keys named by the plan's aliases,
    n0, d0, ... per part), summed and unpivoted into published rows."""
    cols = [f"sum(n{n}) AS n{n}, sum(d{n}) AS d{n}" for n in range(len(indicators))]
    grouping = ", ".join(f"GROUPING({k}) AS g_{k}" for k in plan.dim_keys) or "0 AS g_none"
    gsets = ", ".join("(" + ", ".join([*g, *plan.period_key]) + ")" for g in plan.sets)
    sql = (
        f"SELECT {plan.aliases}, {grouping}, {', '.join(cols)}"
        f" FROM {source} GROUP BY GROUPING SETS ({gsets})"
    )
    by_mask = {
        tuple(0 if k in g else 1 for k in plan.dim_keys): members
        for g, members in plan.sets.items()
    }
    out = []
    for row in backend.to_arrow(sql).to_pylist():
        mask = tuple(row[f"g_{k}"] for k in plan.dim_keys)
        for dim, alias in by_mask[mask]:
            member = dim.column.strip("'") if alias is None else row[alias]
            _emit(out, indicators, row, day or row["kp"], dim.code, member, row["k0"])
    return out
