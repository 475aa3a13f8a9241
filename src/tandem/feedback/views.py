"""Feedback pages: the capture panel on a person page (HTMX), and the Themes pages for marketing."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from tandem.core.errors import NotFound, TandemError, ValidationFailed
from tandem.core.jobs.selectors import job_for_page, job_of_kind
from tandem.core.jobs.views import job_fragment
from tandem.feedback import selectors, services
from tandem.feedback.models import Question, RatingReason
from tandem.users.access import access_allows, access_check


def _get(select: Any, **kwargs: Any) -> Any:
    try:
        return select(**kwargs)
    except NotFound as exc:
        raise Http404(exc.message) from None


def _htmx(request: HttpRequest) -> bool:
    return bool(getattr(request, "htmx", False))


def _int_or_none(raw: str, field: str) -> int | None:
    raw = raw.strip()
    if not raw:
        return None
    try:
        return int(raw)
    except ValueError:
        raise ValidationFailed(
            f"{field} must be a whole number, got {raw!r}", field=field, value=raw
        ) from None


def _panel(
    request: HttpRequest,
    person_id: int,
    *,
    saved: Question | None = None,
    rated: bool = False,
    error: TandemError | None = None,
    form: dict[str, Any] | None = None,
) -> HttpResponse:
    feedback = _get(selectors.person_feedback, person_id=person_id, user=request.user)
    # The forms show only to whoever may add to this person's record (their role, and the person within reach).
    changeable = access_allows(feedback.person, user=request.user, write=True)
    context = {
        "f": feedback,
        "rating_reasons": selectors.reason_labels(feedback.rating.reasons if feedback.rating else []),
        "saved": saved,
        "rated": rated,
        "error": error,
        "form": form or {},
        "reasons": RatingReason.choices,
        "can_ask": changeable and request.user.has_perm("feedback.add_question"),
        "can_rate": changeable and request.user.has_perm("feedback.add_leadrating"),
    }
    return render(request, "feedback/_person_panel.html", context, status=error.status_code if error else 200)


def _to_person(request: HttpRequest, pk: int, error: TandemError | None, success: str) -> HttpResponse:
    # Without HTMX (no JavaScript) the form posts the whole page: say what happened and go back to the person.
    if error:
        messages.error(request, error.message)
    else:
        messages.success(request, success)
    return redirect("crm:person", pk=pk)


@login_required
@permission_required("crm.view_person", raise_exception=True)
def person_panel(request: HttpRequest, pk: int) -> HttpResponse:
    return _panel(request, pk)


@login_required
@permission_required("feedback.add_question", raise_exception=True)
@require_POST
def question_new(request: HttpRequest, pk: int) -> HttpResponse:
    # 404 out of sight, the 403 page when the user may only look: before anything is written.
    person = access_check(_get(selectors.person_get, person_id=pk, user=request.user), user=request.user, write=True)
    form: dict[str, Any] = {k: request.POST.get(k, "") for k in ("text", "product", "activity_id")}
    form["is_objection"] = bool(request.POST.get("is_objection"))
    saved, error = None, None
    try:
        activity_id = _int_or_none(form["activity_id"], "activity_id")
        activity = selectors.activity_get(activity_id=activity_id, user=request.user) if activity_id else None
        saved = services.question_record(
            person=person,
            text=form["text"],
            product=form["product"],
            is_objection=form["is_objection"],
            activity=activity,
            by_user=request.user,
        )
    except TandemError as exc:
        error = exc
    if not _htmx(request):
        return _to_person(request, pk, error, "Question saved.")
    return _panel(request, pk, saved=saved, error=error, form=form if error else None)


@login_required
@permission_required("feedback.add_leadrating", raise_exception=True)
@require_POST
def rating_new(request: HttpRequest, pk: int) -> HttpResponse:
    person = access_check(_get(selectors.person_get, person_id=pk, user=request.user), user=request.user, write=True)
    error = None
    try:
        raw = request.POST.get("rating", "").strip()
        if not raw:
            raise ValidationFailed("choose a rating from 1 to 5", field="rating", value=raw)
        services.lead_rating_record(
            person=person,
            rating=_int_or_none(raw, "rating") or 0,
            reasons=request.POST.getlist("reasons"),
            note=request.POST.get("note", ""),
            by_user=request.user,
        )
    except TandemError as exc:
        error = exc
    if not _htmx(request):
        return _to_person(request, pk, error, "Rating saved.")
    return _panel(request, pk, rated=error is None, error=error)


# ---- themes ----


def _since(request: HttpRequest) -> tuple[dt.date | None, str | None]:
    raw = request.GET.get("since", "").strip()
    if not raw:
        return None, None
    try:
        return dt.date.fromisoformat(raw), None
    except ValueError:
        return None, f"since must be a date like 2026-01-31, got {raw!r}"


@login_required
@permission_required("feedback.view_theme", raise_exception=True)
def themes_page(request: HttpRequest) -> HttpResponse:
    since, error = _since(request)
    overview = selectors.themes_overview(since=since)
    mining = job_for_page(kind=services.MINE_JOB)
    context = {
        "o": overview,
        "mining": mining,
        "mining_poll": reverse("feedback:themes-mining", args=[mining.pk]) if mining else "",
        "since": since,
        "error": error,
        "can_change": request.user.has_perm("feedback.change_theme"),
    }
    return render(request, "feedback/themes.html", context, status=422 if error else 200)


@login_required
@permission_required("feedback.view_theme", raise_exception=True)
def theme_page(request: HttpRequest, theme_id: int) -> HttpResponse:
    detail = _get(selectors.theme_detail, theme_id=theme_id, user=request.user)
    context = {**detail, "can_change": request.user.has_perm("feedback.change_theme")}
    return render(request, "feedback/theme.html", context)


def _done(
    request: HttpRequest, error: TandemError | None, success: str, theme_id: int | None
) -> HttpResponse:
    if error:
        messages.error(request, error.message)
    else:
        messages.success(request, success)
    if theme_id is not None:
        return redirect("feedback:theme", theme_id=theme_id)
    return redirect("feedback:themes")


@login_required
@permission_required("feedback.change_theme", raise_exception=True)
@require_POST
def themes_mine_view(request: HttpRequest) -> HttpResponse:
    # In the background: the themes page shows the job's progress and, once done, what it grouped.
    error = None
    try:
        services.themes_mine_start(by_user=request.user)
    except TandemError as exc:
        error = exc
    return _done(request, error, "Theme mining started; this page follows it.", None)


@login_required
@permission_required("feedback.view_theme", raise_exception=True)
@require_GET
def themes_mining_progress(request: HttpRequest, job_id: int) -> HttpResponse:
    """The theme-mining job's progress fragment, for everyone who sees the themes page."""
    job = _get(job_of_kind, job_id=job_id, kind=services.MINE_JOB)
    return job_fragment(request, job=job, poll_url=reverse("feedback:themes-mining", args=[job.pk]))


