"""Reads for sales activities: one activity, keyset pages of them, a person's recent ones, the kinds."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.db.models import Count, Q, QuerySet

from tandem.core.errors import NotFound, ValidationFailed
from tandem.core.keyset import MAX_ID, Cursor, cursor_decode, cursor_encode
from tandem.crm.activities.quicklog import kind_words
from tandem.crm.models import Account, Activity, ActivityOutcome, ActivityType, Deal, DealStage, Person
from tandem.users.access import access_seen
from tandem.users.models import User

PAGE_SIZE = 50
MAX_PAGE_SIZE = 200
ORDER = "recent"
# How many activities the person page shows, as crm.selectors.person_detail reads them (the list has the rest).
PERSON_RECENT = 100


@dataclass(frozen=True)
class ActivityPage:
    """One keyset page of activities, newest first; the cursors are None where there is nothing further."""

    items: list[Activity]
    next_cursor: str | None
    prev_cursor: str | None


def _related(qs: QuerySet[Activity]) -> QuerySet[Activity]:
    return qs.select_related("person", "kind", "user", "deal", "account")


def activity_get(*, activity_id: int, user: Any = None) -> Activity:
    """One activity with its person, kind, author, deal and account (one `user` may see, when given), or NotFound."""
    found = (
        _related(access_seen(Activity.objects.filter(pk=activity_id), user=user)).first()
        if 0 < activity_id <= MAX_ID
        else None
    )
    if found is None:
        raise NotFound(f"no activity with id {activity_id}", field="id", value=activity_id)
    return found


def _aware(value: dt.datetime | None) -> dt.datetime | None:
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    return value


def _id(value: int | None, field: str) -> int | None:
    if value is not None and not 0 < value <= MAX_ID:
        raise ValidationFailed(
            f"{field} must be between 1 and {MAX_ID}, got {value}", field=field, value=value
        )
    return value


def activities_filter(
    *,
    person_id: int | None = None,
    deal_id: int | None = None,
    account_id: int | None = None,
    owner: str = "",
    kind: str = "",
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    user: Any = None,
) -> QuerySet[Activity]:
    """The activities matching the filters (owner: who did it, a user id or `none`; [since, until))."""
    qs = access_seen(Activity.objects.all(), user=user)
    for field, value in (("person_id", person_id), ("deal_id", deal_id), ("account_id", account_id)):
        if _id(value, field) is not None:
            qs = qs.filter(**{field: value})
    if owner:
        if owner == "none":
            qs = qs.filter(user__isnull=True)
        elif owner.isdigit() and 0 < int(owner) <= MAX_ID and User.objects.filter(pk=int(owner)).exists():
            qs = qs.filter(user_id=int(owner))
        else:
            raise ValidationFailed(
                f"owner must be a user id or 'none', got {owner!r}", field="owner", value=owner
            )
    if kind:
        if not ActivityType.objects.filter(key=kind).exists():
            raise ValidationFailed(f"unknown activity kind {kind!r}", field="kind", value=kind)
        qs = qs.filter(kind__key=kind)
    since, until = _aware(since), _aware(until)
    if since is not None and until is not None and until <= since:
        raise ValidationFailed("until must be after since", field="until", value=until.isoformat())
    if since is not None:
        qs = qs.filter(occurred_at__gte=since)
    if until is not None:
        qs = qs.filter(occurred_at__lt=until)
    return qs


def _beyond(at: dt.datetime, row_id: int, *, older: bool) -> Q:
    # (occurred_at, id) < (at, i) spelled so the (occurred_at, id) index bounds the scan, as in crm.selectors.
    if older:
        return Q(occurred_at__lte=at) & (Q(occurred_at__lt=at) | Q(id__lt=row_id))
    return Q(occurred_at__gte=at) & (Q(occurred_at__gt=at) | Q(id__gt=row_id))


def activities_list(
    *,
    person_id: int | None = None,
    deal_id: int | None = None,
    account_id: int | None = None,
    owner: str = "",
    kind: str = "",
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    cursor: str = "",
    limit: int = PAGE_SIZE,
    user: Any = None,
) -> ActivityPage:
    """A keyset page of activities, newest first, filtered by person, deal, account, who did it, kind and time."""
    if not 1 <= limit <= MAX_PAGE_SIZE:
        raise ValidationFailed(
            f"limit must be between 1 and {MAX_PAGE_SIZE}, got {limit}", field="limit", value=limit
        )
    boundary = cursor_decode(cursor, order=ORDER) if cursor else None
    qs = _related(
        activities_filter(
            person_id=person_id,
            deal_id=deal_id,
            account_id=account_id,
            owner=owner,
            kind=kind,
            since=since,
            until=until,
            user=user,
        )
    )
    backward = boundary is not None and boundary.backward
    if boundary is not None:
        try:
            at = dt.datetime.fromisoformat(boundary.key)
        except ValueError:
            raise ValidationFailed(
                f"cursor {cursor!r} is not a valid page cursor", field="cursor", value=cursor
            ) from None
        qs = qs.filter(_beyond(at, boundary.id, older=not backward))
    qs = qs.order_by("occurred_at", "id") if backward else qs.order_by("-occurred_at", "-id")
    rows = list(qs[: limit + 1])
    more = len(rows) > limit
    items = rows[:limit]
    if backward:
        items.reverse()
    if not items:
        return ActivityPage(items=[], next_cursor=None, prev_cursor=None)
    has_next = True if backward else more
    has_prev = more if backward else boundary is not None
    first, last = items[0], items[-1]
    return ActivityPage(
        items=items,
        next_cursor=cursor_encode(Cursor(ORDER, last.occurred_at.isoformat(), last.pk)) if has_next else None,
        prev_cursor=(
            cursor_encode(Cursor(ORDER, first.occurred_at.isoformat(), first.pk, backward=True))
            if has_prev
            else None
        ),
    )


def activity_types_list(*, include_retired: bool = False) -> list[ActivityType]:
    """The activity kinds in their order (retired ones too when asked)."""
    qs = ActivityType.objects.all()
    if not include_retired:
        qs = qs.filter(is_active=True)
    return list(qs.order_by("position", "key"))


def activity_type_get(*, key: str) -> ActivityType:
    """One activity kind by key, or NotFound naming it."""
    found = ActivityType.objects.filter(key=key).first() if 0 < len(key) <= 24 else None
    if found is None:
        raise NotFound(f"no activity kind {key!r}", field="key", value=key)
    return found


def activity_type_usage() -> dict[str, int]:
    """How many activities each kind has (one grouped query)."""
    counts = (
        Activity.objects.order_by().values_list("kind_id").annotate(n=Count("id")).values_list("kind_id", "n")
    )
    return {str(key): n for key, n in counts}


@dataclass(frozen=True)
class QuickLogForm:
    """What the person page's quick-log box offers: the active kinds, the outcomes, the person's open deals."""

    kinds: list[ActivityType]
    outcomes: list[tuple[str, str]]
    deals: list[Deal]

    @property
    def words(self) -> dict[str, str]:
        return kind_words({k.key: k.label for k in self.kinds})


def quicklog_form(*, person_id: int, deals: list[Any] | None = None) -> QuickLogForm:
    """The quick-log box's choices (the person's open deals from `deals` when the page already read them)."""
    if deals is None:
        deals = list(
            Deal.objects.filter(person_id=person_id, stage=DealStage.OPEN).order_by("-created_at", "-id")
        )
    return QuickLogForm(
        kinds=activity_types_list(),
        outcomes=list(ActivityOutcome.choices),
        deals=[d for d in deals if d.stage == DealStage.OPEN],
    )


def person_activities_recent(*, person_id: int, limit: int = PERSON_RECENT) -> list[Activity]:
    """A person's latest activities, newest first, with kind, author and deal."""
    return list(
        Activity.objects.filter(person_id=person_id)
        .select_related("kind", "user", "deal")
        .order_by("-occurred_at", "-id")[:limit]
    )


