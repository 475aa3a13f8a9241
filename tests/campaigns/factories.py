from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import factory

from tandem.campaigns.models import Campaign, CampaignCost, Touchpoint
from tests.crm.factories import PersonFactory


class CampaignFactory(factory.django.DjangoModelFactory):
    """A campaign whose actual_cost is one cost entry spread over its days, as the upgrade migration makes it
    (pass costs=False for none, to add entries yourself)."""

    class Meta:
        model = Campaign
        skip_postgeneration_save = True

    external_id = factory.Sequence(lambda n: f"cmp-{n}")
    name = factory.Sequence(lambda n: f"Campaign {n}")
    channel = "paid_search"
    started_on = dt.date(2025, 1, 1)
    ended_on = dt.date(2025, 3, 31)
    actual_cost = Decimal("1000.00")
    created_at = factory.LazyFunction(lambda: dt.datetime(2025, 1, 1, tzinfo=dt.UTC))

    @factory.post_generation
    def costs(obj: Campaign, create: bool, extracted: Any, **kwargs: Any) -> None:  # type: ignore[misc]
        # Keep the services' invariant, actual_cost = the sum of the entries, for every factory campaign.
        if not create:
            return
        if extracted is False:
            Campaign.objects.filter(pk=obj.pk).update(actual_cost=Decimal("0.00"))
            obj.actual_cost = Decimal("0.00")
            return
        if not obj.actual_cost:
            return
        first = obj.started_on or obj.ended_on or obj.created_at.date()
        last = obj.ended_on or first
        CampaignCost.objects.create(
            campaign=obj,
            spent_on=first,
            spent_until=last if last > first else None,
            amount=obj.actual_cost,
            note="spread over the campaign's days",
            entered_at=obj.created_at,
        )


class CampaignCostFactory(factory.django.DjangoModelFactory):
    """A bare entry: it does not change its campaign's actual_cost (use campaign_cost_add for that)."""

    class Meta:
        model = CampaignCost

    campaign = factory.SubFactory(CampaignFactory, actual_cost=Decimal("0.00"))
    spent_on = dt.date(2025, 2, 1)
    amount = Decimal("100.00")
    entered_at = factory.LazyFunction(lambda: dt.datetime(2025, 2, 1, tzinfo=dt.UTC))


class TouchpointFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Touchpoint

    person = factory.SubFactory(PersonFactory)
    occurred_at = factory.LazyFunction(lambda: dt.datetime(2025, 3, 3, 9, 0, tzinfo=dt.UTC))
    channel = "paid_search"
    kind = "ad_click"
