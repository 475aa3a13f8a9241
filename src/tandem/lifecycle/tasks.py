"""Background work for the hand-off: promoting people who meet the MQL definition, detecting SLA breaches."""

from __future__ import annotations

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, lock_task
from huey.exceptions import TaskLockedException

from tandem.lifecycle.handoff_services import people_qualify_recent, sla_breaches_detect


@db_periodic_task(crontab(minute="*"))
def qualify_sweep() -> None:
    """Every minute, re-evaluate the people with new touchpoints against the current MQL definition."""
    try:
        with lock_task("lifecycle-qualify"):
            people_qualify_recent()
    except TaskLockedException:  # the previous sweep is still running; it will be picked up next minute
        return


@db_periodic_task(crontab(minute="*"))
def sla_breach_check() -> None:
    """Every minute, record first-touch SLA breaches and notify the owners and their managers."""
    try:
        with lock_task("lifecycle-sla-breaches"):
            sla_breaches_detect()
    except TaskLockedException:
        return
