"""The condition language of key moments: parse and check, compile to SQL, evaluate in Python.

A condition is data (YAML / JSON). Nodes, each a mapping with one operator key:

    all: [c, ...]          every child holds              any: [c, ...]    some child holds
    not: c                 the child does not hold
    gt|gte|lt|lte|eq|ne: [field, operand]                 compare a catalog field
    between: [field, low, high]                            low <= field <= high (inclusive)
    in: [field, [v1, v2, ...]]                             field is one of the literals
    is_null: field                                         the field has no value
    change: {field, base, direction: down|up, at_least_pct: operand[, as: name]}
        field moved against base by at least X percent:  down: base > 0 and
        (base - field) * 100 >= X * base;  up: base > 0 and (field - base) * 100 >= X * base
    event_count: {type: t | [t, ...], category: c?, days: N, offset_days: 0[, as: name]}
        with exactly one of gt|gte|lt|lte|eq|ne: operand beside it, e.g.
        {event_count: {type: complaint, days: 30}, gte: $n}
        counts events on days D-offset-N+1 .. D-offset (day 0 = the business date D)
    first_time: {event: t | [t, ...], category: c?, within_days: N, recent_days: 1[, as: name]}
        at least one such event in the last `recent_days` days and none in the N days before
    first_time: {field: date_field, recent_days: 1}
        the date field falls in the last `recent_days` days (e.g. handset_since = D)
    anniversary: {field: date_field, days_before: N, days_after: 0, min_years: 1[, as: name]}
        an anniversary (month and day; Feb 29 is celebrated on Feb 28 in common years) of the
        field, at least `min_years` after it, falls in [D - days_after, D + days_before]
    holiday: {days_before: N, days_after: 0}
        a Chinese public holiday period (official calendar) starts in [D - days_after,
        D + days_before] and D is not inside any holiday period (see engine/calendar.py: a
        period is the official block, e.g. National Day + Mid-autumn 2025 is 10-01..10-08),
        so with days_after 0 the first day is 1..N days ahead

Operands: a literal (number, string, true/false, date 'YYYY-MM-DD'), a named threshold
``$name`` (declared by the moment, with a default, a valid range, and per-city overrides), or
another field ``{field: code}``. ``$$x`` is the literal string ``$x``.

NULL semantics (the same in SQL and in ``evaluate``): three-valued (Kleene) logic. A comparison
with a missing value is UNKNOWN; ``all`` is FALSE if any child is FALSE, else UNKNOWN if any is
UNKNOWN; ``any`` is TRUE if any child is TRUE, else UNKNOWN if any is UNKNOWN; ``not UNKNOWN``
is UNKNOWN. ``is_null``, event counts, ``first_time`` over events and ``holiday`` are never
UNKNOWN. A moment fires only when its condition is TRUE.
"""

from __future__ import annotations

import datetime as dt
import operator
import re
from dataclasses import dataclass, field

from keycare.engine import calendar as cal
from keycare.engine.view import AggSpec, Window, agg_name, quote_ident, sql_date, sql_string
from keycare.errors import UserError

COMPARE_OPS = {"gt": ">", "gte": ">=", "lt": "<", "lte": "<=", "eq": "=", "ne": "<>"}
_PY_OPS = {
    "gt": operator.gt,
    "gte": operator.ge,
    "lt": operator.lt,
    "lte": operator.le,
    "eq": operator.eq,
    "ne": operator.ne,
}
OPERATORS = (
    "all any not between in is_null change event_count first_time anniversary holiday "
    + " ".join(COMPARE_OPS)
).split()
THRESHOLD_TYPES = {"int", "float", "string", "bool"}
MAX_WINDOW_DAYS = 366
CITY_COLUMN = "city_id"
NAME_RE = re.compile(r"^[a-z][a-z0-9_]*$")


class DefinitionError(UserError):
    """An invalid moment definition or condition; the message names where and what."""


# --------------------------------------------------------------------------- thresholds


@dataclass(frozen=True)
class ThresholdSpec:
    name: str
    default: object
    type: str
    min: float | None = None
    max: float | None = None
    pattern: str | None = None
    zh: str = ""
    unit: str = ""

    def check(self, value, where: str) -> object:
        """The value if valid for this threshold, else DefinitionError naming the problem."""
        label = f"{where}: threshold {self.name}"
        if self.type in ("int", "float"):
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise DefinitionError(f"{label} must be a number, got {value!r}")
            if self.type == "int" and not float(value).is_integer():
                raise DefinitionError(f"{label} must be a whole number, got {value!r}")
            if self.type == "int":
                value = int(value)
            low = -float("inf") if self.min is None else self.min
            high = float("inf") if self.max is None else self.max
            if not low <= value <= high:
                raise DefinitionError(
                    f"{label} = {value!r} is out of its range [{_num(self.min)}, {_num(self.max)}]"
                )
        elif self.type == "bool":
            if not isinstance(value, bool):
                raise DefinitionError(f"{label} must be true or false, got {value!r}")
        else:
            if not isinstance(value, str):
                raise DefinitionError(f"{label} must be text, got {value!r}")
            if self.pattern and not re.fullmatch(self.pattern, value):
                raise DefinitionError(f"{label} = {value!r} does not match {self.pattern}")
        return value

    @property
    def kind(self) -> str:
        return "number" if self.type in ("int", "float") else self.type


