"""Record-level access on a campaign's page: its numbers are the company's, its latest touchpoints list only the
people the reader may see."""

from __future__ import annotations

import datetime as dt

from tandem.campaigns.models import Touchpoint
from tests.campaigns.factories import CampaignFactory
from tests.users.access_world import World, world  # noqa: F401


def test_a_campaigns_latest_touchpoints_are_of_people_the_reader_may_see(client, world: World) -> None:  # noqa: F811
    # given a webinar that touched every rep's person
    campaign = CampaignFactory(name="Spring webinar", channel="webinar")
    for i, rep in enumerate(world.reps):
        Touchpoint.objects.create(
            person=world.of(rep).person, campaign=campaign, channel="webinar", kind="webinar",
            occurred_at=dt.datetime(2026, 3, 2 + i, 10, tzinfo=dt.UTC),
        )
    # when rep B1 and marketing open the campaign
    client.force_login(world.rep_b1)
    as_rep = client.get(f"/campaigns/{campaign.pk}/").content.decode()
    client.force_login(world.marketing)
    as_marketing = client.get(f"/campaigns/{campaign.pk}/").content.decode()
    # then the rep's list holds their own person; both read the company's count
    assert "Quincy Buffalo" in as_rep and "Quincy Aardvark" not in as_rep and "Quincy Albatross" not in as_rep
    assert "<strong>3</strong> touchpoints" in as_rep and "<strong>3</strong> touchpoints" in as_marketing
    assert all(f"Quincy {w}" in as_marketing for w in ("Aardvark", "Albatross", "Buffalo"))