@dataclass(frozen=True)
class ActivityRefs:
    """The rows an activity names by id, found (or refused naming the field)."""

    person: Person
    deal: Deal | None
    account: Account | None
    user: User | None


def _ref(
    model: Any, pk: int | None, field: str, label: str, related: tuple[str, ...] = (), viewer: Any = None
) -> Any:
    if pk is None:
        return None
    # A row out of the viewer's sight is as unknown as a missing one.
    qs = access_seen(model.objects.select_related(*related), user=viewer)
    found = qs.filter(pk=pk).first() if 0 < pk <= MAX_ID else None
    if found is None:
        raise ValidationFailed(f"no {label} with id {pk}", field=field, value=pk)
    return found


def activity_refs(
    *,
    person_id: int,
    deal_id: int | None = None,
    account_id: int | None = None,
    user_id: int | None = None,
    viewer: Any = None,
) -> ActivityRefs:
    """The person, deal, account and user an activity names, each refused with its field when it does not exist
    (or, with a `viewer`, is out of their sight)."""
    return ActivityRefs(
        person=_ref(Person, person_id, "person_id", "person", ("account",), viewer),
        deal=_ref(Deal, deal_id, "deal_id", "deal", (), viewer),
        account=_ref(Account, account_id, "account_id", "account", (), viewer),
        user=_ref(User, user_id, "user_id", "user"),
    )
