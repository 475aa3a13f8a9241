"""Background work for capture. The journal itself is drained by the worker's loop (`tandem worker`, see
`capture.intake.processing.drain_loop`); this periodic task is only a safety net for a worker started without it.
"""

from __future__ import annotations

from huey import crontab
from huey.contrib.djhuey import db_periodic_task
from huey.exceptions import TaskLockedException

from tandem.capture.csvimport.tasks import import_job_task  # noqa: F401  (the worker loads tasks from here)
from tandem.capture.intake.processing import submissions_drain
from tandem.core.locks import job_lock


@db_periodic_task(crontab(minute="*"))
def capture_drain_sweep() -> None:
    """Every minute: process whatever waits in the journal (normally nothing: the drain loop got it)."""
    try:
        with job_lock("capture-drain-sweep"):
            submissions_drain(pace=True)
    except TaskLockedException:  # the previous sweep is still at work
        return
