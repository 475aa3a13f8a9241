"""Reads for the account list, the account page and the account API (keyset pages throughout)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db.models import Count, IntegerField, OuterRef, Q, QuerySet, Subquery, Sum
from django.db.models.functions import Coalesce

from tandem.core.errors import NotFound, ValidationFailed
from tandem.core.keyset import MAX_ID, Cursor, cursor_decode, cursor_encode
from tandem.crm.models import Account, Activity, Deal, DealStage, Person, Task
from tandem.crm.registry import account_detail_part
from tandem.users.access import access_seen
from tandem.users.models import User

PAGE_SIZE = 50
MAX_PAGE_SIZE = 200
# How many rows of each list the account page shows; the API pages through all of them.
DETAIL_LIMIT = 25
CENT = Decimal("0.01")

# List orders, named in their cursors so a cursor of one list is refused by another.
BY_NAME = "name"
DEALS_RECENT = "deals-recent"
PEOPLE_BY_NAME = "people-name"
ACTIVITIES_RECENT = "activities-recent"


@dataclass(frozen=True)
class Page:
    """One keyset page; the cursors are None where there is nothing further."""

    items: list[Any]
    next_cursor: str | None
    prev_cursor: str | None


def _text(value: Any) -> str:
    return value.isoformat() if isinstance(value, dt.datetime) else str(value)


def _keyset_page(
    *,
    queryset: QuerySet[Any],
    order: str,
    field: str,
    descending: bool,
    cursor: str,
    limit: int,
    parse: Callable[[str], Any] = str,
) -> Page:
    """A page of rows sorted by (field, id), walking the (field, id) order from a cursor either way."""
    if not 1 <= limit <= MAX_PAGE_SIZE:
        raise ValidationFailed(
            f"limit must be between 1 and {MAX_PAGE_SIZE}, got {limit}", field="limit", value=limit
        )
    up, down = (field, "id"), (f"-{field}", "-id")
    forward = down if descending else up
    boundary = cursor_decode(cursor, order=order) if cursor else None
    qs = queryset.order_by(*forward)
    if boundary is not None:
        try:
            key = parse(boundary.key)
        except ValueError:
            raise ValidationFailed(
                f"cursor {cursor!r} is not a valid page cursor", field="cursor", value=cursor
            ) from None
        # Forward on a descending list means smaller keys; going backward flips the side and the sort.
        if descending != boundary.backward:
            beyond = Q(**{f"{field}__lte": key}) & (Q(**{f"{field}__lt": key}) | Q(id__lt=boundary.id))
        else:
            beyond = Q(**{f"{field}__gte": key}) & (Q(**{f"{field}__gt": key}) | Q(id__gt=boundary.id))
        backward_sort = up if descending else down
        qs = queryset.filter(beyond).order_by(*(backward_sort if boundary.backward else forward))
    rows = list(qs[: limit + 1])
    more = len(rows) > limit
    items = rows[:limit]
    going_back = boundary is not None and boundary.backward
    if going_back:
        items.reverse()
    if not items:
        return Page(items=[], next_cursor=None, prev_cursor=None)
    has_next = True if going_back else more
    has_prev = more if going_back else boundary is not None
    first, last = items[0], items[-1]
    return Page(
        items=items,
        next_cursor=cursor_encode(Cursor(order, _text(getattr(last, field)), last.pk)) if has_next else None,
        prev_cursor=(
            cursor_encode(Cursor(order, _text(getattr(first, field)), first.pk, backward=True))
            if has_prev
            else None
        ),
    )


# ---- the account list ----


def _owner_filter(owner: str) -> Q:
    # "none" picks the unassigned; a numeric id must name a user, so a typo is an error, not an empty list.
    if owner == "none":
        return Q(owner__isnull=True)
    if not owner.isdigit() or not 0 < int(owner) <= MAX_ID or not User.objects.filter(pk=int(owner)).exists():
        raise ValidationFailed(
            f"owner must be a user id or 'none', got {owner!r}", field="owner", value=owner
        )
    return Q(owner_id=int(owner))


def _counted(model: type[Any], **where: Any) -> Coalesce:
    # Counted per row of the page through the account's index, not grouped over the whole table.
    rows = model.objects.filter(account=OuterRef("pk"), **where).order_by().values("account")
    return Coalesce(Subquery(rows.annotate(n=Count("id")).values("n"), output_field=IntegerField()), 0)


def accounts_filter(
    *, q: str = "", industry: str = "", owner: str = "", country: str = "", user: Any = None
) -> QuerySet[Account]:
    """The accounts whose name or domain contains `q` (any case), filtered by industry, owner and country."""
    qs = access_seen(Account.objects.all(), user=user)
    text = " ".join(q.split())
    if text:
        qs = qs.filter(Q(name__icontains=text) | Q(domain__icontains=text.lower()))
    if industry:
        qs = qs.filter(industry=industry)
    if country:
        qs = qs.filter(country=country)
    if owner:
        qs = qs.filter(_owner_filter(owner))
    return qs


def account_list(
    *,
    q: str = "",
    industry: str = "",
    owner: str = "",
    country: str = "",
    cursor: str = "",
    limit: int = PAGE_SIZE,
    user: Any = None,
) -> Page:
    """A page of accounts by name, each with its number of people and of open deals."""
    qs = (
        accounts_filter(q=q, industry=industry, owner=owner, country=country, user=user)
        .select_related("owner")
        .annotate(n_people=_counted(Person), n_open_deals=_counted(Deal, stage=DealStage.OPEN))
    )
    return _keyset_page(
        queryset=qs, order=BY_NAME, field="name", descending=False, cursor=cursor, limit=limit
    )


def account_filter_options() -> dict[str, list[str]]:
    """The industries and countries accounts have, for the list's filters (one query)."""
    rows = Account.objects.exclude(industry="", country="").values_list("industry", "country").distinct()
    industries: set[str] = set()
    countries: set[str] = set()
    for industry, country in rows:
        if industry:
            industries.add(industry)
        if country:
            countries.add(country)
    return {"industries": sorted(industries, key=str.lower), "countries": sorted(countries, key=str.lower)}


