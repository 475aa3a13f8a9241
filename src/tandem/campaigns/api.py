"""REST endpoints for campaigns: the list, create, edit, clone and close, cost entries, the sales calendar, and
the campaigns running now that touched a person."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated, Any

from django.http import HttpRequest
from django.utils import timezone
from ninja import Field, Query, Router, Schema, Status
from pydantic import ConfigDict

from tandem.campaigns import calendar as cal
from tandem.campaigns import selectors
from tandem.campaigns.models import Campaign, CampaignCost
from tandem.campaigns.services import (
    NOTE_MAX,
    OFFER_MAX,
    campaign_clone,
    campaign_close,
    campaign_cost_add,
    campaign_cost_delete,
    campaign_create,
    campaign_update,
)
from tandem.core.errors import NotFound, ValidationFailed
from tandem.core.http import Id, NoNul, require_perm
from tandem.core.idempotency import idempotent

router = Router(tags=["campaigns"])


class AssetRef(Schema):
    id: int
    title: str
    kind: str
    url: str


Text = Annotated[str, NoNul]
Amount = Annotated[Decimal, Field(ge=0, lt=Decimal(10) ** 12, max_digits=14, decimal_places=2)]
MANAGE = "Only marketing and admins change campaigns."


class CampaignOut(Schema):
    id: int
    name: str
    kind: str
    channel: str
    status: str
    started_on: dt.date | None
    ended_on: dt.date | None
    budget: Decimal | None
    actual_cost: Decimal = Field(description="the total of the campaign's cost entries")
    utm_source: str
    utm_medium: str
    utm_campaign: str
    external_id: str | None
    offer: str
    offer_ends_on: dt.date | None = Field(description="the offer's own end date (else it ends with the campaign)")
    offer_applies_today: bool
    talking_points: list[str]
    assets: list[AssetRef]


class CampaignPatch(Schema):
    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, Field(min_length=1, max_length=200), NoNul] | None = None
    channel: Annotated[str, Field(max_length=40), NoNul] | None = None
    kind: Annotated[str, Field(max_length=16, description=" | ".join(Campaign.Kind.values)), NoNul] | None = None
    status: Annotated[str, Field(max_length=10, description=" | ".join(Campaign.Status.values)), NoNul] | None = None
    started_on: dt.date | None = None
    ended_on: dt.date | None = None
    budget: Amount | None = None
    utm_source: Annotated[str, Field(max_length=120), NoNul] | None = None
    utm_medium: Annotated[str, Field(max_length=120), NoNul] | None = None
    utm_campaign: Annotated[str, Field(max_length=200), NoNul] | None = None
    external_id: Annotated[str, Field(max_length=120), NoNul] | None = Field(
        None, description="its id in another tool (the bundle's campaign_id); empty or null for none"
    )
    offer: Annotated[str, Field(max_length=OFFER_MAX), NoNul] | None = None
    offer_ends_on: dt.date | None = None
    talking_points: Annotated[list[Annotated[str, Field(max_length=500), NoNul]], Field(max_length=50)] | None = Field(
        None, description="one entry per talking point"
    )


class CampaignIn(CampaignPatch):
    name: Annotated[str, Field(min_length=1, max_length=200), NoNul]  # type: ignore[assignment]
    channel: Annotated[str, Field(max_length=40), NoNul]  # type: ignore[assignment]


class CampaignRowOut(Schema):
    id: int
    name: str
    kind: str
    channel: str
    status: str
    started_on: dt.date | None
    ended_on: dt.date | None
    budget: Decimal | None
    actual_cost: Decimal
    utm_campaign: str
    external_id: str | None
    touchpoints: int = Field(..., alias="n_touchpoints")


class CampaignPageOut(Schema):
    items: list[CampaignRowOut]
    next_cursor: str | None = Field(None, description="pass as `cursor` for the next (older) page")
    prev_cursor: str | None = Field(None, description="pass as `cursor` for the previous (newer) page")


class CampaignQuery(Schema):
    status: Annotated[str, Field(max_length=10, description=" | ".join(Campaign.Status.values)), NoNul] = ""
    channel: Annotated[str, Field(max_length=40), NoNul] = ""
    cursor: Annotated[str, Field(max_length=2000), NoNul] = ""
    limit: int = Field(selectors.PAGE_SIZE, ge=1, le=selectors.MAX_PAGE_SIZE)


class CostIn(Schema):
    model_config = ConfigDict(extra="forbid")

    amount: Amount
    spent_on: dt.date
    spent_until: dt.date | None = Field(None, description="last day of a span the amount is spread over (inclusive)")
    note: Annotated[str, Field(max_length=NOTE_MAX), NoNul] = ""


class CostOut(Schema):
    id: int
    campaign_id: int
    amount: Decimal
    spent_on: dt.date
    spent_until: dt.date | None
    note: str
    entered_by: str | None = Field(None, alias="entered_by.username")
    entered_at: dt.datetime


class CostPageOut(Schema):
    campaign_id: int
    budget: Decimal | None
    actual_cost: Decimal
    items: list[CostOut]
    next_cursor: str | None = Field(None, description="pass as `cursor` for the next (earlier spent) page")
    prev_cursor: str | None = Field(None, description="pass as `cursor` for the previous (later spent) page")


class CostQuery(Schema):
    cursor: Annotated[str, Field(max_length=2000), NoNul] = ""
    limit: int = Field(selectors.COST_PAGE_SIZE, ge=1, le=selectors.MAX_PAGE_SIZE)


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
        "budget": c.budget, "actual_cost": c.actual_cost, "utm_source": c.utm_source, "utm_medium": c.utm_medium,
        "utm_campaign": c.utm_campaign, "external_id": c.external_id,
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


def _changes(payload: CampaignPatch, campaign: Campaign | None) -> dict[str, Any]:
    changes = payload.dict(exclude_unset=True)
    if changes.get("talking_points") is not None:
        changes["talking_points"] = "\n".join(p.strip() for p in changes["talking_points"] if p.strip())
    for key in ("name", "channel", "kind", "status"):
        if key in changes and changes[key] is None:
            if campaign is None:
                del changes[key]
            else:
                changes[key] = getattr(campaign, key)
    for key in ("offer", "talking_points", "utm_source", "utm_medium", "utm_campaign"):
        if key in changes and changes[key] is None:
            changes[key] = ""
    return changes


@router.get("/campaigns", response=CampaignPageOut)
def campaign_list(request: HttpRequest, filters: Query[CampaignQuery]) -> Any:
    """Campaigns, the latest created first, with touchpoint counts; filter by status and channel; keyset pages."""
    return selectors.campaign_page(**filters.dict())


@router.post("/campaigns", response={201: CampaignOut})
@idempotent
def campaign_post(request: HttpRequest, payload: CampaignIn) -> Any:
    """Create a campaign (marketing and admins): name and channel, and any of the plan's fields."""
    require_perm(request, "campaigns.add_campaign", message="Only marketing and admins create campaigns.")
    campaign = campaign_create(by_user=request.user, **_changes(payload, None))
    return Status(201, _one(campaign.pk, timezone.localdate()))


