"""The demo company's sales calendar: events and a running promotion among the imported campaigns, and what
marketing has lined up around the demo's last day (promotions with offers, events, a launch), with talking
points and library assets. Deterministic and quick: a few dozen service calls."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import transaction
from django.db.models import Count, F, Q

from tandem.campaigns.models import Campaign
from tandem.campaigns.services import campaign_create, campaign_update

EVENT_POINTS = "Ask who from their team will be there and book a slot at the booth\nFollow up within two days with the session recording"
PROMO_POINTS = (
    "The offer is on the first-year licence only; renewals are at list price\n"
    "Ask for a signature before the offer ends, not a verbal yes\n"
    "Pair it with the ROI calculator: the saving pays for onboarding"
)
D = dt.timedelta


def _planned(end: dt.date) -> list[dict[str, Any]]:
    # Relative to the demo's last day, so the calendar always has something current, past and coming.
    return [
        {"name": "Year-end offer: 20 % off the first year", "channel": "email", "kind": "promotion",
         "started_on": end - D(days=12), "ended_on": end + D(days=24), "offer": "20 % off the first-year licence",
         "offer_ends_on": end + D(days=10), "talking_points": PROMO_POINTS, "budget": "18000"},
        {"name": "Switch from spreadsheets: free onboarding", "channel": "paid_search", "kind": "promotion",
         "started_on": end - D(days=45), "ended_on": end - D(days=6), "offer": "Onboarding (worth $2,500) free",
         "talking_points": "Free onboarding ended; offer a two-week pilot instead", "budget": "12000"},
        {"name": "Q1 upgrade offer", "channel": "email", "kind": "promotion", "started_on": end + D(days=35),
         "ended_on": end + D(days=70), "offer": "Three months free on an upgrade to Enterprise", "offer_ends_on": end + D(days=60),
         "talking_points": "For customers on the Team plan with more than 20 users\nMention it only from the start date", "budget": "9000"},
        {"name": "Tandem Enablement launch", "channel": "content", "kind": "launch", "started_on": end + D(days=7),
         "ended_on": end + D(days=7),
         "talking_points": "Themes from what prospects ask, grouped automatically\nA content library with win rates per asset\n"
                           "Personas with talking points on every person page", "budget": "25000"},
        {"name": "Customer webinar: closing the loop", "channel": "webinar", "kind": "event", "started_on": end + D(days=3),
         "ended_on": end + D(days=3), "talking_points": EVENT_POINTS, "budget": "4000"},
        {"name": "RevOps Summit booth", "channel": "events", "kind": "event", "started_on": end + D(days=18),
         "ended_on": end + D(days=19), "talking_points": EVENT_POINTS, "budget": "30000"},
    ]


@transaction.atomic
def calendar_demo_seed(*, end: dt.date, users: dict[str, Any]) -> int:
    """Tag the demo's events, make its busiest running campaign a promotion, add planned items; returns how many."""
    marketer = users.get("marketing")
    touched = 0
    for campaign in Campaign.objects.filter(channel__in=("events", "webinar"), started_on__gte=end - D(days=120)):
        campaign_update(campaign=campaign, by_user=marketer, kind="event", talking_points=EVENT_POINTS)
        touched += 1
    # The running campaign that reached the most people lately carries an offer, so person pages show one.
    busiest = (
        Campaign.objects.filter(status="active", started_on__lte=end, ended_on__gte=end)
        .exclude(channel__in=("events", "webinar"))
        .annotate(recent=Count("touchpoints", filter=Q(touchpoints__occurred_at__date__gte=end - D(days=30))))
        .order_by(F("recent").desc(), "id")
        .first()
    )
    if busiest is not None:
        campaign_update(
            campaign=busiest, by_user=marketer, kind="promotion", offer="Free onboarding with an annual plan",
            offer_ends_on=min(busiest.ended_on or end + D(days=14), end + D(days=14)), talking_points=PROMO_POINTS,
        )
        touched += 1
    planned = [campaign_create(by_user=marketer, **item) for item in _planned(end)]
    _assets_link(planned)
    return touched + len(planned)


def _assets_link(planned: list[Campaign]) -> None:
    # Give the launch and the current promotion material from the library, when the library was seeded.
    from tandem.enablement.models import Asset
    from tandem.enablement.services import asset_update

    by_kind = {c.kind: c for c in reversed(planned)}
    wanted = {"launch": ("deck", "video", "blog_post"), "promotion": ("brochure", "case_study", "battle_card")}
    for kind, asset_kinds in wanted.items():
        campaign = by_kind.get(kind)
        if campaign is None:
            continue
        for asset in Asset.objects.filter(kind__in=asset_kinds, expires_on__isnull=True).order_by("id")[:3]:
            ids = list(asset.campaigns.values_list("id", flat=True))
            asset_update(asset=asset, campaign_ids=[*ids, campaign.pk])
