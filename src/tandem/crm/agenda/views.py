"""Task pages: "My tasks" (a manager picks an owner of their team), the task form, completing (and logging the
activity), reopening and deleting, the tasks panel of the person page, and the add-task button other pages post."""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST
from django.views.decorators.vary import vary_on_headers

from tandem.core.errors import NotFound, TandemError, ValidationFailed
from tandem.core.http import require_perm
from tandem.crm.agenda import selectors
from tandem.crm.agenda.services import (
    task_complete,
    task_create,
    task_delete,
    task_reopen,
    task_update,
)
from tandem.crm.models import Task
from tandem.crm.selectors import person_get
from tandem.users.access import access_check

# How many tasks each section of "My tasks" shows before "Show more".
SECTION_SIZE = 25
# The rep's home page shows the start of the day: overdue and today's tasks, a few each.
HOME_SIZE = 5
# A new task from the person page is due tomorrow at this local time unless the rep picks another.
DEFAULT_DUE = dt.time(9, 0)


def _htmx(request: HttpRequest) -> bool:
    htmx: Any = getattr(request, "htmx", None)
    return bool(htmx) and not htmx.history_restore_request


def _task(request: HttpRequest, task_id: int, *, write: bool = False) -> Task:
    # Out of sight is not found; seen but not theirs to change (write) is the 403 page, before any form is read.
    try:
        task = selectors.task_get(task_id=task_id, user=request.user)
    except NotFound as exc:
        raise Http404(exc.message) from None
    return access_check(task, user=request.user, write=True) if write else task


def _next(request: HttpRequest, default: str) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return target
    return default


def _mine_url(owner: str = "", **params: str) -> str:
    query = {k: v for k, v in {"owner": owner, **params}.items() if v}
    return reverse("agenda:mine") + (f"?{urlencode(query)}" if query else "")


def due_default(*, user: Any, now: dt.datetime | None = None) -> dt.datetime:
    """Tomorrow at 09:00 in the user's time zone: the due time a new task form offers."""
    zone = selectors.user_zone(user)
    today = (now or dt.datetime.now(dt.UTC)).astimezone(zone).date()
    return dt.datetime.combine(today + dt.timedelta(days=1), DEFAULT_DUE, tzinfo=zone)


def parse_due(value: str, *, user: Any) -> dt.datetime:
    """A due time from a form: "2026-12-08T09:00" (the user's time zone) or ISO 8601 with an offset."""
    text = (value or "").strip()
    try:
        due = dt.datetime.fromisoformat(text)
    except ValueError:
        due = None
    if due is None:
        try:  # a date alone: the end of the working day
            due = dt.datetime.combine(dt.date.fromisoformat(text), dt.time(17, 0))
        except ValueError:
            raise ValidationFailed(
                f"due must be a date and time such as 2026-12-08T09:00, got {text!r}",
                field="due_at",
                value=text,
            ) from None
    return due if due.tzinfo is not None else due.replace(tzinfo=selectors.user_zone(user))


def _int(value: str | None, field: str) -> int | None:
    text = (value or "").strip()
    if not text:
        return None
    if not text.isdigit():
        raise ValidationFailed(f"{field} must be an id, got {text!r}", field=field, value=text)
    return int(text)


def _create_from_post(request: HttpRequest, **fixed: Any) -> Task:
    post = request.POST
    fields: dict[str, Any] = {
        "title": post.get("title", ""),
        "due_at": parse_due(post.get("due_at", ""), user=request.user),
        "notes": post.get("notes", ""),
        "priority": post.get("priority") or Task.Priority.NORMAL,
        "activity_kind": post.get("activity_kind") or None,
        "source": post.get("source", ""),
        "owner_id": _int(post.get("owner_id"), "owner_id"),
        "person_id": _int(post.get("person_id"), "person_id"),
        "deal_id": _int(post.get("deal_id"), "deal_id"),
        "account_id": _int(post.get("account_id"), "account_id"),
    }
    fields.update(fixed)
    return task_create(**fields, by_user=request.user)


def _form_context(request: HttpRequest) -> dict[str, Any]:
    return {
        "kinds": selectors.task_kind_options(),
        "outcomes": selectors.task_outcome_options(),
        "priorities": Task.Priority.choices,
    }


# ---- My tasks ----


