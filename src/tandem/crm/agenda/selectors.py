"""Reads for tasks: whose tasks a user sees, a user's day in their time zone, and keyset pages of tasks."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.db.models import Count, Q, QuerySet

from tandem.core.errors import NotFound, ValidationFailed
from tandem.core.keyset import MAX_ID, Cursor, cursor_decode, cursor_encode
from tandem.crm.models import ActivityOutcome, ActivityType, Task
from tandem.users.access import access_reach
from tandem.users.models import Role, User

PAGE_SIZE = 25
MAX_PAGE_SIZE = 200
PERSON_PANEL_LIMIT = 20

# Every state a list can be filtered by. "Overdue" is an open task whose due time has passed; "today" one due
# later today and "upcoming" one due from tomorrow on, both in the day of one time zone (see `_window`).
STATES: dict[str, str] = {
    "open": "Open",
    "overdue": "Overdue",
    "today": "Due today",
    "upcoming": "Upcoming",
    "done": "Done",
    "done_today": "Done today",
}
# The sections of "My tasks", in the order the page shows them.
DAY_BUCKETS: tuple[str, ...] = ("overdue", "today", "upcoming", "done_today")
# Who may be given tasks: the roles that own people and deals.
OWNER_ROLES = (Role.SALES_REP, Role.SALES_MANAGER, Role.ADMIN)
UTC = ZoneInfo("UTC")


# ---- whose tasks a user sees ----


@dataclass(frozen=True)
class TaskScope:
    """Whose tasks a user lists and changes: "own", "team" (a sales manager's teams and themselves) or "all"."""

    kind: str
    user: Any
    # The owners the user may pick in a filter or give a task to (every member, active or not, so a manager can
    # take the tasks of someone who left; for "all", the active users who can own tasks).
    members: tuple[Any, ...]

    def covers(self, owner_id: int | None) -> bool:
        """Whether tasks of this owner are the user's to see and change."""
        if self.kind == "all":
            return True
        return owner_id is not None and any(u.pk == owner_id for u in self.members)


def task_scope(*, user: Any, write: bool = False) -> TaskScope:
    """Whose tasks the user sees (or, with `write`, changes): the record-level rule of tandem.users.access."""
    order = ("first_name", "last_name", "username")
    reach = access_reach(user=user, write=write)
    if reach.everyone:
        members = User.objects.filter(is_active=True, role__in=OWNER_ROLES).order_by(*order)
        return TaskScope("all", user, tuple(members))
    if reach.nothing:
        return TaskScope("own", user, ())
    if reach.owner_ids == frozenset({user.pk}):
        return TaskScope("own", user, (user,))
    return TaskScope("team", user, tuple(User.objects.filter(pk__in=reach.owner_ids).order_by(*order)))


def user_zone(user: Any) -> ZoneInfo:
    """The user's time zone; a name the system does not know counts as UTC rather than failing the page."""
    try:
        return ZoneInfo(str(getattr(user, "time_zone", "") or "UTC"))
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        return UTC


def day_bounds(*, zone: ZoneInfo, now: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    """The start of today and of tomorrow in `zone`, in UTC (a DST day is 23 or 25 hours long)."""
    today = now.astimezone(zone).date()
    # In UTC: Python subtracts and compares two times of one zone on the wall clock, not as moments.
    start = dt.datetime.combine(today, dt.time(0), tzinfo=zone).astimezone(dt.UTC)
    end = dt.datetime.combine(today + dt.timedelta(days=1), dt.time(0), tzinfo=zone).astimezone(dt.UTC)
    return start, end


# ---- filters ----


@dataclass(frozen=True)
class _Window:
    """The owner filter applied and the day the buckets are cut in."""

    scope: TaskScope
    owner_q: Q
    owner: Any | None  # the one owner listed, or None for several
    zone: ZoneInfo
    now: dt.datetime
    start: dt.datetime  # today 00:00 in `zone`
    end: dt.datetime  # tomorrow 00:00 in `zone`


def _owner_filter(scope: TaskScope, owner: str) -> tuple[Q, Any | None]:
    user = scope.user
    if owner in ("", "me") or (owner == "all" and scope.kind == "own"):
        return Q(owner_id=user.pk), user
    if owner == "all":
        if scope.kind == "team":
            return Q(owner_id__in=[u.pk for u in scope.members]), None
        return Q(), None
    if not owner.isdigit() or not 0 < int(owner) <= MAX_ID:
        raise ValidationFailed(
            f"owner must be a user id, 'me' or 'all', got {owner!r}", field="owner", value=owner
        )
    owner_id = int(owner)
    if owner_id == user.pk:
        return Q(owner_id=owner_id), user
    member = next((u for u in scope.members if u.pk == owner_id), None)
    if member is None and scope.kind == "all":
        member = User.objects.filter(pk=owner_id).first()
        if member is None:
            raise ValidationFailed(f"no user with id {owner_id}", field="owner", value=owner)
    if member is None:
        whose = "your own tasks" if scope.kind == "own" else "your team's tasks"
        raise ValidationFailed(
            f"user {owner_id} is not an owner you can see: you see {whose}", field="owner", value=owner
        )
    return Q(owner_id=owner_id), member


def _window(*, user: Any, owner: str, now: dt.datetime | None, scope: TaskScope | None = None) -> _Window:
    scope = scope or task_scope(user=user)
    owner_q, one = _owner_filter(scope, owner)
    # The day is the listed owner's (their midnight), or the reader's own when several owners are listed.
    zone = user_zone(one if one is not None else user)
    moment = now or dt.datetime.now(dt.UTC)
    start, end = day_bounds(zone=zone, now=moment)
    return _Window(scope, owner_q, one, zone, moment, start, end)


def _state_q(state: str, w: _Window) -> Q:
    if state == "open":
        return Q(done_at__isnull=True)
    if state == "overdue":
        return Q(done_at__isnull=True, due_at__lt=w.now)
    if state == "today":
        return Q(done_at__isnull=True, due_at__gte=w.now, due_at__lt=w.end)
    if state == "upcoming":
        return Q(done_at__isnull=True, due_at__gte=w.end)
    if state == "done":
        return Q(done_at__isnull=False)
    if state == "done_today":
        return Q(done_at__gte=w.start, done_at__lt=w.end)
    return Q()


def _check_state(state: str) -> None:
    if state and state not in STATES:
        raise ValidationFailed(
            f"state must be one of {', '.join(STATES)}; got {state!r}", field="state", value=state
        )


def _check_limit(limit: int) -> None:
    if not 1 <= limit <= MAX_PAGE_SIZE:
        raise ValidationFailed(
            f"limit must be between 1 and {MAX_PAGE_SIZE}, got {limit}", field="limit", value=limit
        )


def _rows() -> QuerySet[Task]:
    return Task.objects.select_related("owner", "person", "deal", "account", "activity_kind")


# ---- keyset pages: open tasks by due time (soonest first), done ones by when they were done (latest first) ----


@dataclass(frozen=True)
class _Order:
    name: str
    field: str
    descending: bool


BY_DUE = _Order("due", "due_at", descending=False)
BY_DONE = _Order("done", "done_at", descending=True)


@dataclass(frozen=True)
class TaskPage:
    """One keyset page of tasks; the cursors are None where there is nothing further."""

    items: list[Task]
    state: str
    next_cursor: str | None
    prev_cursor: str | None


def _order_for(state: str) -> _Order:
    return BY_DONE if state in ("done", "done_today") else BY_DUE


def _beyond(order: _Order, key: dt.datetime, row_id: int, *, smaller: bool) -> Q:
    # (key, id) beyond the boundary, spelled so the (…, due_at, id) index is walked as a range.
    f = order.field
    if smaller:
        return Q(**{f"{f}__lte": key}) & (Q(**{f"{f}__lt": key}) | Q(id__lt=row_id))
    return Q(**{f"{f}__gte": key}) & (Q(**{f"{f}__gt": key}) | Q(id__gt=row_id))


def _boundary(order: _Order, cursor: str) -> tuple[Cursor, dt.datetime]:
    boundary = cursor_decode(cursor, order=order.name)
    try:
        key = dt.datetime.fromisoformat(boundary.key)
    except ValueError:
        key = None
    if key is None or key.tzinfo is None:
        raise ValidationFailed(f"cursor {cursor!r} is not a valid page cursor", field="cursor", value=cursor)
    return boundary, key


def _keyset(queryset: QuerySet[Task], *, state: str, cursor: str, limit: int) -> TaskPage:
    order = _order_for(state)
    f = order.field
    forward = (f"-{f}", "-id") if order.descending else (f, "id")
    backward_sort = (f, "id") if order.descending else (f"-{f}", "-id")
    boundary: Cursor | None = None
    if cursor:
        boundary, key = _boundary(order, cursor)
        smaller = order.descending != boundary.backward
        queryset = queryset.filter(_beyond(order, key, boundary.id, smaller=smaller))
    backward = boundary is not None and boundary.backward
    rows = list(queryset.order_by(*(backward_sort if backward else forward))[: limit + 1])
    more = len(rows) > limit
    items = rows[:limit]
    if backward:
        items.reverse()
    if not items:
        return TaskPage(items=[], state=state, next_cursor=None, prev_cursor=None)
    has_next = True if backward else more
    has_prev = more if backward else boundary is not None
    first, last = items[0], items[-1]

    def encode(row: Task, back: bool) -> str:
        return cursor_encode(Cursor(order.name, getattr(row, f).isoformat(), row.pk, backward=back))

    return TaskPage(
        items=items,
        state=state,
        next_cursor=encode(last, False) if has_next else None,
        prev_cursor=encode(first, True) if has_prev else None,
    )


def _aware(value: dt.datetime | None, field: str) -> dt.datetime | None:
    if value is None:
        return None
    if value.tzinfo is None:
        raise ValidationFailed(f"{field} needs a time zone offset", field=field, value=value.isoformat())
    try:
        # The database compares in UTC: a moment such as year 1 at +01:00 has no UTC date.
        return value.astimezone(dt.UTC)
    except OverflowError:
        raise ValidationFailed(
            f"{field} {value.isoformat()} is out of range", field=field, value=value.isoformat()
        ) from None


def tasks_page(
    *,
    user: Any,
    owner: str = "",
    state: str = "",
    person_id: int | None = None,
    deal_id: int | None = None,
    account_id: int | None = None,
    due_from: dt.datetime | None = None,
    due_to: dt.datetime | None = None,
    cursor: str = "",
    limit: int = PAGE_SIZE,
    now: dt.datetime | None = None,
) -> TaskPage:
    """A page of the tasks the user may see (their own unless `owner` says otherwise), filtered by state, the
    person, deal or account they are about and a due range [due_from, due_to); done ones latest first, others
    soonest due first."""
    _check_state(state)
    _check_limit(limit)
    due_from = _aware(due_from, "due_from")
    due_to = _aware(due_to, "due_to")
    if due_from is not None and due_to is not None and due_to <= due_from:
        raise ValidationFailed(
            f"due_to ({due_to.isoformat()}) must come after due_from ({due_from.isoformat()})",
            field="due_to",
            value=due_to.isoformat(),
        )
    if cursor:
        _boundary(_order_for(state), cursor)  # refused before any query, even when the page turns out empty
    w = _window(user=user, owner=owner, now=now)
    qs = _rows().filter(w.owner_q, _state_q(state, w))
    for name, value in (("person_id", person_id), ("deal_id", deal_id), ("account_id", account_id)):
        if value is not None:
            qs = qs.filter(**{name: value})
    if due_from is not None:
        qs = qs.filter(due_at__gte=due_from)
    if due_to is not None:
        qs = qs.filter(due_at__lt=due_to)
    return _keyset(qs, state=state, cursor=cursor, limit=limit)


@dataclass(frozen=True)
class Day:
    """A user's day of tasks in one time zone: each bucket's first page and how many tasks each holds."""

    buckets: dict[str, TaskPage]
    counts: dict[str, int]
    scope: TaskScope
    owner: str  # the owner filter as given ("" is the user's own)
    owner_user: Any | None  # the one owner listed, or None for several
    zone: ZoneInfo
    now: dt.datetime
    today: dt.date

    @property
    def open_count(self) -> int:
        return self.counts["overdue"] + self.counts["today"] + self.counts["upcoming"]

    @property
    def sections(self) -> list[tuple[str, str, TaskPage, int]]:
        """(state, label, first page, count) for each bucket, in page order."""
        return [(s, STATES[s], self.buckets[s], self.counts[s]) for s in self.buckets]


def tasks_day(
    *,
    user: Any,
    owner: str = "",
    now: dt.datetime | None = None,
    limit: int = PAGE_SIZE,
    buckets: tuple[str, ...] = DAY_BUCKETS,
) -> Day:
    """ "My tasks": overdue, due today, upcoming and done today (midnight in the owner's time zone), one page each."""
    _check_limit(limit)
    for b in buckets:
        _check_state(b)
    w = _window(user=user, owner=owner, now=now)
    mine = Task.objects.filter(w.owner_q)
    counts = {
        k: int(v or 0)
        for k, v in mine.aggregate(**{s: Count("id", filter=_state_q(s, w)) for s in DAY_BUCKETS}).items()
    }
    pages = {
        s: (
            _keyset(_rows().filter(w.owner_q, _state_q(s, w)), state=s, cursor="", limit=limit)
            if counts[s]
            else TaskPage(items=[], state=s, next_cursor=None, prev_cursor=None)
        )
        for s in buckets
    }
    return Day(
        buckets=pages,
        counts=counts,
        scope=w.scope,
        owner=owner,
        owner_user=w.owner,
        zone=w.zone,
        now=w.now,
        today=w.start.astimezone(w.zone).date(),
    )


# ---- one task, a person's tasks, overdue ones for the notifier ----


def task_get(*, task_id: int, user: Any) -> Task:
    """One task the user may see (their own, their team's for a manager, any for an admin), or NotFound."""
    task = _rows().filter(pk=task_id).first() if 0 < task_id <= MAX_ID else None
    if task is None or not (
        task.owner_id == getattr(user, "pk", None) or task_scope(user=user).covers(task.owner_id)
    ):
        raise NotFound(f"no task with id {task_id}", field="id", value=task_id)
    return task


def person_tasks(*, person_id: int, user: Any, limit: int = PERSON_PANEL_LIMIT) -> list[Task]:
    """The open tasks about a person that the user may see, soonest due first."""
    scope = task_scope(user=user)
    qs = _rows().filter(person_id=person_id, done_at__isnull=True)
    if scope.kind != "all":
        qs = qs.filter(owner_id__in=[u.pk for u in scope.members])
    return list(qs.order_by("due_at", "id")[:limit])


class OverdueTask(NamedTuple):
    id: int
    owner_id: int
    title: str
    due_at: dt.datetime
    time_zone: str
    person_id: int | None


def tasks_overdue_unnotified(*, now: dt.datetime, limit: int = 500) -> list[OverdueTask]:
    """Open tasks past their due time whose owner was not told yet, longest overdue first (one query)."""
    rows = (
        Task.objects.filter(done_at__isnull=True, due_at__lt=now, overdue_notified_at__isnull=True)
        .order_by("due_at", "id")
        .values_list("id", "owner_id", "title", "due_at", "owner__time_zone", "person_id")[:limit]
    )
    return [OverdueTask(*r) for r in rows]


# ---- choices for the forms ----


def task_kind_options() -> list[tuple[str, str]]:
    """(key, label) of the activity kinds a task can be about (a call, an e-mail…), in their order."""
    return list(
        ActivityType.objects.filter(is_active=True).order_by("position", "key").values_list("key", "label")
    )


def task_outcome_options() -> list[tuple[str, str]]:
    """(value, label) of the outcomes an activity logged on completion can have."""
    return list(ActivityOutcome.choices)


def task_owner_options(*, user: Any) -> list[Any]:
    """The users the user may give a task to (themselves only, unless a manager or admin)."""
    scope = task_scope(user=user)
    return [u for u in scope.members if u.is_active] if scope.kind != "own" else [user]
