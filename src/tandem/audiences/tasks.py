"""Background work for audiences: the membership sync, after each edit and every five minutes for all."""

from __future__ import annotations

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task
from huey.exceptions import TaskLockedException

from tandem.audiences.models import Audience
from tandem.audiences.services import audience_sync, audiences_sync_all
from tandem.core.locks import job_lock


@db_task()
def audience_sync_task(audience_id: int) -> None:
    """Sync one audience after it was created or its criteria changed."""
    audience = Audience.objects.filter(pk=audience_id).first()
    if audience is not None:
        audience_sync(audience=audience)


@db_periodic_task(crontab(minute="*/5"))
def audiences_sync_sweep() -> None:
    """Every five minutes, sync every audience: people who now match (or withdrew consent) join (or leave)."""
    try:
        with job_lock("audiences-sync"):
            audiences_sync_all()
    except TaskLockedException:  # the previous sweep is still running
        return