def _num(value) -> str:
    return "-∞" if value is None else f"{value:g}"


def parse_threshold(name: str, spec, where: str) -> ThresholdSpec:
    """``name: 30`` or ``name: {default: 30, min: 5, max: 100, type: int, zh: ..., unit: ...}``."""
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise DefinitionError(f"{where}: threshold name {name!r} must be snake_case")
    if not isinstance(spec, dict):
        spec = {"default": spec}
    unknown = set(spec) - {"default", "type", "min", "max", "pattern", "zh", "unit", "en"}
    if unknown:
        raise DefinitionError(f"{where}: threshold {name}: unknown key {sorted(unknown)[0]!r}")
    if "default" not in spec or spec["default"] is None:
        raise DefinitionError(f"{where}: threshold {name} needs a default")
    default = spec["default"]
    kind = spec.get("type") or _infer_type(default)
    if kind not in THRESHOLD_TYPES:
        raise DefinitionError(f"{where}: threshold {name}: unknown type {kind!r}")
    for bound in ("min", "max"):
        value = spec.get(bound)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
            raise DefinitionError(f"{where}: threshold {name}: {bound} must be a number")
    result = ThresholdSpec(
        name=name,
        default=default,
        type=kind,
        min=spec.get("min"),
        max=spec.get("max"),
        pattern=spec.get("pattern"),
        zh=str(spec.get("zh", "")),
        unit=str(spec.get("unit", "")),
    )
    return ThresholdSpec(**{**result.__dict__, "default": result.check(default, where)})


def _infer_type(value) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    return "string"


# --------------------------------------------------------------------------- the tree


@dataclass(frozen=True)
class Literal:
    value: object


@dataclass(frozen=True)
class Threshold:
    name: str


@dataclass(frozen=True)
class FieldRef:
    code: str


@dataclass(frozen=True)
class All:
    items: tuple


@dataclass(frozen=True)
class AnyOf:
    items: tuple


@dataclass(frozen=True)
class Not:
    item: object


@dataclass(frozen=True)
class Compare:
    op: str
    field: str
    operand: object


@dataclass(frozen=True)
class Between:
    field: str
    low: object
    high: object


@dataclass(frozen=True)
class In:
    field: str
    values: tuple


@dataclass(frozen=True)
class IsNull:
    field: str


@dataclass(frozen=True)
class Change:
    field: str
    base: str
    direction: str
    pct: object
    name: str


@dataclass(frozen=True)
class EventCount:
    types: tuple
    category: str | None
    days: object
    offset: object
    op: str
    operand: object
    name: str


@dataclass(frozen=True)
class FirstTimeEvent:
    types: tuple
    category: str | None
    within_days: object
    recent_days: object
    name: str


@dataclass(frozen=True)
class FirstTimeField:
    field: str
    recent_days: object


@dataclass(frozen=True)
class Anniversary:
    field: str
    days_before: object
    days_after: object
    min_years: object
    name: str


@dataclass(frozen=True)
class Holiday:
    days_before: object
    days_after: object


# --------------------------------------------------------------------------- parsing


@dataclass
class Schema:
    """What a condition may refer to: catalog field types, thresholds, event types."""

    field_types: dict[str, str]
    thresholds: dict[str, ThresholdSpec] = field(default_factory=dict)
    event_types: frozenset[str] | None = None
    personal: frozenset[str] = frozenset()
    where: str = "condition"


_KIND = {"int": "number", "float": "number", "string": "string", "date": "date", "bool": "bool"}


