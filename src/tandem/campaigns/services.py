"""Writes for campaigns and touchpoints."""

from __future__ import annotations

import datetime as dt
import zlib
from collections.abc import Collection, Iterable, Sequence
from decimal import ROUND_DOWN, Decimal, InvalidOperation
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from django.db import IntegrityError, connection, transaction
from django.db.models import Model as _Model
from django.db.models import Sum
from django.utils import timezone

from tandem.campaigns.models import Campaign, CampaignCost, Touchpoint
from tandem.campaigns.selectors import campaign_for_utm
from tandem.core.bulk import chunked
from tandem.core.erasure import rows_redact
from tandem.core.errors import NotAllowed, NotFound, ValidationFailed
from tandem.core.events import PERSONAL_KEYS, event_record
from tandem.core.text import text_clean
from tandem.crm.channels import CHANNEL_LABELS


def advisory_lock(name: str) -> None:
    """Serialise writers of one logical thing until the transaction ends.

    SQLite needs nothing: Tandem opens its write transactions IMMEDIATE, so writers already take turns.
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [zlib.crc32(name.encode()) - 2**31])


def campaign_draft_from_utm(*, utm: dict[str, str], channel: str, note: str = "") -> Campaign:
    """The draft campaign standing for UTM tags no campaign carries yet, made once for marketing to review."""
    advisory_lock("campaign-utm:" + utm.get("utm_campaign", "").lower())
    existing = campaign_for_utm(utm=utm)
    if existing is not None:
        return existing
    name = utm["utm_campaign"]
    source = utm.get("utm_source", "")
    campaign = Campaign.objects.create(
        name=f"{name} ({source})" if source else name,
        channel=channel,
        status=Campaign.Status.DRAFT,
        utm_source=source,
        utm_medium=utm.get("utm_medium", ""),
        utm_campaign=name,
        custom_fields={"created_from": "utm", **({"first_seen": note} if note else {})},
    )
    event_record(
        kind="campaign.drafted_from_utm",
        subject=campaign,
        reason="unknown UTM campaign tag in a captured touchpoint",
        data={"utm": utm, "channel": channel},
    )
    return campaign


def touchpoint_record(
    *,
    person: Any,
    kind: str,
    channel: str,
    occurred_at: dt.datetime | None = None,
    campaign: Campaign | None = None,
    utm: dict[str, str] | None = None,
    url: str = "",
    referrer: str = "",
    custom_fields: dict[str, Any] | None = None,
    update_latest: bool = True,
) -> Touchpoint:
    """Record one touchpoint and make it the person's latest source when it is the newest."""
    utm = utm or {}
    touchpoint = Touchpoint.objects.create(
        person=person,
        occurred_at=occurred_at or timezone.now(),
        channel=channel,
        campaign=campaign,
        kind=kind,
        utm_source=utm.get("utm_source", ""),
        utm_medium=utm.get("utm_medium", ""),
        utm_campaign=utm.get("utm_campaign", ""),
        utm_term=utm.get("utm_term", ""),
        utm_content=utm.get("utm_content", ""),
        url=url[:2000],
        referrer=referrer[:2000],
        custom_fields=custom_fields or {},
    )
    if update_latest:
        campaign_id = campaign.pk if campaign is not None else None
        if person.latest_channel != channel or person.latest_campaign_id != campaign_id:
            type(person).objects.filter(pk=person.pk).update(
                latest_channel=channel, latest_campaign_id=campaign_id, updated_at=timezone.now()
            )
            person.latest_channel, person.latest_campaign_id = channel, campaign_id
    return touchpoint


CAMPAIGN_EDITABLE = (
    "name", "channel", "status", "started_on", "ended_on", "budget", "kind", "offer", "offer_ends_on",
    "talking_points", "utm_source", "utm_medium", "utm_campaign", "external_id",
)
# Plain text fields and their column widths (refused past them, and for a NUL, naming the field).
_TEXT_LIMITS = {
    "name": 200, "offer": 200, "talking_points": 5000, "utm_source": 120, "utm_medium": 120, "utm_campaign": 200,
    "external_id": 120, "note": 200, "reason": 2000,
}
OFFER_MAX = _TEXT_LIMITS["offer"]
TALKING_POINTS_MAX = _TEXT_LIMITS["talking_points"]
NOTE_MAX = _TEXT_LIMITS["note"]
# Amounts are DECIMAL(14, 2): below a trillion, in cents.
AMOUNT_LIMIT = Decimal(10) ** 12
CLONE_SUFFIX = " (copy)"


