"""Reads about campaigns for pages and reports."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db.models import Count, F, OuterRef, Q, QuerySet, Subquery, Sum
from django.db.models.functions import Coalesce

from tandem.campaigns.limits import COST_PAGE_SIZE, MAX_PAGE_SIZE, PAGE_SIZE  # re-exported
from tandem.campaigns.models import Campaign, CampaignCost, Touchpoint
from tandem.core.erasure import rows_plain
from tandem.core.errors import NotFound, ValidationFailed
from tandem.core.keyset import MAX_ID, Cursor, cursor_decode, cursor_encode
from tandem.users.access import access_seen


def campaign_count() -> int:
    """How many campaigns exist (any status)."""
    return Campaign.objects.count()


def campaign_running_list(*, today: dt.date, limit: int = 20) -> list[Campaign]:
    """Active campaigns whose dates include today, ending soonest first."""
    return list(
        Campaign.objects.filter(status=Campaign.Status.ACTIVE)
        .filter(Q(started_on__isnull=True) | Q(started_on__lte=today))
        .filter(Q(ended_on__isnull=True) | Q(ended_on__gte=today))
        .order_by(F("ended_on").asc(nulls_last=True), "name")[:limit]
    )


def campaign_for_utm(*, utm: dict[str, str]) -> Campaign | None:
    """The campaign UTM tags point to: same utm_campaign (any case), preferring one whose source matches."""
    name = utm.get("utm_campaign", "").strip()
    if not name:
        return None
    candidates = list(Campaign.objects.filter(utm_campaign=name).order_by("id")[:20])
    if not candidates:
        candidates = list(Campaign.objects.filter(utm_campaign__iexact=name).order_by("id")[:20])
    if not candidates:
        return None
    source = utm.get("utm_source", "").strip().lower()
    medium = utm.get("utm_medium", "").strip().lower()

    def closeness(c: Campaign) -> tuple[int, int, int]:
        # A campaign whose own source/medium tags contradict the visit's ranks below one that agrees or is silent.
        s = 0 if not c.utm_source or not source else (1 if c.utm_source.lower() == source else -1)
        m = 0 if not c.utm_medium or not medium else (1 if c.utm_medium.lower() == medium else -1)
        live = 0 if c.status == Campaign.Status.ARCHIVED else 1
        return (s, m, live)

    return max(candidates, key=closeness)


def campaign_by_ref(*, ref: str) -> Campaign | None:
    """A campaign named by its id in Tandem or its id in an outside system."""
    ref = ref.strip()
    # PostgreSQL cannot compare text holding NUL, and no id is beyond a signed 64-bit integer.
    if not ref or "\x00" in ref:
        return None
    found = Campaign.objects.filter(external_id=ref).first()
    if found is None and ref.isascii() and ref.isdigit() and 0 < int(ref) <= MAX_ID:
        found = Campaign.objects.filter(pk=int(ref)).first()
    return found


NEWEST = "newest"  # campaigns: the latest created first
COSTS = "spent"  # cost entries: the latest spent first


@dataclass(frozen=True)
class Page:
    """One keyset page of a list; the cursors are None where there is nothing further."""

    items: list[Any]
    next_cursor: str | None
    prev_cursor: str | None


def _keyset_page(*, queryset: QuerySet[Any], order: str, field: str, cursor: str, limit: int) -> Page:
    """A page of rows sorted by (field, id) descending; `field` is "id" or a date column."""
    if not 1 <= limit <= MAX_PAGE_SIZE:
        raise ValidationFailed(f"limit must be between 1 and {MAX_PAGE_SIZE}, got {limit}", field="limit", value=limit)
    keys = (field, "id") if field != "id" else ("id",)
    forward, backward = [f"-{k}" for k in keys], list(keys)
    boundary = cursor_decode(cursor, order=order) if cursor else None
    qs = queryset.order_by(*forward)
    if boundary is not None:
        if field == "id":
            after = Q(id__gt=boundary.id) if boundary.backward else Q(id__lt=boundary.id)
        else:
            try:
                key = dt.date.fromisoformat(boundary.key)
            except ValueError:
                raise ValidationFailed(f"cursor {cursor!r} is not a valid page cursor", field="cursor", value=cursor) from None
            # (key, id) beyond the boundary, spelled so that the (key, id) index bounds the scan.
            if boundary.backward:
                after = Q(**{f"{field}__gte": key}) & (Q(**{f"{field}__gt": key}) | Q(id__gt=boundary.id))
            else:
                after = Q(**{f"{field}__lte": key}) & (Q(**{f"{field}__lt": key}) | Q(id__lt=boundary.id))
        qs = queryset.filter(after).order_by(*(backward if boundary.backward else forward))
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

    def text(row: Any) -> str:
        value = getattr(row, field)
        return value.isoformat() if isinstance(value, dt.date) else str(value)

    first, last = items[0], items[-1]
    return Page(
        items=items,
        next_cursor=cursor_encode(Cursor(order, text(last), last.pk)) if has_next else None,
        prev_cursor=cursor_encode(Cursor(order, text(first), first.pk, backward=True)) if has_prev else None,
    )


def campaign_page(*, status: str = "", channel: str = "", cursor: str = "", limit: int = PAGE_SIZE) -> Page:
    """A page of campaigns, the latest created first, with their touchpoint counts; filtered by status and channel."""
    from tandem.crm.channels import CHANNEL_LABELS

    if status and status not in Campaign.Status.values:
        raise ValidationFailed(f"unknown status {status!r}", field="status", value=status)
    if channel and channel not in CHANNEL_LABELS:
        raise ValidationFailed(f"unknown channel {channel!r}", field="channel", value=channel)
    rows = Campaign.objects.all()
    if status:
        rows = rows.filter(status=status)
    if channel:
        rows = rows.filter(channel=channel)
    # Counted per row of the page (the touchpoint_campaign index), not grouped over every touchpoint.
    touches = Touchpoint.objects.filter(campaign=OuterRef("pk")).order_by().values("campaign").annotate(n=Count("id")).values("n")
    rows = rows.annotate(n_touchpoints=Coalesce(Subquery(touches), 0))
    return _keyset_page(queryset=rows, order=NEWEST, field="id", cursor=cursor, limit=limit)


def campaign_draft_count() -> int:
    """How many draft campaigns wait for review (made from unknown UTM tags, or cloned)."""
    return Campaign.objects.filter(status=Campaign.Status.DRAFT).count()


def campaign_drafts(*, limit: int = 10) -> list[Campaign]:
    """The oldest drafts waiting for review."""
    return list(Campaign.objects.filter(status=Campaign.Status.DRAFT).order_by("id")[:limit])


def campaign_costs_page(*, campaign_id: int, cursor: str = "", limit: int = COST_PAGE_SIZE) -> Page:
    """A campaign's cost entries, the latest spent first, with who entered them."""
    rows = CampaignCost.objects.filter(campaign_id=campaign_id).select_related("entered_by")
    return _keyset_page(queryset=rows, order=COSTS, field="spent_on", cursor=cursor, limit=limit)


