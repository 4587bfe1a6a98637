"""Detection parameters (JSON) and Chinese explanations, rendered in SQL for every hit.

Templates use ``{name}`` or ``{name:spec}`` placeholders naming a parameter (a field the
condition reads, a computed value such as ``bill_total_m1_drop_pct``, or a threshold).
Specs: ``.0f`` ``.1f`` ``.2f`` (fixed decimals) or ``d`` (whole number). Without a spec, whole
numbers print without decimals and other numbers with two; dates print as YYYY-MM-DD;
true/false print as 是/否; a missing value prints as "-".

Everything is SQL string concatenation with portable casts, so engines agree byte for byte.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from decimal import ROUND_HALF_UP, Decimal

from keycare.engine.conditions import Param
from keycare.engine.view import sql_string

PLACEHOLDER = re.compile(r"\{([a-zA-Z_][a-zA-Z0-9_]*)(?::([^{}]*))?\}")
SPECS = {"", "d", ".0f", ".1f", ".2f"}
MISSING = "-"
JSON_DECIMALS = 4


def placeholders(template: str) -> list[tuple[str, str]]:
    """(name, spec) pairs of a template, in order."""
    return [(m.group(1), m.group(2) or "") for m in PLACEHOLDER.finditer(template or "")]


def check_template(template: str, known: list[str], where: str) -> str | None:
    """A problem description, or None when every placeholder is a known parameter."""
    stripped = PLACEHOLDER.sub("", template or "")
    if "{" in stripped or "}" in stripped:
        return f"{where}: unbalanced braces in template {template!r}"
    for name, spec in placeholders(template):
        if name not in known:
            return f"{where}: unknown placeholder {{{name}}} (known: {', '.join(known)})"
        if spec not in SPECS:
            return f"{where}: unknown format {spec!r} for {{{name}}} (use .0f, .1f, .2f or d)"
    return None


# --------------------------------------------------------------------------- SQL


def _exact(x: str) -> str:
    """A double as DECIMAL(38, 6) before rounding: rounding the binary double directly
    rounds 128.075 down (it is 128.07499…) and differs between engines."""
    return f"CAST({x} AS DECIMAL(38, 6))"


def _text_sql(param: Param, spec: str) -> str:
    """SQL producing the display text of one parameter (never NULL)."""
    x = param.sql
    if param.type == "bool":
        text = f"(CASE WHEN {x} THEN '是' WHEN NOT {x} THEN '否' END)"
    elif param.type in ("int", "float") and spec in (".1f", ".2f"):
        digits = spec[1]
        text = f"CAST(CAST(ROUND({_exact(x)}, {digits}) AS DECIMAL(18, {digits})) AS VARCHAR)"
    elif param.type in ("int", "float") and spec in (".0f", "d"):
        text = f"CAST(CAST(ROUND({_exact(x)}, 0) AS BIGINT) AS VARCHAR)"
    elif param.type == "float":
        text = (
            f"(CASE WHEN {x} = ROUND({x}, 0) THEN CAST(CAST({x} AS BIGINT) AS VARCHAR) "
            f"ELSE CAST(CAST(ROUND({_exact(x)}, 2) AS DECIMAL(18, 2)) AS VARCHAR) END)"
        )
    else:
        text = f"CAST({x} AS VARCHAR)"
    return f"COALESCE({text}, '{MISSING}')"


def template_sql(template: str, params: dict[str, Param]) -> str:
    """SQL string expression rendering ``template`` with the row's parameters."""
    pieces: list[str] = []
    position = 0
    for match in PLACEHOLDER.finditer(template or ""):
        if match.start() > position:
            pieces.append(sql_string(template[position : match.start()]))
        pieces.append(_text_sql(params[match.group(1)], match.group(2) or ""))
        position = match.end()
    if position < len(template or ""):
        pieces.append(sql_string(template[position:]))
    return " || ".join(pieces) if pieces else "''"


def _json_value_sql(param: Param) -> str:
    x = param.sql
    if param.type == "int":
        text = f"CAST({x} AS VARCHAR)"
    elif param.type == "float":
        text = f"CAST(CAST(ROUND({x}, {JSON_DECIMALS}) AS DECIMAL(20, {JSON_DECIMALS})) AS VARCHAR)"
    elif param.type == "bool":
        text = f"(CASE WHEN {x} THEN 'true' WHEN NOT {x} THEN 'false' END)"
    elif param.type == "date":
        text = f"'\"' || CAST({x} AS VARCHAR) || '\"'"
    else:
        escaped = f"REPLACE(REPLACE(CAST({x} AS VARCHAR), '\\', '\\\\'), '\"', '\\\"')"
        text = f"'\"' || {escaped} || '\"'"
    return f"COALESCE({text}, 'null')"


def params_json_sql(params: dict[str, Param]) -> str:
    """SQL string expression: a JSON object of the parameters, keys in the given order."""
    if not params:
        return "'{}'"
    pieces = []
    for i, (name, param) in enumerate(params.items()):
        prefix = ("{" if i == 0 else ", ") + json.dumps(name) + ": "
        pieces.append(sql_string(prefix))
        pieces.append(_json_value_sql(param))
    pieces.append("'}'")
    return " || ".join(pieces)


# --------------------------------------------------------------------------- Python


def _round_half_up(value: float, digits: int) -> Decimal:
    exact = Decimal(repr(float(value))).quantize(Decimal("0.000001"), rounding=ROUND_HALF_UP)
    rounded = exact.quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_UP)
    return rounded.copy_abs() if rounded == 0 else rounded  # SQL prints no "-0.0"


def format_value(value, spec: str = "") -> str:
    """Python twin of the SQL formatting (for previews and tests)."""
    if value is None:
        return MISSING
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, int | float):
        if spec in (".1f", ".2f"):
            return str(_round_half_up(value, int(spec[1])))
        if spec in (".0f", "d") or isinstance(value, int):
            return str(int(_round_half_up(value, 0)))
        if float(value).is_integer():
            return str(int(value))
        return str(_round_half_up(value, 2))
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def render(template: str, values: dict) -> str:
    """Render a template with Python values (preview of what the SQL produces)."""
    return PLACEHOLDER.sub(
        lambda m: format_value(values.get(m.group(1)), m.group(2) or ""), template or ""
    )
