"""Reads of background jobs: one job, a user's recent jobs, and the job a page shows for its kind."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import Q, QuerySet
from django.utils import timezone

from tandem.core.errors import NotFound
from tandem.core.models import ACTIVE_JOB_STATUSES, Job
from tandem.core.paging import KeysetPage, keyset_page

RECENT_LIMIT = 50


def jobs_see_all(*, user: Any) -> bool:
    """Whether the user sees everyone's jobs: admins do (users.services.user_set_role makes them staff)."""
    # core sits below users and cannot name roles; an admin is exactly the staff user who may open Django admin.
    return bool(getattr(user, "is_staff", False) and getattr(user, "is_active", False))


def _visible(user: Any) -> QuerySet[Job]:
    jobs = Job.objects.select_related("requested_by")
    if jobs_see_all(user=user):
        return jobs
    if not getattr(user, "pk", None):
        return jobs.none()
    return jobs.filter(requested_by_id=user.pk)


def job_get(*, job_id: int, user: Any) -> Job:
    """A job the user may see: their own, or any when they are an admin (404 otherwise, as for a missing one)."""
    job = _visible(user).filter(pk=job_id).first()
    if job is None:
        # Someone else's job answers as a missing one: its existence is not the caller's business.
        raise NotFound("No such job.", field="job_id", value=job_id)
    return job


def job_of_kind(*, job_id: int, kind: str) -> Job:
    """A job of `kind` whoever started it, for the page that shows that kind's jobs (it checks its own viewers)."""
    job = Job.objects.select_related("requested_by").filter(pk=job_id, kind=kind).first()
    if job is None:
        raise NotFound("No such job.", field="job_id", value=job_id)
    return job


def jobs_list(*, user: Any, kind: str = "", limit: int = RECENT_LIMIT) -> list[Job]:
    """The user's most recent jobs, newest first (every user's for admins), optionally of one kind."""
    jobs = _visible(user)
    if kind:
        jobs = jobs.filter(kind=kind)
    return list(jobs.order_by("-created_at", "-id")[: max(1, min(limit, RECENT_LIMIT))])


def jobs_page(*, user: Any, kind: str = "", cursor: str = "", limit: int = RECENT_LIMIT) -> KeysetPage:
    """A keyset page of the user's jobs, newest first (every user's for admins), optionally of one kind."""
    jobs = _visible(user)
    if kind:
        jobs = jobs.filter(kind=kind)
    return keyset_page(queryset=jobs, order="jobs-newest", field="created_at", cursor=cursor, limit=limit)


def job_for_page(
    *, kind: str, within: dt.timedelta = dt.timedelta(minutes=15), now: dt.datetime | None = None
) -> Job | None:
    """The job of `kind` a page shows: the one queued or running, else the last one finished within `within`."""
    moment = now or timezone.now()
    return (
        Job.objects.select_related("requested_by")
        .filter(kind=kind)
        .filter(Q(status__in=ACTIVE_JOB_STATUSES) | Q(finished_at__gte=moment - within))
        .order_by("-created_at", "-id")
        .first()
    )