class _Parser:
    def __init__(self, schema: Schema):
        self.schema = schema

    def fail(self, path: str, problem: str):
        raise DefinitionError(f"{self.schema.where}: {path}: {problem}")

    # fields and operands -------------------------------------------------

    def field(self, code, path: str, kinds: tuple[str, ...] | None = None) -> str:
        if not isinstance(code, str):
            self.fail(path, f"expected a field name, got {code!r}")
        ftype = self.schema.field_types.get(code)
        if ftype is None:
            self.fail(path, f"unknown field {code!r}")
        if kinds and _KIND.get(ftype) not in kinds:
            self.fail(path, f"field {code} is {ftype}; this needs {' or '.join(kinds)}")
        return code

    def kind_of(self, code: str) -> str:
        return _KIND.get(self.schema.field_types[code], "string")

    def operand(self, raw, kind: str, path: str, field_name: str):
        """A literal, $threshold or {field: code} of the given kind (number/string/date/bool)."""
        if isinstance(raw, str) and raw.startswith("$") and not raw.startswith("$$"):
            name = raw[1:]
            spec = self.schema.thresholds.get(name)
            if spec is None:
                self.fail(path, f"unknown threshold ${name}")
            if spec.kind != kind:
                self.fail(
                    path, f"field {field_name} is {kind} but threshold ${name} is {spec.type}"
                )
            return Threshold(name)
        if isinstance(raw, dict):
            if set(raw) != {"field"}:
                self.fail(
                    path, f"operand must be a literal, $threshold or {{field: code}}: {raw!r}"
                )
            code = self.field(raw["field"], path)
            if self.kind_of(code) != kind:
                self.fail(
                    path, f"cannot compare {field_name} ({kind}) with {code} ({self.kind_of(code)})"
                )
            return FieldRef(code)
        if isinstance(raw, str) and raw.startswith("$$"):
            raw = raw[1:]
        return Literal(self.literal(raw, kind, path, field_name))

    def literal(self, raw, kind: str, path: str, field_name: str):
        if raw is None:
            self.fail(path, f"missing value for {field_name} (use is_null to test for no value)")
        ok = {
            "number": isinstance(raw, int | float) and not isinstance(raw, bool),
            "bool": isinstance(raw, bool),
            "string": isinstance(raw, str),
            "date": isinstance(raw, dt.date | str),
        }[kind]
        if not ok:
            self.fail(path, f"field {field_name} is {kind}; {raw!r} is not")
        if kind == "date" and not isinstance(raw, dt.date):
            try:
                raw = dt.date.fromisoformat(raw)
            except ValueError:
                self.fail(path, f"field {field_name} is a date; {raw!r} is not YYYY-MM-DD")
        if isinstance(raw, dt.datetime):
            raw = raw.date()
        return raw

    def count(self, raw, path: str, what: str, low: int = 0):
        """A whole-number operand (days, years): literal or int threshold."""
        if isinstance(raw, str) and raw.startswith("$"):
            spec = self.schema.thresholds.get(raw[1:])
            if spec is None:
                self.fail(path, f"unknown threshold {raw}")
            if spec.type != "int":
                self.fail(path, f"{what} needs a whole-number threshold; {raw} is {spec.type}")
            if spec.min is None or spec.min < low or spec.max is None or spec.max > MAX_WINDOW_DAYS:
                self.fail(
                    path,
                    f"threshold {raw} used as {what} needs a range within [{low}, {MAX_WINDOW_DAYS}]",
                )
            return Threshold(raw[1:])
        if isinstance(raw, bool) or not isinstance(raw, int) or not low <= raw <= MAX_WINDOW_DAYS:
            self.fail(
                path, f"{what} must be a whole number in [{low}, {MAX_WINDOW_DAYS}], got {raw!r}"
            )
        return Literal(raw)

    def name(self, raw, default: str, path: str) -> str:
        value = raw if raw is not None else default
        if not isinstance(value, str) or not NAME_RE.match(value):
            self.fail(path, f"`as` must be snake_case, got {value!r}")
        return value

    def event_types(self, raw, path: str) -> tuple[str, ...]:
        types = raw if isinstance(raw, list) else [raw]
        if not types or not all(isinstance(t, str) for t in types):
            self.fail(path, f"event type must be a name or a list of names, got {raw!r}")
        allowed = self.schema.event_types
        for t in types:
            if allowed is not None and t not in allowed:
                self.fail(path, f"unknown event type {t!r}")
        return tuple(types)

    def keys(self, spec, path: str, required: set[str], optional: set[str]) -> dict:
        if not isinstance(spec, dict):
            self.fail(path, f"expected a mapping, got {spec!r}")
        missing = required - set(spec)
        if missing:
            self.fail(path, f"missing {sorted(missing)[0]!r}")
        unknown = set(spec) - required - optional
        if unknown:
            self.fail(path, f"unknown key {sorted(unknown)[0]!r}")
        return spec

    # nodes ------------------------------------------------------------------

    def node(self, raw, path: str = "condition"):
        if not isinstance(raw, dict) or not raw:
            self.fail(path, f"a condition must be a mapping with one operator, got {raw!r}")
        keys = set(raw)
        if "event_count" in keys:
            return self.event_count(raw, f"{path}.event_count")
        if len(keys) != 1:
            self.fail(path, f"one operator per mapping, got {sorted(keys)}")
        (op,) = keys
        arg = raw[op]
        sub = f"{path}.{op}"
        if op in ("all", "any"):
            if not isinstance(arg, list) or not arg:
                self.fail(sub, "needs a non-empty list of conditions")
            items = tuple(self.node(item, f"{sub}[{i}]") for i, item in enumerate(arg))
            return All(items) if op == "all" else AnyOf(items)
        if op == "not":
            return Not(self.node(arg, sub))
        if op in COMPARE_OPS:
            return self.compare(op, arg, sub)
        if op == "between":
            if not isinstance(arg, list) or len(arg) != 3:
                self.fail(sub, "needs [field, low, high]")
            code = self.field(arg[0], sub, ("number", "date", "string"))
            kind = self.kind_of(code)
            return Between(
                code, self.operand(arg[1], kind, sub, code), self.operand(arg[2], kind, sub, code)
            )
        if op == "in":
            if (
                not isinstance(arg, list)
                or len(arg) != 2
                or not isinstance(arg[1], list)
                or not arg[1]
            ):
                self.fail(sub, "needs [field, [value, ...]]")
            code = self.field(arg[0], sub)
            kind = self.kind_of(code)
            return In(code, tuple(self.literal(v, kind, sub, code) for v in arg[1]))
        if op == "is_null":
            return IsNull(self.field(arg, sub))
        if op == "change":
            return self.change(arg, sub)
        if op == "first_time":
            return self.first_time(arg, sub)
        if op == "anniversary":
            return self.anniversary(arg, sub)
        if op == "holiday":
            spec = self.keys(arg, sub, {"days_before"}, {"days_after"})
            return Holiday(
                self.count(spec["days_before"], sub, "days_before"),
                self.count(spec.get("days_after", 0), sub, "days_after"),
            )
        self.fail(path, f"unknown operator {op!r} (known: {', '.join(OPERATORS)})")

    def compare(self, op: str, arg, path: str):
        if not isinstance(arg, list) or len(arg) != 2:
            self.fail(path, "needs [field, value]")
        code = self.field(arg[0], path)
        kind = self.kind_of(code)
        if kind == "bool" and op not in ("eq", "ne"):
            self.fail(path, f"field {code} is bool; only eq / ne apply")
        return Compare(op, code, self.operand(arg[1], kind, path, code))

    def change(self, arg, path: str):
        spec = self.keys(arg, path, {"field", "base", "direction", "at_least_pct"}, {"as"})
        code = self.field(spec["field"], path, ("number",))
        base = self.field(spec["base"], path, ("number",))
        direction = spec["direction"]
        if direction not in ("down", "up"):
            self.fail(path, f"direction must be down or up, got {direction!r}")
        pct = self.operand(spec["at_least_pct"], "number", path, code)
        if isinstance(pct, FieldRef):
            self.fail(path, "at_least_pct must be a number or a threshold")
        suffix = "drop_pct" if direction == "down" else "rise_pct"
        return Change(
            code, base, direction, pct, self.name(spec.get("as"), f"{code}_{suffix}", path)
        )

    def event_count(self, raw, path: str):
        ops = set(raw) - {"event_count"}
        if len(ops) != 1 or not ops <= set(COMPARE_OPS):
            self.fail(
                path, "needs exactly one comparison beside it, e.g. {event_count: {...}, gte: 1}"
            )
        (op,) = ops
        spec = self.keys(
            raw["event_count"], path, {"type", "days"}, {"category", "offset_days", "as"}
        )
        types = self.event_types(spec["type"], path)
        category = self._category(spec.get("category"), path)
        return EventCount(
            types=types,
            category=category,
            days=self.count(spec["days"], path, "days", low=1),
            offset=self.count(spec.get("offset_days", 0), path, "offset_days"),
            op=op,
            operand=self.operand(raw[op], "number", path, "event count"),
            name=self.name(spec.get("as"), "_".join(types) + "_count", path),
        )

    def _category(self, raw, path: str):
        if raw is not None and not isinstance(raw, str):
            self.fail(path, f"category must be text, got {raw!r}")
        return raw

    def first_time(self, arg, path: str):
        if isinstance(arg, dict) and "field" in arg:
            spec = self.keys(arg, path, {"field"}, {"recent_days"})
            code = self.field(spec["field"], path, ("date",))
            return FirstTimeField(
                code, self.count(spec.get("recent_days", 1), path, "recent_days", 1)
            )
        spec = self.keys(arg, path, {"event", "within_days"}, {"category", "recent_days", "as"})
        types = self.event_types(spec["event"], path)
        return FirstTimeEvent(
            types=types,
            category=self._category(spec.get("category"), path),
            within_days=self.count(spec["within_days"], path, "within_days", low=1),
            recent_days=self.count(spec.get("recent_days", 1), path, "recent_days", low=1),
            name=self.name(spec.get("as"), "first_" + "_".join(types), path),
        )

    def anniversary(self, arg, path: str):
        spec = self.keys(arg, path, {"field", "days_before"}, {"days_after", "min_years", "as"})
        code = self.field(spec["field"], path, ("date",))
        node = Anniversary(
            field=code,
            days_before=self.count(spec["days_before"], path, "days_before"),
            days_after=self.count(spec.get("days_after", 0), path, "days_after"),
            min_years=self.count(spec.get("min_years", 1), path, "min_years"),
            name=self.name(spec.get("as"), code, path),
        )
        return node