def _text(value: Any, *, field: str, required: bool = False) -> str:
    if value is None and not required:
        return ""
    return text_clean(value, field=field, max_length=_TEXT_LIMITS[field], required=required)


def _date(value: Any, *, field: str) -> dt.date | None:
    if value is None or (isinstance(value, dt.date) and not isinstance(value, dt.datetime)):
        return value
    raise ValidationFailed(f"{field} must be a date, got {value!r}", field=field, value=value)


def amount_clean(value: Any, *, field: str) -> Decimal:
    """An amount of money as Decimal in cents, or ValidationFailed naming the field (negative, not a number,
    more than two decimals, a trillion or more)."""
    try:
        number = value if isinstance(value, Decimal) else Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise ValidationFailed(f"{field} must be an amount such as 1200.50, got {value!r}", field=field, value=value) from None
    if isinstance(value, bool) or not number.is_finite():
        raise ValidationFailed(f"{field} must be an amount such as 1200.50, got {value!r}", field=field, value=value)
    if number < 0:
        raise ValidationFailed(f"{field} cannot be negative, got {number}", field=field, value=number)
    if number != number.quantize(Decimal("0.01"), rounding=ROUND_DOWN):
        raise ValidationFailed(f"{field} has more than two decimals: {number}", field=field, value=number)
    if number >= AMOUNT_LIMIT:
        raise ValidationFailed(f"{field} must be below 1,000,000,000,000, got {number}", field=field, value=number)
    return number.quantize(Decimal("0.01")).copy_abs()


def _campaign_changes_clean(*, campaign: Campaign, changes: dict[str, Any]) -> dict[str, Any]:
    """The changes, trimmed and checked against each other and the campaign; refuses bad ones naming the field."""
    if "actual_cost" in changes:
        raise ValidationFailed(
            "actual_cost is the total of the campaign's cost entries: add or delete an entry instead",
            field="actual_cost",
            value=changes["actual_cost"],
        )
    unknown = set(changes) - set(CAMPAIGN_EDITABLE)
    if unknown:
        name = sorted(unknown)[0]
        raise ValidationFailed(f"field {name!r} cannot be edited here", field=name, value=changes[name])
    if "name" in changes:
        if changes["name"] is None or not str(changes["name"]).strip():
            raise ValidationFailed("a campaign needs a name", field="name", value="")
        changes["name"] = _text(changes["name"], field="name", required=True)
    for key in ("offer", "talking_points", "utm_source", "utm_medium", "utm_campaign"):
        if key in changes:
            changes[key] = _text(changes[key], field=key)
    if "external_id" in changes:
        # Empty means none: several campaigns may have no outside id, but two may not share one.
        changes["external_id"] = _text(changes["external_id"], field="external_id") or None
        taken = (
            Campaign.objects.filter(external_id=changes["external_id"]).exclude(pk=campaign.pk).values_list("pk", flat=True).first()
            if changes["external_id"]
            else None
        )
        if taken is not None:
            raise ValidationFailed(
                f"external id {changes['external_id']!r} is already campaign {taken}'s",
                field="external_id",
                value=changes["external_id"],
            )
    if "channel" in changes and changes["channel"] not in CHANNEL_LABELS:
        raise ValidationFailed(f"unknown channel {changes['channel']!r}", field="channel", value=changes["channel"])
    if "status" in changes and changes["status"] not in Campaign.Status.values:
        raise ValidationFailed(f"unknown status {changes['status']!r}", field="status", value=changes["status"])
    if "kind" in changes and changes["kind"] not in Campaign.Kind.values:
        raise ValidationFailed(f"unknown kind {changes['kind']!r}", field="kind", value=changes["kind"])
    for key in ("started_on", "ended_on", "offer_ends_on"):
        if key in changes:
            changes[key] = _date(changes[key], field=key)
    if changes.get("budget") is not None:
        changes["budget"] = amount_clean(changes["budget"], field="budget")
    offer = changes.get("offer", campaign.offer)
    offer_end = changes.get("offer_ends_on", campaign.offer_ends_on)
    if offer_end and not offer:
        raise ValidationFailed("an offer end date needs an offer", field="offer_ends_on", value=offer_end)
    start = changes.get("started_on", campaign.started_on)
    end = changes.get("ended_on", campaign.ended_on)
    if start and end and end < start:
        raise ValidationFailed(f"the campaign ends ({end}) before it starts ({start})", field="ended_on", value=end)
    if offer_end and start and offer_end < start:
        raise ValidationFailed(
            f"the offer ends ({offer_end}) before the campaign starts ({start})", field="offer_ends_on", value=offer_end
        )
    return changes


