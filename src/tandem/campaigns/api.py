"""REST endpoints for campaigns: one campaign and its edit (kind, offer, talking points), the sales calendar,
and the campaigns running now that touched a person."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated, Any

from django.http import HttpRequest
from django.utils import timezone
from ninja import Field, Query, Router, Schema

from tandem.campaigns import calendar as cal
from tandem.campaigns import selectors
from tandem.campaigns.models import Campaign
from tandem.campaigns.services import OFFER_MAX, campaign_update
from tandem.core.errors import NotFound, ValidationFailed
from tandem.core.http import Id, require_perm

router = Router(tags=["campaigns"])


class AssetRef(Schema):
    id: int
    title: str
    kind: str
    url: str


class CampaignOut(Schema):
    id: int
    name: str
    kind: str
    channel: str
    status: str
    started_on: dt.date | None
    ended_on: dt.date | None
    offer: str
    offer_ends_on: dt.date | None = Field(description="the offer's own end date (else it ends with the campaign)")
    offer_applies_today: bool
    talking_points: list[str]
    assets: list[AssetRef]


class CampaignPatch(Schema):
    name: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    kind: Annotated[str, Field(max_length=16, description=" | ".join(Campaign.Kind.values))] | None = None
    status: Annotated[str, Field(max_length=10)] | None = None
    started_on: dt.date | None = None
    ended_on: dt.date | None = None
    budget: Annotated[Decimal, Field(ge=0, max_digits=14, decimal_places=2)] | None = None
    offer: Annotated[str, Field(max_length=OFFER_MAX)] | None = None
    offer_ends_on: dt.date | None = None
    talking_points: Annotated[list[Annotated[str, Field(max_length=500)]], Field(max_length=50)] | None = Field(
        None, description="one entry per talking point"
    )


class CalendarOut(Schema):
    month: str
    kind: str
    items: list[CampaignOut]


class PersonCampaignOut(Schema):
    campaign: CampaignOut
    last_touch_at: dt.datetime
    offer_applies: bool
    offer_ends_on: dt.date | None
    offer_days_left: int | None


def _assets(campaign: Campaign) -> list[dict[str, Any]]:
    manager = getattr(campaign, "assets", None)
    if manager is None:
        return []
    return [{"id": a.pk, "title": a.title, "kind": a.kind, "url": a.url} for a in manager.all()]


def _out(campaign: Campaign, today: dt.date) -> dict[str, Any]:
    c = campaign
    return {
        "id": c.pk, "name": c.name, "kind": c.kind, "channel": c.channel, "status": c.status,
        "started_on": c.started_on, "ended_on": c.ended_on, "offer": c.offer, "offer_ends_on": c.offer_ends_on,
        "offer_applies_today": cal.offer_applies(
            offer=c.offer, offer_ends_on=c.offer_ends_on, started_on=c.started_on, ended_on=c.ended_on, today=today
        ),
        "talking_points": c.talking_point_list, "assets": _assets(c),
    }


def _one(campaign_id: int, today: dt.date) -> dict[str, Any]:
    found = selectors.campaign_calendar_item(campaign_id=campaign_id, today=today)
    return _out(found, today)


@router.get("/campaigns/calendar", response=CalendarOut)
def calendar_get(
    request: HttpRequest,
    month: Annotated[str, Query(max_length=7, description="YYYY-MM; this month when empty")] = "",
    kind: Annotated[str, Query(max_length=16, description="campaign | promotion | event | launch; all when empty")] = "",
) -> dict[str, Any]:
    """What marketing runs in a month: active campaigns, promotions, events and launches with offers and talking points."""
    today = timezone.localdate()
    first = cal.month_parse(text=month, today=today)
    if kind and kind not in Campaign.Kind.values:
        raise ValidationFailed(f"unknown kind {kind!r}", field="kind", value=kind)
    items = selectors.campaign_calendar(first=first, last=cal.month_last(first), kind=kind, today=today)
    return {"month": f"{first:%Y-%m}", "kind": kind, "items": [_out(c, today) for c in items]}


@router.get("/campaigns/{int:campaign_id}", response=CampaignOut)
def campaign_get(request: HttpRequest, campaign_id: Id) -> dict[str, Any]:
    """One campaign with its kind, offer, talking points and assets."""
    return _one(campaign_id, timezone.localdate())


@router.patch("/campaigns/{int:campaign_id}", response=CampaignOut)
def campaign_patch(request: HttpRequest, campaign_id: Id, payload: CampaignPatch) -> dict[str, Any]:
    """Change a campaign (marketing): name, kind, status, dates, budget, offer and its end, talking points."""
    require_perm(request, "campaigns.change_campaign", message="Only marketing and admins edit campaigns.")
    campaign = selectors.campaign_get(campaign_id=campaign_id)
    changes = payload.dict(exclude_unset=True)
    if changes.get("talking_points") is not None:
        changes["talking_points"] = "\n".join(p.strip() for p in changes["talking_points"] if p.strip())
    for key in ("name", "kind", "status", "offer", "talking_points"):
        if key in changes and changes[key] is None:
            changes[key] = "" if key in ("offer", "talking_points") else getattr(campaign, key)
    campaign_update(campaign=campaign, by_user=request.user, **changes)
    return _one(campaign_id, timezone.localdate())


@router.get("/people/{int:person_id}/campaigns", response=list[PersonCampaignOut])
def person_campaigns(request: HttpRequest, person_id: Id) -> list[dict[str, Any]]:
    """Campaigns running today that touched the person, offers that apply first."""
    from tandem.crm.models import Person

    if not Person.objects.filter(pk=person_id).exists():
        raise NotFound(f"no person has id {person_id}", field="person_id", value=person_id)
    today = timezone.localdate()
    rows = selectors.campaigns_current_for_person(person_id=person_id, today=today)
    return [{**r, "campaign": _out(r["campaign"], today)} for r in rows]
