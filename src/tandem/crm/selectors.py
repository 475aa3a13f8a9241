"""Reads for the people list, the person page, deals and the role home pages."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db.models import Count, F, Q, QuerySet, Sum, Value
from django.db.models.functions import Concat
from django.utils import timezone

from tandem.core.errors import NotFound, ValidationFailed
from tandem.core.keyset import MAX_ID, Cursor, cursor_decode, cursor_encode
from tandem.core.periods import period_start
from tandem.crm.channels import CHANNEL_LABELS
from tandem.crm.models import Activity, Deal, DealStage, LostReason, Person, StageChange
from tandem.crm.registry import person_detail_part
from tandem.crm.stages import LABELS, Stage
from tandem.users.access import access_seen
from tandem.users.models import User

PAGE_SIZE = 50
MAX_PAGE_SIZE = 200
# Stages where a person is still a lead being worked by sales, before a deal exists.
WORKING_STAGES = (Stage.LEAD, Stage.MQL, Stage.SAL, Stage.SQL)
STAGE_VALUES = frozenset(s.value for s in Stage)


@dataclass(frozen=True)
class _Order:
    """One way the people list can be sorted; each is walked by an index ending in id."""

    name: str
    field: str
    descending: bool


RECENT = _Order("recent", "created_at", descending=True)
BY_NAME = _Order("name", "name_key", descending=False)
BY_EMAIL = _Order("email", "email_normalized", descending=False)


@dataclass(frozen=True)
class Page:
    """One page of a keyset-paginated list; the cursors are None where there is nothing further."""

    items: list[Any]
    order: str
    next_cursor: str | None
    prev_cursor: str | None


def _key_text(order: _Order, row: Any) -> str:
    value = getattr(row, order.field)
    return value.isoformat() if isinstance(value, dt.datetime) else str(value)


def _key_value(order: _Order, cursor: Cursor, text: str) -> Any:
    if order.field != "created_at":
        return cursor.key
    try:
        return dt.datetime.fromisoformat(cursor.key)
    except ValueError:
        raise ValidationFailed(
            f"cursor {text!r} is not a valid page cursor", field="cursor", value=text
        ) from None


def _beyond(order: _Order, key: Any, row_id: int, *, smaller: bool) -> Q:
    # (key, id) < (k, i) spelled so that both databases walk the (key, id) index as a range: the first
    # condition bounds the index scan, the second only sorts out the rows that tie on the key.
    f = order.field
    if smaller:
        return Q(**{f"{f}__lte": key}) & (Q(**{f"{f}__lt": key}) | Q(id__lt=row_id))
    return Q(**{f"{f}__gte": key}) & (Q(**{f"{f}__gt": key}) | Q(id__gt=row_id))


def _page_query(
    *, queryset: QuerySet[Any], order: _Order, cursor: str
) -> tuple[QuerySet[Any], Cursor | None]:
    # The ordered rows of one page before slicing; a backward cursor reads in reverse and flips afterwards.
    f = order.field
    forward_sort = (f"-{f}", "-id") if order.descending else (f, "id")
    backward_sort = (f, "id") if order.descending else (f"-{f}", "-id")
    if not cursor:
        return queryset.order_by(*forward_sort), None
    boundary = cursor_decode(cursor, order=order.name)
    key = _key_value(order, boundary, cursor)
    # Forward on a descending list means smaller keys; backward flips both the side and the sort.
    smaller = order.descending != boundary.backward
    sort = backward_sort if boundary.backward else forward_sort
    return queryset.filter(_beyond(order, key, boundary.id, smaller=smaller)).order_by(*sort), boundary


def _keyset_page(*, queryset: QuerySet[Any], order: _Order, cursor: str = "", limit: int = PAGE_SIZE) -> Page:
    if not 1 <= limit <= MAX_PAGE_SIZE:
        raise ValidationFailed(
            f"limit must be between 1 and {MAX_PAGE_SIZE}, got {limit}", field="limit", value=limit
        )
    qs, boundary = _page_query(queryset=queryset, order=order, cursor=cursor)
    rows = list(qs[: limit + 1])
    more = len(rows) > limit
    backward = boundary is not None and boundary.backward
    items = rows[:limit]
    if backward:
        items.reverse()
    if not items:
        return Page(items=[], order=order.name, next_cursor=None, prev_cursor=None)
    # Going backward, the boundary row itself proves there is a next page; going forward, a cursor proves
    # there was a previous one.
    has_next = True if backward else more
    has_prev = more if backward else boundary is not None
    first, last = items[0], items[-1]
    return Page(
        items=items,
        order=order.name,
        next_cursor=cursor_encode(Cursor(order.name, _key_text(order, last), last.pk)) if has_next else None,
        prev_cursor=(
            cursor_encode(Cursor(order.name, _key_text(order, first), first.pk, backward=True))
            if has_prev
            else None
        ),
    )


def _search_order(q: str) -> tuple[_Order, str]:
    text = " ".join(q.split()).lower()
    if not text:
        return RECENT, ""
    return (BY_EMAIL if "@" in text else BY_NAME), text


def _owner_id(owner: str) -> int | None:
    # "none" picks the unassigned; a numeric id must name a user, so a typo is an error, not an empty list.
    if owner == "none":
        return None
    if not owner.isdigit() or not 0 < int(owner) <= MAX_ID or not User.objects.filter(pk=int(owner)).exists():
        raise ValidationFailed(
            f"owner must be a user id or 'none', got {owner!r}", field="owner", value=owner
        )
    return int(owner)


def _where(qs: QuerySet[Any], field: str, value: Any, *, hide_index: bool = False) -> QuerySet[Any]:
    # While searching, the name (email) index must drive the scan: it yields rows in the page's order and
    # stops after one page. Given a plain `stage = ?`, SQLite's planner (no statistics) prefers the stage
    # index and sorts every match: 1-2 s at a million rows. A no-op expression hides the column's index.
    if hide_index:
        expr = F(field) + 0 if field.endswith("_id") else Concat(F(field), Value(""))
        qs, field = qs.alias(**{f"{field}_unindexed": expr}), f"{field}_unindexed"
    return qs.filter(**({f"{field}__isnull": True} if value is None else {field: value}))


def people_filter(
    *, q: str = "", stage: str = "", owner: str = "", channel: str = "", user: Any = None
) -> tuple[QuerySet[Person], _Order]:
    """The people matching a search and filters (those `user` may see, when given), in an index-backed order."""
    if stage and stage not in STAGE_VALUES:
        raise ValidationFailed(f"unknown lifecycle stage {stage!r}", field="stage", value=stage)
    if channel and channel not in CHANNEL_LABELS:
        raise ValidationFailed(f"unknown channel {channel!r}", field="channel", value=channel)
    order, text = _search_order(q)
    # An erased person's placeholder keeps report totals right but is nobody's to work: lists leave it out.
    qs = access_seen(Person.objects.select_related("account", "owner").filter(erased_at__isnull=True), user=user)
    if stage:
        qs = _where(qs, "lifecycle_stage", stage, hide_index=bool(text))
    if channel:
        qs = _where(qs, "original_channel", channel, hide_index=bool(text))
    if owner:
        qs = _where(qs, "owner_id", _owner_id(owner), hide_index=bool(text))
    if text:
        # A range, not LIKE/startswith: PostgreSQL only uses a plain b-tree index for LIKE under the C
        # collation, while `>= q AND < q + U+FFFF` is an index range on every backend.
        qs = qs.filter(**{f"{order.field}__gte": text, f"{order.field}__lt": text + "\uffff"})
    return qs, order


def people_page_query(
    *, q: str = "", stage: str = "", owner: str = "", channel: str = "", cursor: str = "", user: Any = None
) -> QuerySet[Person]:
    """The ordered, unsliced query one people page reads: for EXPLAIN in the tests and the benchmark."""
    qs, order = people_filter(q=q, stage=stage, owner=owner, channel=channel, user=user)
    return _page_query(queryset=qs, order=order, cursor=cursor)[0]


def people_list(
    *,
    q: str = "",
    stage: str = "",
    owner: str = "",
    channel: str = "",
    cursor: str = "",
    limit: int = PAGE_SIZE,
    user: Any = None,
) -> Page:
    """A page of people: newest first, or by name (email) when searching, filtered by stage/owner/channel."""
    qs, order = people_filter(q=q, stage=stage, owner=owner, channel=channel, user=user)
    return _keyset_page(queryset=qs, order=order, cursor=cursor, limit=limit)


PEOPLE_CSV_COLUMNS = (
    "id", "name", "email", "phone", "job_title", "company", "stage", "lead_status", "owner", "original_channel",
    "latest_channel", "consent_email", "created",
)  # fmt: skip


def people_export_rows(
    *, q: str = "", stage: str = "", owner: str = "", channel: str = "", user: Any = None
) -> Iterable[dict[str, Any]]:
    """Every person the people list shows for these filters, in its order, as display rows for a CSV download
    (bad filters are refused here, before the first row is read)."""
    qs, order = people_filter(q=q, stage=stage, owner=owner, channel=channel, user=user)
    return _people_export_iter(qs, order)


def _people_export_iter(qs: QuerySet[Person], order: _Order) -> Iterable[dict[str, Any]]:
    owners = {
        u.pk: (u.get_full_name() or u.username) for u in User.objects.only("first_name", "last_name", "username")
    }
    sign = "-" if order.descending else ""
    stages: dict[str, str] = {str(k): v for k, v in LABELS.items()}
    statuses = dict(Person._meta.get_field("lead_status").choices or ())
    rows = qs.order_by(f"{sign}{order.field}", f"{sign}id").values_list(
        "id", "first_name", "last_name", "email", "phone", "job_title", "account__name", "lifecycle_stage",
        "lead_status", "owner_id", "original_channel", "latest_channel", "consent_email", "created_at",
    )  # fmt: skip
    # A server-side cursor: a list of a million people is written as it is read, never held whole in memory.
    for pk, first, last, email, phone, title, company, stage_, status, owner_id, original, latest, consent, created in (
        rows.iterator(chunk_size=2000)
    ):
        yield {
            "id": pk,
            "name": f"{first} {last}".strip(),
            "email": email,
            "phone": phone,
            "job_title": title,
            "company": company or "",
            "stage": stages.get(stage_, stage_),
            "lead_status": statuses.get(status, status),
            "owner": owners.get(owner_id, "") if owner_id else "",
            "original_channel": CHANNEL_LABELS.get(original, original),
            "latest_channel": CHANNEL_LABELS.get(latest, latest),
            "consent_email": "yes" if consent else "no",
            "created": timezone.localtime(created).strftime("%Y-%m-%d %H:%M"),
        }


@dataclass(frozen=True)
class PersonDetail:
    """Everything the person page shows, each list already in display order."""

    person: Person
    stage_changes: list[StageChange]
    touchpoints: list[Any]  # campaigns' touchpoints, oldest first
    touchpoints_truncated: bool
    deals: list[Deal]
    activities: list[Activity]
    questions: list[Any]  # feedback's questions heard, newest first


HISTORY_LIMIT = 100


def _by_id(queryset: QuerySet[Any], row_id: int, user: Any = None) -> Any:
    # With a user, a row out of their sight is "not found" like a missing one.
    queryset = access_seen(queryset, user=user)
    return queryset.filter(pk=row_id).first() if 0 < row_id <= MAX_ID else None


def person_get(*, person_id: int, user: Any = None) -> Person:
    """One person with account and owner (one `user` may see, when given), or NotFound naming the id."""
    person = _by_id(Person.objects.select_related("account", "owner"), person_id, user)
    if person is None:
        raise NotFound(f"no person with id {person_id}", field="id", value=person_id)
    return person


def person_stage_history(*, person_id: int) -> list[StageChange]:
    """A person's lifecycle moves, oldest first, with the user who made each."""
    return list(
        StageChange.objects.filter(person_id=person_id).select_related("by_user").order_by("changed_at", "id")
    )