@login_required
@permission_required("crm.view_task", raise_exception=True)
@vary_on_headers("HX-Request")
def mine(request: HttpRequest) -> HttpResponse:
    owner = request.GET.get("owner", "").strip()
    state = request.GET.get("state", "").strip()
    cursor = request.GET.get("cursor", "").strip()
    if state:
        return _bucket(request, owner=owner, state=state, cursor=cursor)
    try:
        day = selectors.tasks_day(user=request.user, owner=owner, limit=SECTION_SIZE)
    except TandemError as exc:
        messages.error(request, exc.message)
        return redirect("agenda:mine")
    context = {
        "day": day,
        "now": day.now,
        "show_owner": day.owner_user is None,
        "owner": owner,
        "here": _mine_url(owner),
        "more_urls": {
            s: _mine_url(owner, state=s, cursor=p.next_cursor)
            for s, p in day.buckets.items()
            if p.next_cursor
        },
        "due_default": due_default(user=request.user).astimezone(day.zone).strftime("%Y-%m-%dT%H:%M"),
        "can_add": request.user.has_perm("crm.add_task"),
        "can_change": request.user.has_perm("crm.change_task"),
        "can_log": request.user.has_perm("crm.add_activity"),
        "owners": selectors.task_owner_options(user=request.user) if day.scope.kind != "own" else [],
        **_form_context(request),
    }
    return render(request, "crm/agenda/mine.html", context)


def _bucket(request: HttpRequest, *, owner: str, state: str, cursor: str) -> HttpResponse:
    """One section's next rows (HTMX "Show more"), or, without JavaScript, that section as a page of its own."""
    try:
        page = selectors.tasks_page(
            user=request.user, owner=owner, state=state, cursor=cursor, limit=SECTION_SIZE
        )
        day = selectors.tasks_day(user=request.user, owner=owner, buckets=())
    except TandemError as exc:
        if _htmx(request):
            return render(request, "crm/agenda/_error_row.html", {"error": exc}, status=exc.status_code)
        messages.error(request, exc.message)
        return redirect(_mine_url(owner))
    context = {
        "page": page,
        "day": day,
        "now": day.now,
        "show_owner": day.owner_user is None,
        "state": state,
        "label": selectors.STATES[state],
        "owner": owner,
        "here": _mine_url(owner, state=state, cursor=cursor),
        "more_url": _mine_url(owner, state=state, cursor=page.next_cursor) if page.next_cursor else None,
        "prev_url": _mine_url(owner, state=state, cursor=page.prev_cursor) if page.prev_cursor else None,
        "can_change": request.user.has_perm("crm.change_task"),
        "can_log": request.user.has_perm("crm.add_activity"),
        **_form_context(request),
    }
    template = "crm/agenda/_more_rows.html" if _htmx(request) else "crm/agenda/bucket.html"
    return render(request, template, context)


# ---- creating ----


@login_required
@permission_required("crm.add_task", raise_exception=True)
@require_POST
def task_new(request: HttpRequest) -> HttpResponse:
    """Create a task from any page's form (My tasks, the inbox's first-touch offer); back where it came from."""
    back = _next(request, reverse("agenda:mine"))
    try:
        task = _create_from_post(request)
    except TandemError as exc:
        if _htmx(request):
            return render(request, "crm/agenda/_added.html", {"error": exc}, status=exc.status_code)
        messages.error(request, exc.message)
        return redirect(back)
    if _htmx(request):
        zone = selectors.user_zone(request.user)
        return render(request, "crm/agenda/_added.html", {"task": task, "zone": zone}, status=201)
    messages.success(request, f"Task added: {task.title}.")
    return redirect(back)


@login_required
@permission_required("crm.view_task", raise_exception=True)
def person_panel(request: HttpRequest, pk: int) -> HttpResponse:
    """The tasks card of the person page: their open tasks and a form to add one (HTMX re-renders the card)."""
    try:
        person = person_get(person_id=pk, user=request.user)
    except NotFound as exc:
        raise Http404(exc.message) from None
    error: TandemError | None = None
    added: Task | None = None
    form: dict[str, str] = {}
    if request.method == "POST":
        require_perm(request, "crm.add_task", action="create tasks")
        try:
            added = _create_from_post(
                request, person_id=person.pk, deal_id=None, account_id=None, owner_id=None
            )
        except TandemError as exc:
            error = exc
            form = {
                k: request.POST.get(k, "")
                for k in ("title", "due_at", "activity_kind", "priority", "notes")
            }
    zone = selectors.user_zone(request.user)
    context = {
        "person": person,
        "tasks": selectors.person_tasks(person_id=person.pk, user=request.user),
        "added": added,
        "error": error,
        "form": form,
        "zone": zone,
        "due_default": form.get("due_at") or due_default(user=request.user).strftime("%Y-%m-%dT%H:%M"),
        "can_add": request.user.has_perm("crm.add_task"),
        "can_change": request.user.has_perm("crm.change_task"),
        **_form_context(request),
    }
    return render(
        request, "crm/agenda/_person_panel.html", context, status=error.status_code if error else 200
    )


# ---- one task: complete, reopen, delete, edit ----


