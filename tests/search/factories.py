"""A small world to search: people at companies and at free-mail, a deal and a campaign."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

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


def world() -> World:
    """Jane at Nordwind Logistics (its own domain), John at free-mail working for Acme, Anna without company,
    a bare "Smith", Eva Goldsmith; a deal for Jane and a campaign."""
    jane = person_create(
        email="jane.doe@nordwind-logistics.com",
        first_name="Jane",
        last_name="Doe",
        company="Nordwind Logistics",
    )
    john = person_create(email="john.smith@gmail.com", first_name="John", last_name="Smith", company="Acme")
    anna = person_create(email="smitty@acme.io", first_name="Anna", last_name="Smitherson")
    smith = person_create(email="s@ex.example", last_name="Smith")
    eva = person_create(email="eva@ex.example", first_name="Eva", last_name="Goldsmith")
    deal = deal_create(person=jane, amount=Decimal("12000"), name="Nordwind fleet renewal")
    campaign = campaign_create(name="Spring Webinar Series", channel="webinar")
    assert jane.account is not None
    return World(jane, john, anna, smith, eva, jane.account, deal, campaign)