def _campaign_save(campaign: Campaign) -> None:
    # Two writers may claim the same external id between the check and the save: the constraint decides.
    try:
        with transaction.atomic():
            campaign.save()
    except IntegrityError:
        raise ValidationFailed(
            f"external id {campaign.external_id!r} is already another campaign's",
            field="external_id",
            value=campaign.external_id,
        ) from None


def _diff_value(value: Any) -> str:
    return "" if value is None else str(value)


@transaction.atomic
def campaign_update(*, campaign: Campaign, by_user: Any = None, **changes: Any) -> Campaign:
    """Change a campaign's plan (name, channel, dates, budget, UTM tags, offer...); its costs change by entries."""
    changes = _campaign_changes_clean(campaign=campaign, changes=changes)
    diff = {
        k: [_diff_value(getattr(campaign, k)), _diff_value(v)] for k, v in changes.items() if getattr(campaign, k) != v
    }
    if not diff:
        return campaign
    before = {k: getattr(campaign, k) for k in changes}
    for key, value in changes.items():
        setattr(campaign, key, value)
    try:
        _campaign_save(campaign)
    except ValidationFailed:
        for key, value in before.items():
            setattr(campaign, key, value)
        raise
    event_record(kind="campaign.updated", subject=campaign, actor=by_user, data={"changes": diff})
    return campaign


@transaction.atomic
def campaign_create(*, name: str, channel: str, by_user: Any = None, **fields: Any) -> Campaign:
    """Create a campaign (a promotion, event or launch for the calendar) with any of the editable fields."""
    # No cost yet: entries add to it (in cents, as the database gives it back).
    campaign = Campaign(actual_cost=Decimal("0.00"))
    values = _campaign_changes_clean(campaign=campaign, changes={"name": name, "channel": channel, **fields})
    for key, value in values.items():
        setattr(campaign, key, value)
    _campaign_save(campaign)
    event_record(
        kind="campaign.created",
        subject=campaign,
        actor=by_user,
        data={k: _diff_value(v) for k, v in values.items()},
    )
    return campaign


@transaction.atomic
def campaign_clone(*, campaign: Campaign, by_user: Any = None, name: str = "") -> Campaign:
    """A new draft with the campaign's plan (channel, kind, UTM tags, budget, offer, talking points), no dates or costs."""
    if not name:
        # "Spring webinar (copy)", shortened so that the name still fits its column.
        name = campaign.name[: _TEXT_LIMITS["name"] - len(CLONE_SUFFIX)].rstrip() + CLONE_SUFFIX
    copy = campaign_create(
        name=name,
        channel=campaign.channel,
        by_user=by_user,
        kind=campaign.kind,
        status=Campaign.Status.DRAFT,
        budget=campaign.budget,
        utm_source=campaign.utm_source,
        utm_medium=campaign.utm_medium,
        utm_campaign=campaign.utm_campaign,
        offer=campaign.offer,
        talking_points=campaign.talking_points,
    )
    event_record(kind="campaign.cloned", subject=copy, actor=by_user, data={"from_campaign_id": campaign.pk})
    return copy


