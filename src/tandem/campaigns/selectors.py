"""Reads about campaigns for pages and reports."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import F, Q

from tandem.campaigns.models import Campaign, Touchpoint


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
    if not ref:
        return None
    found = Campaign.objects.filter(external_id=ref).first()
    if found is None and ref.isdigit():
        found = Campaign.objects.filter(pk=int(ref)).first()
    return found


def campaign_list(*, status: str = "", channel: str = "") -> list[Any]:
    """Campaigns with their touchpoint and first-touch people counts, drafts to review first."""
    from django.db.models import Case, Count, IntegerField, Value, When

    rows = Campaign.objects.annotate(
        n_touchpoints=Count("touchpoints", distinct=True),
        review_first=Case(When(status=Campaign.Status.DRAFT, then=Value(0)), default=Value(1), output_field=IntegerField()),
    )
    if status:
        rows = rows.filter(status=status)
    if channel:
        rows = rows.filter(channel=channel)
    return list(rows.order_by("review_first", F("started_on").desc(nulls_last=True), "name", "id"))


def campaign_get(*, campaign_id: int) -> Campaign:
    """One campaign, or a 404 naming the id."""
    from tandem.core.errors import NotFound

    found = Campaign.objects.filter(pk=campaign_id).first()
    if found is None:
        raise NotFound(f"no campaign has id {campaign_id}", field="campaign_id", value=campaign_id)
    return found


def campaign_summary(*, campaign: Campaign) -> dict[str, Any]:
    """A campaign's reach: touchpoints by kind, people first reached by it, and its latest touchpoints."""
    from django.db.models import Count

    from tandem.campaigns.models import Touchpoint
    from tandem.crm.models import Person

    by_kind = list(
        Touchpoint.objects.filter(campaign=campaign).values("kind").annotate(n=Count("id")).order_by("-n", "kind")
    )
    return {
        "by_kind": by_kind,
        "touchpoints": sum(r["n"] for r in by_kind),
        "people_sourced": Person.objects.filter(original_campaign=campaign).count(),
        "recent": list(
            Touchpoint.objects.filter(campaign=campaign).select_related("person").order_by("-occurred_at", "-id")[:20]
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
