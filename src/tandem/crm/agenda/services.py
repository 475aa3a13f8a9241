"""Writes for tasks: create, change, reassign, complete (logging the activity it stands for), reopen, delete."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from django.db import transaction
from django.utils import timezone

from tandem.core.errors import NotAllowed, NotFound, ValidationFailed
from tandem.core.events import event_record
from tandem.core.http import PermissionRefused
from tandem.core.keyset import MAX_ID
from tandem.core.text import text_clean
from tandem.crm.activities.services import activity_record
from tandem.crm.agenda.selectors import task_scope
from tandem.crm.models import Account, ActivityType, Deal, Person, Task
from tandem.users.access import access_allows
from tandem.users.models import User

TITLE_MAX = 200
NOTES_MAX = 5000
SOURCE_MAX = 40
# A due time further back than this is a typo (a wrong year), not a reminder; further ahead is not planning.
DUE_PAST = dt.timedelta(days=366)
DUE_FUTURE = dt.timedelta(days=10 * 366)
PRIORITIES = tuple(Task.Priority.values)
# The fields task_update changes; the owner only through a manager's (or admin's) reassignment.
EDITABLE = (
    "title",
    "notes",
    "due_at",
    "priority",
    "activity_kind",
    "person_id",
    "deal_id",
    "account_id",
    "owner_id",
)


def _actor(by_user: Any) -> Any:
    return by_user if getattr(by_user, "pk", None) else None


def _title(value: Any) -> str:
    return text_clean(value, field="title", max_length=TITLE_MAX, required=True)


def _notes(value: Any) -> str:
    return text_clean(value, field="notes", max_length=NOTES_MAX, required=False)


def _due(value: Any, now: dt.datetime) -> dt.datetime:
    if not isinstance(value, dt.datetime):
        raise ValidationFailed("due_at must be a date and time", field="due_at", value=repr(value)[:80])
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValidationFailed(
            "due_at needs a time zone (an offset such as +01:00)", field="due_at", value=value.isoformat()
        )
    if value < now - DUE_PAST or value > now + DUE_FUTURE:
        raise ValidationFailed(
            f"due_at {value.isoformat()} is not within a year before and ten years after now",
            field="due_at",
            value=value.isoformat(),
        )
    return value


def _priority(value: Any) -> str:
    if value not in PRIORITIES:
        raise ValidationFailed(
            f"priority must be one of {', '.join(PRIORITIES)}; got {value!r}", field="priority", value=value
        )
    return str(value)


def _kind(value: Any) -> str | None:
    if value in (None, ""):
        return None
    if not isinstance(value, str) or not ActivityType.objects.filter(key=value, is_active=True).exists():
        raise ValidationFailed(f"unknown activity kind {value!r}", field="activity_kind", value=value)
    return value


def _source(value: Any) -> str:
    return text_clean(value, field="source", max_length=SOURCE_MAX, required=False)


def _id(value: Any, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= MAX_ID:
        raise ValidationFailed(f"{field} must be a positive id, got {value!r}", field=field, value=value)
    return value


def _may_see(by_user: Any, perm: str, record: Any) -> bool:
    # The model permission and the record-level rule: a task is only ever about what its giver may see.
    return by_user is None or (bool(by_user.has_perm(perm)) and access_allows(record, user=by_user))


def _person(value: Any, by_user: Any) -> Person | None:
    if value is None:
        return None
    person = Person.objects.filter(pk=_id(value, "person_id")).first()
    if person is None or not _may_see(by_user, "crm.view_person", person):
        raise ValidationFailed(f"no person with id {value}", field="person_id", value=value)
    return person


def _deal(value: Any, by_user: Any) -> Deal | None:
    if value is None:
        return None
    deal = Deal.objects.filter(pk=_id(value, "deal_id")).first()
    if deal is None or not _may_see(by_user, "crm.view_deal", deal):
        raise ValidationFailed(f"no deal with id {value}", field="deal_id", value=value)
    return deal


def _account(value: Any, by_user: Any) -> Account | None:
    if value is None:
        return None
    account = Account.objects.filter(pk=_id(value, "account_id")).first()
    if account is None or not _may_see(by_user, "crm.view_account", account):
        raise ValidationFailed(f"no account with id {value}", field="account_id", value=value)
    return account


def _owner(value: Any, by_user: Any) -> User:
    """The owner a task may be given: an active user who can work tasks, in the giver's scope."""
    if value is None:
        if _actor(by_user) is None:
            raise ValidationFailed("a task needs an owner", field="owner_id", value=None)
        return by_user  # type: ignore[no-any-return]
    owner_id = _id(value, "owner_id")
    owner = (
        by_user
        if _actor(by_user) is not None and owner_id == by_user.pk
        else User.objects.filter(pk=owner_id).first()
    )
    if owner is None:
        raise ValidationFailed(f"no user with id {owner_id}", field="owner_id", value=owner_id)
    if not owner.is_active:
        raise ValidationFailed(f"user {owner} is not active", field="owner_id", value=owner_id)
    if owner is not by_user:
        if _actor(by_user) is not None and not task_scope(user=by_user, write=True).covers(owner.pk):
            raise PermissionRefused(
                "only a sales manager (for their team) or an admin gives tasks to someone else",
                field="owner_id",
                value=owner_id,
            )
        if not owner.has_perm("crm.change_task"):
            raise ValidationFailed(
                f"user {owner} cannot have tasks (their role)", field="owner_id", value=owner_id
            )
    return owner


