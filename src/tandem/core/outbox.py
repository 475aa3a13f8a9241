"""Queueing background work after a write commits, so that a queue that is down never fails the write.

A write that needs background work calls `task_enqueue_on_commit` inside its transaction. That stores a
`PendingTask` row (the outbox) in the same transaction, and hands the task to Huey once the transaction
commits. When Huey's queue is down (Redis stopped, the SQLite queue file locked or unwritable), the hand-over
fails *after* the write committed: the failure is logged, the row stays with a back-off, and the worker's
outbox loop (`outbox_loop`, started by `tandem worker`) hands it over once the queue answers again. The
request still answers its success: raising there would report a committed write as failed, and a client's
retry would repeat it (that is how a retried scoring-rules save once published a second version).

Why an outbox rather than catching the error and retrying in memory: the row commits with the write, so
neither a dead queue nor a process that dies right after the commit loses the work, and anyone can see what
is waiting (Django admin, `PendingTask`). Delivery is at least once (a hand-over whose claim expired may be
repeated), so the tasks queued this way are idempotent: jobs start only from `queued`, refreshes recompute.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from django.db import close_old_connections, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.module_loading import import_string

from tandem.core.models import PendingTask

logger = logging.getLogger("tandem.outbox")

# A row is claimed by whoever hands it over for this long; past it, another hand-over may take it again.
CLAIM = dt.timedelta(minutes=5)
# After the n-th failed hand-over the next try waits FIRST_RETRY * 2**(n-1), at most MAX_RETRY.
FIRST_RETRY = dt.timedelta(seconds=5)
MAX_RETRY = dt.timedelta(minutes=5)
# How often the worker's loop looks for rows to hand over.
LOOP_SECONDS = 5.0


def task_name(task: Any) -> str:
    """The dotted path of a Huey task (module.function), as the outbox stores it."""
    if isinstance(task, str):
        return task
    task_class = task.task_class
    return f"{task_class.__module__}.{task_class.__name__}"


def _retry_after(attempts: int) -> dt.timedelta:
    return min(MAX_RETRY, FIRST_RETRY * (2 ** max(0, attempts - 1)))


def _hand_over(name: str, args: Sequence[Any], kwargs: Mapping[str, Any]) -> None:
    """Put the task on Huey's queue (runs it at once when Huey is immediate); raises when the queue is down."""
    task = import_string(name)
    task(*args, **kwargs)


def _deliver(*, pk: int, name: str, args: Sequence[Any], kwargs: Mapping[str, Any]) -> bool:
    """Hand over one claimed row: delete it on success, keep it with a back-off on failure."""
    try:
        _hand_over(name, args, kwargs)
    # Any failure of the queue: Redis' ConnectionError, sqlite3's OperationalError (a locked or missing file)...
    except Exception as exc:
        now = timezone.now()
        row = PendingTask.objects.filter(pk=pk).values_list("attempts", flat=True).first() or 0
        attempts = row + 1
        logger.warning(
            "Could not queue %s (attempt %s): %s: %s; the outbox retries it in %s s.",
            name,
            attempts,
            type(exc).__name__,
            exc,
            int(_retry_after(attempts).total_seconds()),
        )
        PendingTask.objects.filter(pk=pk).update(
            attempts=attempts,
            last_error=f"{type(exc).__name__}: {exc}"[:2000],
            next_attempt_at=now + _retry_after(attempts),
            claimed_until=None,
        )
        return False
    PendingTask.objects.filter(pk=pk).delete()
    return True


def task_enqueue_on_commit(
    *, task: Any, args: Sequence[Any] = (), kwargs: Mapping[str, Any] | None = None
) -> PendingTask:
    """Queue a Huey task once the current transaction commits; if the queue is down, the outbox retries it."""
    name = task_name(task)
    now = timezone.now()
    kwargs = dict(kwargs or {})
    # Born claimed by this transaction's own hand-over, so the worker's loop leaves it alone meanwhile.
    row = PendingTask.objects.create(
        task=name,
        args=list(args),
        kwargs=kwargs,
        created_at=now,
        next_attempt_at=now,
        claimed_until=now + CLAIM,
    )
    # The row is invisible to the worker until the commit; a rolled-back write drops both the row and this.
    # robust: should anything but the queue fail here, it is logged, never raised into the committed request.
    transaction.on_commit(lambda: _deliver(pk=row.pk, name=name, args=row.args, kwargs=kwargs), robust=True)
    return row


def pending_tasks_drain(*, now: dt.datetime | None = None, limit: int = 100) -> int:
    """Hand over the outbox rows that are due; stop at the first failure (the queue is still down). Returns
    how many were handed over."""
    moment = now or timezone.now()
    due = list(
        PendingTask.objects.filter(next_attempt_at__lte=moment)
        .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lt=moment))
        .order_by("id")
        .values_list("pk", "task", "args", "kwargs", "claimed_until")[:limit]
    )
    delivered = 0
    for pk, name, args, kwargs, claimed_until in due:
        # Claim it: only one of several drains (or a late request) gets the row.
        claimed = PendingTask.objects.filter(pk=pk, claimed_until=claimed_until).update(
            claimed_until=moment + CLAIM
        )
        if not claimed:
            continue
        if not _deliver(pk=pk, name=name, args=args or [], kwargs=kwargs or {}):
            break
        delivered += 1
    if delivered:
        logger.info("Queued %s task(s) from the outbox.", delivered)
    return delivered


def outbox_loop(
    *, stop: threading.Event, every: float = LOOP_SECONDS, drain: Callable[..., int] = pending_tasks_drain
) -> None:
    """The worker's thread: hand over the outbox every few seconds until `stop` is set."""
    while not stop.wait(every):
        try:
            drain()
        except Exception:  # the database itself may be down; the next round tries again
            logger.exception("The outbox drain failed; trying again in %s s.", every)
        finally:
            close_old_connections()
