"""REST endpoints for background jobs: a job's status URL and the user's recent jobs; the 202 answer others give."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from ninja import Field, Router, Schema, Status

from tandem.core.http import Id
from tandem.core.jobs import selectors
from tandem.core.models import Job
from tandem.core.paging import CursorParam, LimitParam, page_dict

router = Router(tags=["jobs"])


class DetailOut(Schema):
    detail: str
    field: str | None = None
    value: str | None = None


class JobAcceptedOut(Schema):
    job_id: int
    status_url: str


class JobProgressOut(Schema):
    done: int
    total: int
    percent: int
    message: str


class JobOut(Schema):
    id: int
    kind: str
    label: str
    status: str
    progress: JobProgressOut
    requested_by: str | None
    created_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None
    result: dict[str, Any]
    error: str
    status_url: str


def job_status_url(job: Job) -> str:
    """Where a client follows the job: GET /api/jobs/{id}."""
    return reverse("api:job", kwargs={"job_id": job.pk})


def job_accepted(response: HttpResponse, job: Job) -> Status:
    """The answer to a request that started a job: 202 with the job's id and status URL, also in `Location`."""
    url = job_status_url(job)
    response["Location"] = url
    return Status(202, {"job_id": job.pk, "status_url": url})


def job_out(job: Job) -> dict[str, Any]:
    return {
        "id": job.pk,
        "kind": job.kind,
        "label": job.label,
        "status": job.status,
        "progress": {
            "done": job.progress_done,
            "total": job.progress_total,
            "percent": job.percent,
            "message": job.progress_message,
        },
        "requested_by": job.requested_by.get_username() if job.requested_by else None,
        "created_at": job.created_at,
        "started_at": job.started_at,
        "finished_at": job.finished_at,
        "result": job.result or {},
        "error": job.error,
        "status_url": job_status_url(job),
    }


class JobPageOut(Schema):
    items: list[JobOut]
    next_cursor: str | None = Field(None, description="pass as `cursor` for the next (older) page")
    prev_cursor: str | None = Field(None, description="pass as `cursor` for the previous (newer) page")


@router.get("/jobs", response={200: JobPageOut, 401: DetailOut, 422: DetailOut}, summary="My recent jobs")
def jobs(
    request: HttpRequest, kind: str = "", cursor: CursorParam = "", limit: LimitParam = selectors.RECENT_LIMIT
) -> dict[str, Any]:
    """The signed-in user's background jobs, newest first, a keyset page at a time (admins: everyone's); `kind`
    filters (e.g. `scoring.train`, `feedback.themes_mine`)."""
    return page_dict(selectors.jobs_page(user=request.user, kind=kind, cursor=cursor, limit=limit), job_out)


@router.get(
    "/jobs/{job_id}",
    response={200: JobOut, 401: DetailOut, 404: DetailOut, 422: DetailOut},
    url_name="job",
    summary="A background job",
)
def job(request: HttpRequest, job_id: Id) -> dict[str, Any]:
    """A job's status (queued, running, succeeded, failed), progress, result summary or error: the status URL
    a 202 answer names. Your own jobs; admins see all (404 for anyone else's)."""
    return job_out(selectors.job_get(job_id=job_id, user=request.user))
