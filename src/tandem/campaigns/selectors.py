"""Reads about campaigns for pages and reports."""

from __future__ import annotations

import datetime as dt

from django.db.models import F, Q

from tandem.campaigns.models import Campaign


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
