"""Writes of search: only upkeep of the indexes themselves (the database fills them; see indexing.py)."""

from __future__ import annotations

from django.db import connection

from tandem.search.indexing import INDEXED


def search_index_compact(*, tables: tuple[str, ...] = ("crm_person",)) -> int:
    """Merge the SQLite FTS5 indexes of these tables into one segment each, so rows deleted or changed (an erased
    person) leave no trigram behind in older segments; PostgreSQL's indexes need nothing. Returns the tables done.

    FTS5 records a deletion as a marker in a new segment and drops the old entries only when segments merge;
    'optimize' merges them all now. It rewrites the whole index, so it is for rare events such as an erasure."""
    if connection.vendor != "sqlite":
        return 0
    done = 0
    with connection.cursor() as cursor:
        for indexed in INDEXED:
            if indexed.table in tables:
                cursor.execute(f"INSERT INTO {indexed.fts} ({indexed.fts}) VALUES ('optimize')")
                done += 1
    return done
