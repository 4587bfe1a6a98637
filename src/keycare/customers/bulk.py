"""Bulk inserts and updates of plain rows, with PostgreSQL's COPY when it is the database.

Django's ``bulk_create``/``bulk_update`` quote every value in Python on PostgreSQL (client-side
binding), which dominates the cost of loading hundreds of thousands of rows. COPY streams the
rows instead: inserts go straight into the table, updates go through a temporary table and one
``UPDATE ... FROM``. Other databases (SQLite for the embedded default) use the ORM.

Rows are tuples in the order of ``columns`` (model attnames, e.g. ``city_id``); JSON columns
take the JSON text on PostgreSQL and a Python value elsewhere, so callers pass ``json_text``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from django.db import connection

BATCH = 5000


def is_postgres() -> bool:
    return connection.vendor == "postgresql"


def insert_rows(model, columns: Sequence[str], rows: Sequence[tuple]) -> None:
    if not rows:
        return
    if is_postgres():
        _copy(model._meta.db_table, columns, rows)
        return
    objs = [model(**_python_values(model, columns, row)) for row in rows]
    model.objects.bulk_create(objs, batch_size=BATCH)


def update_rows(model, columns: Sequence[str], rows: Sequence[tuple]) -> None:
    """Update rows by primary key: each row is ``(pk, *values of columns)``."""
    if not rows:
        return
    if is_postgres():
        _copy_update(model, columns, rows)
        return
    objs = []
    for pk, *values in rows:
        obj = model(**_python_values(model, columns, values))
        obj.pk = pk
        objs.append(obj)
    fields = [model._meta.get_field(c).name for c in columns]
    model.objects.bulk_update(objs, fields, batch_size=1000)


def _python_values(model, columns, values) -> dict:
    out = {}
    for column, value in zip(columns, values, strict=True):
        if isinstance(value, str) and _is_json(model, column):
            value = json.loads(value)
        out[column] = value
    return out


def _is_json(model, column: str) -> bool:
    return model._meta.get_field(column).get_internal_type() == "JSONField"


def _copy(table: str, columns: Sequence[str], rows) -> None:
    names = ", ".join(connection.ops.quote_name(c) for c in columns)
    with connection.cursor() as cursor:
        raw = cursor.cursor  # the psycopg cursor under Django's wrapper
        with raw.copy(f"COPY {connection.ops.quote_name(table)} ({names}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)


def _copy_update(model, columns: Sequence[str], rows) -> None:
    quote = connection.ops.quote_name
    table = quote(model._meta.db_table)
    pk = quote(model._meta.pk.column)
    temp = quote(f"tmp_update_{model._meta.db_table}")
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {temp}")
        cursor.execute(
            f"CREATE TEMP TABLE {temp} ON COMMIT DROP AS "
            f"SELECT {pk}, {', '.join(quote(c) for c in columns)} FROM {table} WITH NO DATA"
        )
    _copy(f"tmp_update_{model._meta.db_table}", [model._meta.pk.column, *columns], rows)
    assignments = ", ".join(f"{quote(c)} = t.{quote(c)}" for c in columns)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET {assignments} FROM {temp} t WHERE {table}.{pk} = t.{pk}"
        )
        cursor.execute(f"DROP TABLE {temp}")