@router.patch("/campaigns/{int:campaign_id}", response=CampaignOut)
def campaign_patch(request: HttpRequest, campaign_id: Id, payload: CampaignPatch) -> dict[str, Any]:
    """Change a campaign (marketing): name, channel, kind, status, dates, budget, UTM tags, outside id, offer, talking points."""
    require_perm(request, "campaigns.change_campaign", message=MANAGE)
    campaign = selectors.campaign_get(campaign_id=campaign_id)
    campaign_update(campaign=campaign, by_user=request.user, **_changes(payload, campaign))
    return _one(campaign_id, timezone.localdate())


@router.post("/campaigns/{int:campaign_id}/clone", response={201: CampaignOut})
@idempotent
def campaign_clone_post(
    request: HttpRequest,
    campaign_id: Id,
    name: Annotated[str, Query(max_length=200, description="the copy's name; NAME (copy) when empty"), NoNul] = "",
) -> Any:
    """A new draft with the campaign's plan (channel, kind, UTM tags, budget, offer, talking points): no dates, costs or touchpoints."""
    require_perm(request, "campaigns.add_campaign", message="Only marketing and admins clone campaigns.")
    copy = campaign_clone(campaign=selectors.campaign_get(campaign_id=campaign_id), by_user=request.user, name=name)
    return Status(201, _one(copy.pk, timezone.localdate()))


