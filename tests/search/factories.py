"""A small world to search: people at companies and at free-mail, a deal and a campaign."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from tandem.campaigns.models import Campaign
from tandem.campaigns.services import campaign_create
from tandem.crm.models import Account, Deal, Person
from tandem.crm.services import deal_create, person_create


@dataclass
class World:
    jane: Person
    john: Person
    anna: Person
    smith: Person
    eva: Person
    nordwind: Account
    deal: Deal
    campaign: Campaign


def world(owner: Any = None) -> World:
    """Jane at Nordwind Logistics (its own domain), John at free-mail working for Acme, Anna without company,
    a bare "Smith", Eva Goldsmith; a deal for Jane and a campaign. People and deal belong to `owner` (a rep
    searching finds only what they may see)."""
    jane = person_create(
        email="jane.doe@nordwind-logistics.com",
        first_name="Jane",
        last_name="Doe",
        company="Nordwind Logistics",
        owner=owner,
    )
    john = person_create(
        email="john.smith@gmail.com", first_name="John", last_name="Smith", company="Acme", owner=owner
    )
    anna = person_create(email="smitty@acme.io", first_name="Anna", last_name="Smitherson", owner=owner)
    smith = person_create(email="s@ex.example", last_name="Smith", owner=owner)
    eva = person_create(email="eva@ex.example", first_name="Eva", last_name="Goldsmith", owner=owner)
    deal = deal_create(person=jane, amount=Decimal("12000"), name="Nordwind fleet renewal", owner=owner)
    campaign = campaign_create(name="Spring Webinar Series", channel="webinar")
    assert jane.account is not None
    return World(jane, john, anna, smith, eva, jane.account, deal, campaign)
