"""Unit economics and the KPI dashboard read spend from cost entries, on the days they were spent."""

from __future__ import annotations

import datetime as dt
import importlib
from decimal import Decimal

import pytest
from django.core.cache import cache

from tandem.analytics.dashboard.selectors import kpi_data_load
from tandem.analytics.economics.selectors import campaign_spend_get, economics_report_get
from tandem.campaigns.models import Campaign, CampaignCost
from tandem.campaigns.services import campaign_cost_add, campaign_cost_delete
from tandem.crm.models import StageChange
from tandem.stats.kpi import kpi_actuals
from tests.campaigns.factories import CampaignFactory
from tests.crm.factories import PersonFactory

pytestmark = pytest.mark.django_db
D = dt.date


@pytest.fixture(autouse=True)
def _no_cached_reports():
    cache.clear()
    yield
    cache.clear()


def _history() -> None:
    """An email campaign running all of 2026 with three entries: 900 on 20 January, 600 spread over February
    (28 days), 310 on 3 March; a webinar with 400 on 10 February. Two email people and one webinar person become
    customers in February, one email person in March."""
    mail = CampaignFactory(name="Newsletter", channel="email", started_on=D(2026, 1, 1), ended_on=D(2026, 12, 31), costs=False)
    webinar = CampaignFactory(name="Webinar", channel="webinar", started_on=D(2026, 2, 10), ended_on=D(2026, 2, 10), costs=False)
    campaign_cost_add(campaign=mail, amount="900", spent_on=D(2026, 1, 20))
    campaign_cost_add(campaign=mail, amount="600", spent_on=D(2026, 2, 1), spent_until=D(2026, 2, 28))
    campaign_cost_add(campaign=mail, amount="310", spent_on=D(2026, 3, 3))
    campaign_cost_add(campaign=webinar, amount="400", spent_on=D(2026, 2, 10))
    StageChange.objects.all().delete()
    for channel, campaign, won in (
        ("email", mail, D(2026, 2, 5)), ("email", mail, D(2026, 2, 20)), ("webinar", webinar, D(2026, 2, 12)),
        ("email", mail, D(2026, 3, 9)),
    ):
        person = PersonFactory(original_channel=channel, original_campaign=campaign)
        at = dt.datetime.combine(won, dt.time(12), tzinfo=dt.UTC)
        StageChange.objects.create(person=person, to_stage="lead", changed_at=at - dt.timedelta(days=3))
        StageChange.objects.create(person=person, to_stage="customer", changed_at=at)


def test_the_spend_of_a_period_is_the_entries_spent_in_it():
    # given
    _history()
    # when / then: February holds the February span and the webinar; 10–14 February five days of the span
    assert campaign_spend_get(by="channel", date_from=D(2026, 2, 1), date_to=D(2026, 2, 28)) == {"email": 600.0, "webinar": 400.0}
    assert campaign_spend_get(by="channel", date_from=D(2026, 2, 10), date_to=D(2026, 2, 14)) == {
        "email": pytest.approx(600 * 5 / 28), "webinar": 400.0,
    }
    assert campaign_spend_get(by="campaign") == {"Newsletter": 1810.0, "Webinar": 400.0}


def test_cac_of_a_month_comes_from_that_months_cost_entries():
    # given
    _history()
    # when February's unit economics are computed
    report = economics_report_get(by="channel", date_from=D(2026, 2, 1), date_to=D(2026, 2, 28), as_of=D(2026, 6, 30))
    # then CAC = February's entries ÷ February's new customers: email 600 / 2, webinar 400 / 1, total 1,000 / 3
    costs = {r["key"]: r for r in report["costs"]}
    assert (costs["email"]["spend"], costs["email"]["customers"], costs["email"]["cac"]) == (600.0, 2, 300.0)
    assert (costs["webinar"]["spend"], costs["webinar"]["cac"]) == (400.0, 400.0)
    assert (report["totals"]["spend"], report["totals"]["customers"], report["totals"]["cac"]) == (1000.0, 3, 333.33)


def test_a_deleted_entry_leaves_the_report_at_once():
    # given February's report was read (and cached)
    _history()
    before = economics_report_get(by="channel", date_from=D(2026, 2, 1), date_to=D(2026, 2, 28), as_of=D(2026, 6, 30))
    webinar_cost = Campaign.objects.get(name="Webinar").costs.get()
    # when the webinar's entry is deleted
    campaign_cost_delete(cost=webinar_cost)
    after = economics_report_get(by="channel", date_from=D(2026, 2, 1), date_to=D(2026, 2, 28), as_of=D(2026, 6, 30))
    # then
    assert (before["totals"]["spend"], after["totals"]["spend"]) == (1000.0, 600.0)


def test_the_kpi_dashboard_counts_spend_by_month_from_the_entries():
    # given
    _history()
    # when
    actual = kpi_actuals(kpi_data_load().inputs, [D(2026, 1, 1), D(2026, 2, 1), D(2026, 3, 1), D(2026, 4, 1)])
    # then January 900, February 1,000, March 310; CAC per month of new customers
    assert actual.spend == [900.0, 1000.0, 310.0]
    assert actual.cac == [None, pytest.approx(1000 / 3), 310.0]


def test_a_campaign_total_from_before_entries_is_spread_as_it_always_was():
    # given a campaign whose 3,000 became one entry over its 30 days (17 Oct – 15 Nov), as the upgrade does it
    CampaignFactory(started_on=D(2026, 10, 17), ended_on=D(2026, 11, 15), actual_cost=Decimal("3000"))
    # when / then: 15 days in each month, as when reports spread actual_cost over the campaign's days
    assert campaign_spend_get(by="channel", date_from=D(2026, 10, 1), date_to=D(2026, 10, 31)) == {"paid_search": 1500.0}
    assert campaign_spend_get(by="channel", date_from=D(2026, 11, 1), date_to=D(2026, 11, 30)) == {"paid_search": 1500.0}


def test_the_upgrade_turns_each_campaigns_cost_into_one_entry_over_its_days(monkeypatch):
    # given campaigns stored before cost entries: dated, open-ended, undated, and without cost
    from django.apps import apps
    from django.utils import timezone

    upgrade = importlib.import_module("tandem.campaigns.migrations.0006_costs_from_actual_cost")
    monkeypatch.setattr(timezone, "now", lambda: dt.datetime(2026, 5, 20, 12, tzinfo=dt.UTC))
    made = dt.datetime(2026, 4, 2, 9, tzinfo=dt.UTC)
    dated = Campaign.objects.create(name="Dated", channel="email", started_on=D(2026, 1, 1), ended_on=D(2026, 1, 31), actual_cost=Decimal("310.00"), created_at=made)
    running = Campaign.objects.create(name="Running", channel="email", started_on=D(2026, 5, 1), actual_cost=Decimal("20.00"), created_at=made)
    undated = Campaign.objects.create(name="Undated", channel="email", actual_cost=Decimal("7.50"), created_at=made)
    Campaign.objects.create(name="Free", channel="email", created_at=made)
    # when the data migration runs
    upgrade.forwards(apps, None)
    # then each cost is one entry over the days reports spread it over before (to the upgrade's day when open)
    assert sorted(CampaignCost.objects.values_list("campaign_id", "spent_on", "spent_until", "amount")) == [
        (dated.pk, D(2026, 1, 1), D(2026, 1, 31), Decimal("310.00")),
        (running.pk, D(2026, 5, 1), D(2026, 5, 20), Decimal("20.00")),
        (undated.pk, D(2026, 4, 2), D(2026, 5, 20), Decimal("7.50")),
    ]