@router.post("/campaigns/{int:campaign_id}/close", response=CampaignOut)
def campaign_close_post(
    request: HttpRequest,
    campaign_id: Id,
    reason: Annotated[str, Query(max_length=2000, description="why it closes (kept in the event)"), NoNul] = "",
) -> dict[str, Any]:
    """Archive a campaign; it ends today unless it has an end already (409 when it is closed already)."""
    require_perm(request, "campaigns.change_campaign", message=MANAGE)
    campaign = selectors.campaign_get(campaign_id=campaign_id)
    campaign_close(campaign=campaign, by_user=request.user, reason=reason)
    return _one(campaign_id, timezone.localdate())


@router.get("/campaigns/{int:campaign_id}/costs", response=CostPageOut)
def campaign_costs(request: HttpRequest, campaign_id: Id, filters: Query[CostQuery]) -> dict[str, Any]:
    """A campaign's cost entries, the latest spent first (keyset pages), with its budget and total."""
    campaign = selectors.campaign_get(campaign_id=campaign_id)
    page = selectors.campaign_costs_page(campaign_id=campaign_id, **filters.dict())
    return {
        "campaign_id": campaign.pk,
        "budget": campaign.budget,
        "actual_cost": campaign.actual_cost,
        "items": page.items,
        "next_cursor": page.next_cursor,
        "prev_cursor": page.prev_cursor,
    }


@router.post("/campaigns/{int:campaign_id}/costs", response={201: CostOut})
@idempotent
def campaign_cost_post(request: HttpRequest, campaign_id: Id, payload: CostIn) -> Any:
    """Enter what the campaign cost on a day, or over days (spread evenly); its actual cost grows by the amount."""
    require_perm(request, "campaigns.change_campaign", message=MANAGE)
    campaign = selectors.campaign_get(campaign_id=campaign_id)
    cost: CampaignCost = campaign_cost_add(campaign=campaign, by_user=request.user, **payload.dict())
    return Status(201, cost)


@router.delete("/campaigns/{int:campaign_id}/costs/{int:cost_id}", response={204: None})
def campaign_cost_remove(request: HttpRequest, campaign_id: Id, cost_id: Id) -> Any:
    """Delete a cost entry entered by mistake; the campaign's actual cost shrinks by its amount."""
    require_perm(request, "campaigns.change_campaign", message=MANAGE)
    cost = selectors.campaign_cost_get(campaign_id=campaign_id, cost_id=cost_id)
    campaign_cost_delete(cost=cost, by_user=request.user)
    return Status(204, None)


@router.get("/people/{int:person_id}/campaigns", response=list[PersonCampaignOut])
def person_campaigns(request: HttpRequest, person_id: Id) -> list[dict[str, Any]]:
    """Campaigns running today that touched the person, offers that apply first."""
    from tandem.crm.models import Person
    from tandem.users.access import access_seen

    # A person out of the user's sight does not exist for them (tandem.users.access).
    if not access_seen(Person.objects.filter(pk=person_id), user=request.user).exists():
        raise NotFound(f"no person has id {person_id}", field="person_id", value=person_id)
    today = timezone.localdate()
    rows = selectors.campaigns_current_for_person(person_id=person_id, today=today)
    return [{**r, "campaign": _out(r["campaign"], today)} for r in rows]


# ---- touchpoints: read-only (they arrive through capture, imports and content sends; the UI makes none by hand) ----


class TouchpointRecordOut(Schema):
    id: int
    person_id: int
    person: str = Field(..., description="the person's name (or e-mail)")
    occurred_at: dt.datetime
    channel: str
    kind: str
    campaign_id: int | None
    campaign: str | None = Field(None, description="the campaign's name")
    utm_source: str
    utm_medium: str
    utm_campaign: str
    utm_term: str
    utm_content: str
    url: str
    referrer: str
    created_at: dt.datetime


class TouchpointPageOut(Schema):
    items: list[TouchpointRecordOut]
    next_cursor: str | None = Field(None, description="pass as `cursor` for the next (older) page")
    prev_cursor: str | None = Field(None, description="pass as `cursor` for the previous (newer) page")


