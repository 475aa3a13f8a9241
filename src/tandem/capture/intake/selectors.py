"""Reads for forms and the ingestion journal."""

from __future__ import annotations

from typing import Any

from django.db.models import Count, Q

from tandem.capture.models import Form, Submission, SubmissionStatus, UnknownUtm
from tandem.core.errors import NotFound
from tandem.core.keyset import MAX_ID
from tandem.core.paging import KeysetPage, keyset_page
from tandem.crm.models import Person
from tandem.users.access import access_q

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


def submission_keyset_page(
    *, status: str = "", source: str = "", form_id: int | None = None, cursor: str = "", limit: int = JOURNAL_PAGE
) -> KeysetPage:
    """A keyset page of the journal, newest first (by id, which follows arrival), for the API.

    A cursor of digits is the plain id the API's `next_cursor` used to be: still read, as "older than this id"."""
    rows = Submission.objects.select_related("form", "person")
    if status:
        rows = rows.filter(status=status)
    if source:
        rows = rows.filter(source=source)
    if form_id:
        rows = rows.filter(form_id=form_id)
    if cursor.isascii() and cursor.isdigit() and 0 < int(cursor) <= MAX_ID:
        rows, cursor = rows.filter(pk__lt=int(cursor)), ""
    return keyset_page(queryset=rows, order="journal", cursor=cursor, limit=limit)


def submission_status_counts() -> dict[str, int]:
    """How many journal rows have each status."""
    counts = dict(Submission.objects.values_list("status").annotate(n=Count("id")).values_list("status", "n"))
    return {s: counts.get(s, 0) for s in SubmissionStatus.values}


def form_recent_submissions(*, form: Form, user: Any = None, limit: int = 10) -> list[Submission]:
    """A form's latest journal rows; given a `user`, without the rows of people they may not see (every role may
    open a form's page; a rep sees the submissions of their own leads, and those that made no person)."""
    rows = Submission.objects.filter(form=form)
    reach = None if user is None else access_q(Person, user=user)
    if reach is not None:
        rows = rows.filter(Q(person__isnull=True) | Q(person__in=Person.objects.filter(reach).values("pk")))
    return list(rows.select_related("person").order_by("-id")[:limit])


UNKNOWN_UTM_PAGE = 200


def unknown_utm_list(*, status: str = UnknownUtm.Status.NEW, limit: int = UNKNOWN_UTM_PAGE) -> list[UnknownUtm]:
    """Unknown utm_campaign tags with this status ("" for all), the most often seen first."""
    rows = UnknownUtm.objects.select_related("campaign").order_by("-count", "-last_seen", "-id")
    if status:
        rows = rows.filter(status=status)
    return list(rows[:limit])


def unknown_utm_get(*, unknown_id: int) -> UnknownUtm:
    """One unknown tag, or a 404 naming the id."""
    found = UnknownUtm.objects.select_related("campaign").filter(pk=unknown_id).first()
    if found is None:
        raise NotFound(f"no unknown UTM tag has id {unknown_id}", field="unknown_id", value=unknown_id)
    return found


def unknown_utm_counts() -> dict[str, int]:
    """How many unknown tags have each status."""
    counts = dict(UnknownUtm.objects.values_list("status").annotate(n=Count("id")).values_list("status", "n"))
    return {s: counts.get(s, 0) for s in UnknownUtm.Status.values}


# ---- personal data (tandem.privacy): the journal rows of one person ----

SUBMISSION_TEXTS = ["payload", "referrer", "error", "user_agent", "remote_addr"]


def submissions_of_person(*, person_id: int, needles: list[str]) -> Any:
    """Journal rows that made or touched the person, and any (a refused post, a tracking batch) naming them."""
    q = Q(person_id=person_id)
    for needle in needles:
        q |= Q(payload__icontains=needle) | Q(referrer__icontains=needle) | Q(error__icontains=needle)
    return Submission.objects.filter(q)


def submissions_export_person(*, person_id: int, needles: list[str]) -> list[dict[str, Any]]:
    """The journal rows about one person, oldest first, raw as they arrived (the per-person export)."""
    return list(
        submissions_of_person(person_id=person_id, needles=needles)
        .order_by("received_at", "id")
        .values(
            "id", "received_at", "source", "form__slug", "key", "idempotency_key", "content_type", "remote_addr",
            "user_agent", "referrer", "body_size", "payload", "status", "http_status", "error", "error_field",
            "processed_at", "person_id", "result",
        )
    )


def journal_metrics() -> list[Any]:
    """Prometheus families for /metrics: the journal's backlog, its oldest waiting age, and rows drained so far."""
    from django.db.models import Max, Min
    from django.utils import timezone
    from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

    # Both read the (status, received_at) index and the primary key: cheap at any journal size while it drains.
    waiting = Submission.objects.filter(status=SubmissionStatus.RECEIVED).aggregate(
        n=Count("id"), oldest=Min("received_at")
    )
    last_id = Submission.objects.aggregate(last=Max("id"))["last"] or 0
    oldest = waiting["oldest"]
    return [
        GaugeMetricFamily(
            "tandem_capture_journal_backlog",
            "Submissions journaled and not yet processed.",
            value=waiting["n"],
        ),
        GaugeMetricFamily(
            "tandem_capture_journal_oldest_seconds",
            "Age of the oldest submission waiting to be processed (0 when none waits).",
            value=(timezone.now() - oldest).total_seconds() if oldest else 0.0,
        ),
        # Ids only grow, so the highest id less the backlog counts every row the drain has finished; its rate()
        # is the drain rate, and the highest id's rate() the accept rate.
        CounterMetricFamily(
            "tandem_capture_journal_received",
            "Submissions journaled since the installation began.",
            value=last_id,
        ),
        CounterMetricFamily(
            "tandem_capture_journal_drained",
            "Submissions the drain has finished (processed, rejected, failed, spam).",
            value=max(last_id - waiting["n"], 0),
        ),
    ]