def parse_condition(raw, schema: Schema, path: str = "condition"):
    """Parse and check a condition tree; DefinitionError (a UserError) when invalid."""
    return _Parser(schema).node(raw, path)


# --------------------------------------------------------------------------- introspection


def walk(node):
    yield node
    if isinstance(node, All | AnyOf):
        for item in node.items:
            yield from walk(item)
    elif isinstance(node, Not):
        yield from walk(node.item)


def _operands(node) -> list:
    values = {
        Compare: lambda n: [n.operand],
        Between: lambda n: [n.low, n.high],
        Change: lambda n: [n.pct],
        EventCount: lambda n: [n.days, n.offset, n.operand],
        FirstTimeEvent: lambda n: [n.within_days, n.recent_days],
        FirstTimeField: lambda n: [n.recent_days],
        Anniversary: lambda n: [n.days_before, n.days_after, n.min_years],
        Holiday: lambda n: [n.days_before, n.days_after],
    }.get(type(node), lambda n: [])(node)
    return values


def used_thresholds(node) -> list[str]:
    """Threshold names the tree refers to, in order of first use."""
    names: list[str] = []
    for n in walk(node):
        for operand in _operands(n):
            if isinstance(operand, Threshold) and operand.name not in names:
                names.append(operand.name)
    return names


