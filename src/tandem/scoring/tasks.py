"""Background work for scoring: refresh open leads' scores, rescore one person after an event."""

from __future__ import annotations

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task, lock_task
from huey.exceptions import TaskLockedException

from tandem.crm.models import Person
from tandem.scoring.models import ModelStatus
from tandem.scoring.services import (
    people_rescore_recent,
    people_score_refresh,
    person_rescore,
    scoring_model_train,
)


@db_task()
def scores_refresh_task() -> None:
    """Rescore every open person; one refresh at a time (a second one would redo the same work)."""
    try:
        with lock_task("scoring-refresh"):
            people_score_refresh()
    except TaskLockedException:
        return


@db_task()
def scoring_train_task(horizon_days: float = 90.0) -> None:
    """Train the predictive score and, when it is activated, rescore every open person (minutes on the demo)."""
    try:
        with lock_task("scoring-train"):
            row = scoring_model_train(horizon_days=horizon_days)
            if row.status == ModelStatus.ACTIVE:
                people_score_refresh()
    except TaskLockedException:  # a training is already running; a second would produce the same model
        return


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
        with lock_task("scoring-rescore-sweep"):
            people_rescore_recent()
    except TaskLockedException:  # the previous sweep is still running; it picks the rest up next minute
        return
