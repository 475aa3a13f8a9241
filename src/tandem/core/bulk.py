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