def referenced_fields(node) -> list[str]:
    """Catalog fields the tree reads, in order of first use."""
    codes: list[str] = []
    for n in walk(node):
        for attr in ("field", "base"):
            code = getattr(n, attr, None)
            if isinstance(code, str) and code not in codes:
                codes.append(code)
        for operand in _operands(n):
            if isinstance(operand, FieldRef) and operand.code not in codes:
                codes.append(operand.code)
    return codes


def param_names(node, personal=frozenset()) -> list[str]:
    """Names of the parameters a detection of this tree carries (besides thresholds)."""
    names: list[str] = []

    def add(*items):
        for item in items:
            if item not in names:
                names.append(item)

    for n in walk(node):
        if isinstance(n, Compare | Between | In | IsNull | FirstTimeField):
            if n.field not in personal:
                add(n.field)
            if (
                isinstance(n, Compare)
                and isinstance(n.operand, FieldRef)
                and n.operand.code not in personal
            ):
                add(n.operand.code)
        elif isinstance(n, Change):
            add(n.field, n.base, n.name)
        elif isinstance(n, EventCount):
            add(n.name)
        elif isinstance(n, FirstTimeEvent):
            add(f"{n.name}_recent", f"{n.name}_prior")
        elif isinstance(n, Anniversary):
            add(f"{n.name}_days_to", f"{n.name}_years")
        elif isinstance(n, Holiday):
            add("holiday_name", "holiday_date", "days_to_holiday")
    return names


# --------------------------------------------------------------------------- compiling


@dataclass(frozen=True)
class Param:
    sql: str
    type: str  # int | float | string | date | bool


@dataclass
class Compiled:
    sql: str
    params: dict[str, Param] = field(default_factory=dict)
    aggs: dict[str, AggSpec] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def merge_side(self, other: Compiled) -> None:
        for name, param in other.params.items():
            self.params.setdefault(name, param)
        self.aggs.update(other.aggs)
        self.warnings.extend(w for w in other.warnings if w not in self.warnings)


def sql_literal(value) -> str:
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        # A string cast keeps the exact double (a bare 0.1 would be a DECIMAL in DuckDB).
        return f"CAST('{value!r}' AS DOUBLE)"
    if isinstance(value, dt.date):
        return sql_date(value)
    return sql_string(value)


def _type_of_value(value) -> str:
    if isinstance(value, dt.date):
        return "date"
    return _infer_type(value)


