"""Reads for forms and the ingestion journal."""

from __future__ import annotations

from typing import Any

from django.db.models import Count, Q

from tandem.capture.models import Form, Submission, SubmissionStatus
from tandem.core.errors import NotFound

JOURNAL_PAGE = 50


def form_list() -> list[Form]:
    """All forms with their campaign, newest definitions last by name."""
    return list(Form.objects.select_related("campaign").order_by("name", "id"))


def form_list_with_counts() -> list[Any]:
    """Forms with how many submissions each got, processed and not."""
    return list(
        Form.objects.select_related("campaign")
        .annotate(
            n_processed=Count("submissions", filter=Q(submissions__status=SubmissionStatus.PROCESSED)),
            n_refused=Count(
                "submissions",
                filter=Q(submissions__status__in=[SubmissionStatus.REJECTED, SubmissionStatus.FAILED]),
            ),
        )
        .order_by("name", "id")
    )


def form_get(*, form_id: int) -> Form:
    """One form, or a 404 naming the id."""
    form = Form.objects.select_related("campaign").filter(pk=form_id).first()
    if form is None:
        raise NotFound(f"no form has id {form_id}", field="form_id", value=form_id)
    return form


def form_by_key(*, key: str) -> Form | None:
    """The form a public key names."""
    return Form.objects.select_related("campaign").filter(public_key=key).first()


def submission_get(*, submission_id: int) -> Submission:
    """One journal row, or a 404 naming the id."""
    sub = Submission.objects.select_related("form", "person").filter(pk=submission_id).first()
    if sub is None:
        raise NotFound(f"no submission has id {submission_id}", field="submission_id", value=submission_id)
    return sub


def submission_page(
    *, status: str = "", source: str = "", form_id: int | None = None, before_id: int | None = None,
    limit: int = JOURNAL_PAGE,
) -> tuple[list[Submission], int | None]:
    """A page of the journal, newest first (by id, which follows arrival), and the cursor of the next page."""
    rows = Submission.objects.select_related("form", "person").order_by("-id")
    if status:
        rows = rows.filter(status=status)
    if source:
        rows = rows.filter(source=source)
    if form_id:
        rows = rows.filter(form_id=form_id)
    if before_id:
        rows = rows.filter(pk__lt=before_id)
    page = list(rows[: limit + 1])
    more = len(page) > limit
    page = page[:limit]
    return page, (page[-1].pk if more and page else None)


def submission_status_counts() -> dict[str, int]:
    """How many journal rows have each status."""
    counts = dict(Submission.objects.values_list("status").annotate(n=Count("id")).values_list("status", "n"))
    return {s: counts.get(s, 0) for s in SubmissionStatus.values}


def form_recent_submissions(*, form: Form, limit: int = 10) -> list[Submission]:
    """A form's latest journal rows."""
    return list(Submission.objects.filter(form=form).select_related("person").order_by("-id")[:limit])