@login_required
@permission_required("feedback.change_theme", raise_exception=True)
@require_POST
def theme_rename_view(request: HttpRequest, theme_id: int) -> HttpResponse:
    theme = _get(selectors.theme_get, theme_id=theme_id)
    error = None
    try:
        services.theme_rename(theme=theme, label=request.POST.get("label", ""), by_user=request.user)
    except TandemError as exc:
        error = exc
    return _done(request, error, f"Renamed to “{theme.label}”.", theme_id)


@login_required
@permission_required("feedback.change_theme", raise_exception=True)
@require_POST
def theme_merge_view(request: HttpRequest, theme_id: int) -> HttpResponse:
    theme = _get(selectors.theme_get, theme_id=theme_id)
    error, target = None, theme_id
    try:
        into_id = _int_or_none(request.POST.get("into_id", ""), "into_id")
        if into_id is None:
            raise ValidationFailed("choose the theme to merge into", field="into_id", value="")
        into = selectors.theme_get(theme_id=into_id)
        services.themes_merge(theme=theme, into=into, by_user=request.user)
        target = into.pk
    except TandemError as exc:
        error = exc
    return _done(request, error, f"Merged “{theme.label}” into this theme.", target)


@login_required
@permission_required("feedback.change_theme", raise_exception=True)
@require_POST
def theme_split_view(request: HttpRequest, theme_id: int) -> HttpResponse:
    theme = _get(selectors.theme_get, theme_id=theme_id)
    error, parts = None, []
    try:
        k = _int_or_none(request.POST.get("k", "2"), "k") or 2
        parts = services.theme_split(theme=theme, k=k, by_user=request.user)
    except TandemError as exc:
        error = exc
    names = ", ".join(f"“{p.label}”" for p in parts)
    return _done(request, error, f"Split into {names}.", None if error is None else theme_id)