class Compiler:
    """Compiles condition trees to SQL over the unified view for one business date.

    ``city_values``: city_id -> {threshold name: value} for this moment. A threshold used as a
    value compiles to ``CASE city_id WHEN ... THEN ... ELSE default END``; one that shapes the
    SQL (a window length) compiles the node once per distinct value, chosen by city.
    """

    def __init__(
        self,
        business_date: dt.date,
        thresholds: dict[str, ThresholdSpec] | None = None,
        city_values: dict[str, dict] | None = None,
        field_types: dict[str, str] | None = None,
        personal=frozenset(),
    ):
        self.business_date = business_date
        self.thresholds = thresholds or {}
        self.city_values = {c: v for c, v in sorted((city_values or {}).items()) if v}
        self.field_types = field_types or {}
        self.personal = frozenset(personal)
        self._fixed: dict[str, object] = {}

    # thresholds ----------------------------------------------------------------

    def default(self, name: str):
        return self.thresholds[name].default

    def threshold_sql(self, name: str) -> str:
        if name in self._fixed:
            return sql_literal(self._fixed[name])
        default = self.default(name)
        cases = [
            (city, values[name])
            for city, values in self.city_values.items()
            if name in values and values[name] != default
        ]
        if not cases:
            return sql_literal(default)
        whens = " ".join(f"WHEN {sql_string(c)} THEN {sql_literal(v)}" for c, v in cases)
        return f"(CASE {quote_ident(CITY_COLUMN)} {whens} ELSE {sql_literal(default)} END)"

    def operand_sql(self, operand) -> str:
        if isinstance(operand, Threshold):
            return self.threshold_sql(operand.name)
        if isinstance(operand, FieldRef):
            return quote_ident(operand.code)
        return sql_literal(operand.value)

    def count_value(self, operand) -> int:
        """A structural whole number: literal, or the threshold value of the current variant."""
        if isinstance(operand, Threshold):
            return self._fixed.get(operand.name, self.default(operand.name))
        return operand.value

    def thresholds_param_sql(self, names: list[str]) -> dict[str, Param]:
        return {n: Param(self.threshold_sql(n), self.thresholds[n].type) for n in names}

    def override_city_sql(self, names: list[str]) -> str:
        """city_id when an override of one of ``names`` applies to the row, else NULL."""
        cities = [
            c
            for c, values in self.city_values.items()
            if any(n in values and values[n] != self.default(n) for n in names)
        ]
        if not cities:
            return "CAST(NULL AS VARCHAR)"
        listed = ", ".join(sql_string(c) for c in cities)
        col = quote_ident(CITY_COLUMN)
        return f"(CASE WHEN {col} IN ({listed}) THEN {col} END)"

    # nodes -----------------------------------------------------------------------

    def compile(self, node) -> Compiled:
        structural = [
            op.name
            for op in _structural_operands(node)
            if isinstance(op, Threshold) and op.name not in self._fixed
        ]
        varying = [n for n in dict.fromkeys(structural) if self._has_city_values(n)]
        if varying:
            return self._by_city(node, varying)
        method = getattr(self, "_" + type(node).__name__.lower())
        return method(node)

    def _has_city_values(self, name: str) -> bool:
        default = self.default(name)
        return any(name in v and v[name] != default for v in self.city_values.values())

    def _by_city(self, node, names: list[str]) -> Compiled:
        """Compile once per distinct combination of structural thresholds, chosen by city."""
        defaults = tuple(self.default(n) for n in names)
        groups: dict[tuple, list[str]] = {}
        for city, values in self.city_values.items():
            combo = tuple(values.get(n, d) for n, d in zip(names, defaults, strict=True))
            if combo != defaults:
                groups.setdefault(combo, []).append(city)

        def variant(combo) -> Compiled:
            saved = dict(self._fixed)
            self._fixed.update(zip(names, combo, strict=True))
            try:
                return self.compile(node)
            finally:
                self._fixed = saved

        base = variant(defaults)
        variants = [(cities, variant(combo)) for combo, cities in groups.items()]
        col = quote_ident(CITY_COLUMN)

        def case(pick) -> str:
            whens = " ".join(
                f"WHEN {col} IN ({', '.join(sql_string(c) for c in cities)}) THEN {pick(v)}"
                for cities, v in variants
            )
            return f"(CASE {whens} ELSE {pick(base)} END)"

        result = Compiled(case(lambda c: c.sql))
        for name, param in base.params.items():
            result.params[name] = Param(case(lambda c, n=name: c.params[n].sql), param.type)
        for _, v in variants:
            result.merge_side(v)
        result.merge_side(base)
        return result

    def _col(self, code: str) -> str:
        return quote_ident(code)

    def _field_param(self, code: str) -> dict[str, Param]:
        if code in self.personal:
            return {}
        return {code: Param(self._col(code), self.field_types.get(code, "string"))}

    def _all(self, node: All) -> Compiled:
        return self._junction(node.items, "AND")

    def _anyof(self, node: AnyOf) -> Compiled:
        return self._junction(node.items, "OR")

    def _junction(self, items, word: str) -> Compiled:
        parts = [self.compile(item) for item in items]
        result = Compiled("(" + f" {word} ".join(p.sql for p in parts) + ")")
        for p in parts:
            result.merge_side(p)
        return result

    def _not(self, node: Not) -> Compiled:
        inner = self.compile(node.item)
        result = Compiled(f"(NOT {inner.sql})")
        result.merge_side(inner)
        return result

    def _compare(self, node: Compare) -> Compiled:
        sql = f"({self._col(node.field)} {COMPARE_OPS[node.op]} {self.operand_sql(node.operand)})"
        result = Compiled(sql, self._field_param(node.field))
        if isinstance(node.operand, FieldRef):
            result.params.update(self._field_param(node.operand.code))
        return result

    def _between(self, node: Between) -> Compiled:
        low, high = self.operand_sql(node.low), self.operand_sql(node.high)
        return Compiled(
            f"({self._col(node.field)} BETWEEN {low} AND {high})", self._field_param(node.field)
        )

    def _in(self, node: In) -> Compiled:
        values = ", ".join(sql_literal(v) for v in node.values)
        return Compiled(f"({self._col(node.field)} IN ({values}))", self._field_param(node.field))

    def _isnull(self, node: IsNull) -> Compiled:
        return Compiled(f"({self._col(node.field)} IS NULL)", self._field_param(node.field))

    def _change(self, node: Change) -> Compiled:
        f, b, pct = self._col(node.field), self._col(node.base), self.operand_sql(node.pct)
        diff = f"({b} - {f})" if node.direction == "down" else f"({f} - {b})"
        sql = f"({b} > 0 AND {diff} * 100 >= {pct} * {b})"
        magnitude = f"(CASE WHEN {b} > 0 THEN 100 * CAST({diff} AS DOUBLE) / {b} END)"
        params = {**self._field_param(node.field), **self._field_param(node.base)}
        params[node.name] = Param(magnitude, "float")
        return Compiled(sql, params)

    def event_agg(self, types, category, first_day: int, days: int) -> AggSpec:
        """Count of events of ``types`` on days first_day .. first_day + days - 1 back from D."""
        where = "event_type IN (" + ", ".join(sql_string(t) for t in types) + ")"
        if category is not None:
            where += f" AND category = {sql_string(category)}"
        last_day = first_day + days - 1
        name = agg_name("ev", "_".join(types), category, f"d{first_day}_{last_day}")
        return AggSpec(
            name, "events", "count", where=where, window=Window("day", first_day, last_day)
        )

    def _eventcount(self, node: EventCount) -> Compiled:
        agg = self.event_agg(
            node.types, node.category, self.count_value(node.offset), self.count_value(node.days)
        )
        col = self._col(agg.name)
        sql = f"({col} {COMPARE_OPS[node.op]} {self.operand_sql(node.operand)})"
        return Compiled(sql, {node.name: Param(col, "int")}, {agg.name: agg})

    def _firsttimeevent(self, node: FirstTimeEvent) -> Compiled:
        recent_days = self.count_value(node.recent_days)
        recent = self.event_agg(node.types, node.category, 0, recent_days)
        prior = self.event_agg(
            node.types, node.category, recent_days, self.count_value(node.within_days)
        )
        r, p = self._col(recent.name), self._col(prior.name)
        params = {f"{node.name}_recent": Param(r, "int"), f"{node.name}_prior": Param(p, "int")}
        return Compiled(f"({r} >= 1 AND {p} = 0)", params, {recent.name: recent, prior.name: prior})

    def _firsttimefield(self, node: FirstTimeField) -> Compiled:
        first = self.business_date - dt.timedelta(days=self.count_value(node.recent_days) - 1)
        sql = f"({self._col(node.field)} BETWEEN {sql_date(first)} AND {sql_date(self.business_date)})"
        return Compiled(sql, self._field_param(node.field))

    def _anniversary(self, node: Anniversary) -> Compiled:
        window = cal.anniversary_window(
            self.business_date,
            self.count_value(node.days_before),
            self.count_value(node.days_after),
        )
        col = self._col(node.field)
        md = f"(EXTRACT(MONTH FROM {col}) * 100 + EXTRACT(DAY FROM {col}))"
        keys = sorted(window)
        year_case = (
            "(CASE " + md + " " + " ".join(f"WHEN {k} THEN {window[k][1]}" for k in keys) + " END)"
        )
        offset_case = (
            "(CASE " + md + " " + " ".join(f"WHEN {k} THEN {window[k][0]}" for k in keys) + " END)"
        )
        years = f"({year_case} - EXTRACT(YEAR FROM {col}))"
        min_years = self.count_value(node.min_years)
        sql = f"({md} IN ({', '.join(map(str, keys))}) AND {years} >= {min_years})"
        params = {
            f"{node.name}_days_to": Param(offset_case, "int"),
            f"{node.name}_years": Param(f"CAST({years} AS BIGINT)", "int"),
        }
        return Compiled(sql, params)

    def _holiday(self, node: Holiday) -> Compiled:
        period = cal.nearest_holiday(
            self.business_date,
            self.count_value(node.days_before),
            self.count_value(node.days_after),
        )
        warnings = []
        if period is None:
            return Compiled(
                "FALSE",
                {
                    "holiday_name": Param("CAST(NULL AS VARCHAR)", "string"),
                    "holiday_date": Param("CAST(NULL AS DATE)", "date"),
                    "days_to_holiday": Param("CAST(NULL AS BIGINT)", "int"),
                },
            )
        if not period.official:
            warnings.append(
                f"holiday calendar does not cover {period.start.year}; used the fixed date of {period.name_zh}"
            )
        params = {
            "holiday_name": Param(sql_string(period.name_zh), "string"),
            "holiday_date": Param(sql_date(period.start), "date"),
            "days_to_holiday": Param(str((period.start - self.business_date).days), "int"),
        }
        return Compiled("TRUE", params, warnings=warnings)