def person_detail(*, person_id: int, user: Any = None) -> PersonDetail:
    """A person with firmographics, journey, stage history, deals, activities and questions heard."""
    person = _by_id(
        Person.objects.select_related("account", "owner", "original_campaign", "latest_campaign", "score"),
        person_id,
        user,
    )
    if person is None:
        raise NotFound(f"no person with id {person_id}", field="id", value=person_id)
    # The journey and the questions belong to apps above crm, which fill these parts (crm/registry.py).
    touchpoints, truncated = person_detail_part(name="journey", person=person, default=([], False))
    return PersonDetail(
        person=person,
        stage_changes=person_stage_history(person_id=person.pk),
        touchpoints=touchpoints,
        touchpoints_truncated=truncated,
        deals=list(
            access_seen(Deal.objects.filter(person=person), user=user)
            .select_related("owner", "lost_reason")
            .order_by("-created_at", "-id")
        ),
        activities=list(
            Activity.objects.filter(person=person)
            .select_related("user", "kind", "deal")
            .order_by("-occurred_at", "-id")[:HISTORY_LIMIT]
        ),
        questions=person_detail_part(name="questions", person=person, default=[]),
    )


def deal_get(*, deal_id: int, user: Any = None) -> Deal:
    """One deal with its person (one `user` may see, when given), or NotFound naming the id."""
    deal = _by_id(Deal.objects.select_related("person", "owner", "lost_reason"), deal_id, user)
    if deal is None:
        raise NotFound(f"no deal with id {deal_id}", field="id", value=deal_id)
    return deal


