"""Background work for feedback: put questions that arrived without a theme (imports, bulk loads) into themes."""

from __future__ import annotations

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, lock_task
from huey.exceptions import TaskLockedException

from tandem.feedback.services import questions_assign_unthemed


@db_periodic_task(crontab(minute="*/10"))
def questions_theme_sweep() -> None:
    """Every ten minutes: questions saved one by one are themed at once; imported ones are caught here."""
    try:
        with lock_task("feedback-theme-sweep"):
            questions_assign_unthemed()
    except TaskLockedException:
        return
