"""Property tests: random valid condition trees, compiled to SQL and run on the backend, give
exactly the answer of the plain-Python evaluator (TRUE / FALSE / UNKNOWN, three-valued), on
random rows with missing values, per-city thresholds and leap-day birthdays."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from keycare.engine import explain
from keycare.engine.conditions import (
    Compiler,
    Param,
    Schema,
    evaluate,
    parse_condition,
    parse_threshold,
    resolve_thresholds,
)

FIELD_TYPES = {
    "n1": "int",
    "n2": "int",
    "x1": "float",
    "x2": "float",
    "s": "string",
    "d": "date",
    "b": "bool",
}
THRESHOLDS = {
    "t_int": parse_threshold("t_int", {"default": 3, "min": -10, "max": 10}, "test"),
    "t_num": parse_threshold(
        "t_num", {"default": 1.5, "type": "float", "min": -100, "max": 100}, "test"
    ),
    "t_pct": parse_threshold("t_pct", {"default": 30, "min": 0, "max": 100}, "test"),
    "t_days": parse_threshold("t_days", {"default": 2, "min": 0, "max": 5}, "test"),
}
CITY_VALUES = {"C02": {"t_int": -2, "t_num": 0.25, "t_pct": 50, "t_days": 4}, "C03": {"t_days": 0}}
EVENT_AGGS = ("_ev_complaint_d0_0", "_ev_complaint_d0_6")
ARROW = {
    "int": pa.int64(),
    "float": pa.float64(),
    "string": pa.string(),
    "date": pa.date32(),
    "bool": pa.bool_(),
}
SCHEMA = Schema(FIELD_TYPES, THRESHOLDS, frozenset({"complaint"}))

ints = st.integers(-5, 5)
floats = st.sampled_from([-2.5, -1.0, 0.0, 0.1, 0.25, 0.3, 1.0, 1.5, 2.0, 3.0, 10.0])
strings = st.sampled_from(["a", "b", "c", "中文"])
dates = st.sampled_from(
    [
        dt.date(2000, 2, 29),
        dt.date(1999, 2, 28),
        dt.date(1990, 3, 1),
        dt.date(2020, 12, 31),
        dt.date(2024, 1, 1),
        dt.date(2024, 2, 28),
        dt.date(2025, 2, 27),
    ]
)


def _number_operand(kind: str):
    literal = ints if kind == "int" else floats
    other = ["n1", "n2"] if kind == "int" else ["x1", "x2"]
    return st.one_of(
        literal,
        st.sampled_from(["$t_int", "$t_num"]),
        st.sampled_from([{"field": f} for f in other]),
    )


def _leaf():
    numeric = st.sampled_from(["n1", "n2", "x1", "x2"]).flatmap(
        lambda f: st.tuples(
            st.sampled_from(["gt", "gte", "lt", "lte", "eq", "ne"]),
            st.just(f),
            _number_operand(FIELD_TYPES[f]),
        ).map(lambda t: {t[0]: [t[1], t[2]]})
    )
    text = st.tuples(st.sampled_from(["eq", "ne", "lt", "gte"]), strings).map(
        lambda t: {t[0]: ["s", t[1]]}
    )
    boolean = st.tuples(st.sampled_from(["eq", "ne"]), st.booleans()).map(
        lambda t: {t[0]: ["b", t[1]]}
    )
    date_cmp = st.tuples(st.sampled_from(["lt", "gte", "eq"]), dates).map(
        lambda t: {t[0]: ["d", t[1].isoformat()]}
    )
    between = st.tuples(st.sampled_from(["n1", "x1"]), floats, floats).map(
        lambda t: (
            {"between": [t[0], min(t[1], t[2]), max(t[1], t[2])]}
            if t[0] == "x1"
            else {"between": [t[0], int(min(t[1], t[2])), int(max(t[1], t[2]))]}
        )
    )
    membership = st.one_of(
        st.lists(strings, min_size=1, max_size=3).map(lambda v: {"in": ["s", v]}),
        st.lists(ints, min_size=1, max_size=3).map(lambda v: {"in": ["n2", v]}),
    )
    nulls = st.sampled_from(list(FIELD_TYPES)).map(lambda f: {"is_null": f})
    change = st.tuples(
        st.sampled_from([("x1", "x2"), ("n1", "n2"), ("x2", "n1")]),
        st.sampled_from(["down", "up"]),
        st.one_of(st.sampled_from([0, 10, 30, 50, 100]), st.just("$t_pct")),
    ).map(
        lambda t: {
            "change": {"field": t[0][0], "base": t[0][1], "direction": t[1], "at_least_pct": t[2]}
        }
    )
    anniversary = st.tuples(
        st.sampled_from([0, 1, 3, "$t_days"]), st.sampled_from([0, 2]), st.sampled_from([0, 1, 20])
    ).map(
        lambda t: {
            "anniversary": {
                "field": "d",
                "days_before": t[0],
                "days_after": t[1],
                "min_years": t[2],
            }
        }
    )
    events = st.tuples(
        st.sampled_from([1, 7]), st.sampled_from(["gte", "eq", "lt"]), st.integers(0, 3)
    ).map(lambda t: {"event_count": {"type": "complaint", "days": t[0]}, t[1]: t[2]})
    return st.one_of(
        numeric, text, boolean, date_cmp, between, membership, nulls, change, anniversary, events
    )


trees = st.recursive(
    _leaf(),
    lambda children: st.one_of(
        st.lists(children, min_size=1, max_size=3).map(lambda c: {"all": c}),
        st.lists(children, min_size=1, max_size=3).map(lambda c: {"any": c}),
        children.map(lambda c: {"not": c}),
    ),
    max_leaves=6,
)


def _maybe(strategy):
    return st.one_of(st.none(), strategy)


rows = st.fixed_dictionaries(
    {
        "n1": _maybe(ints),
        "n2": _maybe(ints),
        "x1": _maybe(floats),
        "x2": _maybe(floats),
        "s": _maybe(strings),
        "d": _maybe(dates),
        "b": _maybe(st.booleans()),
        "city_id": st.sampled_from(["C01", "C02", "C03"]),
        EVENT_AGGS[0]: st.integers(0, 3),
        EVENT_AGGS[1]: st.integers(0, 3),
    }
)
business_dates = st.sampled_from(
    [
        dt.date(2024, 2, 28),
        dt.date(2025, 2, 28),
        dt.date(2024, 2, 29),
        dt.date(2025, 12, 31),
        dt.date(2026, 3, 1),
    ]
)


def _table(data: list[dict]) -> pa.Table:
    schema = pa.schema(
        [("id", pa.int64()), ("city_id", pa.string())]
        + [(f, ARROW[t]) for f, t in FIELD_TYPES.items()]
        + [(name, pa.int64()) for name in EVENT_AGGS]
    )
    return pa.Table.from_pylist([{"id": i, **r} for i, r in enumerate(data)], schema=schema)


def _tri(sql: str) -> str:
    return f"CASE WHEN {sql} THEN 1 WHEN NOT {sql} THEN 0 END"


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    conditions=st.lists(trees, min_size=4, max_size=4),
    data=st.lists(rows, min_size=1, max_size=12),
    day=business_dates,
)
def test_sql_matches_python_evaluator(backend, conditions, data, day):
    nodes = [parse_condition(c, SCHEMA) for c in conditions]
    compiler = Compiler(day, THRESHOLDS, CITY_VALUES, FIELD_TYPES)
    columns = ", ".join(f"{_tri(compiler.compile(n).sql)} AS c{i}" for i, n in enumerate(nodes))
    backend.register_arrow("prop_rows", _table(data))
    got = backend.to_arrow(f"SELECT id, {columns} FROM prop_rows ORDER BY id").to_pylist()
    for row, result in zip(data, got, strict=True):
        thresholds = resolve_thresholds(THRESHOLDS, CITY_VALUES, row["city_id"])
        for i, node in enumerate(nodes):
            expected = evaluate(node, row, day, thresholds)
            actual = None if result[f"c{i}"] is None else bool(result[f"c{i}"])
            assert actual == expected, (conditions[i], row, day)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    values=st.lists(
        st.one_of(st.none(), st.floats(-10000, 10000, allow_nan=False).map(lambda v: round(v, 3))),
        min_size=1,
        max_size=10,
    )
)
def test_sql_number_formatting_matches_python(backend, values):
    specs = ["", ".0f", ".1f", ".2f"]
    backend.register_arrow(
        "prop_values",
        pa.table({"id": list(range(len(values))), "v": pa.array(values, pa.float64())}),
    )
    cols = ", ".join(
        f"{explain.template_sql('{v' + (':' + s if s else '') + '}', {'v': Param('v', 'float')})} AS f{i}"
        for i, s in enumerate(specs)
    )
    got = backend.to_arrow(f"SELECT id, {cols} FROM prop_values ORDER BY id").to_pylist()
    for value, result in zip(values, got, strict=True):
        for i, spec in enumerate(specs):
            assert result[f"f{i}"] == explain.format_value(value, spec), (value, spec)
