"""Fast bulk updates: one parameterised UPDATE run with executemany, instead of Django's CASE WHEN per row.

Django's `bulk_update` builds a CASE expression per field listing every row, which costs milliseconds per
hundred rows in Python; an executemany of the same short statement costs a fraction of that on both SQLite and
PostgreSQL (psycopg pipelines it).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db import connection, models


def rows_update(*, objects: Sequence[models.Model], fields: Sequence[str]) -> int:
    """Write the given fields of each object to its row (by primary key); returns the number of rows."""
    if not objects:
        return 0
    model = type(objects[0])
    meta = model._meta
    concrete: list[Any] = [meta.get_field(name) for name in fields]
    quote = connection.ops.quote_name
    pk: Any = meta.pk
    sets = ", ".join(f"{quote(f.column)} = %s" for f in concrete)
    sql = f"UPDATE {quote(meta.db_table)} SET {sets} WHERE {quote(pk.column)} = %s"
    params: list[list[Any]] = []
    for obj in objects:
        row = [f.get_db_prep_save(getattr(obj, f.attname), connection) for f in concrete]
        row.append(obj.pk)
        params.append(row)
    with connection.cursor() as cursor:
        cursor.executemany(sql, params)
    return len(params)


def rows_insert(*, objects: Sequence[models.Model], fields: Sequence[str] | None = None) -> list[int]:
    """Insert the objects in one multi-row INSERT ... RETURNING id and set their primary keys.

    The same rows as `bulk_create`, for hot paths: Django spends most of a bulk insert compiling it, which a
    plain parameterised statement skips. Auto fields (`auto_now_add` / `auto_now`) are not filled in here:
    callers set every column they insert. Row order of RETURNING follows VALUES, as Django's own bulk_create
    relies on for both SQLite and PostgreSQL.
    """
    if not objects:
        return []
    model = type(objects[0])
    meta = model._meta
    pk: Any = meta.pk
    names = fields or [f.name for f in meta.concrete_fields if f is not pk]
    concrete: list[Any] = [meta.get_field(name) for name in names]
    quote = connection.ops.quote_name
    columns = ", ".join(quote(f.column) for f in concrete)
    row_marks = "(" + ", ".join(["%s"] * len(concrete)) + ")"
    ids: list[int] = []
    # SQLite allows 32,766 parameters a statement; stay well below on both databases.
    per_statement = max(1, 10_000 // len(concrete))
    with connection.cursor() as cursor:
        for start in range(0, len(objects), per_statement):
            chunk = objects[start : start + per_statement]
            params: list[Any] = []
            for obj in chunk:
                params.extend(f.get_db_prep_save(getattr(obj, f.attname), connection) for f in concrete)
            cursor.execute(
                f"INSERT INTO {quote(meta.db_table)} ({columns}) VALUES {', '.join([row_marks] * len(chunk))} "
                f"RETURNING {quote(pk.column)}",
                params,
            )
            ids.extend(int(row[0]) for row in cursor.fetchall())
    for obj, new_id in zip(objects, ids, strict=True):
        obj.pk = new_id
        obj._state.adding = False
        obj._state.db = "default"
    return ids
