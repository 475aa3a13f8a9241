from __future__ import annotations

import datetime as dt
from decimal import Decimal

import factory

from tandem.campaigns.models import Campaign, Touchpoint
from tests.crm.factories import PersonFactory


class CampaignFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Campaign

    external_id = factory.Sequence(lambda n: f"cmp-{n}")
    name = factory.Sequence(lambda n: f"Campaign {n}")
    channel = "paid_search"
    started_on = dt.date(2025, 1, 1)
    ended_on = dt.date(2025, 3, 31)
    actual_cost = Decimal("1000.00")
    created_at = factory.LazyFunction(lambda: dt.datetime(2025, 1, 1, tzinfo=dt.UTC))


class TouchpointFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Touchpoint

    person = factory.SubFactory(PersonFactory)
    occurred_at = factory.LazyFunction(lambda: dt.datetime(2025, 3, 3, 9, 0, tzinfo=dt.UTC))
    channel = "paid_search"
    kind = "ad_click"
