"""The background task that runs a large CSV import (Huey; immediate in tests that switch it on)."""

from __future__ import annotations

from huey.contrib.djhuey import db_task

from tandem.capture.csvimport.services import import_job_run


@db_task()
def import_job_task(job_id: int) -> None:
    """Run one queued import job (its page polls the job's progress)."""
    import_job_run(job_id=job_id)
