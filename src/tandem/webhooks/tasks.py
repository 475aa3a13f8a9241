"""Background work for webhooks: sending the deliveries a committed write queued (retries are the worker's loop),
and pruning the delivery log."""

from __future__ import annotations

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task, lock_task
from huey.exceptions import TaskLockedException

from tandem.core.locks import job_lock
from tandem.webhooks.services import deliveries_prune, deliveries_send_due


@db_task()
def deliveries_send() -> None:
    """Send every delivery that is due (queued after the commit of a write that emitted events)."""
    try:
        with lock_task("webhooks-send"):
            while deliveries_send_due():
                pass
    except TaskLockedException:  # a sender is running; rows it has not claimed are the loop's within seconds
        return


@db_periodic_task(crontab(hour="3", minute="41"))
def deliveries_prune_sweep() -> None:
    """Every night: finished deliveries older than WEBHOOKS_RETENTION_DAYS leave the log."""
    try:
        with job_lock("webhooks-prune"):
            deliveries_prune()
    except TaskLockedException:
        return
