"""Background work for scoring: refresh open leads' scores, rescore one person after an event."""

from __future__ import annotations

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task, lock_task
from huey.exceptions import TaskLockedException

from tandem.crm.models import Person
from tandem.scoring.services import people_score_refresh, person_rescore


@db_task()
def scores_refresh_task() -> None:
    """Rescore every open person; one refresh at a time (a second one would redo the same work)."""
    try:
        with lock_task("scoring-refresh"):
            people_score_refresh()
    except TaskLockedException:
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
