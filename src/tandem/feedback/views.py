"""Feedback pages: the capture panel on a person page (HTMX), and the Themes pages for marketing."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from tandem.core.errors import NotFound, TandemError, ValidationFailed
from tandem.feedback import selectors, services
from tandem.feedback.models import Question, RatingReason


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
    feedback = _get(selectors.person_feedback, person_id=person_id)
    context = {
        "f": feedback,
        "rating_reasons": selectors.reason_labels(feedback.rating.reasons if feedback.rating else []),
        "saved": saved,
        "rated": rated,
        "error": error,
        "form": form or {},
        "reasons": RatingReason.choices,
        "can_ask": request.user.has_perm("feedback.add_question"),
        "can_rate": request.user.has_perm("feedback.add_leadrating"),
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
    person = _get(selectors.person_get, person_id=pk)
    form: dict[str, Any] = {k: request.POST.get(k, "") for k in ("text", "product", "activity_id")}
    form["is_objection"] = bool(request.POST.get("is_objection"))
    saved, error = None, None
    try:
        activity_id = _int_or_none(form["activity_id"], "activity_id")
        activity = selectors.activity_get(activity_id=activity_id) if activity_id else None
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
    person = _get(selectors.person_get, person_id=pk)
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
    context = {
        "o": overview,
        "since": since,
        "error": error,
        "can_change": request.user.has_perm("feedback.change_theme"),
    }
    return render(request, "feedback/themes.html", context, status=422 if error else 200)


@login_required
@permission_required("feedback.view_theme", raise_exception=True)
def theme_page(request: HttpRequest, theme_id: int) -> HttpResponse:
    detail = _get(selectors.theme_detail, theme_id=theme_id)
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
    error, success = None, ""
    try:
        result = services.themes_mine(by_user=request.user)
        success = (
            f"Grouped {result.questions} questions: {len(result.kept)} named themes kept, "
            f"{len(result.updated)} updated, {len(result.created)} new, {len(result.retired)} retired."
        )
    except TandemError as exc:
        error = exc
    return _done(request, error, success, None)


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
