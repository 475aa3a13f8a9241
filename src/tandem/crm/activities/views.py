"""Activity pages: the quick-log box on the person page (HTMX), the activities list, and the kinds for admins."""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST
from django.views.decorators.vary import vary_on_headers

from tandem.core.errors import NotFound, TandemError, ValidationFailed
from tandem.core.http import param_date, require_perm
from tandem.crm import selectors as crm_selectors
from tandem.crm.activities import selectors, services
from tandem.crm.activities.quicklog import quicklog_parse
from tandem.crm.models import Activity, Person
from tandem.users.access import access_allows, access_check
from tandem.users.selectors import user_owner_options

QUICKLOG_FIELDS = ("text", "kind", "outcome", "direction", "duration", "occurred_at", "deal_id")
FILTER_PARAMS = ("kind", "owner", "person", "since", "until")


def _get(select: Any, **kwargs: Any) -> Any:
    try:
        return select(**kwargs)
    except NotFound as exc:
        raise Http404(exc.message) from None


def _htmx(request: HttpRequest) -> bool:
    return bool(getattr(request, "htmx", False))


def _zone(user: Any) -> ZoneInfo:
    try:
        return ZoneInfo(getattr(user, "time_zone", "") or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def _local_moment(raw: str, user: Any) -> dt.datetime | None:
    """A datetime-local value ("2026-03-04T10:30") in the user's time zone; empty means now."""
    raw = raw.strip()
    if not raw:
        return None
    try:
        at = dt.datetime.fromisoformat(raw)
    except ValueError:
        raise ValidationFailed(
            f"cannot read {raw!r} as a date and time", field="occurred_at", value=raw
        ) from None
    return at.replace(tzinfo=_zone(user)) if at.tzinfo is None else at


def _minutes(raw: str) -> int | None:
    raw = raw.strip()
    if not raw:
        return None
    if not raw.isdigit():
        raise ValidationFailed(
            f"duration must be whole minutes, got {raw!r}", field="duration_minutes", value=raw
        )
    return int(raw)


def _panel(
    request: HttpRequest,
    person: Person,
    *,
    logged: Activity | None = None,
    error: TandemError | None = None,
    form: dict[str, str] | None = None,
    deleted: bool = False,
) -> HttpResponse:
    context = activity_panel_context(
        request, person=person, activities=selectors.person_activities_recent(person_id=person.pk)
    )
    context.update({"logged": logged, "error": error, "form": form or {}, "deleted": deleted})
    return render(request, "crm/activities/_panel.html", context, status=error.status_code if error else 200)


def activity_panel_context(
    request: HttpRequest, *, person: Person, activities: list[Activity], deals: list[Any] | None = None
) -> dict[str, Any]:
    """What the person page's activities panel needs (crm.views.person_detail renders it inline)."""
    user = request.user
    return {
        "person": person,
        "activities": activities,
        "qlog": selectors.quicklog_form(person_id=person.pk, deals=deals),
        "can_log": user.has_perm("crm.add_activity") and access_allows(person, user=user, write=True),
        "is_editor": bool(user.is_superuser or getattr(user, "role", "") in services.EDITOR_ROLES),
        "me": user.pk,
    }


@login_required
@permission_required("crm.add_activity", raise_exception=True)
@require_POST
def quicklog(request: HttpRequest, pk: int) -> HttpResponse:
    """Log an activity from the person page's quick-log box: the words first, the selects fill the rest."""
    person = _get(crm_selectors.person_get, person_id=pk, user=request.user)
    # Logging adds to the person's history: only someone who may change the person logs (403 otherwise).
    access_check(person, user=request.user, write=True)
    form = {k: request.POST.get(k, "") for k in QUICKLOG_FIELDS}
    logged, error = None, None
    try:
        choices = selectors.quicklog_form(person_id=pk)
        words = quicklog_parse(form["text"], kinds=choices.words)
        kind = words.kind or form["kind"].strip()
        if not kind:
            raise ValidationFailed(
                "say what it was: start with call, email, meeting or note, or pick a kind",
                field="kind",
                value="",
            )
        deal = None
        if form["deal_id"].strip():
            deal = next((d for d in choices.deals if str(d.pk) == form["deal_id"].strip()), None)
            if deal is None:
                raise ValidationFailed(
                    f"no open deal #{form['deal_id'].strip()} of {person}",
                    field="deal_id",
                    value=form["deal_id"],
                )
        logged = services.activity_record(
            person=person,
            kind=kind,
            outcome=words.outcome or form["outcome"].strip(),
            direction=words.direction or form["direction"].strip(),
            duration_minutes=words.duration_minutes
            if words.duration_minutes is not None
            else _minutes(form["duration"]),
            occurred_at=_local_moment(form["occurred_at"], request.user),
            notes=words.notes,
            deal=deal,
            by_user=request.user,
        )
    except TandemError as exc:
        error = exc
    if not _htmx(request):
        # Without JavaScript the form posts the whole page: say what happened and go back to the person.
        if error:
            messages.error(request, error.message)
        else:
            messages.success(request, "Activity logged.")
        return redirect("crm:person", pk=pk)
    return _panel(request, person, logged=logged, error=error, form=form if error else None)


@login_required
@permission_required("crm.delete_activity", raise_exception=True)
@require_POST
def activity_delete(request: HttpRequest, activity_id: int) -> HttpResponse:
    activity = access_check(
        _get(selectors.activity_get, activity_id=activity_id, user=request.user), user=request.user, write=True
    )
    person = activity.person
    error = None
    try:
        services.activity_delete(activity=activity, by_user=request.user)
    except TandemError as exc:
        error = exc
    if not _htmx(request):
        if error:
            messages.error(request, error.message)
        else:
            messages.success(request, "Activity deleted.")
        return redirect("crm:person", pk=person.pk)
    return _panel(request, person, error=error, deleted=error is None)


# ---- the activities list ----


def _page_url(filters: dict[str, str], cursor: str | None) -> str | None:
    if cursor is None:
        return None
    query = {k: v for k, v in filters.items() if v}
    query["cursor"] = cursor
    return f"{reverse('activities:list')}?{urlencode(query)}"


def _day_start(day: dt.date | None, zone: ZoneInfo) -> dt.datetime | None:
    return dt.datetime.combine(day, dt.time(), tzinfo=zone) if day is not None else None


@login_required
@permission_required("crm.view_activity", raise_exception=True)
@vary_on_headers("HX-Request")
def activities_page(request: HttpRequest) -> HttpResponse:
    """Every logged activity, newest first, filtered by kind, who did it, person and days (in your time zone)."""
    filters = {k: request.GET.get(k, "").strip() for k in FILTER_PARAMS}
    zone = _zone(request.user)
    since, until = param_date(request, "since"), param_date(request, "until")
    error = None
    person = None
    try:
        person_id = None
        if filters["person"]:
            if not filters["person"].isdigit():
                raise ValidationFailed(
                    f"person must be a person's id, got {filters['person']!r}",
                    field="person",
                    value=filters["person"],
                )
            person_id = int(filters["person"])
            person = crm_selectors.person_get(person_id=person_id, user=request.user)
        page = selectors.activities_list(
            person_id=person_id,
            owner=filters["owner"],
            kind=filters["kind"],
            since=_day_start(since, zone),
            # The until day is included: the list ends where the next day starts.
            until=_day_start(until + dt.timedelta(days=1), zone) if until else None,
            cursor=request.GET.get("cursor", "").strip(),
            user=request.user,
        )
    except TandemError as exc:
        page, error = selectors.ActivityPage(items=[], next_cursor=None, prev_cursor=None), exc
    context = {
        "page": page,
        "filters": filters,
        "error": error,
        "person": person,
        "next_url": _page_url(filters, page.next_cursor),
        "prev_url": _page_url(filters, page.prev_cursor),
    }
    htmx: Any = getattr(request, "htmx", None)
    partial = bool(htmx) and not htmx.history_restore_request
    if not partial:
        context["kinds"] = selectors.activity_types_list(include_retired=True)
        context["owners"] = user_owner_options()
        context["can_manage_kinds"] = services.activity_kinds_manage_allowed(user=request.user)
    template = "crm/activities/_results.html" if partial else "crm/activities/list.html"
    return render(request, template, context, status=error.status_code if error else 200)


# ---- activity kinds (admins) ----


def _admins_only(request: HttpRequest) -> None:
    require_perm(
        request,
        allowed=services.activity_kinds_manage_allowed(user=request.user),
        message="Only admins add and edit activity kinds.",
    )


@login_required
def kinds_page(request: HttpRequest) -> HttpResponse:
    """The kinds of activity: add one, relabel, say whether it counts as a touch, retire or restore."""
    _admins_only(request)
    status = 200
    form = {"key": "", "label": "", "counts_as_touch": "1"}
    if request.method == "POST":
        form = {k: request.POST.get(k, "") for k in ("key", "label", "counts_as_touch")}
        try:
            kind = services.activity_type_create(
                key=form["key"],
                label=form["label"],
                counts_as_touch=bool(form["counts_as_touch"]),
                by_user=request.user,
            )
        except TandemError as exc:
            messages.error(request, exc.message)
            status = exc.status_code
        else:
            messages.success(request, f"Added the kind “{kind.label}”.")
            return redirect("activities:kinds")
    usage = selectors.activity_type_usage()
    kinds = [(k, usage.get(k.key, 0)) for k in selectors.activity_types_list(include_retired=True)]
    return render(request, "crm/activities/kinds.html", {"kinds": kinds, "form": form}, status=status)


@login_required
@require_POST
def kind_edit(request: HttpRequest, key: str) -> HttpResponse:
    _admins_only(request)
    kind = _get(selectors.activity_type_get, key=key)
    action = request.POST.get("action", "save")
    try:
        if action == "delete":
            services.activity_type_delete(activity_type=kind, by_user=request.user)
            messages.success(request, f"Deleted the kind “{kind.label}”.")
        else:
            services.activity_type_update(
                activity_type=kind,
                label=request.POST.get("label", kind.label),
                counts_as_touch=bool(request.POST.get("counts_as_touch")),
                active=bool(request.POST.get("is_active")),
                by_user=request.user,
            )
            messages.success(request, f"Saved “{kind.label}”.")
    except TandemError as exc:
        messages.error(request, exc.message)
    return redirect("activities:kinds")
