"""Writes for campaigns and touchpoints."""

from __future__ import annotations

import datetime as dt
import zlib
from typing import Any

from django.db import connection
from django.utils import timezone

from tandem.campaigns.models import Campaign, Touchpoint
from tandem.campaigns.selectors import campaign_for_utm
from tandem.core.events import event_record


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
    "name", "channel", "status", "started_on", "ended_on", "budget", "actual_cost",
    "kind", "offer", "offer_ends_on", "talking_points",
)
OFFER_MAX = 200
TALKING_POINTS_MAX = 5000


def _campaign_changes_clean(*, campaign: Campaign, changes: dict[str, Any]) -> dict[str, Any]:
    """The changes, trimmed and checked against each other and the campaign; refuses bad ones naming the field."""
    from decimal import Decimal

    from tandem.core.errors import ValidationFailed
    from tandem.crm.channels import CHANNEL_LABELS

    unknown = set(changes) - set(CAMPAIGN_EDITABLE)
    if unknown:
        name = sorted(unknown)[0]
        raise ValidationFailed(f"field {name!r} cannot be edited here", field=name, value=changes[name])
    if "name" in changes:
        changes["name"] = str(changes["name"]).strip()
        if not changes["name"]:
            raise ValidationFailed("a campaign needs a name", field="name", value="")
        if len(changes["name"]) > 200 or "\x00" in changes["name"]:
            raise ValidationFailed("a campaign name is plain text of at most 200 characters", field="name", value=changes["name"][:40])
    if "channel" in changes and changes["channel"] not in CHANNEL_LABELS:
        raise ValidationFailed(f"unknown channel {changes['channel']!r}", field="channel", value=changes["channel"])
    if "status" in changes and changes["status"] not in Campaign.Status.values:
        raise ValidationFailed(f"unknown status {changes['status']!r}", field="status", value=changes["status"])
    if "kind" in changes and changes["kind"] not in Campaign.Kind.values:
        raise ValidationFailed(f"unknown kind {changes['kind']!r}", field="kind", value=changes["kind"])
    for key, limit in (("offer", OFFER_MAX), ("talking_points", TALKING_POINTS_MAX)):
        if key in changes:
            changes[key] = str(changes[key] or "").strip()
            if len(changes[key]) > limit or "\x00" in changes[key]:
                raise ValidationFailed(f"{key} must be plain text of at most {limit} characters", field=key, value=changes[key][:40])
    offer = changes.get("offer", campaign.offer)
    offer_end = changes.get("offer_ends_on", campaign.offer_ends_on)
    if offer_end and not offer:
        raise ValidationFailed("an offer end date needs an offer", field="offer_ends_on", value=offer_end)
    for key in ("budget", "actual_cost"):
        if changes.get(key) is not None and Decimal(changes[key]) < 0:
            raise ValidationFailed(f"{key} cannot be negative", field=key, value=changes[key])
    start = changes.get("started_on", campaign.started_on)
    end = changes.get("ended_on", campaign.ended_on)
    if start and end and end < start:
        raise ValidationFailed(f"the campaign ends ({end}) before it starts ({start})", field="ended_on", value=end)
    if changes.get("actual_cost") is None and "actual_cost" in changes:
        changes["actual_cost"] = Decimal("0")
    if offer_end and start and offer_end < start:
        raise ValidationFailed(
            f"the offer ends ({offer_end}) before the campaign starts ({start})", field="offer_ends_on", value=offer_end
        )
    return changes


def campaign_update(*, campaign: Campaign, by_user: Any = None, **changes: Any) -> Campaign:
    """Change a campaign (review a draft made from UTM tags: name it, set its channel, activate it)."""
    changes = _campaign_changes_clean(campaign=campaign, changes=changes)
    diff = {k: [str(getattr(campaign, k)), str(v)] for k, v in changes.items() if getattr(campaign, k) != v}
    if not diff:
        return campaign
    for key, value in changes.items():
        setattr(campaign, key, value)
    campaign.save()
    event_record(kind="campaign.updated", subject=campaign, actor=by_user, data={"changes": diff})
    return campaign


def campaign_create(*, name: str, channel: str, by_user: Any = None, **fields: Any) -> Campaign:
    """Create a campaign (a promotion, event or launch for the calendar) with any of the editable fields."""
    campaign = Campaign()
    values = _campaign_changes_clean(campaign=campaign, changes={"name": name, "channel": channel, **fields})
    for key, value in values.items():
        setattr(campaign, key, value)
    campaign.save()
    event_record(
        kind="campaign.created", subject=campaign, actor=by_user, data={k: str(v) for k, v in values.items()}
    )
    return campaign


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
