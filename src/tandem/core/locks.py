"""Locks: taking turns to write on SQLite, and periodic jobs running on one node at a time (`job_lock`).

Taking turns to write on SQLite: a file lock that wakes the next writer the moment the last one is done.

SQLite has one writer at a time. Left alone, a waiting writer polls with sleeps of up to 100 ms (SQLite's busy
handler), which shows up as latency spikes under load. Writers that take this lock first queue in the kernel
instead and start as soon as the lock is released. PostgreSQL needs none of this: `writer_turn` does nothing.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from django.db import DatabaseError, connection

_local = threading.local()


def _lock_fd() -> int:
    fd = getattr(_local, "fd", None)
    if fd is None:
        # One open file per thread: flock excludes open files, so threads of one process exclude each other too.
        path = str(connection.settings_dict["NAME"]) + ".writer-lock"
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        _local.fd = fd
    return int(fd)


@contextmanager
def writer_turn() -> Iterator[None]:
    """Hold the database's writer lock for the block (SQLite only; re-entrant within a thread)."""
    if connection.vendor != "sqlite" or str(connection.settings_dict["NAME"]).startswith(("file:", ":memory:")):
        yield
        return
    depth = getattr(_local, "depth", 0)
    if depth:
        _local.depth = depth + 1
        try:
            yield
        finally:
            _local.depth -= 1
        return
    fd = _lock_fd()
    fcntl.flock(fd, fcntl.LOCK_EX)
    _local.depth = 1
    try:
        yield
    finally:
        _local.depth = 0
        fcntl.flock(fd, fcntl.LOCK_UN)


# ---------------------------------------------------------------------------------------------------------
# Periodic jobs: one run at a time across every node.


def _advisory_key(name: str) -> int:
    """A stable signed 64-bit key for PostgreSQL's advisory locks (Python's hash() changes between processes)."""
    digest = hashlib.blake2b(f"tandem-job:{name}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


@contextmanager
def cluster_lock(name: str) -> Iterator[bool]:
    """Hold PostgreSQL's advisory lock `name` for the block if no other session holds it; yields whether it did.

    Session-level (pg_try_advisory_lock), so it spans the job's own transactions, and PostgreSQL drops it if the
    process dies. Behind a pooler in transaction mode (PgBouncer) session locks do not hold: connect the
    workers directly. SQLite (one node): always yields True; `job_lock` adds huey's lock for this node.
    """
    if connection.vendor != "postgresql":
        yield True
        return
    key = _advisory_key(name)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s)", [key])
        got = bool(cursor.fetchone()[0])  # type: ignore[index]
    if not got:
        yield False
        return
    try:
        yield True
    finally:
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [key])
        except DatabaseError:
            # The session is broken (or its transaction aborted): closing it is what releases the lock.
            connection.close()


@contextmanager
def job_lock(name: str) -> Iterator[None]:
    """Run a periodic job's body on one node of the cluster at a time, else raise huey's TaskLockedException.

    Huey's own lock (`lock_task`) excludes the runs of this node, and of every node when they share Redis; the
    advisory lock excludes the nodes on one PostgreSQL whatever their queue. Every node's scheduler still
    enqueues the job each minute: a run that finds another at work returns, and the jobs read their rows by
    state or by watermarks (core/watermark.py), so a second run in the same minute finds nothing left to do.
    """
    from huey.contrib.djhuey import lock_task
    from huey.exceptions import TaskLockedException

    with lock_task(name), cluster_lock(name) as mine:
        if not mine:
            raise TaskLockedException(f"{name} is running on another node")
        yield