def _check_access(task: Task, by_user: Any) -> None:
    if _actor(by_user) is None or task.owner_id == by_user.pk:
        return
    if not task_scope(user=by_user, write=True).covers(task.owner_id):
        raise PermissionRefused(
            f"task #{task.pk} is not yours: only its owner, their sales manager or an admin changes it",
            field="owner_id",
            value=task.owner_id,
        )


def _check_deal(person: Person | None, deal: Deal | None) -> None:
    # As for an activity logged on completion (crm.activities): the person's deal or their account's.
    if person is None or deal is None:
        return
    if deal.person_id != person.pk and (deal.account_id is None or deal.account_id != person.account_id):
        raise ValidationFailed(
            f"deal #{deal.pk} belongs neither to {person} nor to their account",
            field="deal_id",
            value=deal.pk,
        )


def _fill_links(person: Person | None, deal: Deal | None, account: Account | None) -> tuple[Any, Any, Any]:
    # A task about a deal is about its main contact; one about a person shows on their company's page too.
    if person is None and deal is not None:
        person = deal.person
    _check_deal(person, deal)
    if account is None:
        account = (deal.account if deal is not None and deal.account_id else None) or (
            person.account if person is not None else None
        )
    return person, deal, account


def _snapshot(task: Task) -> dict[str, Any]:
    return {
        "title": task.title,
        "due_at": task.due_at.isoformat(),
        "owner": task.owner_id,
        "person": task.person_id,
        "deal": task.deal_id,
        "account": task.account_id,
        "priority": task.priority,
        "activity_kind": task.activity_kind_id,
        "source": task.source,
    }


def task_create(
    *,
    title: str,
    due_at: dt.datetime,
    by_user: Any,
    owner_id: int | None = None,
    person_id: int | None = None,
    deal_id: int | None = None,
    account_id: int | None = None,
    priority: str = Task.Priority.NORMAL,
    notes: str = "",
    activity_kind: str | None = None,
    source: str = "",
    now: dt.datetime | None = None,
) -> Task:
    """Create a task for its owner (the creator unless a manager gives it), perhaps about a person, deal or account."""
    moment = now or timezone.now()
    clean = {
        "title": _title(title),
        "notes": _notes(notes),
        "due_at": _due(due_at, moment),
        "priority": _priority(priority),
        "source": _source(source),
    }
    with transaction.atomic():
        kind = _kind(activity_kind)
        owner = _owner(owner_id, by_user)
        person, deal, account = _fill_links(
            _person(person_id, by_user), _deal(deal_id, by_user), _account(account_id, by_user)
        )
        task = Task.objects.create(
            **clean,
            owner=owner,
            person=person,
            deal=deal,
            account=account,
            activity_kind_id=kind,
            created_by=_actor(by_user),
        )
        event_record(kind="task.created", subject=task, actor=by_user, data=_snapshot(task))
    return task


def task_update(*, task: Task, by_user: Any, now: dt.datetime | None = None, **changes: Any) -> Task:
    """Change a task's title, notes, due time, priority, kind or what it is about; a manager may reassign it."""
    unknown = sorted(set(changes) - set(EDITABLE))
    if unknown:
        raise ValidationFailed(
            f"field {unknown[0]!r} cannot be edited here", field=unknown[0], value=changes[unknown[0]]
        )
    moment = now or timezone.now()
    with transaction.atomic():
        locked = Task.objects.select_for_update().get(pk=task.pk)
        _check_access(locked, by_user)
        new: dict[str, Any] = {}
        if "title" in changes:
            new["title"] = _title(changes["title"])
        if "notes" in changes:
            new["notes"] = _notes(changes["notes"])
        if "due_at" in changes:
            new["due_at"] = _due(changes["due_at"], moment)
        if "priority" in changes:
            new["priority"] = _priority(changes["priority"])
        if "activity_kind" in changes:
            new["activity_kind_id"] = _kind(changes["activity_kind"])
        links: dict[str, Any] = {}
        for name, load in (("person_id", _person), ("deal_id", _deal), ("account_id", _account)):
            if name in changes:
                links[name] = load(changes[name], by_user)
                new[name] = None if links[name] is None else links[name].pk
        if "person_id" in links or "deal_id" in links:
            _check_deal(links.get("person_id", locked.person), links.get("deal_id", locked.deal))
        if changes.get("owner_id") is not None and changes["owner_id"] != locked.owner_id:
            new["owner_id"] = _owner(changes["owner_id"], by_user).pk
        elif "owner_id" in changes and changes["owner_id"] is None:
            raise ValidationFailed("a task needs an owner", field="owner_id", value=None)
        diff = {k: [getattr(locked, k), v] for k, v in new.items() if getattr(locked, k) != v}
        if not diff:
            return locked
        for key, (_, value) in diff.items():
            setattr(locked, key, value)
        fields = [*diff, "updated_at"]
        if "due_at" in diff and locked.due_at > moment:
            # Moved into the future: the owner is told again should it become overdue again.
            locked.overdue_notified_at = None
            fields.append("overdue_notified_at")
        locked.save(update_fields=fields)
        data = {k: [_plain(a), _plain(b)] for k, (a, b) in diff.items()}
        event_record(kind="task.updated", subject=locked, actor=by_user, data={"changes": data})
        if "owner_id" in diff:
            event_record(
                kind="task.reassigned",
                subject=locked,
                actor=by_user,
                data={"from": diff["owner_id"][0], "to": diff["owner_id"][1]},
            )
    return locked


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, dt.datetime) else value