# ---- one account ----


def account_get(*, account_id: int, user: Any = None) -> Account:
    """One account with its owner (one `user` may see, when given), or NotFound naming the id."""
    account = (
        access_seen(Account.objects.select_related("owner"), user=user).filter(pk=account_id).first()
        if 0 < account_id <= MAX_ID
        else None
    )
    if account is None:
        raise NotFound(f"no account with id {account_id}", field="id", value=account_id)
    return account


@dataclass(frozen=True)
class DealTotals:
    """An account's deals in numbers: counts by status and the open and won amounts."""

    total: int = 0
    open: int = 0
    won: int = 0
    lost: int = 0
    open_amount: Decimal = Decimal("0")
    won_amount: Decimal = Decimal("0")


@dataclass(frozen=True)
class AccountDetail:
    """Everything the account page shows, each list newest (or by name) first and cut at DETAIL_LIMIT."""

    account: Account
    people: list[Person]
    people_count: int
    deals: list[Deal]
    deal_totals: DealTotals
    activities: list[Activity]
    tasks: list[Task]
    touchpoints: list[Any]  # campaigns' touchpoints of the account's people, newest first
    touchpoints_count: int


def _deal_totals(account_id: int) -> DealTotals:
    row = Deal.objects.filter(account_id=account_id).aggregate(
        total=Count("id"),
        open=Count("id", filter=Q(stage=DealStage.OPEN)),
        won=Count("id", filter=Q(stage=DealStage.WON)),
        lost=Count("id", filter=Q(stage=DealStage.LOST)),
        open_amount=Sum("amount", filter=Q(stage=DealStage.OPEN)),
        won_amount=Sum("amount", filter=Q(stage=DealStage.WON)),
    )
    return DealTotals(
        total=row["total"],
        open=row["open"],
        won=row["won"],
        lost=row["lost"],
        # Cents on both databases (SQLite's SUM drops trailing zeros).
        open_amount=(row["open_amount"] or Decimal("0")).quantize(CENT),
        won_amount=(row["won_amount"] or Decimal("0")).quantize(CENT),
    )