@transaction.atomic
def campaign_close(*, campaign: Campaign, by_user: Any = None, today: dt.date | None = None, reason: str = "") -> Campaign:
    """Archive a campaign; it ends today unless it already has an end (or has not started yet)."""
    reason = _text(reason, field="reason")
    if campaign.status == Campaign.Status.ARCHIVED:
        raise NotAllowed(f"campaign {campaign.pk} is already closed", field="status", value=campaign.status)
    today = today or timezone.localdate()
    changes: dict[str, Any] = {"status": Campaign.Status.ARCHIVED}
    # A campaign closed before its start never ran: giving it an end before its start would be a lie.
    if campaign.ended_on is None and (campaign.started_on is None or campaign.started_on <= today):
        changes["ended_on"] = today
    diff = {k: [_diff_value(getattr(campaign, k)), _diff_value(v)] for k, v in changes.items()}
    for key, value in changes.items():
        setattr(campaign, key, value)
    campaign.save(update_fields=[*changes, "updated_at"])
    event_record(kind="campaign.closed", subject=campaign, actor=by_user, reason=reason, data={"changes": diff})
    return campaign


def _campaign_locked(campaign: Campaign) -> Campaign:
    # Cost writers of one campaign take turns, so that its total is always the sum of its entries.
    # (SQLite needs no row lock: Tandem's write transactions are IMMEDIATE.)
    found = Campaign.objects.select_for_update().filter(pk=campaign.pk).first()
    if found is None:
        raise NotFound(f"no campaign has id {campaign.pk}", field="campaign_id", value=campaign.pk)
    return found


def _cents(total: Any) -> Decimal:
    # SQLite sums decimals as floats: 0.1 + 0.2 comes back as 0.30000000000000004, and 1200.50 as 1200.5.
    return Decimal(str(total or 0)).quantize(Decimal("0.01"))


def _campaign_total_refresh(campaign: Campaign) -> Decimal:
    total = _cents(CampaignCost.objects.filter(campaign_id=campaign.pk).aggregate(t=Sum("amount"))["t"])
    now = timezone.now()
    Campaign.objects.filter(pk=campaign.pk).update(actual_cost=total, updated_at=now)
    campaign.actual_cost, campaign.updated_at = total, now
    return total


def _cost_data(cost: CampaignCost) -> dict[str, Any]:
    return {
        "cost_id": cost.pk,
        "amount": str(cost.amount),
        "spent_on": cost.spent_on.isoformat(),
        "spent_until": cost.spent_until.isoformat() if cost.spent_until else None,
        "note": cost.note,
    }


@transaction.atomic
def campaign_cost_add(
    *,
    campaign: Campaign,
    amount: Any,
    spent_on: Any,
    spent_until: Any = None,
    note: str = "",
    by_user: Any = None,
) -> CampaignCost:
    """Record what a campaign cost on a day (or over days, spread evenly); its actual cost grows by the amount."""
    amount = amount_clean(amount, field="amount")
    spent_on = _date(spent_on, field="spent_on")
    if spent_on is None:
        raise ValidationFailed("a cost entry needs the day it was spent", field="spent_on", value="")
    spent_until = _date(spent_until, field="spent_until")
    if spent_until is not None and spent_until < spent_on:
        raise ValidationFailed(
            f"spent_until ({spent_until}) is before spent_on ({spent_on})", field="spent_until", value=spent_until
        )
    note = _text(note, field="note")
    locked = _campaign_locked(campaign)
    if locked.actual_cost + amount >= AMOUNT_LIMIT:
        raise ValidationFailed(
            f"the campaign's cost would reach {locked.actual_cost + amount}, beyond what an amount can hold",
            field="amount",
            value=amount,
        )
    cost = CampaignCost.objects.create(
        campaign=locked,
        spent_on=spent_on,
        # A span of one day is a one-day entry.
        spent_until=spent_until if spent_until and spent_until > spent_on else None,
        amount=amount,
        note=note,
        entered_by=by_user if getattr(by_user, "pk", None) else None,
        entered_at=timezone.now(),
    )
    total = _campaign_total_refresh(campaign)
    event_record(
        kind="campaign.cost_added",
        subject=campaign,
        actor=by_user,
        data={**_cost_data(cost), "actual_cost": str(total)},
    )
    return cost


