"""Taking turns to write on SQLite: a file lock that wakes the next writer the moment the last one is done.

SQLite has one writer at a time. Left alone, a waiting writer polls with sleeps of up to 100 ms (SQLite's busy
handler), which shows up as latency spikes under load. Writers that take this lock first queue in the kernel
instead and start as soon as the lock is released. PostgreSQL needs none of this: `writer_turn` does nothing.
"""

from __future__ import annotations

import fcntl
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from django.db import connection

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
