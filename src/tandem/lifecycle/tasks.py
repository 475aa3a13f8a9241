"""Background work for the hand-off: promoting people who meet the MQL definition, SLA breaches and re-routes,
and telling owners about their overdue tasks."""

from __future__ import annotations

from huey import crontab
from huey.contrib.djhuey import db_periodic_task
from huey.exceptions import TaskLockedException

from tandem.core.locks import job_lock
from tandem.lifecycle.services import (
    people_qualify_recent,
    sla_breaches_detect,
    sla_reroutes_apply,
    tasks_overdue_notify,
)


@db_periodic_task(crontab(minute="*"))
def qualify_sweep() -> None:
    """Every minute, re-evaluate the people with new touchpoints against the current MQL definition."""
    try:
        with job_lock("lifecycle-qualify"):
            people_qualify_recent()
    except TaskLockedException:  # the previous sweep is still running; it will be picked up next minute
        return


@db_periodic_task(crontab(minute="*"))
def sla_breach_check() -> None:
    """Every minute, record first-touch SLA breaches, notify the owners and their managers, and re-route
    MQLs left untouched past the policy's re-route delay."""
    try:
        with job_lock("lifecycle-sla-breaches"):
            sla_breaches_detect()
            sla_reroutes_apply()
    except TaskLockedException:
        return


@db_periodic_task(crontab(minute="*"))
def task_overdue_check() -> None:
    """Every minute, tell owners (once each, in the app) about their tasks that became overdue."""
    try:
        with job_lock("lifecycle-task-overdue"):
            tasks_overdue_notify()
    except TaskLockedException:
        return
