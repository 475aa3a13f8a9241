"""The job progress fragment: any page includes core/jobs/_progress.html and it polls itself until the job ends."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET

from tandem.core.errors import NotFound
from tandem.core.jobs import selectors
from tandem.core.models import Job


def job_fragment(request: HttpRequest, *, job: Job, poll_url: str) -> HttpResponse:
    """Render a job's progress fragment, polling `poll_url` while it is active; a poll that finds it finished
    reloads the page around it (HX-Refresh), so the page shows what the job produced."""
    response = render(request, "core/jobs/_progress.html", {"job": job, "poll_url": poll_url})
    if not job.is_active and getattr(request, "htmx", False):
        response["HX-Refresh"] = "true"
    return response


@require_GET
@login_required
def job_progress(request: HttpRequest, job_id: int) -> HttpResponse:
    """The fragment of one of the user's jobs (any job for admins; 404 otherwise)."""
    try:
        job = selectors.job_get(job_id=job_id, user=request.user)
    except NotFound as exc:
        raise Http404(exc.message) from exc
    return job_fragment(request, job=job, poll_url=reverse("jobs:progress", args=[job.pk]))