def deal_list(
    *,
    stage: str = "",
    status: str = "",
    owner: str = "",
    person_id: int | None = None,
    account_id: int | None = None,
    pipeline_id: int | None = None,
    stage_id: int | None = None,
    cursor: str = "",
    limit: int = PAGE_SIZE,
    user: Any = None,
) -> Page:
    """A page of deals, newest first, filtered by status (open, won, lost), owner, person, account, pipeline and stage.

    `stage` is the older name of `status`, still accepted.
    """
    qs = access_seen(Deal.objects.select_related("person", "owner", "lost_reason"), user=user)
    for name, value in (("status", status), ("stage", stage)):
        if value:
            if value not in DealStage.values:
                raise ValidationFailed(f"unknown deal {name} {value!r}", field=name, value=value)
            qs = qs.filter(stage=value)
    if owner:
        qs = _where(qs, "owner_id", _owner_id(owner))
    refs: tuple[tuple[str, int | None], ...] = (
        ("person_id", person_id),
        ("account_id", account_id),
        ("pipeline_id", pipeline_id),
        ("pipeline_stage_id", stage_id),
    )
    for column, ref in refs:
        if ref is not None:
            qs = qs.filter(**{column: ref})
    return _keyset_page(queryset=qs, order=RECENT, cursor=cursor, limit=limit)


