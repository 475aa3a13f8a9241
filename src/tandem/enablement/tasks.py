"""Background work for enablement: tell owners when their assets expire."""

from __future__ import annotations

from huey import crontab
from huey.contrib.djhuey import db_periodic_task
from huey.exceptions import TaskLockedException

from tandem.core.locks import job_lock
from tandem.enablement.services import assets_expiry_notify


@db_periodic_task(crontab(minute="7"))
def assets_expiry_sweep() -> None:
    """Every hour: owners of assets that expired are told once (an event per asset, an email per owner)."""
    try:
        with job_lock("enablement-expiry-sweep"):
            assets_expiry_notify()
    except TaskLockedException:
        return
