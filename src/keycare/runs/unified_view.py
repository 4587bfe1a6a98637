"""The published unified view: every catalog field of every archived customer, as of the
latest loaded run (``unified_view.parquet``, written by the engine's ``unified_view`` step).

The application reads it with DuckDB straight from the run directory: one customer's row for
the customer 360, and counts / subscriber ids for segments, with the conditions compiled to
SQL whose values are always bound parameters. Column names come only from the catalog.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb
from django.conf import settings

from keycare.access import roles
from keycare.access.querysets import user_scope
from keycare.engine import publish as pub
from keycare.org.models import City, Manager
from keycare.runs.models import Run

FILE = "unified_view.parquet"
# DuckDB threads per query: the web server shares two cores with everything else.
THREADS = 2


@dataclass(frozen=True)
class PublishedView:
    path: Path
    business_date: object
    run_id: str


def current_view() -> PublishedView | None:
    """The unified view of the latest loaded run, or None (no run loaded, or one published
    before runs published the view)."""
    run = (
        Run.objects.filter(loaded_at__isnull=False)
        .order_by("-business_date", "-loaded_at")
        .only("business_date", "run_id")
        .first()
    )
    if run is None:
        return None
    published = pub.read_published(Path(settings.KEYCARE_RUNS_DIR), run.business_date)
    if published is None or not (published.path / FILE).is_file():
        return None
    return PublishedView(published.path / FILE, run.business_date, published.run_id)


def _connect() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(database=":memory:")
    con.execute(f"SET threads = {THREADS}")
    return con


def _quote(column: str) -> str:
    return '"' + column.replace('"', '""') + '"'


def _source(view: PublishedView) -> str:
    return "read_parquet('" + str(view.path).replace("'", "''") + "')"


def customer_row(view: PublishedView, subscriber_id: str) -> dict | None:
    """One customer's row (every catalog field), or None when the view does not hold them."""
    con = _connect()
    try:
        result = con.execute(
            f"SELECT * FROM {_source(view)} WHERE subscriber_id = ?", [subscriber_id]
        )
        names = [d[0] for d in result.description]
        row = result.fetchone()
    finally:
        con.close()
    return dict(zip(names, row, strict=True)) if row else None


def scope_sql(user, action: str = "view") -> tuple[str, list]:
    """A predicate restricting the view to ``user``'s data scope, as ``restrict()`` does for
    customers (the view holds the city and manager codes; the profile their keys)."""
    role, scope = user_scope(user)
    if role == roles.ROLE_PROVINCE_ADMIN:
        return "TRUE", []
    if role == roles.ROLE_ANALYST and (scope is None or action != "view"):
        return ("TRUE", []) if scope is None and action == "view" else ("FALSE", [])
    if role in (roles.ROLE_CITY_ADMIN, roles.ROLE_ANALYST) and scope:
        code = City.objects.filter(pk=scope).values_list("code", flat=True).first()
        return ("city_id = ?", [code]) if code else ("FALSE", [])
    if role == roles.ROLE_MANAGER and scope:
        code = Manager.objects.filter(pk=scope).values_list("manager_id", flat=True).first()
        return ("manager_id = ?", [code]) if code else ("FALSE", [])
    return "FALSE", []


def count(view: PublishedView, where: str, params: list) -> int:
    con = _connect()
    try:
        return con.execute(
            f"SELECT count(*) FROM {_source(view)} WHERE {where}", params
        ).fetchone()[0]
    finally:
        con.close()


def subscriber_ids(view: PublishedView, where: str, params: list, limit: int) -> list[str]:
    """Up to ``limit`` matching subscriber ids, in order."""
    con = _connect()
    try:
        rows = con.execute(
            f"SELECT subscriber_id FROM {_source(view)} WHERE {where}"
            f" ORDER BY subscriber_id LIMIT {int(limit)}",
            params,
        ).fetchall()
    finally:
        con.close()
    return [r[0] for r in rows]


def condition_sql(column: str, field_type: str, op: str, value) -> tuple[str, list]:
    """One clean segment condition as (SQL, parameters) over the view."""
    col = _quote(column)
    cast = {"date": "DATE", "int": "BIGINT", "float": "DOUBLE"}.get(field_type)
    param = f"CAST(? AS {cast})" if cast else "?"
    if op == "empty":
        return (f"({col} IS NULL OR CAST({col} AS VARCHAR) = '')", [])
    if op == "not_empty":
        return (f"({col} IS NOT NULL AND CAST({col} AS VARCHAR) <> '')", [])
    if op in ("true", "false"):
        return (f"{col} = {op.upper()}", [])
    if op == "contains":
        return (f"contains(lower({col}), lower(?))", [str(value)])
    if op == "in":
        marks = ", ".join([param] * len(value))
        return (f"{col} IN ({marks})", [str(v) for v in value])
    sign = {"eq": "=", "ne": "<>", "gt": ">", "gte": ">=", "lt": "<", "lte": "<="}[op]
    return (f"{col} {sign} {param}", [str(value)])