# ---- role home pages: aggregate reads, a query or two each ----


@dataclass(frozen=True)
class StageCount:
    stage: str
    label: str
    count: int
    # Width of the stage's bar: its count as a percentage of the largest stage's.
    share: int = 0


def people_count_by_stage(*, owner: Any = None) -> list[StageCount]:
    """How many people are in each lifecycle stage (funnel order, then recycled and disqualified)."""
    qs = Person.objects.all()
    if owner is not None:
        qs = qs.filter(owner=owner)
    counts = dict(
        qs.values_list("lifecycle_stage").annotate(n=Count("id")).values_list("lifecycle_stage", "n")
    )
    top = max(counts.values(), default=0) or 1
    out = []
    for s in Stage:
        n = counts.get(s.value, 0)
        # A stage with people never draws an empty bar, however small its share.
        out.append(
            StageCount(
                stage=s.value, label=LABELS[s], count=n, share=max(round(100 * n / top), 1 if n else 0)
            )
        )
    return out


def crm_totals() -> dict[str, Any]:
    """Counts of people and deals, open pipeline and won revenue, for the admin overview."""
    deals = Deal.objects.aggregate(
        deals=Count("id"),
        open_deals=Count("id", filter=Q(stage=DealStage.OPEN)),
        pipeline=Sum("amount", filter=Q(stage=DealStage.OPEN)),
        won=Sum("amount", filter=Q(stage=DealStage.WON)),
    )
    return {
        "people": Person.objects.count(),
        "deals": deals["deals"],
        "open_deals": deals["open_deals"],
        "pipeline": deals["pipeline"] or Decimal("0"),
        "won": deals["won"] or Decimal("0"),
    }