def _row(request: HttpRequest, task: Task, *, error: TandemError | None = None) -> HttpResponse:
    """The task's row re-rendered (HTMX swaps it in place), with the day's counts refreshed beside it."""
    owner = request.POST.get("owner", "")
    try:
        day: selectors.Day | None = selectors.tasks_day(user=request.user, owner=owner, buckets=())
    except TandemError:
        day = None
    context = {
        "t": _task(request, task.pk),
        "day": day,
        "now": day.now if day is not None else dt.datetime.now(dt.UTC),
        "owner": owner,
        "here": _next(request, reverse("agenda:mine")),
        "zone": selectors.user_zone(request.user),
        "row_error": error,
        "can_change": request.user.has_perm("crm.change_task"),
        "can_log": request.user.has_perm("crm.add_activity"),
        "show_owner": request.POST.get("show_owner") == "1",
        "oob_counts": day is not None,
        **_form_context(request),
    }
    return render(request, "crm/agenda/_row_swap.html", context, status=error.status_code if error else 200)


@login_required
@permission_required("crm.change_task", raise_exception=True)
@require_POST
def task_done(request: HttpRequest, pk: int) -> HttpResponse:
    """Complete a task; with "log" ticked, log its activity (kind, outcome, notes) in the same step."""
    task = _task(request, pk, write=True)
    log = request.POST.get("log") == "1"
    error: TandemError | None = None
    try:
        if log and not request.user.has_perm("crm.add_activity"):
            raise ValidationFailed("your role may not log activities", field="activity", value=None)
        task_complete(
            task=task,
            by_user=request.user,
            log_activity=log,
            activity_kind=request.POST.get("activity_kind") or None,
            outcome=request.POST.get("outcome", ""),
            notes=request.POST.get("notes", ""),
        )
    except TandemError as exc:
        error = exc
    if _htmx(request):
        return _row(request, task, error=error)
    if error:
        messages.error(request, error.message)
    else:
        messages.success(request, f"Done: {task.title}{' (activity logged)' if log else ''}.")
    return redirect(_next(request, reverse("agenda:mine")))


@login_required
@permission_required("crm.change_task", raise_exception=True)
@require_POST
def task_undo(request: HttpRequest, pk: int) -> HttpResponse:
    """Reopen a done task."""
    task = _task(request, pk, write=True)
    error: TandemError | None = None
    try:
        task_reopen(task=task, by_user=request.user)
    except TandemError as exc:
        error = exc
    if _htmx(request):
        return _row(request, task, error=error)
    if error:
        messages.error(request, error.message)
    return redirect(_next(request, reverse("agenda:mine")))


@login_required
@permission_required("crm.delete_task", raise_exception=True)
@require_POST
def task_remove(request: HttpRequest, pk: int) -> HttpResponse:
    """Delete a task."""
    task = _task(request, pk, write=True)
    try:
        task_delete(task=task, by_user=request.user)
    except TandemError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"Deleted: {task.title}.")
    return redirect(_next(request, reverse("agenda:mine")))


@login_required
@permission_required("crm.change_task", raise_exception=True)
def task_edit(request: HttpRequest, pk: int) -> HttpResponse:
    """Change a task's title, due time, priority, kind and notes; managers and admins also reassign it."""
    task = _task(request, pk, write=True)
    zone = selectors.user_zone(request.user)
    owners = selectors.task_owner_options(user=request.user)
    error: TandemError | None = None
    values = {
        "title": task.title,
        "due_at": task.due_at.astimezone(zone).strftime("%Y-%m-%dT%H:%M"),
        "priority": task.priority,
        "activity_kind": task.activity_kind_id or "",
        "notes": task.notes,
        "owner_id": str(task.owner_id),
    }
    if request.method == "POST":
        values = {k: request.POST.get(k, "") for k in values}
        try:
            changes: dict[str, Any] = {
                "title": values["title"],
                "due_at": parse_due(values["due_at"], user=request.user),
                "priority": values["priority"],
                "activity_kind": values["activity_kind"] or None,
                "notes": values["notes"],
            }
            if values["owner_id"] and len(owners) > 1:
                changes["owner_id"] = _int(values["owner_id"], "owner_id")
            task_update(task=task, by_user=request.user, **changes)
        except TandemError as exc:
            error = exc
        else:
            messages.success(request, f"Saved: {values['title'].strip()}.")
            return redirect(_next(request, reverse("agenda:mine")))
    context = {
        "task": task,
        "values": values,
        "error": error,
        "owners": owners if len(owners) > 1 else [],
        "zone": zone,
        "next": _next(request, ""),
        **_form_context(request),
    }
    return render(request, "crm/agenda/edit.html", context, status=error.status_code if error else 200)
