"""Reading a table's new rows by id, minute after minute, without skipping the ones that commit late.

A sweep that remembers "the last id I saw" and reads `id > mark` next time loses rows on PostgreSQL: ids are
handed out when rows are inserted, not when they commit, so a slow transaction (an import, a bulk write) can
commit id 5 after a faster one committed id 6 and the sweep read it. SQLite has one writer at a time, so there
ids commit in order and none of this happens.

`ids_unseen` keeps two marks: `seen` (the highest id read) and `mark` (every id up to it was committed and
read). Between them lies the unsettled window. Each run reads the ids above `seen`, and re-reads the window
only when its rows differ from when it was last counted (their number and the sum of their ids: a late
commit, or a deletion),
so quiet runs stay one indexed COUNT. An observation settles (`mark` moves up to what it saw) once every
transaction open when it was made has ended (PostgreSQL's pg_stat_activity.xact_start), so a row can still
appear below `seen` only while it is counted in the window.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from django.db import connection, transaction
from django.db.models import Count, QuerySet, Sum


def _horizon() -> dt.datetime:
    """The start of the oldest transaction still open on the database other than ours (PostgreSQL), or now."""
    with connection.cursor() as cursor:
        # Every open transaction counts, not only those that wrote yet: one that took an id may not have its
        # transaction id yet. A long reader only delays settling; the COUNT keeps the runs in between cheap.
        cursor.execute(
            "SELECT LEAST(clock_timestamp(), MIN(xact_start)) FROM pg_stat_activity "
            "WHERE pid <> pg_backend_pid() AND datname = current_database() AND xact_start IS NOT NULL"
        )
        return cursor.fetchone()[0]  # type: ignore[no-any-return,index]


def _observed_at() -> dt.datetime:
    with connection.cursor() as cursor:
        cursor.execute("SELECT clock_timestamp()")
        return cursor.fetchone()[0]  # type: ignore[no-any-return,index]


def _fingerprint(rows: QuerySet[Any], low: int, high: int) -> str:
    """How many rows the window (low, high] holds and the sum of their ids: a row committing late changes it (a
    count alone would miss a late row and a deletion in the same minute)."""
    found = rows.filter(id__gt=low, id__lte=high).aggregate(n=Count("id"), total=Sum("id"))
    return f"{found['n']}:{found['total'] or 0}"


def _fingerprint_of(ids: list[int]) -> str:
    return f"{len(ids)}:{sum(ids)}"


def _runs_of(ids: list[int]) -> list[list[int]]:
    """Sorted ids as runs of consecutive ids, [first, last] each: the window's read ids, kept compactly."""
    runs: list[list[int]] = []
    for i in sorted(set(ids)):
        if runs and i == runs[-1][1] + 1:
            runs[-1][1] = i
        else:
            runs.append([i, i])
    return runs


def _ids_of(runs: list[list[int]]) -> list[int]:
    return [i for first, last in runs for i in range(first, last + 1)]


def watermark_state(value: Any) -> dict[str, Any]:
    """A stored state, or a plain id mark of the sweeps that came before (everything up to it taken as read)."""
    if isinstance(value, Mapping):
        return {
            "mark": int(value.get("mark", 0)),
            "seen": int(value.get("seen", value.get("mark", 0))),
            "count": str(value.get("count", "0:0")),
            "read": [[int(a), int(b)] for a, b in value.get("read", [])],
            "pending": [[str(at), int(seen)] for at, seen in value.get("pending", [])],
        }
    mark = int(value or 0)
    return {"mark": mark, "seen": mark, "count": "0:0", "read": [], "pending": []}


def ids_unseen(
    *, rows: QuerySet[Any], state: Any, limit: int
) -> tuple[list[tuple[Any, ...]], dict[str, Any]]:
    """The rows of `rows` (a values_list whose first column is the id) not read yet, and the state to keep.

    At most `limit` new rows a run (the rest come next run); rows of the unsettled window that committed late
    come on top. Each row is returned once: the window remembers the ids it read (as runs of consecutive ids).
    A quiet run with nothing unsettled is one query; with an unsettled window, one more COUNT while no row
    appeared in it.
    """
    current = watermark_state(state)
    mark, seen, count = current["mark"], current["seen"], current["count"]
    read: list[int] = _ids_of(current["read"])
    pending: list[list[Any]] = current["pending"]
    if connection.vendor != "postgresql":
        # One writer at a time: ids commit in order, so what was read is settled.
        new = list(rows.filter(id__gt=seen).order_by("id")[:limit])
        seen = int(new[-1][0]) if new else seen
        return new, {"mark": seen, "seen": seen, "count": "0:0", "read": [], "pending": []}
    if seen == mark:
        # Nothing unsettled: the new rows are the whole window, so their fingerprint needs no second query.
        new = list(rows.filter(id__gt=seen).order_by("id")[:limit])
        if not new:
            return [], current
        observed = _observed_at()  # after the read: whatever it missed was open at this time
        ids = [int(row[0]) for row in new]
        state = {"mark": mark, "seen": ids[-1], "count": _fingerprint_of(ids), "read": _runs_of(ids)}
        return new, {**state, "pending": [[observed.isoformat(), ids[-1]]]}
    # Asked before the snapshot: a transaction that has ended by now committed before the reads below, so its
    # rows are in them; asked after, one could end in between, unread yet settled.
    horizon = _horizon()
    outermost = not connection.in_atomic_block
    with transaction.atomic():
        if outermost:
            # One snapshot for the reads and the fingerprints, or a row committing between them would be counted
            # as read.
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        found: list[tuple[Any, ...]] = []
        changed = _fingerprint(rows, mark, seen) != count
        if changed:
            known = set(read)
            late = [
                row
                for row in rows.filter(id__gt=mark, id__lte=seen).order_by("id")
                if int(row[0]) not in known
            ]
            found.extend(late)
            read.extend(int(row[0]) for row in late)
        new = list(rows.filter(id__gt=seen).order_by("id")[:limit])
        found.extend(new)
        if new:
            read.extend(int(row[0]) for row in new)
            seen = int(new[-1][0])
            pending = [*pending, [_observed_at().isoformat(), seen]]
        settled = [s for at, s in pending if dt.datetime.fromisoformat(at) < horizon]
        mark = max([mark, *settled])
        pending = [[at, s] for at, s in pending if dt.datetime.fromisoformat(at) >= horizon and s > mark]
        read = [i for i in read if i > mark]
        if changed or new or settled:
            count = _fingerprint(rows, mark, seen) if seen > mark else "0:0"
    return found, {
        "mark": mark,
        "seen": seen,
        "count": count,
        "read": _runs_of(read),
        "pending": pending[-100:],
    }