@dataclass(frozen=True)
class ChannelWeeks:
    channel: str
    label: str
    this_week: int
    last_week: int


@dataclass(frozen=True)
class LeadsWeekly:
    week_start: dt.datetime
    channels: list[ChannelWeeks]
    this_week: int
    last_week: int


def week_start(*, now: dt.datetime) -> dt.datetime:
    """Monday 00:00 of the week `now` falls in, in now's time zone (the one week of tandem.core.periods)."""
    return dt.datetime.combine(period_start(now.date(), "week"), dt.time(), tzinfo=now.tzinfo)


def leads_weekly_by_channel(*, now: dt.datetime) -> LeadsWeekly:
    """New people per source channel this week (so far) and the whole of last week, busiest first."""
    this_start = week_start(now=now)
    last_start = this_start - dt.timedelta(days=7)
    rows = (
        Person.objects.filter(created_at__gte=last_start, created_at__lt=now)
        .values("original_channel")
        .annotate(
            this_week=Count("id", filter=Q(created_at__gte=this_start)),
            last_week=Count("id", filter=Q(created_at__lt=this_start)),
        )
    )
    channels = sorted(
        (
            ChannelWeeks(
                channel=r["original_channel"],
                label=CHANNEL_LABELS.get(r["original_channel"], r["original_channel"] or "Unknown"),
                this_week=r["this_week"],
                last_week=r["last_week"],
            )
            for r in rows
        ),
        key=lambda c: (-c.this_week, -c.last_week, c.label),
    )
    return LeadsWeekly(
        week_start=this_start,
        channels=channels,
        this_week=sum(c.this_week for c in channels),
        last_week=sum(c.last_week for c in channels),
    )


def person_newest_for_owner(*, owner: Any, limit: int = 10) -> list[Person]:
    """The newest people a rep owns (walks the owner/created index)."""
    return list(
        Person.objects.filter(owner=owner).select_related("account").order_by("-created_at", "-id")[:limit]
    )


def deal_open_for_owner(*, owner: Any, limit: int = 10) -> list[Deal]:
    """A rep's open deals, newest first."""
    return list(
        Deal.objects.filter(owner=owner, stage=DealStage.OPEN)
        .select_related("person")
        .order_by("-created_at", "-id")[:limit]
    )


@dataclass(frozen=True)
class RepPipeline:
    user: Any
    open_leads: int = 0
    open_deals: int = 0
    open_amount: Decimal = Decimal("0")
    won_this_month: int = 0
    won_amount: Decimal = Decimal("0")


@dataclass(frozen=True)
class TeamPipeline:
    rows: list[RepPipeline]
    total: RepPipeline


