"""The demo's calendar: recent events tagged, the busiest running campaign made a promotion, planned
promotions, events and a launch around the demo's last day, with library assets."""

from __future__ import annotations

import datetime as dt

import pytest

from tandem.campaigns import calendar as cal
from tandem.campaigns.models import Campaign
from tandem.core.models import Event
from tandem.demo.campaigns import calendar_demo_seed
from tandem.users.models import Role
from tests.campaigns.factories import CampaignFactory, TouchpointFactory
from tests.enablement.factories import AssetFactory
from tests.users.factories import UserFactory

pytestmark = pytest.mark.django_db
END = dt.date(2026, 6, 30)


def test_the_demo_calendar_has_current_past_and_coming_items_with_offers_and_assets():
    # given an events campaign from May, two running campaigns (one busier lately), and a deck in the library
    booth = CampaignFactory(name="Spring fair", channel="events", started_on=dt.date(2026, 5, 4), ended_on=dt.date(2026, 5, 5))
    busy = CampaignFactory(name="Search: ops leaders", channel="paid_search", started_on=dt.date(2026, 4, 1), ended_on=dt.date(2026, 9, 30))
    quiet = CampaignFactory(name="Display retargeting", channel="display", started_on=dt.date(2026, 4, 1), ended_on=dt.date(2026, 9, 30))
    for day in (20, 25, 28):
        TouchpointFactory(campaign=busy, occurred_at=dt.datetime(2026, 6, day, 10, tzinfo=dt.UTC))
    TouchpointFactory(campaign=quiet, occurred_at=dt.datetime(2026, 6, 10, 10, tzinfo=dt.UTC))
    deck = AssetFactory(title="Enablement launch deck", kind="deck")
    marketer = UserFactory(role=Role.MARKETING)
    # when the calendar is seeded for a demo ending 30 June 2026
    count = calendar_demo_seed(end=END, users={"marketing": marketer})
    # then the fair is an event, the busy campaign a promotion whose offer applies on the last day, the quiet one unchanged
    booth.refresh_from_db(), busy.refresh_from_db(), quiet.refresh_from_db()
    assert booth.kind == "event" and booth.talking_point_list
    assert (busy.kind, busy.offer, busy.offer_ends_on) == ("promotion", "Free onboarding with an annual plan", dt.date(2026, 7, 14))
    assert cal.offer_applies(offer=busy.offer, offer_ends_on=busy.offer_ends_on, started_on=busy.started_on, ended_on=busy.ended_on, today=END)
    assert quiet.kind == "campaign" and quiet.offer == ""
    # and six planned items: three promotions (one running with an offer until 10 July), two events, one launch
    planned = Campaign.objects.exclude(pk__in=[booth.pk, busy.pk, quiet.pk])
    assert count == 2 + 6
    assert sorted(planned.values_list("kind", flat=True)) == ["event", "event", "launch", "promotion", "promotion", "promotion"]
    year_end = planned.get(name__startswith="Year-end offer")
    assert (year_end.offer_ends_on, year_end.started_on <= END <= year_end.ended_on) == (dt.date(2026, 7, 10), True)
    launch = planned.get(kind="launch")
    assert launch.started_on == launch.ended_on == dt.date(2026, 7, 7)
    assert list(launch.assets.values_list("pk", flat=True)) == [deck.pk]
    # and every change was recorded as marketing's
    assert Event.objects.filter(kind="campaign.created", actor=marketer).count() == 6
    assert Event.objects.filter(kind="campaign.updated", actor=marketer).count() == 2
