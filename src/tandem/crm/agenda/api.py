"""REST endpoints for tasks: list (your own by default), create, read, change, delete, complete and reopen."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema, Status
from pydantic import ConfigDict

from tandem.core.http import Id, NoNul, require_perm
from tandem.core.idempotency import idempotent
from tandem.core.keyset import MAX_ID
from tandem.crm.agenda import selectors
from tandem.crm.agenda.services import (
    NOTES_MAX,
    task_complete,
    task_create,
    task_delete,
    task_reopen,
    task_update,
)
from tandem.crm.models import Task

router = Router(tags=["tasks"])

Title = Annotated[str, Field(max_length=200), NoNul]
Notes = Annotated[str, Field(max_length=NOTES_MAX), NoNul]
Key = Annotated[str, Field(max_length=24), NoNul]
Text40 = Annotated[str, Field(max_length=40), NoNul]
Text2000 = Annotated[str, Field(max_length=2000), NoNul]
RowId = Annotated[int, Field(ge=1, le=MAX_ID)]
Priority = Literal["low", "normal", "high"]


def _aware(request: HttpRequest, value: dt.datetime | None) -> dt.datetime | None:
    # A time without an offset is read in the caller's own time zone, as the pages read their date fields.
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=selectors.user_zone(request.user))


# ---- schemas ----


class TaskOut(Schema):
    id: int
    title: str
    notes: str
    due_at: dt.datetime
    state: str = Field(..., description="open, overdue (open and past its due time) or done")
    priority: str
    owner_id: int
    owner: str
    person_id: int | None
    person: str | None
    deal_id: int | None
    account_id: int | None
    activity_kind: str | None = Field(
        None, alias="activity_kind_id", description="what doing it means: call, email…"
    )
    source: str = Field(
        ..., description='why a rule made it, e.g. "sla.first_touch"; empty when written by hand'
    )
    created_by_id: int | None
    created_at: dt.datetime
    updated_at: dt.datetime
    done_at: dt.datetime | None
    done_by_id: int | None
    activity_id: int | None = Field(None, description="the activity logged when it was completed")
    overdue_notified_at: dt.datetime | None

    @staticmethod
    def resolve_state(obj: Task) -> str:
        if obj.done_at is not None:
            return "done"
        return "overdue" if obj.due_at < dt.datetime.now(dt.UTC) else "open"

    @staticmethod
    def resolve_owner(obj: Task) -> str:
        return str(obj.owner)

    @staticmethod
    def resolve_person(obj: Task) -> str | None:
        return None if obj.person is None else str(obj.person)


class TaskPageOut(Schema):
    items: list[TaskOut]
    next_cursor: str | None = Field(None, description="pass as `cursor` for the next page")
    prev_cursor: str | None = Field(None, description="pass as `cursor` for the previous page")


class TasksQuery(Schema):
    owner: Text40 = Field(
        "",
        description="empty or `me`: your own tasks; a user id; `all`: every task you may see (your team's…)",
    )
    state: Annotated[str, Field(max_length=16), NoNul] = Field(
        "", description="open, overdue, today, upcoming, done or done_today (empty: all)"
    )
    person_id: RowId | None = None
    deal_id: RowId | None = None
    account_id: RowId | None = None
    due_from: dt.datetime | None = Field(None, description="due at or after (no offset: your time zone)")
    due_to: dt.datetime | None = Field(None, description="due before (no offset: your time zone)")
    cursor: Text2000 = ""
    limit: int = Field(selectors.PAGE_SIZE, ge=1, le=selectors.MAX_PAGE_SIZE)


class TaskIn(Schema):
    model_config = ConfigDict(extra="forbid")

    title: Title
    due_at: dt.datetime = Field(..., description="when it is due (no offset: your time zone)")
    owner_id: RowId | None = Field(None, description="defaults to you; managers give tasks to their team")
    person_id: RowId | None = None
    deal_id: RowId | None = Field(None, description="the person defaults to the deal's main contact")
    account_id: RowId | None = Field(None, description="defaults to the deal's or the person's account")
    priority: Priority = "normal"
    notes: Notes = ""
    activity_kind: Key | None = Field(None, description="what doing it means: call, email, meeting…")
    source: Text40 = ""


class TaskPatch(Schema):
    model_config = ConfigDict(extra="forbid")

    title: Title | None = None
    due_at: dt.datetime | None = None
    owner_id: RowId | None = Field(None, description="reassign (sales managers and admins)")
    person_id: RowId | None = None
    deal_id: RowId | None = None
    account_id: RowId | None = None
    priority: Priority | None = None
    notes: Notes | None = None
    activity_kind: Key | None = None


class TaskActivityIn(Schema):
    model_config = ConfigDict(extra="forbid")

    kind: Key | None = Field(None, description="defaults to the task's activity kind")
    outcome: Annotated[str, Field(max_length=20), NoNul] = ""
    notes: Annotated[str, Field(max_length=10_000), NoNul] = ""


class CompleteIn(Schema):
    model_config = ConfigDict(extra="forbid")

    activity: TaskActivityIn | None = Field(
        None, description="log this activity (e.g. the call) in the same step"
    )


# ---- endpoints ----


@router.get("/tasks", response=TaskPageOut)
def tasks_list(request: HttpRequest, filters: Query[TasksQuery]) -> Any:
    """Your tasks (or, for managers and admins, whose `owner` says), soonest due first (done: latest first)."""
    require_perm(request, "crm.view_task", action="list tasks")
    query = filters.dict()
    query["due_from"] = _aware(request, query["due_from"])
    query["due_to"] = _aware(request, query["due_to"])
    return selectors.tasks_page(user=request.user, **query)


@router.post("/tasks", response={201: TaskOut})
@idempotent
def tasks_create(request: HttpRequest, payload: TaskIn) -> Any:
    """Create a task, perhaps about a person, deal or account; yours unless a manager gives it to their team."""
    require_perm(request, "crm.add_task", action="create tasks")
    fields = payload.dict()
    fields["due_at"] = _aware(request, fields["due_at"])
    task = task_create(**fields, by_user=request.user)
    return Status(201, selectors.task_get(task_id=task.pk, user=request.user))


@router.get("/tasks/{task_id}", response=TaskOut)
def tasks_get(request: HttpRequest, task_id: Id) -> Any:
    """One task you may see."""
    require_perm(request, "crm.view_task", action="view tasks")
    return selectors.task_get(task_id=task_id, user=request.user)


@router.patch("/tasks/{task_id}", response=TaskOut)
def tasks_update(request: HttpRequest, task_id: Id, payload: TaskPatch) -> Any:
    """Change what was sent; `null` for person_id, deal_id or account_id unlinks it, `owner_id` reassigns."""
    require_perm(request, "crm.change_task", action="change tasks")
    task = selectors.task_get(task_id=task_id, user=request.user)
    changes = payload.dict(exclude_unset=True)
    if "due_at" in changes:
        changes["due_at"] = _aware(request, changes["due_at"])
    task_update(task=task, by_user=request.user, **changes)
    return selectors.task_get(task_id=task_id, user=request.user)


@router.delete("/tasks/{task_id}", response={204: None})
def tasks_delete(request: HttpRequest, task_id: Id) -> Any:
    """Delete a task (its event keeps what it was)."""
    require_perm(request, "crm.delete_task", action="delete tasks")
    task_delete(task=selectors.task_get(task_id=task_id, user=request.user), by_user=request.user)
    return Status(204, None)


@router.post("/tasks/{task_id}/complete", response=TaskOut)
def tasks_complete(request: HttpRequest, task_id: Id, payload: CompleteIn | None = None) -> Any:
    """Mark a task done; with `activity`, log it (the call, the e-mail…) on the task's person at the same time."""
    require_perm(request, "crm.change_task", action="complete tasks")
    task = selectors.task_get(task_id=task_id, user=request.user)
    activity = payload.activity if payload is not None else None
    if activity is not None:
        require_perm(request, "crm.add_activity", action="log activities")
    task_complete(
        task=task,
        by_user=request.user,
        log_activity=activity is not None,
        activity_kind=activity.kind if activity is not None else None,
        outcome=activity.outcome if activity is not None else "",
        notes=activity.notes if activity is not None else "",
    )
    return selectors.task_get(task_id=task_id, user=request.user)


@router.post("/tasks/{task_id}/reopen", response=TaskOut)
def tasks_reopen(request: HttpRequest, task_id: Id) -> Any:
    """Make a done task open again."""
    require_perm(request, "crm.change_task", action="reopen tasks")
    task_reopen(task=selectors.task_get(task_id=task_id, user=request.user), by_user=request.user)
    return selectors.task_get(task_id=task_id, user=request.user)
