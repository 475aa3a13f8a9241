"""The data version: one cheap query whose answer changes whenever data a report reads changes.

Report caches (tandem.core.reportcache) key their entries on it, so a change makes every cached report stale
at once, on every node. It is read in ONE statement of index-backed subqueries, never a COUNT over a big table:

- the sum of `core.DataVersion`'s few counter slots, which writers bump AFTER they commit
  (`data_version_bump`, queued with `transaction.on_commit`). Bumping after the commit matters: a version that
  moved before the data committed would let a reader cache the old data under the new version. The bulk
  writers (`core.bulk`), the event log (`core.events.event_record` of a tracked subject) and the services that
  delete, merge, erase or restore bump it; several slots, one picked at random per bump, so concurrent capture
  workers do not queue on one hot row (each bump is its own one-statement transaction, after the write);
- the newest value of each registered source column (`MAX(id)` of an append-only table, `MAX(updated_at)` of
  an updated one, each served by an index): a safety net for a write that neither writes an event nor goes
  through the bulk writer. A MAX moves when the row is written, not when it commits, so on its own it could
  miss a slow writer that committed an older id after a reader cached; the counter bumped after the commit
  closes that window for every write that bumps.

Higher floors register their tables in their `AppConfig.ready()` (`data_version_source_register`), as they do
in crm's registry: core cannot import them. Signals are not used (docs/architecture.md).
"""

from __future__ import annotations

import logging
import random
import uuid
from dataclasses import dataclass

from django.db import DatabaseError, connection, models, transaction

from tandem.core.models import DataVersion

logger = logging.getLogger(__name__)

# Counter rows: enough that a handful of concurrent writers seldom pick the same one.
SLOTS = 16


@dataclass(frozen=True)
class Source:
    """A table reports read: `column` (None: counted by bumps only) is the one whose MAX moves on a write."""

    label: str
    table: str
    column: str | None


_SOURCES: dict[str, Source] = {}
_sql: str | None = None


def data_version_source_register(*, model: type[models.Model], field: str | None = "id") -> None:
    """Say that reports read `model`: its writes through the bulk writer and the event log bump the version,
    and `field` (indexed; None for none) is read as MAX(field) in the version query."""
    global _sql
    column = None if field is None else model._meta.get_field(field).column  # type: ignore[union-attr]
    _SOURCES[model._meta.label_lower] = Source(
        label=model._meta.label_lower, table=model._meta.db_table, column=column
    )
    _sql = None


def data_version_sources() -> list[Source]:
    """The registered tables, in registration order."""
    return list(_SOURCES.values())


def data_version_tracks(label: str) -> bool:
    """Whether reports read the model with this label ("crm.person")."""
    return label.lower() in _SOURCES


def _version_sql() -> str:
    global _sql
    if _sql is None:
        quote = connection.ops.quote_name
        parts = [f"(SELECT COALESCE(SUM({quote('bumps')}), 0) FROM {quote(DataVersion._meta.db_table)})"]
        parts += [
            f"(SELECT MAX({quote(s.column)}) FROM {quote(s.table)})"
            for s in _SOURCES.values()
            if s.column is not None
        ]
        _sql = "SELECT " + ", ".join(parts)
    return _sql


def data_version_sql() -> str:
    """The version query's text (for EXPLAIN in the tests)."""
    return _version_sql()


def data_version_get() -> str:
    """The current data version (one query): equal strings mean the reports' data did not change.

    Inside a transaction that changed report data (its bump is pending) the version carries that transaction's
    own token: what it computes from data others cannot see yet is cached for it alone, and forgotten whether it
    commits (the bump moves the version) or rolls back."""
    with connection.cursor() as cursor:
        cursor.execute(_version_sql())
        row = cursor.fetchone()
    version = ":".join("" if v is None else str(v) for v in row)
    pending = _pending()
    return version if pending is None else f"{version}:uncommitted-{pending.token}"


class _Bump:
    """One transaction's bump, queued for its commit; the token names the transaction in its reports' keys."""

    def __init__(self) -> None:
        self.token = uuid.uuid4().hex

    def __call__(self) -> None:
        _bump()


def _pending() -> _Bump | None:
    if not connection.in_atomic_block:
        return None
    for entry in connection.run_on_commit:
        if isinstance(entry[1], _Bump):
            return entry[1]
    return None


def _bump() -> None:
    # Its own one-statement transaction after the writer's commit; the upsert needs no rows put in beforehand
    # (a test database flushed between tests keeps working too).
    table = connection.ops.quote_name(DataVersion._meta.db_table)
    try:
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {table} (slot, bumps) VALUES (%s, 1) "
                f"ON CONFLICT (slot) DO UPDATE SET bumps = {table}.bumps + 1",
                [random.randrange(SLOTS)],
            )
    except DatabaseError:
        # The write itself committed; the MAX parts of the version still see most changes. Never fail it here.
        logger.warning("data version bump failed", exc_info=True)


def data_version_bump() -> None:
    """Move the data version once the current transaction commits (at once outside one); once per transaction."""
    if _pending() is None:
        transaction.on_commit(_Bump())


def data_version_bump_for(label: str) -> None:
    """`data_version_bump` when reports read the model with this label (the bulk writer and event log ask)."""
    if label.lower() in _SOURCES:
        data_version_bump()