def task_complete(
    *,
    task: Task,
    by_user: Any,
    log_activity: bool = False,
    activity_kind: str | None = None,
    outcome: str = "",
    notes: str = "",
) -> Task:
    """Mark a task done; with log_activity, record the activity it stood for (a call…) in the same step."""
    with transaction.atomic():
        locked = Task.objects.select_for_update(of=("self",)).select_related("person", "deal").get(pk=task.pk)
        _check_access(locked, by_user)
        if locked.done_at is not None:
            raise NotAllowed(
                f"task #{locked.pk} was already done at {locked.done_at.isoformat()}",
                field="done_at",
                value=locked.done_at.isoformat(),
            )
        activity = None
        if log_activity:
            if locked.person is None:
                raise ValidationFailed(
                    "this task is about no person, so completing it cannot log an activity",
                    field="activity",
                    value=None,
                )
            kind = activity_kind or locked.activity_kind_id
            if not kind:
                raise ValidationFailed("say which kind of activity to log", field="activity_kind", value=None)
            activity = activity_record(
                person=locked.person,
                kind=kind,
                user=_actor(by_user),
                outcome=outcome,
                subject=locked.title,
                notes=notes,
                deal=locked.deal,
                by_user=by_user,
            )
        locked.done_at = timezone.now()
        locked.done_by = _actor(by_user)
        fields = ["done_at", "done_by", "updated_at"]
        if activity is not None:
            locked.activity = activity
            fields.append("activity")
        locked.save(update_fields=fields)
        event_record(
            kind="task.completed",
            subject=locked,
            actor=by_user,
            data={
                "activity": None if activity is None else activity.pk,
                "activity_kind": None if activity is None else activity.kind_id,
                "due_at": locked.due_at.isoformat(),
                "late": locked.done_at > locked.due_at,
            },
        )
    return locked


def task_reopen(*, task: Task, by_user: Any) -> Task:
    """Make a done task open again (an activity logged when it was done stays logged)."""
    with transaction.atomic():
        locked = Task.objects.select_for_update().get(pk=task.pk)
        _check_access(locked, by_user)
        if locked.done_at is None:
            raise NotAllowed(f"task #{locked.pk} is not done", field="done_at", value=None)
        was = locked.done_at
        locked.done_at = None
        locked.done_by = None
        locked.save(update_fields=["done_at", "done_by", "updated_at"])
        event_record(kind="task.reopened", subject=locked, actor=by_user, data={"done_at": was.isoformat()})
    return locked


def task_delete(*, task: Task, by_user: Any) -> None:
    """Delete a task; the event keeps what it was."""
    with transaction.atomic():
        locked = Task.objects.select_for_update().filter(pk=task.pk).first()
        if locked is None:
            raise NotFound(f"no task with id {task.pk}", field="id", value=task.pk)
        _check_access(locked, by_user)
        event_record(
            kind="task.deleted",
            subject=locked,
            actor=by_user,
            data={
                **_snapshot(locked),
                "done_at": None if locked.done_at is None else locked.done_at.isoformat(),
            },
        )
        locked.delete()


def tasks_mark_overdue_notified(*, task_ids: Sequence[int], at: dt.datetime) -> list[int]:
    """Record that the owners of these open tasks were told they are overdue; returns the ids newly marked
    (a task already marked, or done meanwhile, is left alone, so each owner is told once)."""
    with transaction.atomic():
        fresh = sorted(
            Task.objects.select_for_update()
            .filter(pk__in=list(task_ids), overdue_notified_at__isnull=True, done_at__isnull=True)
            .values_list("id", flat=True)
        )
        if not fresh:
            return []
        Task.objects.filter(pk__in=fresh).update(overdue_notified_at=at)
        for task_id in fresh:
            event_record(
                kind="task.overdue_notified", subject_type="crm.task", subject_id=task_id, occurred_at=at
            )
    return fresh
