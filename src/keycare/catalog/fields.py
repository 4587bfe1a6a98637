"""Load and validate the unified customer view catalog (catalog/fields.yaml). Pure Python.

The file's header comment is the format specification. ``load_catalog()`` checks every field
against it and against the data contract, and raises ``UserError`` naming the field and the
problem. ``expr_dependency_order()`` gives the order in which a view builder can compute the
row-level expression fields.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlglot
from sqlglot import exp

from keycare.catalog.contract import (
    Contract,
    FileSpec,
    load_core_contract,
    parse_enum,
    parse_range,
    read_yaml,
)
from keycare.errors import UserError

DEFAULT_CATALOG_PATH = Path(__file__).with_name("fields.yaml")

FIELD_TYPES = ("string", "int", "float", "bool", "date")
KINDS = ("raw", "derived")
AGGS = ("sum", "count", "avg", "max", "min", "count_distinct", "latest")
WINDOW_UNITS = ("month", "week", "day")
VIEW_SOURCE = "view"
BUSINESS_DATE = "business_date"

# Files a derived field may aggregate, with the column windows are measured on and the
# window units that make sense for it.
AGG_SOURCES: dict[str, tuple[str, tuple[str, ...]]] = {
    "bills": ("bill_month", ("month",)),
    "usage_weekly": ("week_start", ("week",)),
    "events": ("event_time", WINDOW_UNITS),
    "call_circle": ("month", ("month",)),
    "key_account_members": ("joined_date", WINDOW_UNITS),
}
NUMERIC_COLUMN_TYPES = ("int", "float")
SQL_DIALECT = "duckdb"

_FIELD_KEYS = {
    "code",
    "zh",
    "en",
    "category",
    "type",
    "unit",
    "description",
    "personal",
    "kind",
    "source",
    "column",
    "derivation",
    "enum",
    "range",
}
_AGG_KEYS = {"agg", "column", "where", "window", "default"}
_CODE_RE = re.compile(r"[a-z][a-z0-9_]*")


@dataclass(frozen=True)
class Category:
    code: str
    zh: str
    en: str


@dataclass(frozen=True)
class Field:
    """One column of the unified view.

    ``derivation`` (derived fields only) is a dict: ``{"expr": sql}`` for view expressions, or
    ``{"agg", "column", "where", "window", "default"}`` for aggregates, where ``window`` is
    ``{"unit", "from", "to"}`` or None (every row) and ``default`` is already filled in
    (0 for count / count_distinct / sum unless given).
    """

    code: str
    zh: str
    en: str
    category: str
    type: str
    unit: str | None
    description: str
    personal: bool
    kind: str
    source: str
    column: str | None
    derivation: dict | None = field(default=None, hash=False, compare=False)
    enum: tuple | None = None
    range: tuple[float, float] | None = None
    # Raw field carried by an extends_from_catalog file beyond its core contract columns.
    extended: bool = False
    # Field codes an expression refers to (view fields only).
    depends_on: tuple[str, ...] = ()

    @property
    def is_raw(self) -> bool:
        return self.kind == "raw"

    @property
    def is_expr(self) -> bool:
        return self.kind == "derived" and self.source == VIEW_SOURCE

    @property
    def is_agg(self) -> bool:
        return self.kind == "derived" and self.source != VIEW_SOURCE


@dataclass(frozen=True)
class Label:
    """A display label of a unit or of an enumerated value, in Chinese and English."""

    zh: str
    en: str


@dataclass(frozen=True)
class Catalog:
    categories: dict[str, Category]
    fields: list[Field]
    by_code: dict[str, Field]
    # unit -> label; field code -> {value -> label} (see the file's `units` / `value_labels`)
    units: dict[str, Label] = field(default_factory=dict)
    value_labels: dict[str, dict[str, Label]] = field(default_factory=dict)

    def in_category(self, category: str) -> list[Field]:
        return [f for f in self.fields if f.category == category]

    @property
    def extended_fields(self) -> list[Field]:
        return [f for f in self.fields if f.extended]

    def __len__(self) -> int:
        return len(self.fields)


def load_catalog(
    path: str | Path | None = None, contract_path: str | Path | None = None
) -> Catalog:
    """Load and validate the catalog. The default load (no arguments) is cached: read-only."""
    if path is None and contract_path is None:
        return _load_default_catalog()
    return _load_catalog(path, contract_path)


@functools.lru_cache(maxsize=1)
def _load_default_catalog() -> Catalog:
    return _load_catalog(None, None)


def _load_catalog(path, contract_path) -> Catalog:
    path = Path(path) if path is not None else DEFAULT_CATALOG_PATH
    contract = load_core_contract(contract_path)
    data = read_yaml(path)
    where = f"catalog {path.name}"
    if not isinstance(data, dict):
        raise UserError(f"{where}: expected a mapping with 'categories' and 'fields'")
    categories = _parse_categories(where, data.get("categories"))
    raw_fields = data.get("fields")
    if not isinstance(raw_fields, list) or not raw_fields:
        raise UserError(f"{where}: 'fields' must be a non-empty list")
    fields: list[Field] = []
    by_code: dict[str, Field] = {}
    for index, spec in enumerate(raw_fields):
        f = _parse_field(where, index, spec, categories, contract)
        if f.code in by_code:
            raise UserError(f"{where}: field '{f.code}': duplicate code")
        fields.append(f)
        by_code[f.code] = f
    catalog = Catalog(
        categories=categories,
        fields=fields,
        by_code=by_code,
        units=_parse_labels(f"{where}: units", data.get("units")),
        value_labels={
            code: _parse_labels(f"{where}: value_labels.{code}", labels)
            for code, labels in _mapping(f"{where}: value_labels", data.get("value_labels")).items()
        },
    )
    _check_labels(where, catalog, contract)
    _check_expr_references(where, catalog)
    _check_core_columns_covered(where, catalog, contract)
    expr_dependency_order(catalog, where=where)  # raises on a cycle
    return catalog


def _mapping(where: str, data: Any) -> dict:
    if not isinstance(data, dict) or not data:
        raise UserError(f"{where}: must be a non-empty mapping")
    return data


def _parse_labels(where: str, data: Any) -> dict[str, Label]:
    labels = {}
    for key, spec in _mapping(where, data).items():
        if not isinstance(spec, dict) or not all(
            isinstance(spec.get(k), str) and spec[k].strip() for k in ("zh", "en")
        ):
            raise UserError(f"{where}: {key!r} needs 'zh' and 'en' labels")
        labels[str(key)] = Label(zh=spec["zh"].strip(), en=spec["en"].strip())
    return labels


# Core contract columns whose values are labelled by a model's choices class instead
# (keycare.web.labels.CODED_FIELDS): the catalog does not repeat them.
MODEL_LABELLED = frozenset({"gender", "brand", "payment_type", "status", "value_tier"})


def _check_labels(where: str, catalog: Catalog, contract: Contract) -> None:
    """Every unit and every enumerated value of a raw field has a label, and every label
    belongs to a field and a value that exist."""
    for f in catalog.fields:
        if f.unit is not None and f.unit not in catalog.units:
            raise UserError(f"{where}: field '{f.code}': unit {f.unit!r} has no label in 'units'")
    enums = {}
    for f in catalog.fields:
        enum = f.enum
        if enum is None and f.is_raw and f.source in contract.files:
            column = contract.files[f.source].columns.get(f.column or f.code)
            enum = getattr(column, "enum", None)
        if enum is not None and f.code not in MODEL_LABELLED:
            enums[f.code] = {str(v) for v in enum}
    for code, values in enums.items():
        missing = sorted(values - set(catalog.value_labels.get(code, {})))
        if missing:
            raise UserError(
                f"{where}: field '{code}': value(s) {', '.join(missing)} have no label in "
                "'value_labels'"
            )
    for code, labels in catalog.value_labels.items():
        if code not in enums:
            raise UserError(f"{where}: value_labels.{code}: not an enumerated raw field")
        extra = sorted(set(labels) - enums[code])
        if extra:
            raise UserError(
                f"{where}: value_labels.{code}: {', '.join(extra)} not among the field's values"
            )


def _parse_categories(where: str, data: Any) -> dict[str, Category]:
    if not isinstance(data, dict) or not data:
        raise UserError(f"{where}: 'categories' must be a non-empty mapping")
    categories = {}
    for code, spec in data.items():
        if not isinstance(code, str) or not _CODE_RE.fullmatch(code):
            raise UserError(f"{where}: category {code!r} must be snake_case")
        if not isinstance(spec, dict) or not all(
            isinstance(spec.get(k), str) and spec.get(k) for k in ("zh", "en")
        ):
            raise UserError(f"{where}: category '{code}' needs 'zh' and 'en' names")
        categories[code] = Category(code=code, zh=spec["zh"], en=spec["en"])
    return categories


def _parse_field(where, index, spec, categories, contract: Contract) -> Field:
    if not isinstance(spec, dict):
        raise UserError(f"{where}: field #{index + 1}: expected a mapping")
    code = spec.get("code")
    if not isinstance(code, str) or not _CODE_RE.fullmatch(code):
        raise UserError(f"{where}: field #{index + 1}: code {code!r} must be snake_case")
    where = f"{where}: field '{code}'"
    if code == BUSINESS_DATE:
        raise UserError(f"{where}: '{BUSINESS_DATE}' is reserved")
    unknown = sorted(set(spec) - _FIELD_KEYS)
    if unknown:
        raise UserError(f"{where}: unknown key(s) {', '.join(map(str, unknown))}")
    for key in ("zh", "en", "description"):
        if not isinstance(spec.get(key), str) or not spec[key].strip():
            raise UserError(f"{where}: '{key}' is required text")
    category = spec.get("category")
    if category not in categories:
        raise UserError(f"{where}: unknown category {category!r}")
    ftype = spec.get("type")
    if ftype not in FIELD_TYPES:
        raise UserError(f"{where}: type must be one of {', '.join(FIELD_TYPES)}, not {ftype!r}")
    kind = spec.get("kind")
    if kind not in KINDS:
        raise UserError(f"{where}: kind must be raw or derived, not {kind!r}")
    personal = spec.get("personal", False)
    if not isinstance(personal, bool):
        raise UserError(f"{where}: 'personal' must be true or false")
    unit = spec.get("unit")
    if unit is not None and (not isinstance(unit, str) or not unit):
        raise UserError(f"{where}: 'unit' must be text")
    common = dict(
        code=code,
        zh=spec["zh"].strip(),
        en=spec["en"].strip(),
        category=category,
        type=ftype,
        unit=unit,
        description=spec["description"].strip(),
        personal=personal,
        kind=kind,
    )
    if kind == "raw":
        return _parse_raw(where, spec, common, contract)
    return _parse_derived(where, spec, common, contract)


def _parse_raw(where, spec, common, contract: Contract) -> Field:
    if "derivation" in spec:
        raise UserError(f"{where}: a raw field has no 'derivation'")
    source = spec.get("source")
    file = contract.files.get(source) if isinstance(source, str) else None
    if file is None or file.format != "table":
        raise UserError(f"{where}: source {source!r} is not a file of the data contract")
    if file.key != ["subscriber_id"]:
        raise UserError(
            f"{where}: raw source '{source}' must have one row per subscriber (key subscriber_id)"
        )
    column = spec.get("column", common["code"])
    if not isinstance(column, str) or not _CODE_RE.fullmatch(column):
        raise UserError(f"{where}: column {column!r} must be snake_case")
    core = file.columns.get(column)
    if core is None and not file.extends_from_catalog:
        raise UserError(f"{where}: column '{column}' does not exist in contract file '{source}'")
    if core is None:  # an extended column: typed and constrained here
        enum = parse_enum(where, spec.get("enum"), common["type"])
        rng = parse_range(where, spec.get("range"), common["type"])
        return Field(**common, source=source, column=column, enum=enum, range=rng, extended=True)
    if "enum" in spec or "range" in spec:
        raise UserError(
            f"{where}: enum/range of contract column '{source}.{column}' belong in contract.yaml"
        )
    if core.type != common["type"]:
        raise UserError(
            f"{where}: type {common['type']} differs from contract column "
            f"'{source}.{column}' ({core.type})"
        )
    if core.personal != common["personal"]:
        raise UserError(f"{where}: personal flag differs from contract column '{source}.{column}'")
    return Field(**common, source=source, column=column)


def _parse_derived(where, spec, common, contract: Contract) -> Field:
    for key in ("column", "enum", "range"):
        if key in spec:
            raise UserError(f"{where}: a derived field has no '{key}'")
    source = spec.get("source")
    derivation = spec.get("derivation")
    if not isinstance(derivation, dict):
        raise UserError(f"{where}: 'derivation' must be a mapping with 'expr' or 'agg'")
    if source == VIEW_SOURCE:
        if set(derivation) != {"expr"}:
            raise UserError(f"{where}: a view field's derivation is exactly {{expr: ...}}")
        expr = derivation["expr"]
        tree = _parse_sql(where, "expr", expr)
        depends_on = tuple(sorted(sql_column_names(tree) - {BUSINESS_DATE}))
        return Field(
            **common, source=source, column=None, derivation={"expr": expr}, depends_on=depends_on
        )
    if source not in AGG_SOURCES:
        allowed = ", ".join([*AGG_SOURCES, VIEW_SOURCE])
        raise UserError(f"{where}: derived source must be one of {allowed}, not {source!r}")
    if source not in contract.files:
        raise UserError(f"{where}: source '{source}' is not a file of the data contract")
    agg = _parse_agg(where, derivation, contract.files[source])
    return Field(**common, source=source, column=None, derivation=agg)


def _parse_agg(where: str, derivation: dict, file: FileSpec) -> dict:
    unknown = sorted(set(derivation) - _AGG_KEYS)
    if unknown:
        raise UserError(f"{where}: unknown derivation key(s) {', '.join(map(str, unknown))}")
    agg = derivation.get("agg")
    if agg not in AGGS:
        raise UserError(f"{where}: agg must be one of {', '.join(AGGS)}, not {agg!r}")
    column = derivation.get("column")
    if agg == "count":
        if column is not None:
            raise UserError(f"{where}: agg count takes no 'column'")
    else:
        if not isinstance(column, str):
            raise UserError(f"{where}: agg {agg} needs a 'column' of file '{file.name}'")
        if column not in file.columns:
            raise UserError(f"{where}: column '{column}' does not exist in file '{file.name}'")
        if agg in ("sum", "avg") and file.columns[column].type not in NUMERIC_COLUMN_TYPES:
            raise UserError(f"{where}: agg {agg} needs a numeric column, '{column}' is not")
    where_sql = derivation.get("where")
    if where_sql is not None:
        tree = _parse_sql(where, "where", where_sql)
        for name in sorted(sql_column_names(tree)):
            if name not in file.columns:
                raise UserError(f"{where}: where refers to '{name}', not a column of '{file.name}'")
    window = _parse_window(where, derivation.get("window"), file.name)
    default = derivation.get("default")
    if default is None and agg in ("count", "count_distinct", "sum"):
        default = 0
    if default is not None and not isinstance(default, str | int | float | bool):
        raise UserError(f"{where}: 'default' must be a single value")
    return {"agg": agg, "column": column, "where": where_sql, "window": window, "default": default}


def _parse_window(where: str, window: Any, source: str) -> dict | None:
    if window is None:
        return None
    if not isinstance(window, dict) or set(window) != {"unit", "from", "to"}:
        raise UserError(f"{where}: window must be {{unit: ..., from: A, to: B}}")
    unit, start, end = window["unit"], window["from"], window["to"]
    allowed_units = AGG_SOURCES[source][1]
    if unit not in allowed_units:
        raise UserError(
            f"{where}: window unit {unit!r} not valid for '{source}' (use {', '.join(allowed_units)})"
        )
    for name, value in (("from", start), ("to", end)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise UserError(f"{where}: window '{name}' must be a whole number >= 0, not {value!r}")
    if start > end:
        raise UserError(f"{where}: window from ({start}) is after to ({end})")
    return {"unit": unit, "from": start, "to": end}


def _parse_sql(where: str, what: str, sql: Any) -> exp.Expression:
    if not isinstance(sql, str) or not sql.strip():
        raise UserError(f"{where}: '{what}' must be a SQL expression")
    try:
        tree = sqlglot.parse_one(sql, read=SQL_DIALECT)
    except sqlglot.errors.SqlglotError as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise UserError(f"{where}: {what} does not parse: {first}") from None
    if tree is None or isinstance(tree, exp.Query | exp.DDL | exp.DML):
        raise UserError(f"{where}: {what} must be a row-level expression, not a statement")
    if any(tree.find_all(exp.Query, exp.AggFunc, exp.Window)):
        raise UserError(f"{where}: {what} must not use subqueries, aggregates or windows")
    for col in tree.find_all(exp.Column):
        if col.table:
            raise UserError(f"{where}: {what} must not qualify columns ('{col.sql()}')")
    return tree


def sql_column_names(sql: str | exp.Expression) -> set[str]:
    """Column names an SQL expression (DuckDB dialect) refers to."""
    tree = sqlglot.parse_one(sql, read=SQL_DIALECT) if isinstance(sql, str) else sql
    return {col.name for col in tree.find_all(exp.Column)}


def _check_expr_references(where: str, catalog: Catalog) -> None:
    for f in catalog.fields:
        for name in f.depends_on:
            if name not in catalog.by_code:
                raise UserError(f"{where}: field '{f.code}': expr refers to unknown field '{name}'")


def _check_core_columns_covered(where: str, catalog: Catalog, contract: Contract) -> None:
    for file in contract.files.values():
        if not file.extends_from_catalog:
            continue
        for column in file.columns:
            f = catalog.by_code.get(column)
            if f is None or not f.is_raw or f.source != file.name or f.column != column:
                raise UserError(
                    f"{where}: contract column '{file.name}.{column}' needs a raw field "
                    f"with code '{column}' and source '{file.name}'"
                )


def expr_dependency_order(catalog: Catalog, where: str = "catalog") -> list[Field]:
    """View-expression fields ordered so that every field comes after the ones it uses.

    Ties keep catalog order. Raises UserError naming the fields of a cycle.
    """
    exprs = {f.code: f for f in catalog.fields if f.is_expr}
    ordered: list[Field] = []
    done: set[str] = set()
    visiting: list[str] = []

    def visit(code: str) -> None:
        if code in done:
            return
        if code in visiting:
            cycle = [*visiting[visiting.index(code) :], code]
            raise UserError(
                f"{where}: field '{code}': expressions form a cycle ({' -> '.join(cycle)})"
            )
        visiting.append(code)
        for dep in exprs[code].depends_on:
            if dep in exprs:
                visit(dep)
        visiting.pop()
        done.add(code)
        ordered.append(exprs[code])

    for code in exprs:
        visit(code)
    return ordered
