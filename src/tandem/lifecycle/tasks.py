"""Background work for the hand-off: promoting people who meet the MQL definition."""

from __future__ import annotations

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, lock_task
from huey.exceptions import TaskLockedException

from tandem.lifecycle.handoff_services import people_qualify_recent


@db_periodic_task(crontab(minute="*"))
def qualify_sweep() -> None:
    """Every minute, re-evaluate the people with new touchpoints against the current MQL definition."""
    try:
        with lock_task("lifecycle-qualify"):
            people_qualify_recent()
    except TaskLockedException:  # the previous sweep is still running; it will be picked up next minute
        return