def campaign_cost_get(*, campaign_id: int, cost_id: int) -> CampaignCost:
    """One cost entry of a campaign, or a 404 naming the id."""
    found = CampaignCost.objects.select_related("campaign").filter(pk=cost_id, campaign_id=campaign_id).first()
    if found is None:
        raise NotFound(f"campaign {campaign_id} has no cost entry {cost_id}", field="cost_id", value=cost_id)
    return found


SPEND_KEYS = ("channel", "campaign", "all")


def campaign_cost_spans(
    *, by: str = "all", date_from: dt.date | None = None, date_to: dt.date | None = None
) -> list[tuple[str, dt.date, dt.date, Decimal]]:
    """Cost entries touching [date_from, date_to], summed by the database per key (a campaign's channel, its
    name, or "" for all) and span of days: (key, first day, last day, amount), for reports to spread by day."""
    if by not in SPEND_KEYS:
        raise ValidationFailed(f"by must be one of {', '.join(SPEND_KEYS)}, got {by!r}", field="by", value=by)
    rows = CampaignCost.objects.all()
    if date_to is not None:
        rows = rows.filter(spent_on__lte=date_to)
    if date_from is not None:
        rows = rows.filter(Q(spent_on__gte=date_from) | Q(spent_until__gte=date_from))
    key = {"channel": "campaign__channel", "campaign": "campaign__name"}.get(by)
    fields = (key, "spent_on", "spent_until") if key else ("spent_on", "spent_until")
    grouped = rows.order_by().values(*fields).annotate(total=Sum("amount")).values_list(*fields, "total")
    out: list[tuple[str, dt.date, dt.date, Decimal]] = []
    for values in grouped:
        name, first, last, total = values if key else ("", *values)
        out.append((str(name or ""), first, last or first, total or Decimal("0.00")))
    return out


def campaign_get(*, campaign_id: int) -> Campaign:
    """One campaign, or a 404 naming the id."""
    from tandem.core.errors import NotFound

    found = Campaign.objects.filter(pk=campaign_id).first()
    if found is None:
        raise NotFound(f"no campaign has id {campaign_id}", field="campaign_id", value=campaign_id)
    return found