def _structural_operands(node) -> list:
    """Operands that shape the SQL itself (windows, years), not just a compared value."""
    if isinstance(node, EventCount):
        return [node.days, node.offset]
    if isinstance(node, FirstTimeEvent):
        return [node.within_days, node.recent_days]
    if isinstance(node, FirstTimeField):
        return [node.recent_days]
    if isinstance(node, Anniversary):
        return [node.days_before, node.days_after, node.min_years]
    if isinstance(node, Holiday):
        return [node.days_before, node.days_after]
    return []


# --------------------------------------------------------------------------- Python evaluator


def _and3(values) -> bool | None:
    values = list(values)
    if any(v is False for v in values):
        return False
    if any(v is None for v in values):
        return None
    return True


def _or3(values) -> bool | None:
    values = list(values)
    if any(v is True for v in values):
        return True
    if any(v is None for v in values):
        return None
    return False


def _cmp3(a, op: str, b) -> bool | None:
    if a is None or b is None:
        return None
    return _PY_OPS[op](a, b)


def resolve_thresholds(specs: dict[str, ThresholdSpec], city_values: dict | None, city) -> dict:
    """Threshold name -> value for a subscriber in ``city``."""
    values = {name: spec.default for name, spec in specs.items()}
    values.update((city_values or {}).get(city, {}) if city is not None else {})
    return values


