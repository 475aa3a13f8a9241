"""Background work for capture: the drain that turns journaled submissions into people and touchpoints."""

from __future__ import annotations

import time

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task, lock_task
from huey.exceptions import TaskLockedException

from tandem.capture.csvimport.tasks import import_job_task  # noqa: F401  (the worker loads tasks from here)
from tandem.capture.intake.processing import submissions_drain


@db_task()
def capture_drain_task() -> None:
    """Process every waiting journal row; one drain at a time, since it empties the whole journal."""
    try:
        with lock_task("capture-drain"):
            submissions_drain(pace=True)
            # Rows that landed while the last batch was committing would otherwise wait for the next wake-up.
            time.sleep(0.2)
            submissions_drain(pace=True)
    except TaskLockedException:  # another drain is running: it will see these rows
        return


@db_periodic_task(crontab(minute="*"))
def capture_drain_sweep() -> None:
    """Every minute, a safety net: drain whatever a lost wake-up left behind."""
    capture_drain_task.call_local()