def campaign_reach(*, campaign: Campaign) -> dict[str, Any]:
    """A campaign's reach in the company's numbers: touchpoints by kind (most first), in all, and people it sourced."""
    from tandem.crm.models import Person

    by_kind = list(
        Touchpoint.objects.filter(campaign=campaign).values("kind").annotate(n=Count("id")).order_by("-n", "kind")
    )
    return {
        "by_kind": by_kind,
        "touchpoints": sum(r["n"] for r in by_kind),
        "people_sourced": Person.objects.filter(original_campaign=campaign).count(),
    }


def campaign_summary(*, campaign: Campaign, user: Any = None) -> dict[str, Any]:
    """A campaign's reach: touchpoints by kind, people first reached by it (the company's numbers), and its latest
    touchpoints (of the people `user` may see, when given: tandem.users.access)."""
    return {
        **campaign_reach(campaign=campaign),
        "recent": list(
            access_seen(Touchpoint.objects.filter(campaign=campaign), user=user)
            .select_related("person")
            .order_by("-occurred_at", "-id")[:20]
        ),
    }


def _with_assets(rows: Any, *, today: dt.date) -> Any:
    # The content library links assets to campaigns; without it installed the calendar shows none.
    from django.db.models import Prefetch

    field = next((f for f in Campaign._meta.get_fields() if getattr(f, "name", "") == "assets"), None)
    if field is None or field.related_model is None:
        return rows
    unexpired = field.related_model._default_manager.filter(Q(expires_on__isnull=True) | Q(expires_on__gte=today))  # type: ignore[union-attr]
    return rows.prefetch_related(Prefetch("assets", queryset=unexpired.order_by("title", "id")))


def campaign_calendar(*, first: dt.date, last: dt.date, kind: str = "", today: dt.date | None = None) -> list[Campaign]:
    """Active dated campaigns, promotions, events and launches that overlap [first, last], earliest first."""
    rows = (
        Campaign.objects.filter(status=Campaign.Status.ACTIVE, started_on__isnull=False, started_on__lte=last)
        .filter(Q(ended_on__isnull=True) | Q(ended_on__gte=first))
    )
    if kind:
        rows = rows.filter(kind=kind)
    return list(_with_assets(rows, today=today or first).order_by("started_on", "name", "id"))


def campaigns_current_for_person(*, person_id: int, today: dt.date) -> list[dict[str, Any]]:
    """Campaigns running today that touched the person, with the last touch and whether their offer applies."""
    from django.db.models import Max

    from tandem.campaigns.calendar import offer_applies, offer_ends

    rows = (
        Campaign.objects.filter(touchpoints__person_id=person_id, status=Campaign.Status.ACTIVE)
        .filter(Q(started_on__isnull=True) | Q(started_on__lte=today))
        .filter(Q(ended_on__isnull=True) | Q(ended_on__gte=today))
        .annotate(last_touch_at=Max("touchpoints__occurred_at"))
    )
    out = []
    for c in _with_assets(rows, today=today).order_by("-last_touch_at", "id"):
        applies = offer_applies(offer=c.offer, offer_ends_on=c.offer_ends_on, started_on=c.started_on, ended_on=c.ended_on, today=today)
        ends = offer_ends(offer=c.offer, offer_ends_on=c.offer_ends_on, ended_on=c.ended_on) if applies else None
        out.append(
            {
                "campaign": c,
                "last_touch_at": c.last_touch_at,
                "offer_applies": applies,
                "offer_ends_on": ends,
                "offer_days_left": (ends - today).days if ends else None,
            }
        )
    # Offers that apply first: that is what the rep can say on the call.
    out.sort(key=lambda r: not r["offer_applies"])
    return out


def campaign_calendar_item(*, campaign_id: int, today: dt.date) -> Campaign:
    """One campaign with its unexpired assets, or a 404 naming the id."""
    from tandem.core.errors import NotFound

    found = _with_assets(Campaign.objects.filter(pk=campaign_id), today=today).first()
    if found is None:
        raise NotFound(f"no campaign has id {campaign_id}", field="campaign_id", value=campaign_id)
    return found


JOURNEY_LIMIT = 200


def person_journey(*, person: Any) -> tuple[list[Touchpoint], bool]:
    """A person's latest touchpoints, oldest first, and whether older ones were left out (the person page)."""
    # Web visitors can have thousands of touchpoints: the page shows the latest JOURNEY_LIMIT.
    recent = list(
        Touchpoint.objects.filter(person=person)
        .select_related("campaign")
        .order_by("-occurred_at", "-id")[: JOURNEY_LIMIT + 1]
    )
    return recent[:JOURNEY_LIMIT][::-1], len(recent) > JOURNEY_LIMIT