def team_pipeline(*, reps: Iterable[Any], month_start: dt.datetime) -> TeamPipeline:
    """Per rep: people still being worked, open deals, and deals won since month_start; plus the team total."""
    reps = list(reps)
    ids = [r.pk for r in reps]
    leads = dict(
        Person.objects.filter(owner_id__in=ids, lifecycle_stage__in=WORKING_STAGES)
        .values_list("owner_id")
        .annotate(n=Count("id"))
        .values_list("owner_id", "n")
    )
    won = Q(stage=DealStage.WON, closed_at__gte=month_start)
    deals: dict[int, dict[str, Any]] = {
        row["owner_id"]: dict(row)
        for row in Deal.objects.filter(owner_id__in=ids)
        .values("owner_id")
        .annotate(
            open_deals=Count("id", filter=Q(stage=DealStage.OPEN)),
            open_amount=Sum("amount", filter=Q(stage=DealStage.OPEN)),
            won_this_month=Count("id", filter=won),
            won_amount=Sum("amount", filter=won),
        )
    }
    rows = []
    for rep in reps:
        d = deals.get(rep.pk, {})
        rows.append(
            RepPipeline(
                user=rep,
                open_leads=leads.get(rep.pk, 0),
                open_deals=d.get("open_deals", 0),
                open_amount=d.get("open_amount") or Decimal("0"),
                won_this_month=d.get("won_this_month", 0),
                won_amount=d.get("won_amount") or Decimal("0"),
            )
        )
    total = RepPipeline(
        user=None,
        open_leads=sum(r.open_leads for r in rows),
        open_deals=sum(r.open_deals for r in rows),
        open_amount=sum((r.open_amount for r in rows), Decimal("0")),
        won_this_month=sum(r.won_this_month for r in rows),
        won_amount=sum((r.won_amount for r in rows), Decimal("0")),
    )
    return TeamPipeline(rows=rows, total=total)


# ---- identity: matching people and finding duplicates ----


def person_match(
    *,
    email: str | None = None,
    system: str | None = None,
    external_id: str | None = None,
    phone: str | None = None,
) -> Person | None:
    """The existing person these identifiers belong to: email, then external id, then phone (no email only)."""
    from tandem.crm.identity import (
        MERGED_EMAIL_SYSTEM,
        email_normalize,
        email_normalize_configured,
        phone_normalize,
        phone_tail,
    )
    from tandem.crm.models import ExternalId

    # Both spellings: rows stored before plus-stripping was switched on keep their +tag.
    keys = sorted({k for k in (email_normalize_configured(email), email_normalize(email)) if k})
    if keys:
        person = Person.objects.filter(email_normalized__in=keys).order_by("id").first()
        if person is not None:
            return person
        merged = ExternalId.objects.filter(system=MERGED_EMAIL_SYSTEM, external_id__in=keys)
        link = merged.select_related("person").order_by("id").first()
        if link is not None:
            return link.person
    if system and external_id and external_id.strip():
        link = (
            ExternalId.objects.filter(system=system.strip(), external_id=external_id.strip())
            .select_related("person")
            .first()
        )
        if link is not None:
            return link.person
    wanted = phone_normalize(phone)
    if keys or wanted is None:
        # With an email given, a shared phone (a switchboard, a family line) is no proof of the same person.
        return None
    # Stored phones keep their formatting; their last four digits are nearly always written together, so the
    # database narrows the candidates and their E.164 keys decide.
    for candidate in Person.objects.filter(phone__endswith=phone_tail(wanted)).order_by("id"):
        if phone_normalize(candidate.phone) == wanted:
            return candidate
    return None


@dataclass(frozen=True)
class DuplicateGroup:
    """People who share a name and a company under different emails: probably one person."""

    name_key: str
    company: str
    members: list[Person]
    # Why they are grouped: "name and company", or "e-mail" (one address under two keys, see below).
    reason: str = "name and company"


def person_identity_collisions(*, user: Any = None) -> list[DuplicateGroup]:
    """People whose stored e-mail key names the same address as another person's: a punycode domain kept
    when migration crm.0010 found its Unicode key already taken (a migration never merges people)."""
    from tandem.crm.identity import email_normalize

    people_seen = access_seen(Person.objects.all(), user=user)
    # Only a punycode ("xn--") domain changed keys: a key without one is already what email_normalize gives.
    odd: dict[int, tuple[Person, str]] = {}
    for p in people_seen.filter(email_normalized__contains="xn--").select_related("account", "owner"):
        key = email_normalize(p.email_normalized)
        if key and key != p.email_normalized:
            odd[p.pk] = (p, key)
    if not odd:
        return []
    holders = {
        p.email_normalized: p
        for p in people_seen.filter(email_normalized__in=sorted({key for _, key in odd.values()})).select_related(
            "account", "owner"
        )
    }
    groups = []
    for person, key in sorted(odd.values(), key=lambda pair: pair[0].pk):
        holder = holders.get(key)
        if holder is not None:
            account = holder.account or person.account
            groups.append(
                DuplicateGroup(
                    name_key=key,
                    company=account.name if account else "",
                    members=sorted([holder, person], key=lambda p: (p.created_at, p.pk)),
                    reason="e-mail",
                )
            )
    return groups


