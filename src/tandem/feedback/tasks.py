"""Background work for feedback: mine themes (a job), put questions that arrived without a theme into themes."""

from __future__ import annotations

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task
from huey.exceptions import TaskLockedException

from tandem.core.locks import job_lock
from tandem.feedback.services import questions_assign_unthemed, themes_mine_job_run


@db_periodic_task(crontab(minute="*/10"))
def questions_theme_sweep() -> None:
    """Every ten minutes: questions saved one by one are themed at once; imported ones are caught here."""
    try:
        with job_lock("feedback-theme-sweep"):
            questions_assign_unthemed()
    except TaskLockedException:
        return


@db_task()
def themes_mine_task(job_id: int) -> None:
    """Run a theme-mining job ("Find themes"): seconds to minutes with many questions."""
    themes_mine_job_run(job_id=job_id)
