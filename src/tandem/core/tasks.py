"""Background work for core: prune the stored answers of Idempotency-Key creates once they expired."""

from __future__ import annotations

from huey import crontab
from huey.contrib.djhuey import db_periodic_task
from huey.exceptions import TaskLockedException

from tandem.core.idempotency import idempotency_keys_prune
from tandem.core.locks import job_lock


@db_periodic_task(crontab(minute="13"))
def idempotency_keys_prune_sweep() -> None:
    """Every hour: keys older than IDEMPOTENCY_KEY_HOURS go (a retry after that is a new request)."""
    try:
        with job_lock("core-idempotency-prune"):
            idempotency_keys_prune()
    except TaskLockedException:
        return