def person_duplicate_candidates(*, limit: int = 200, user: Any = None) -> list[DuplicateGroup]:
    """People under one e-mail written two ways (person_identity_collisions), then groups of people sharing a
    non-empty name and company (account name), largest groups first."""
    from django.db.models.functions import Lower

    collisions = person_identity_collisions(user=user)[:limit]
    # A manager reviews the duplicates among the people they reach; merging needs both in write reach.
    people_seen = access_seen(Person.objects.all(), user=user)
    rows = list(
        people_seen.filter(account__isnull=False)
        .exclude(name_key="")
        .values("name_key", company=Lower("account__name"))
        .annotate(size=Count("id"))
        .filter(size__gte=2)
        .order_by("-size", "name_key", "company")[: limit - len(collisions)]
    )
    if not rows:
        return collisions
    wanted = {(r["name_key"], r["company"]) for r in rows}
    members: dict[tuple[str, str], list[Person]] = {key: [] for key in wanted}
    people = (
        people_seen.filter(name_key__in={r["name_key"] for r in rows}, account__isnull=False)
        .select_related("account", "owner")
        .annotate(company_key=Lower("account__name"))
        .order_by("created_at", "id")
    )
    # The database's LOWER, not Python's, so the buckets match the GROUP BY for every alphabet.
    for person in people:
        key = (person.name_key, person.company_key)  # type: ignore[attr-defined]
        if key in members:
            members[key].append(person)
    groups = list(collisions)
    for r in rows:
        group = members[(r["name_key"], r["company"])]
        account = group[0].account
        groups.append(
            DuplicateGroup(name_key=r["name_key"], company=account.name if account else "", members=group)
        )
    return groups


# Merging deletes a person; reps hold crm.delete_person for their own leads, so the role decides instead.
MERGE_ROLES = frozenset({"admin", "marketing", "sales_manager"})


def person_merge_allowed(*, user: Any) -> bool:
    """True when the user's role may review duplicates and merge people."""
    return bool(getattr(user, "is_superuser", False) or getattr(user, "role", "") in MERGE_ROLES)


# ---- lost reasons ----


def lost_reason_get(*, reason_id: int) -> LostReason:
    """The lost reason with this id (NotFound naming it otherwise)."""
    reason: LostReason = _lost_reason_one(reason_id)
    return reason


def lost_reason_offered(*, reason_id: Any) -> LostReason:
    """The active lost reason a rep chose by id (ValidationFailed naming `lost_reason_id` otherwise)."""
    try:
        pk = int(reason_id)
    except (TypeError, ValueError):
        raise ValidationFailed(
            f"lost_reason_id must be a whole number, got {reason_id!r}",
            field="lost_reason_id",
            value=reason_id,
        ) from None
    reason = LostReason.objects.filter(pk=pk).first()
    if reason is None or not reason.is_active:
        state = "retired" if reason else "unknown"
        raise ValidationFailed(
            f"lost reason {pk} is {state}; choose one offered", field="lost_reason_id", value=pk
        )
    return reason


def lost_reasons_list(*, include_retired: bool = True) -> list[LostReason]:
    """Lost reasons by name, each with `deal_count` (deals lost with it)."""
    qs = LostReason.objects.annotate(deal_count=Count("deals")).order_by("-is_active", "name")
    if not include_retired:
        qs = qs.filter(is_active=True)
    return list(qs)


def _lost_reason_one(pk: int) -> LostReason:
    row = LostReason.objects.filter(pk=pk).first()
    if row is None:
        raise NotFound(f"there is no lost reason {pk}", field="lost_reason_id", value=pk)
    return row
