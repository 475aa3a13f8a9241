"""Background work for webhooks: sending the deliveries a committed write queued (retries are the worker's loop)."""

from __future__ import annotations

from huey.contrib.djhuey import db_task, lock_task
from huey.exceptions import TaskLockedException

from tandem.webhooks.services import deliveries_send_due


@db_task()
def deliveries_send() -> None:
    """Send every delivery that is due (queued after the commit of a write that emitted events)."""
    try:
        with lock_task("webhooks-send"):
            while deliveries_send_due():
                pass
    except TaskLockedException:  # a sender is running; rows it has not claimed are the loop's within seconds
        return