def account_tasks_open(*, account_id: int, limit: int = DETAIL_LIMIT, user: Any = None) -> list[Task]:
    """Open tasks about the account, its people or its deals, the soonest due first."""
    about = Q(account_id=account_id) | Q(person__account_id=account_id) | Q(deal__account_id=account_id)
    return list(
        access_seen(Task.objects.filter(about, done_at__isnull=True), user=user)
        .select_related("owner", "person")
        .order_by("due_at", "id")[:limit]
    )


def account_detail(*, account_id: int, user: Any = None) -> AccountDetail:
    """An account with its people, deals (stage and amount), activities, open tasks and touchpoints.

    With a user, the lists and the people count hold what they may see; the deal totals are the account's whole.
    """
    account = account_get(account_id=account_id, user=user)
    people = account_people_page(account_id=account.pk, limit=DETAIL_LIMIT, user=user).items
    people_count = (
        len(people)
        if len(people) < DETAIL_LIMIT
        else access_seen(Person.objects.filter(account=account), user=user).count()
    )
    # Touchpoints belong to campaigns, a floor above: it fills this part (crm/registry.py).
    touchpoints, touchpoints_count = account_detail_part(
        name="touchpoints", account=account, default=([], 0), user=user
    )
    return AccountDetail(
        account=account,
        people=people,
        people_count=people_count,
        deals=account_deals_page(account_id=account.pk, limit=DETAIL_LIMIT, user=user).items,
        deal_totals=_deal_totals(account.pk),
        activities=account_activities_page(account_id=account.pk, limit=DETAIL_LIMIT, user=user).items,
        tasks=account_tasks_open(account_id=account.pk, user=user),
        touchpoints=touchpoints,
        touchpoints_count=touchpoints_count,
    )


def account_people_page(
    *, account_id: int, cursor: str = "", limit: int = PAGE_SIZE, user: Any = None
) -> Page:
    """A page of the account's people by name."""
    qs = access_seen(Person.objects.filter(account_id=account_id), user=user).select_related("owner", "account")
    return _keyset_page(
        queryset=qs, order=PEOPLE_BY_NAME, field="name_key", descending=False, cursor=cursor, limit=limit
    )


def account_deals_page(
    *, account_id: int, cursor: str = "", limit: int = PAGE_SIZE, user: Any = None
) -> Page:
    """A page of the account's deals, newest first, with their pipeline stage, owner and person."""
    qs = access_seen(Deal.objects.filter(account_id=account_id), user=user).select_related(
        "pipeline", "pipeline_stage", "owner", "person", "lost_reason"
    )
    return _keyset_page(
        queryset=qs,
        order=DEALS_RECENT,
        field="created_at",
        descending=True,
        cursor=cursor,
        limit=limit,
        parse=dt.datetime.fromisoformat,
    )


def account_activities_page(
    *, account_id: int, cursor: str = "", limit: int = PAGE_SIZE, user: Any = None
) -> Page:
    """A page of the activities logged against the account, the latest first, with who did them and with whom."""
    qs = access_seen(Activity.objects.filter(account_id=account_id), user=user).select_related("kind", "user", "person")
    return _keyset_page(
        queryset=qs,
        order=ACTIVITIES_RECENT,
        field="occurred_at",
        descending=True,
        cursor=cursor,
        limit=limit,
        parse=dt.datetime.fromisoformat,
    )
