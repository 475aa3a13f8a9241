"""Background work for scoring: refresh open leads' scores, rescore one person after an event."""

from __future__ import annotations

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task
from huey.exceptions import TaskLockedException

from tandem.core.locks import job_lock
from tandem.crm.models import Person
from tandem.scoring.services import (
    people_rescore_recent,
    people_score_refresh,
    person_rescore,
    scoring_train_job_run,
)


@db_task()
def scores_refresh_task() -> None:
    """Rescore every open person; one refresh at a time (a second one would redo the same work)."""
    try:
        with job_lock("scoring-refresh"):
            people_score_refresh()
    except TaskLockedException:
        return


@db_task()
def scoring_train_task(job_id: int) -> None:
    """Run a training job (minutes on the demo): train, then rescore every open person when it is activated."""
    # No lock here: the job is exclusive (a second training is refused while one is queued or running), and a
    # repeated hand-over of the same job finds it no longer queued and does nothing.
    scoring_train_job_run(job_id=job_id)


@db_task()
def person_rescore_task(person_id: int) -> None:
    """Rescore one person after a touchpoint, activity or profile change."""
    person = Person.objects.filter(pk=person_id).first()
    if person is not None:
        person_rescore(person=person)


@db_periodic_task(crontab(minute="20", hour="*/6"))
def scores_refresh_periodic() -> None:
    """Every six hours: scores decay with time (engagement, recency) even when nothing happens."""
    scores_refresh_task.call_local()


@db_periodic_task(crontab(minute="*"))
def rescore_sweep() -> None:
    """Every minute, rescore the people with new touchpoints, activities, profile changes or closed deals."""
    try:
        with job_lock("scoring-rescore-sweep"):
            people_rescore_recent()
    except TaskLockedException:  # the previous sweep is still running; it picks the rest up next minute
        return