@transaction.atomic
def campaign_cost_delete(*, cost: CampaignCost, by_user: Any = None, reason: str = "") -> Decimal:
    """Delete a cost entry entered by mistake (the event keeps what it said); returns the campaign's new total."""
    reason = _text(reason, field="reason")
    campaign = _campaign_locked(cost.campaign)
    data = _cost_data(cost)
    if not CampaignCost.objects.filter(pk=cost.pk, campaign_id=campaign.pk).delete()[0]:
        raise NotFound(f"no cost entry has id {data['cost_id']}", field="cost_id", value=data["cost_id"])
    total = _campaign_total_refresh(cost.campaign)
    event_record(
        kind="campaign.cost_deleted",
        subject=cost.campaign,
        actor=by_user,
        reason=reason,
        data={**data, "actual_cost": str(total)},
    )
    return total


def campaign_costs_create_bulk(*, costs: Sequence[CampaignCost]) -> None:
    """Insert cost entries as they are (loaders: the bundle import); the caller keeps each campaign's
    actual_cost equal to the sum of its entries, in the same transaction (campaign_totals_refresh_bulk)."""
    CampaignCost.objects.bulk_create(costs, batch_size=500)


def campaign_totals_refresh_bulk(*, campaign_ids: Iterable[int], now: dt.datetime) -> int:
    """Set each campaign's actual_cost to the sum of its entries where it differs; returns how many changed."""
    ids = sorted(set(campaign_ids))
    changed: list[Campaign] = []
    for chunk in chunked(ids):
        # Summed by the database, compared here in cents, so that only a real change is written.
        totals = dict(
            CampaignCost.objects.filter(campaign_id__in=chunk).values("campaign_id").annotate(t=Sum("amount")).values_list("campaign_id", "t")
        )
        for pk, stored in Campaign.objects.filter(pk__in=chunk).values_list("pk", "actual_cost"):
            total = _cents(totals.get(pk))
            if stored != total:
                changed.append(Campaign(pk=pk, actual_cost=total, updated_at=now))
    Campaign.objects.bulk_update(changed, ["actual_cost", "updated_at"], batch_size=500)
    return len(changed)


def person_merge_channels(*, survivor: Any, duplicate: Any) -> None:
    """A merge step (crm.registry): the survivor's source channels follow its merged journey of touchpoints."""
    journey = Touchpoint.objects.filter(person_id=survivor.pk).only("channel", "campaign_id")
    first = journey.order_by("occurred_at", "id").first()
    last = journey.order_by("-occurred_at", "-id").first()
    if first is not None and last is not None:
        survivor.original_channel, survivor.original_campaign_id = first.channel, first.campaign_id
        survivor.latest_channel, survivor.latest_campaign_id = last.channel, last.campaign_id
        return
    # Without touchpoints the channels were set by hand or by an import: keep the survivor's, fill gaps.
    for attr in ("original_channel", "original_campaign_id", "latest_channel", "latest_campaign_id"):
        if not getattr(survivor, attr):
            setattr(survivor, attr, getattr(duplicate, attr))


# ---- personal data (tandem.privacy): erasing one person's touchpoints ----


def touchpoints_erase_person(*, person_id: int, needles: Collection[str]) -> int:
    """Keep a person's touchpoints for the reports (when, channel, campaign, kind, UTM tags) and take out what
    traces them: the referrer, the search term, the page address's query, and personal values of custom fields."""
    rows = Touchpoint.objects.filter(person_id=person_id)
    changed = rows_redact(
        rows=rows,
        needles=needles,
        text=["url"],
        json=["custom_fields"],
        keys=PERSONAL_KEYS,
        blank={"referrer": "", "utm_term": ""},
    )
    with_query = [t for t in rows.exclude(url="").only("pk", "url") if "?" in t.url or "#" in t.url]
    for t in with_query:
        parts = urlsplit(t.url)
        t.url = urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))
    Touchpoint.objects.bulk_update(with_query, ["url"], batch_size=500)
    return changed + len(with_query)


def campaigns_restore_bulk(
    *, model: type[_Model], columns: Sequence[str], rows: Sequence[Sequence[Any]], replace: bool = False
) -> int:
    """Insert a backup's rows of one of this app's tables as they are, ids included (the bundle restore)."""
    from tandem.core.bulk import rows_restore

    return rows_restore(owner="campaigns", model=model, columns=columns, rows=rows, replace=replace)
