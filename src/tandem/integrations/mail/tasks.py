"""Background work for mail: the scheduled weekly report and SLA digest, and content e-mailed by a rep."""

from __future__ import annotations

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task
from huey.exceptions import TaskLockedException

from tandem.core.locks import job_lock
from tandem.integrations.mail.services import content_email_send, scheduled_mail_run


@db_periodic_task(crontab(minute="*/15"))
def scheduled_mail() -> None:
    """Every quarter hour: send what is due (Monday's weekly report, the weekday digest), each period once."""
    try:
        with job_lock("integrations-scheduled-mail"):
            scheduled_mail_run()
    except TaskLockedException:  # the previous run is still sending; this one's work is claimed by it
        return


@db_task()
def content_email_task(link_id: int) -> None:
    """E-mail one sent asset with its tracked link (queued after the send commits)."""
    content_email_send(link_id=link_id)
