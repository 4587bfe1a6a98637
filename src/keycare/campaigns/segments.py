"""Segments (目标客户群锁定): saved filters over any non-personal catalog field.

A segment's ``filter`` is ``{"all": [{"field": code, "op": op, "value": v}, ...]}``: every
condition must hold (conditions stack, as the seed's alert conditions do). Conditions name
catalog field codes; ``parse_conditions`` checks each one against the catalog's field type
and allowed values and returns clean conditions or Chinese messages naming what is wrong.

Every catalog field, raw or derived (monthly spend, usage trends...), can be filtered: the
conditions are evaluated over the unified view the latest loaded run published
(``keycare.runs.unified_view``, DuckDB over Parquet: a count at 1M customers takes well under
a second), restricted to the user's scope, values always bound as parameters. Before any run
is loaded, the fields the customer archive stores are evaluated by the ORM instead and a
derived field is refused with a message saying why. Personal fields (name, number, ID,
address, birth date) cannot be filtered on: a filter on them would reveal the masked values
one guess at a time.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation

from django.db.models import Q
from django.utils.dateparse import parse_date

from keycare.catalog.contract import load_core_contract
from keycare.catalog.fields import load_catalog
from keycare.customers.models import Customer
from keycare.errors import UserError
from keycare.runs import unified_view

MAX_CONDITIONS = 20
MAX_IN_VALUES = 200

# Catalog codes stored in a customer column under another name (foreign keys by their code).
COLUMN_PATHS = {
    "city_id": "city__code",
    "county_id": "county__code",
    "grid_id": "grid__code",
    "key_account_id": "key_account__key_account_id",
    "manager_id": "manager__manager_id",
}

# Operator -> (Chinese label, types it applies to, takes a value).
OPERATORS: dict[str, tuple[str, tuple[str, ...], bool]] = {
    "eq": ("等于", ("string", "int", "float", "date"), True),
    "ne": ("不等于", ("string", "int", "float", "date"), True),
    "gt": ("大于", ("int", "float", "date"), True),
    "gte": ("大于等于", ("int", "float", "date"), True),
    "lt": ("小于", ("int", "float", "date"), True),
    "lte": ("小于等于", ("int", "float", "date"), True),
    "in": ("属于（多个值用逗号分隔）", ("string", "int"), True),
    "contains": ("包含", ("string",), True),
    "true": ("为是", ("bool",), False),
    "false": ("为否", ("bool",), False),
    "empty": ("为空", ("string", "int", "float", "date", "bool"), False),
    "not_empty": ("不为空", ("string", "int", "float", "date", "bool"), False),
}
TYPE_LABELS = {"string": "文本", "int": "整数", "float": "数值", "date": "日期", "bool": "是/否"}


@dataclass(frozen=True)
class SegmentField:
    code: str
    zh: str
    category: str
    category_zh: str
    type: str
    path: str | None  # ORM path on Customer; None: only in the run's unified view
    choices: tuple[str, ...] | None
    range: tuple[float, float] | None
    in_json: bool  # stored in Customer.attributes (JSON) rather than a column

    @property
    def stored(self) -> bool:
        """The customer archive stores it (filterable before any run is loaded)."""
        return self.path is not None

    @property
    def operators(self) -> list[tuple[str, str]]:
        return [(op, spec[0]) for op, spec in OPERATORS.items() if self.type in spec[1]]


class SegmentError(ValueError):
    """Conditions that do not validate; ``messages`` lists every problem in Chinese."""

    def __init__(self, messages: list[str]):
        super().__init__("；".join(messages))
        self.messages = messages


@functools.lru_cache(maxsize=1)
def segment_fields() -> dict[str, SegmentField]:
    """The catalog fields a segment may filter on, in catalog order."""
    catalog = load_catalog()
    contract = load_core_contract().files["subscribers"].columns
    columns = {f.name for f in Customer._meta.get_fields() if getattr(f, "concrete", False)}
    fields = {}
    for f in catalog.fields:
        if f.personal or f.code == "subscriber_id":
            continue
        path, in_json = _archive_path(f, columns)
        core = contract.get(f.column or f.code) if f.source == "subscribers" else None
        choices = f.enum or (core.enum if core else None)
        rng = f.range or (core.range if core else None)
        fields[f.code] = SegmentField(
            code=f.code,
            zh=f.zh,
            category=f.category,
            category_zh=catalog.categories[f.category].zh,
            type=f.type,
            path=path,
            choices=tuple(str(c) for c in choices) if choices else None,
            range=tuple(rng) if rng else None,
            in_json=in_json,
        )
    return fields


def _archive_path(f, columns) -> tuple[str | None, bool]:
    """Where the customer archive stores a catalog field (None: only in the unified view)."""
    if not f.is_raw or (f.source == "assignments" and f.code != "manager_id"):
        return None, False  # derived, or assignment history rather than a column
    if f.code in COLUMN_PATHS:
        return COLUMN_PATHS[f.code], False
    if f.code in columns:
        return f.code, False
    if f.source == "subscribers":
        return f"attributes__{f.code}", True
    return None, False


def grouped_fields() -> list[tuple[str, list[SegmentField]]]:
    """Segment fields grouped by catalog category, for a <select> with <optgroup>s."""
    groups: dict[str, list[SegmentField]] = {}
    for field in segment_fields().values():
        groups.setdefault(field.category_zh, []).append(field)
    return list(groups.items())


# --- validation -------------------------------------------------------------------------


def parse_conditions(rows) -> list[dict]:
    """Validate raw conditions ({field, op, value} with text values, as posted or stored).

    Returns clean conditions (typed values); raises SegmentError listing every problem.
    """
    rows = list(rows)
    errors: list[str] = []
    clean: list[dict] = []
    if not rows:
        raise SegmentError(["请至少添加一个筛选条件"])
    if len(rows) > MAX_CONDITIONS:
        raise SegmentError([f"筛选条件最多 {MAX_CONDITIONS} 个，当前 {len(rows)} 个"])
    for number, row in enumerate(rows, start=1):
        try:
            clean.append(_parse_one(row))
        except ValueError as error:
            errors.append(f"条件 {number}：{error}")
    if errors:
        raise SegmentError(errors)
    return clean


def _parse_one(row) -> dict:
    if not isinstance(row, dict):
        raise ValueError("格式无效")
    code = str(row.get("field") or "").strip()
    field = segment_fields().get(code)
    if field is None:
        if code in load_catalog().by_code:
            raise ValueError(
                f"字段“{load_catalog().by_code[code].zh}”是个人信息，不能用于客户群筛选"
            )
        raise ValueError(f"未知字段 {code!r}，请从列表中选择")
    op = str(row.get("op") or "").strip()
    spec = OPERATORS.get(op)
    if spec is None:
        raise ValueError(f"“{field.zh}”的运算符无效：{op!r}")
    label, types, takes_value = spec
    if field.type not in types:
        raise ValueError(
            f"“{field.zh}”是{TYPE_LABELS[field.type]}字段，不支持“{label.split('（')[0]}”"
        )
    if not takes_value:
        return {"field": code, "op": op, "value": None}
    raw = row.get("value")
    if op == "in":
        parts = raw if isinstance(raw, list) else str(raw or "").replace("，", ",").split(",")
        parts = [str(p).strip() for p in parts if str(p).strip()]
        if not parts:
            raise ValueError(f"请填写“{field.zh}”的取值，多个值用逗号分隔")
        if len(parts) > MAX_IN_VALUES:
            raise ValueError(f"“{field.zh}”最多 {MAX_IN_VALUES} 个取值")
        return {"field": code, "op": op, "value": [_parse_value(field, p) for p in parts]}
    return {"field": code, "op": op, "value": _parse_value(field, raw)}


def _parse_value(field: SegmentField, raw):
    text = "" if raw is None else str(raw).strip()
    if text == "":
        raise ValueError(f"请填写“{field.zh}”的取值")
    if field.type == "int":
        try:
            value = int(text)
        except ValueError:
            raise ValueError(f"“{field.zh}”应为整数，不是 {text!r}") from None
    elif field.type == "float":
        try:
            number = Decimal(text)
        except InvalidOperation:
            raise ValueError(f"“{field.zh}”应为数字，不是 {text!r}") from None
        if not number.is_finite():
            raise ValueError(f"“{field.zh}”应为有限的数字，不是 {text!r}")
        value = float(number)
    elif field.type == "date":
        try:
            day = parse_date(text)
        except ValueError:
            day = None
        if day is None:
            raise ValueError(f"“{field.zh}”应为日期（如 2026-01-31），不是 {text!r}")
        return day.isoformat()
    else:
        if len(text) > 100:
            raise ValueError(f"“{field.zh}”的取值过长（最多 100 个字符）")
        if field.choices and text not in field.choices:
            raise ValueError(f"“{field.zh}”的取值 {text!r} 无效；可选：{'、'.join(field.choices)}")
        return text
    if field.range and not field.range[0] <= value <= field.range[1]:
        low, high = (_plain_number(v) for v in field.range)
        raise ValueError(f"“{field.zh}”应在 {low} 到 {high} 之间，不是 {text}")
    return value


def _plain_number(value) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


# --- evaluation -------------------------------------------------------------------------


def conditions_of(segment_filter) -> list[dict]:
    """The condition list of a stored filter (tolerates an empty or malformed one)."""
    if isinstance(segment_filter, dict) and isinstance(segment_filter.get("all"), list):
        return segment_filter["all"]
    return []


def segment_q(conditions: list[dict]) -> Q:
    """One Q for clean conditions (all must hold); values go to the ORM as parameters."""
    q = Q()
    for condition in conditions:
        q &= _condition_q(segment_fields()[condition["field"]], condition)
    return q


def _condition_q(field: SegmentField, condition: dict) -> Q:
    op, value, path = condition["op"], condition["value"], field.path
    if field.type == "date" and value is not None and not field.in_json:
        value = [date.fromisoformat(v) for v in value] if op == "in" else date.fromisoformat(value)
    if op == "empty":
        return _empty_q(field)
    if op == "not_empty":
        return ~_empty_q(field)
    if op == "true":
        return Q(**{path: True})
    if op == "false":
        return Q(**{path: False})
    if op == "eq":
        return Q(**{path: value})
    if op == "ne":
        # Customers without a value do not "differ" from it: they are left out, as in SQL.
        return ~Q(**{path: value}) & ~_empty_q(field)
    if op == "contains":
        return Q(**{f"{path}__icontains": value})
    return Q(**{f"{path}__{op}": value})  # gt, gte, lt, lte, in


def _empty_q(field: SegmentField) -> Q:
    empty = Q(**{f"{field.path}__isnull": True})
    if field.type == "string" and not field.in_json:
        empty |= Q(**{field.path: ""})
    return empty


def view_where(conditions: list[dict]) -> tuple[str, list]:
    """Clean conditions as one SQL predicate over the unified view, with its parameters."""
    fields = segment_fields()
    parts, params = [], []
    for condition in conditions:
        field = fields[condition["field"]]
        sql, values = unified_view.condition_sql(
            field.code, field.type, condition["op"], condition["value"]
        )
        parts.append(sql)
        params += values
    return " AND ".join(parts) or "TRUE", params


def _view_or_refuse(conditions: list[dict]):
    """The loaded run's unified view; without one, the archive can answer only for the fields
    it stores (None), and a derived field is refused with the reason."""
    view = unified_view.current_view()
    if view is None:
        fields = segment_fields()
        derived = [fields[c["field"]].zh for c in conditions if not fields[c["field"]].stored]
        if derived:
            raise UserError(
                f"字段“{derived[0]}”由日批计算，尚无已加载的日批结果（统一视图），暂不能筛选"
            )
    return view


def _scoped_where(user, conditions: list[dict], action: str) -> tuple[str, list]:
    where, params = view_where(conditions)
    scope, scope_params = unified_view.scope_sql(user, action)
    return f"({scope}) AND ({where})", [*scope_params, *params]


def segment_count(user, conditions: list[dict], action: str = "view") -> int:
    """How many customers in ``user``'s scope match clean conditions."""
    view = _view_or_refuse(conditions)
    if view is None:
        return Customer.objects.restrict(user, action).filter(segment_q(conditions)).count()
    return unified_view.count(view, *_scoped_where(user, conditions, action))


