"""An account with something in every part of its page: people, deals on pipeline stages, activities, tasks,
touchpoints and custom fields."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from types import SimpleNamespace

import pytest

from tandem.crm.models import Activity, Task
from tandem.crm.services import deal_close, deal_create
from tests.campaigns.factories import CampaignFactory, TouchpointFactory
from tests.crm.factories import AccountFactory, PersonFactory
from tests.users.factories import UserFactory

T0 = dt.datetime(2025, 3, 3, 9, 0, tzinfo=dt.UTC)


@pytest.fixture
def filled_account(db):  # type: ignore[no-untyped-def]
    rep = UserFactory(role="sales_rep", first_name="Rita", last_name="Rep", username="rita")
    account = AccountFactory(
        name="Northwind",
        domain="northwind.example",
        industry="retail",
        size_band="201-1000",
        country="Germany",
        owner=rep,
        custom_fields={"revenue_musd": 1100.04, "subsidiary_of": "Globex"},
    )
    maria = PersonFactory(
        first_name="Maria",
        last_name="Weber",
        email="maria@northwind.example",
        account=account,
        owner=rep,
        created_at=T0,
    )
    jonas = PersonFactory(
        first_name="Jonas",
        last_name="Fischer",
        email="jonas@northwind.example",
        account=account,
        owner=rep,
        created_at=T0,
    )
    PersonFactory(first_name="Elsewhere", last_name="Person", email="x@globex.example")
    platform = deal_create(
        person=maria, amount=Decimal("24000"), name="Northwind platform", owner=rep, created_at=T0
    )
    pilot = deal_create(
        person=jonas,
        amount=Decimal("1800"),
        name="Northwind pilot",
        owner=rep,
        created_at=T0 + dt.timedelta(days=1),
    )
    deal_close(deal=pilot, won=True, at=T0 + dt.timedelta(days=20))
    # Written as a row: this fixture is about the account page, not about logging activities.
    Activity.objects.create(
        person=maria,
        account=account,
        kind_id="call",
        user=rep,
        outcome="connected",
        duration_minutes=25,
        notes="Wants a pilot.",
        occurred_at=T0 + dt.timedelta(days=2),
    )
    Task.objects.create(
        title="Send the pilot proposal",
        due_at=T0 + dt.timedelta(days=5),
        owner=rep,
        person=maria,
        created_at=T0,
    )
    Task.objects.create(
        title="Done already",
        due_at=T0,
        owner=rep,
        account=account,
        done_at=T0,
        created_at=T0,
    )
    campaign = CampaignFactory(name="Spring webinar")
    TouchpointFactory(
        person=maria,
        occurred_at=T0 - dt.timedelta(days=3),
        channel="webinar",
        kind="webinar",
        campaign=campaign,
    )
    return SimpleNamespace(account=account, rep=rep, maria=maria, jonas=jonas, platform=platform, pilot=pilot)