class TouchpointQuery(Schema):
    channel: Annotated[str, Field(max_length=40, description="a channel key, as on the people list"), NoNul] = ""
    kind: Annotated[str, Field(max_length=24, description="page_view, form_submit, email_click, …"), NoNul] = ""
    cursor: Annotated[str, Field(max_length=2000), NoNul] = ""
    limit: int = Field(selectors.TOUCH_PAGE_SIZE, ge=1, le=selectors.MAX_PAGE_SIZE)


class PersonTouchpointQuery(TouchpointQuery):
    campaign: int | None = Field(None, ge=1, le=2**63 - 1, description="a campaign's id")


def _touch_out(t: Any) -> dict[str, Any]:
    return {
        "id": t.pk, "person_id": t.person_id, "person": str(t.person), "occurred_at": t.occurred_at,
        "channel": t.channel, "kind": t.kind, "campaign_id": t.campaign_id,
        "campaign": t.campaign.name if t.campaign is not None else None, "utm_source": t.utm_source,
        "utm_medium": t.utm_medium, "utm_campaign": t.utm_campaign, "utm_term": t.utm_term,
        "utm_content": t.utm_content, "url": t.url, "referrer": t.referrer, "created_at": t.created_at,
    }


def _touch_page(page: Any) -> dict[str, Any]:
    return {"items": [_touch_out(t) for t in page.items], "next_cursor": page.next_cursor, "prev_cursor": page.prev_cursor}


@router.get("/campaigns/{int:campaign_id}/touchpoints", response=TouchpointPageOut)
def campaign_touchpoints(request: HttpRequest, campaign_id: Id, filters: Query[TouchpointQuery]) -> dict[str, Any]:
    """The campaign's touchpoints, the latest first, of the people you may see; filter by channel and kind."""
    selectors.campaign_get(campaign_id=campaign_id)
    return _touch_page(selectors.touchpoints_page(campaign_id=campaign_id, user=request.user, **filters.dict()))


@router.get("/people/{int:person_id}/touchpoints", response=TouchpointPageOut)
def person_touchpoints(request: HttpRequest, person_id: Id, filters: Query[PersonTouchpointQuery]) -> dict[str, Any]:
    """The person's journey, the latest touchpoint first; filter by campaign (an id), channel and kind."""
    from tandem.crm.models import Person
    from tandem.users.access import access_seen

    # A person out of the user's sight does not exist for them (tandem.users.access).
    if not access_seen(Person.objects.filter(pk=person_id), user=request.user).exists():
        raise NotFound(f"no person has id {person_id}", field="person_id", value=person_id)
    query = filters.dict()
    return _touch_page(
        selectors.touchpoints_page(person_id=person_id, campaign_id=query.pop("campaign"), user=request.user, **query)
    )


@router.get("/accounts/{int:account_id}/touchpoints", response=TouchpointPageOut, tags=["campaigns"])
def account_touchpoints(request: HttpRequest, account_id: Id, filters: Query[PersonTouchpointQuery]) -> dict[str, Any]:
    """The touchpoints of the account's people you may see, the latest first; filter by campaign, channel and kind."""
    from tandem.crm.accounts.selectors import account_get

    try:
        account_get(account_id=account_id, user=request.user)
    except NotFound:
        raise NotFound(f"no account has id {account_id}", field="account_id", value=account_id) from None
    query = filters.dict()
    return _touch_page(
        selectors.touchpoints_page(account_id=account_id, campaign_id=query.pop("campaign"), user=request.user, **query)
    )


class TouchKindCountOut(Schema):
    kind: str
    n: int


class CampaignReachOut(Schema):
    campaign_id: int
    touchpoints: int = Field(..., description="every touchpoint of the campaign (the company's number)")
    people_sourced: int = Field(..., description="people who first came through it")
    by_kind: list[TouchKindCountOut] = Field(..., description="touchpoints per kind, most first")


@router.get("/campaigns/{int:campaign_id}/reach", response=CampaignReachOut)
def campaign_reach(request: HttpRequest, campaign_id: Id) -> dict[str, Any]:
    """The campaign's reach as its page shows it: touchpoints in all and per kind, and the people it sourced."""
    campaign = selectors.campaign_get(campaign_id=campaign_id)
    summary = selectors.campaign_reach(campaign=campaign)
    return {"campaign_id": campaign.pk, **summary}