def segment_customers(user, conditions: list[dict], action: str = "view", limit: int = 20_000):
    """The customers in ``user``'s scope matching clean conditions (a queryset). Over the
    unified view, the first ``limit`` matches by subscriber id: callers count first."""
    customers = Customer.objects.restrict(user, action)
    view = _view_or_refuse(conditions)
    if view is None:
        return customers.filter(segment_q(conditions))
    ids = unified_view.subscriber_ids(view, *_scoped_where(user, conditions, action), limit)
    return customers.filter(subscriber_id__in=ids)


def describe(conditions: list[dict]) -> str:
    """The conditions in words, e.g. “品牌 等于 gotone 且 账户余额 小于 20”."""
    fields = segment_fields()
    parts = []
    for condition in conditions:
        field = fields.get(condition.get("field"))
        spec = OPERATORS.get(condition.get("op"))
        if field is None or spec is None:
            parts.append("（无效条件）")
            continue
        label = spec[0].split("（")[0]
        value = condition.get("value")
        if isinstance(value, list):
            value = "、".join(map(str, value))
        parts.append(f"{field.zh} {label}" + (f" {value}" if spec[2] else ""))
    return " 且 ".join(parts)


def as_form_rows(conditions: list[dict]) -> list[dict]:
    """Stored conditions as text rows for the form."""
    rows = []
    for condition in conditions:
        value = condition.get("value")
        if isinstance(value, list):
            value = ",".join(map(str, value))
        rows.append(
            {
                "field": condition.get("field", ""),
                "op": condition.get("op", ""),
                "value": "" if value is None else str(value),
            }
        )
    return rows
