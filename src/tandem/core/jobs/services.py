"""Writes for background jobs: create one, start it, report its progress, finish or fail it, and run one."""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Callable, Mapping
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from tandem.core.errors import NotAllowed, TandemError, ValidationFailed
from tandem.core.events import event_record
from tandem.core.models import ACTIVE_JOB_STATUSES, Job, JobStatus

logger = logging.getLogger("tandem.jobs")

# An active job that has not written to its row for this long is taken as abandoned (its worker died):
# a new job of its kind fails it instead of waiting for it forever.
STALE_AFTER = dt.timedelta(minutes=30)


def _json(value: Mapping[str, Any] | None) -> dict[str, Any]:
    """A JSON-safe copy (what the database will give back), so the row and the event hold the same thing."""
    return dict(json.loads(json.dumps(dict(value or {}), default=str)))


def job_describe(*, job: Job) -> str:
    """How refusals and logs name a job: "job 12, started by alice at 2026-05-04 14:03 UTC"."""
    who = job.requested_by.get_username() if job.requested_by_id and job.requested_by else "the command line"
    return f"job {job.pk}, started by {who} at {job.created_at:%Y-%m-%d %H:%M} UTC"


def _abandon_stale(*, kind: str, now: dt.datetime) -> None:
    stale = Job.objects.filter(
        kind=kind, exclusive=True, status__in=ACTIVE_JOB_STATUSES, updated_at__lt=now - STALE_AFTER
    )
    for job in stale:
        job_fail(
            job=job,
            error=f"Abandoned: no sign of life for {int(STALE_AFTER.total_seconds() // 60)} minutes (did the worker stop?).",
        )


def job_create(
    *,
    kind: str,
    label: str,
    by_user: Any = None,
    params: Mapping[str, Any] | None = None,
    exclusive: bool = False,
    total: int = 0,
    message: str = "",
) -> Job:
    """Record a queued job; an exclusive kind is refused (409, naming the job) while one of it is queued or running."""
    if not kind.strip():
        raise ValidationFailed("A job needs a kind.", field="kind", value=kind)
    if not label.strip():
        raise ValidationFailed("A job needs a label.", field="label", value=label)
    if total < 0:
        raise ValidationFailed("total must not be negative.", field="total", value=total)
    now = timezone.now()
    if exclusive:
        _abandon_stale(kind=kind, now=now)
        _refuse_if_active(kind=kind)
    try:
        # A savepoint: a caller's transaction survives the refusal below.
        with transaction.atomic():
            job = Job.objects.create(
                kind=kind,
                label=label,
                exclusive=exclusive,
                params=_json(params),
                progress_total=total,
                progress_message=message[:300],
                requested_by=by_user if getattr(by_user, "pk", None) else None,
                created_at=now,
                updated_at=now,
            )
            event_record(
                kind="job.queued", subject=job, actor=by_user, data={"kind": kind, "params": job.params}
            )
    except IntegrityError:
        # Another request created the same exclusive job between the check above and this insert.
        _refuse_if_active(kind=kind)
        raise
    return job


def _refuse_if_active(*, kind: str) -> None:
    active = (
        Job.objects.filter(kind=kind, exclusive=True, status__in=ACTIVE_JOB_STATUSES)
        .select_related("requested_by")
        .first()
    )
    if active is not None:
        raise NotAllowed(
            f"{active.label} is already {active.status} ({job_describe(job=active)}); wait for it to finish.",
            field="job",
            value=active.pk,
        )


def job_start(*, job: Job) -> bool:
    """Mark a queued job running; False (and nothing changes) when it is not queued any more (a repeated hand-over)."""
    now = timezone.now()
    started = Job.objects.filter(pk=job.pk, status=JobStatus.QUEUED).update(
        status=JobStatus.RUNNING, started_at=now, updated_at=now
    )
    if not started:
        return False
    job.status, job.started_at, job.updated_at = JobStatus.RUNNING, now, now
    event_record(kind="job.started", subject=job, actor=job.requested_by, data={"kind": job.kind})
    return True


def job_progress(*, job: Job, done: int, total: int | None = None, message: str | None = None) -> None:
    """Record how far a running job got (done of total steps, and what it is doing now)."""
    # Progress is the running job's heartbeat, not a change of state: no event row; start and end have theirs.
    total = job.progress_total if total is None else total
    done = max(0, min(done, total)) if total else max(0, done)
    fields: dict[str, Any] = {"progress_done": done, "progress_total": total, "updated_at": timezone.now()}
    if message is not None:
        fields["progress_message"] = message[:300]
    Job.objects.filter(pk=job.pk).update(**fields)
    for name, value in fields.items():
        setattr(job, name, value)


def job_finish(*, job: Job, result: Mapping[str, Any] | None = None) -> Job:
    """Mark a job succeeded with its result summary (JSON)."""
    now = timezone.now()
    summary = _json(result)
    done = job.progress_total or job.progress_done
    Job.objects.filter(pk=job.pk).update(
        status=JobStatus.SUCCEEDED,
        finished_at=now,
        updated_at=now,
        result=summary,
        progress_done=done,
        error="",
    )
    job.status, job.finished_at, job.updated_at, job.result, job.progress_done = (
        JobStatus.SUCCEEDED,
        now,
        now,
        summary,
        done,
    )
    event_record(
        kind="job.succeeded", subject=job, actor=job.requested_by, data={"kind": job.kind, "result": summary}
    )
    return job


def job_fail(*, job: Job, error: str) -> Job:
    """Mark a job failed, saying why."""
    now = timezone.now()
    error = (error or "failed").strip()[:5000]
    Job.objects.filter(pk=job.pk).update(
        status=JobStatus.FAILED, finished_at=now, updated_at=now, error=error
    )
    job.status, job.finished_at, job.updated_at, job.error = JobStatus.FAILED, now, now, error
    event_record(
        kind="job.failed", subject=job, actor=job.requested_by, reason=error, data={"kind": job.kind}
    )
    return job


def job_execute(*, job_id: int, work: Callable[[Job], Mapping[str, Any] | None]) -> Job | None:
    """Run a queued job: start it, let `work(job)` do it (reporting progress), then finish it with what `work`
    returned or fail it with the error. A job that is not queued any more is left alone (None if missing)."""
    job = Job.objects.select_related("requested_by").filter(pk=job_id).first()
    if job is None:
        logger.warning("Job %s does not exist any more; nothing to run.", job_id)
        return None
    if not job_start(job=job):
        logger.info("Job %s is %s, not queued: not run again.", job.pk, job.status)
        return job
    # No transaction around the work: its progress must be visible to the pages while it runs.
    try:
        result = work(job)
    except TandemError as exc:
        return job_fail(job=job, error=exc.message)
    except Exception as exc:
        logger.exception("Job %s (%s) failed.", job.pk, job.kind)
        # The page shows the kind of failure, not the internals; the worker's log has the traceback.
        return job_fail(
            job=job, error=f"Unexpected error ({type(exc).__name__}); the worker's log has the details."
        )
    return job_finish(job=job, result=result)