class Evaluator:
    """Evaluates a condition tree over one row (a dict of unified-view values), in Python.

    ``events``: optional list of the subscriber's events (dicts with event_type, category,
    event_time); without it, event counts are read from the row under their aggregate names.
    """

    def __init__(self, business_date: dt.date, thresholds: dict, events: list[dict] | None = None):
        self.business_date = business_date
        self.thresholds = thresholds
        self.events = events
        self._agg_namer = Compiler(business_date)

    def value(self, operand, row):
        if isinstance(operand, Threshold):
            return self.thresholds[operand.name]
        if isinstance(operand, FieldRef):
            return row.get(operand.code)
        return operand.value

    def count_value(self, operand) -> int:
        return self.value(operand, {})

    def __call__(self, node, row) -> bool | None:
        if isinstance(node, All):
            return _and3(self(item, row) for item in node.items)
        if isinstance(node, AnyOf):
            return _or3(self(item, row) for item in node.items)
        if isinstance(node, Not):
            inner = self(node.item, row)
            return None if inner is None else not inner
        if isinstance(node, Compare):
            return _cmp3(row.get(node.field), node.op, self.value(node.operand, row))
        if isinstance(node, Between):
            x = row.get(node.field)
            return _and3(
                [
                    _cmp3(x, "gte", self.value(node.low, row)),
                    _cmp3(x, "lte", self.value(node.high, row)),
                ]
            )
        if isinstance(node, In):
            x = row.get(node.field)
            return None if x is None else x in node.values
        if isinstance(node, IsNull):
            return row.get(node.field) is None
        if isinstance(node, Change):
            return self.change(node, row)
        if isinstance(node, EventCount):
            count = self.event_count(
                node.types,
                node.category,
                self.count_value(node.offset),
                self.count_value(node.days),
                row,
            )
            return _cmp3(count, node.op, self.value(node.operand, row))
        if isinstance(node, FirstTimeEvent):
            recent_days = self.count_value(node.recent_days)
            recent = self.event_count(node.types, node.category, 0, recent_days, row)
            prior = self.event_count(
                node.types, node.category, recent_days, self.count_value(node.within_days), row
            )
            return recent >= 1 and prior == 0
        if isinstance(node, FirstTimeField):
            x = row.get(node.field)
            if x is None:
                return None
            first = self.business_date - dt.timedelta(days=self.count_value(node.recent_days) - 1)
            return first <= x <= self.business_date
        if isinstance(node, Anniversary):
            return self.anniversary(node, row)
        if isinstance(node, Holiday):
            period = cal.nearest_holiday(
                self.business_date,
                self.count_value(node.days_before),
                self.count_value(node.days_after),
            )
            return period is not None
        raise TypeError(f"not a condition node: {node!r}")

    def change(self, node: Change, row) -> bool | None:
        f, b, pct = row.get(node.field), row.get(node.base), self.value(node.pct, row)
        if b is None:
            return None
        if not b > 0:
            return False
        if f is None:
            return None
        diff = (b - f) if node.direction == "down" else (f - b)
        return diff * 100 >= pct * b

    def event_count(self, types, category, first_day: int, days: int, row) -> int:
        if self.events is None:
            agg = self._agg_namer.event_agg(types, category, first_day, days)
            return row.get(agg.name) or 0
        newest = self.business_date - dt.timedelta(days=first_day)
        oldest = newest - dt.timedelta(days=days - 1)
        count = 0
        for event in self.events:
            when = event["event_time"]
            day = when.date() if isinstance(when, dt.datetime) else when
            if (
                event["event_type"] in types
                and (category is None or event.get("category") == category)
                and oldest <= day <= newest
            ):
                count += 1
        return count

    def anniversary(self, node: Anniversary, row) -> bool | None:
        x = row.get(node.field)
        if x is None:
            return None
        window = cal.anniversary_window(
            self.business_date,
            self.count_value(node.days_before),
            self.count_value(node.days_after),
        )
        hit = window.get(cal.month_day(x))
        if hit is None:
            return False
        return hit[1] - x.year >= self.count_value(node.min_years)


def evaluate(node, row: dict, business_date: dt.date, thresholds: dict | None = None, events=None):
    """TRUE / FALSE / None (unknown) for one row; a moment fires only on TRUE."""
    return Evaluator(business_date, thresholds or {}, events)(node, row)