TOUCHES = "touched"  # touchpoints: the latest first
TOUCH_PAGE_SIZE = 50


def touchpoints_page(
    *,
    person_id: int | None = None,
    campaign_id: int | None = None,
    account_id: int | None = None,
    channel: str = "",
    kind: str = "",
    cursor: str = "",
    limit: int = TOUCH_PAGE_SIZE,
    user: Any = None,
) -> Page:
    """A keyset page of touchpoints, the latest first, of the people `user` may see (tandem.users.access), filtered
    by person, campaign, the person's account, channel and kind; each with its campaign and person (one query)."""
    from tandem.crm.channels import CHANNEL_LABELS, KIND_LABELS

    if not 1 <= limit <= MAX_PAGE_SIZE:
        raise ValidationFailed(f"limit must be between 1 and {MAX_PAGE_SIZE}, got {limit}", field="limit", value=limit)
    if channel and channel not in CHANNEL_LABELS:
        raise ValidationFailed(f"unknown channel {channel!r}", field="channel", value=channel)
    if kind and kind not in KIND_LABELS:
        raise ValidationFailed(f"unknown touchpoint kind {kind!r}", field="kind", value=kind)
    rows = access_seen(Touchpoint.objects.all(), user=user).select_related("campaign", "person")
    if person_id is not None:
        rows = rows.filter(person_id=person_id)
    if campaign_id is not None:
        rows = rows.filter(campaign_id=campaign_id)
    if account_id is not None:
        rows = rows.filter(person__account_id=account_id)
    if channel:
        rows = rows.filter(channel=channel)
    if kind:
        rows = rows.filter(kind=kind)
    boundary = cursor_decode(cursor, order=TOUCHES) if cursor else None
    backward = boundary is not None and boundary.backward
    if boundary is not None:
        try:
            at = dt.datetime.fromisoformat(boundary.key)
        except ValueError:
            raise ValidationFailed(f"cursor {cursor!r} is not a valid page cursor", field="cursor", value=cursor) from None
        # (occurred_at, id) beyond the boundary, spelled so the (person|campaign, occurred_at) indexes bound the scan.
        if backward:
            rows = rows.filter(Q(occurred_at__gte=at) & (Q(occurred_at__gt=at) | Q(id__gt=boundary.id)))
        else:
            rows = rows.filter(Q(occurred_at__lte=at) & (Q(occurred_at__lt=at) | Q(id__lt=boundary.id)))
    rows = rows.order_by("occurred_at", "id") if backward else rows.order_by("-occurred_at", "-id")
    found = list(rows[: limit + 1])
    more = len(found) > limit
    items = found[:limit]
    if backward:
        items.reverse()
    if not items:
        return Page(items=[], next_cursor=None, prev_cursor=None)
    has_next = True if backward else more
    has_prev = more if backward else boundary is not None
    first, last = items[0], items[-1]
    return Page(
        items=items,
        next_cursor=cursor_encode(Cursor(TOUCHES, last.occurred_at.isoformat(), last.pk)) if has_next else None,
        prev_cursor=cursor_encode(Cursor(TOUCHES, first.occurred_at.isoformat(), first.pk, backward=True))
        if has_prev
        else None,
    )


ACCOUNT_TOUCHPOINTS_LIMIT = 20


def account_touchpoints(*, account: Any, user: Any = None) -> tuple[list[Touchpoint], int]:
    """The latest touchpoints of an account's people (those `user` may see), newest first, and how many there are
    (the account page)."""
    from tandem.users.access import access_seen

    touches = access_seen(Touchpoint.objects.filter(person__account_id=account.pk), user=user)
    latest = list(
        touches.select_related("campaign", "person").order_by("-occurred_at", "-id")[:ACCOUNT_TOUCHPOINTS_LIMIT]
    )
    # Counted only when the page is full: a small account's list already says how many there are.
    total = touches.count() if len(latest) == ACCOUNT_TOUCHPOINTS_LIMIT else len(latest)
    return latest, total


# ---- personal data (tandem.privacy): one person's touchpoints ----


def touchpoints_export_person(*, person_id: int) -> list[dict[str, Any]]:
    """Every touchpoint of one person, oldest first, as plain values (the per-person export)."""
    return rows_plain(
        Touchpoint.objects.filter(person_id=person_id)
        .order_by("occurred_at", "id")
        .values(
            "id", "occurred_at", "channel", "campaign_id", "campaign__name", "kind", "utm_source", "utm_medium",
            "utm_campaign", "utm_term", "utm_content", "url", "referrer", "custom_fields", "created_at",
        )
    )
