"""Campaign services: create, edit, clone, close, cost entries; exact values, events, and refusals that change nothing."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest

from tandem.campaigns.models import Campaign, CampaignCost
from tandem.campaigns.selectors import campaign_cost_spans
from tandem.campaigns.services import (
    campaign_clone,
    campaign_close,
    campaign_cost_add,
    campaign_cost_delete,
    campaign_create,
    campaign_totals_refresh_bulk,
    campaign_update,
)
from tandem.core.errors import NotAllowed, ValidationFailed
from tandem.core.models import Event
from tests.campaigns.factories import CampaignCostFactory, CampaignFactory, TouchpointFactory
from tests.users.factories import UserFactory

pytestmark = pytest.mark.django_db
D = dt.date


def _snapshot() -> tuple[Any, ...]:
    """Every campaign, cost entry and event, to show that a refused action changed nothing."""
    return (
        list(Campaign.objects.order_by("pk").values()),
        list(CampaignCost.objects.order_by("pk").values()),
        Event.objects.count(),
    )


def test_create_stores_the_plan_and_writes_an_event():
    # given a marketer
    marketer = UserFactory(role="marketing")
    # when a campaign is created with a plan
    campaign = campaign_create(
        name="  Spring webinar ",
        channel="webinar",
        by_user=marketer,
        kind="event",
        started_on=D(2026, 3, 1),
        ended_on=D(2026, 3, 31),
        budget="5000.50",
        utm_source="linkedin",
        utm_campaign="spring-webinar",
        external_id="HS-42",
    )
    # then it is stored trimmed, with no cost yet, and the event names who did it
    campaign.refresh_from_db()
    assert (campaign.name, campaign.channel, campaign.kind, campaign.status) == ("Spring webinar", "webinar", "event", "active")
    assert (campaign.budget, campaign.actual_cost, campaign.external_id) == (Decimal("5000.50"), Decimal("0.00"), "HS-42")
    event = Event.objects.get(kind="campaign.created")
    assert (event.subject_id, event.actor_id, event.data["budget"], event.data["utm_campaign"]) == (
        campaign.pk, marketer.pk, "5000.50", "spring-webinar"
    )


@pytest.mark.parametrize(
    ("fields", "field", "value"),
    [
        ({"channel": "carrier_pigeon"}, "channel", "carrier_pigeon"),
        ({"started_on": D(2026, 3, 10), "ended_on": D(2026, 3, 1)}, "ended_on", "2026-03-01"),
        ({"budget": "-1"}, "budget", "-1"),
        ({"budget": "12.345"}, "budget", "12.345"),
        ({"budget": "lots"}, "budget", "lots"),
        ({"name": "Spring\x00"}, "name", "Spring\x00"),
        ({"utm_source": "a\x00b"}, "utm_source", "a\x00b"),
        ({"name": "x" * 201}, "name", "x" * 80),
        ({"status": "paused"}, "status", "paused"),
        ({"external_id": "TAKEN"}, "external_id", "TAKEN"),
        ({"actual_cost": "100"}, "actual_cost", "100"),
        ({"started_on": "2026-03-01"}, "started_on", "2026-03-01"),
    ],
)
def test_bad_input_is_refused_naming_the_field_and_value_and_nothing_is_written(fields, field, value):  # type: ignore[no-untyped-def]
    # given a campaign already holding the outside id TAKEN
    CampaignFactory(external_id="TAKEN")
    before = _snapshot()
    # when a campaign is created with one bad value
    with pytest.raises(ValidationFailed) as exc:
        campaign_create(**{"name": "Spring", "channel": "email", **fields})
    # then the error names the field and the value, and nothing changed
    assert (exc.value.field, str(exc.value.value)) == (field, value)
    assert _snapshot() == before


def test_update_changes_the_plan_and_records_what_changed():
    # given a campaign
    campaign = CampaignFactory(name="Spring", channel="email", budget=None, utm_campaign="")
    # when its budget, channel and UTM tag are set
    campaign_update(campaign=campaign, channel="paid_social", budget=Decimal("900"), utm_campaign="spring-26")
    # then they are stored and the event lists each change as [before, after]
    campaign.refresh_from_db()
    assert (campaign.channel, campaign.budget, campaign.utm_campaign) == ("paid_social", Decimal("900.00"), "spring-26")
    assert Event.objects.get(kind="campaign.updated").data["changes"] == {
        "channel": ["email", "paid_social"],
        "budget": ["", "900.00"],
        "utm_campaign": ["", "spring-26"],
    }


def test_update_refuses_an_outside_id_of_another_campaign_and_keeps_the_object_as_stored():
    # given two campaigns
    CampaignFactory(external_id="A-1")
    campaign = CampaignFactory(external_id="B-1", name="Bee")
    before = _snapshot()
    # when one is given the other's outside id (and a new name in the same call)
    with pytest.raises(ValidationFailed) as exc:
        campaign_update(campaign=campaign, name="Renamed", external_id="A-1")
    # then nothing changed, in the database and on the object
    assert (exc.value.field, exc.value.value) == ("external_id", "A-1")
    assert _snapshot() == before
    assert (campaign.name, campaign.external_id) == ("Bee", "B-1")


def test_update_refuses_setting_actual_cost_directly():
    # given a campaign with one cost entry of 1,000
    campaign = CampaignFactory(actual_cost=Decimal("1000.00"))
    before = _snapshot()
    # when its actual cost is set by hand
    with pytest.raises(ValidationFailed) as exc:
        campaign_update(campaign=campaign, actual_cost=Decimal("5"))
    # then it is refused: costs change by entries
    assert exc.value.field == "actual_cost"
    assert _snapshot() == before


def test_clone_copies_the_plan_as_a_draft_without_dates_costs_or_touchpoints():
    # given a campaign with a plan, a cost entry, a touchpoint and an outside id
    source = CampaignFactory(
        name="Spring promo", channel="paid_search", kind="promotion", budget=Decimal("3000.00"),
        utm_source="google", utm_medium="cpc", utm_campaign="spring", offer="20 % off", offer_ends_on=D(2025, 2, 1),
        talking_points="Point one\nPoint two", actual_cost=Decimal("1000.00"),
    )
    TouchpointFactory(campaign=source)
    marketer = UserFactory(role="marketing")
    # when it is cloned
    copy = campaign_clone(campaign=source, by_user=marketer)
    # then the copy carries the plan only
    copy.refresh_from_db()
    assert (copy.name, copy.status, copy.channel, copy.kind) == ("Spring promo (copy)", "draft", "paid_search", "promotion")
    assert (copy.utm_source, copy.utm_medium, copy.utm_campaign) == ("google", "cpc", "spring")
    assert (copy.budget, copy.offer, copy.talking_points) == (Decimal("3000.00"), "20 % off", "Point one\nPoint two")
    assert (copy.started_on, copy.ended_on, copy.offer_ends_on, copy.external_id) == (None, None, None, None)
    assert (copy.actual_cost, copy.costs.count(), copy.touchpoints.count()) == (Decimal("0.00"), 0, 0)
    cloned = Event.objects.get(kind="campaign.cloned")
    assert (cloned.subject_id, cloned.actor_id, cloned.data) == (copy.pk, marketer.pk, {"from_campaign_id": source.pk})


def test_clone_of_a_long_name_still_fits_the_column():
    # given a campaign whose name fills its column
    source = CampaignFactory(name="n" * 200)
    # when
    copy = campaign_clone(campaign=source)
    # then
    assert len(copy.name) == 200 and copy.name.endswith("n (copy)")


def test_close_archives_and_ends_today_unless_it_had_an_end():
    # given a running campaign without an end and one that has an end
    running = CampaignFactory(started_on=D(2026, 1, 1), ended_on=None, costs=False)
    ended = CampaignFactory(started_on=D(2026, 1, 1), ended_on=D(2026, 2, 1), costs=False)
    # when both are closed on 10 March
    campaign_close(campaign=running, today=D(2026, 3, 10), reason="budget moved to Q2")
    campaign_close(campaign=ended, today=D(2026, 3, 10))
    # then both are archived; only the open one ends on the day it was closed
    running.refresh_from_db()
    ended.refresh_from_db()
    assert (running.status, running.ended_on) == ("archived", D(2026, 3, 10))
    assert (ended.status, ended.ended_on) == ("archived", D(2026, 2, 1))
    event = Event.objects.filter(kind="campaign.closed", subject_id=running.pk).get()
    assert (event.reason, event.data["changes"]) == (
        "budget moved to Q2",
        {"status": ["active", "archived"], "ended_on": ["", "2026-03-10"]},
    )


def test_close_before_the_start_leaves_no_end_and_closing_twice_is_refused():
    # given a campaign that starts in April
    campaign = CampaignFactory(started_on=D(2026, 4, 1), ended_on=None, costs=False)
    # when it is closed in March, then closed again
    campaign_close(campaign=campaign, today=D(2026, 3, 10))
    before = _snapshot()
    with pytest.raises(NotAllowed) as exc:
        campaign_close(campaign=campaign, today=D(2026, 3, 11))
    # then it never got an end before its start, and the second close changed nothing
    campaign.refresh_from_db()
    assert (campaign.status, campaign.ended_on) == ("archived", None)
    assert (exc.value.field, exc.value.status_code) == ("status", 409)
    assert _snapshot() == before


def test_cost_entries_keep_the_campaigns_total_and_write_events():
    # given a campaign without costs and a marketer
    campaign = CampaignFactory(costs=False)
    marketer = UserFactory(role="marketing")
    # when two entries are added (one spread over March) and the first is deleted
    first = campaign_cost_add(campaign=campaign, amount="1200.50", spent_on=D(2026, 2, 3), note=" Booth deposit ", by_user=marketer)
    campaign_cost_add(campaign=campaign, amount=Decimal("310"), spent_on=D(2026, 3, 1), spent_until=D(2026, 3, 31))
    campaign.refresh_from_db()
    total_after_two = campaign.actual_cost
    remaining = campaign_cost_delete(cost=first, by_user=marketer, reason="entered twice")
    # then the total follows the entries, and each step left its event
    campaign.refresh_from_db()
    assert (total_after_two, remaining, campaign.actual_cost) == (Decimal("1510.50"), Decimal("310.00"), Decimal("310.00"))
    assert list(campaign.costs.values_list("amount", "spent_on", "spent_until", "note")) == [
        (Decimal("310.00"), D(2026, 3, 1), D(2026, 3, 31), "")
    ]
    added = Event.objects.filter(kind="campaign.cost_added").order_by("id").first()
    assert added is not None and (added.actor_id, added.data) == (
        marketer.pk,
        {"cost_id": first.pk, "amount": "1200.50", "spent_on": "2026-02-03", "spent_until": None, "note": "Booth deposit", "actual_cost": "1200.50"},
    )
    deleted = Event.objects.get(kind="campaign.cost_deleted")
    assert (deleted.reason, deleted.data["amount"], deleted.data["actual_cost"]) == ("entered twice", "1200.50", "310.00")


def test_a_span_of_one_day_is_stored_as_a_one_day_entry():
    # given / when
    cost = campaign_cost_add(campaign=CampaignFactory(costs=False), amount="5", spent_on=D(2026, 2, 3), spent_until=D(2026, 2, 3))
    # then
    assert CampaignCost.objects.get(pk=cost.pk).spent_until is None


@pytest.mark.parametrize(
    ("fields", "field", "value"),
    [
        ({"amount": "-0.01"}, "amount", "-0.01"),
        ({"amount": "1.005"}, "amount", "1.005"),
        ({"amount": "NaN"}, "amount", "NaN"),
        ({"amount": "ten"}, "amount", "ten"),
        ({"amount": "1000000000000"}, "amount", "1000000000000"),
        ({"spent_on": None}, "spent_on", ""),
        ({"spent_until": D(2026, 2, 2)}, "spent_until", "2026-02-02"),
        ({"note": "n\x00"}, "note", "n\x00"),
        ({"note": "n" * 201}, "note", "n" * 80),
    ],
)
def test_a_bad_cost_entry_is_refused_naming_the_field_and_nothing_changes(fields, field, value):  # type: ignore[no-untyped-def]
    # given a campaign with one entry of 1,000
    campaign = CampaignFactory()
    before = _snapshot()
    # when an entry with one bad value is added
    with pytest.raises(ValidationFailed) as exc:
        campaign_cost_add(campaign=campaign, **{"amount": "10", "spent_on": D(2026, 2, 3), **fields})
    # then the field and value are named and nothing changed
    assert (exc.value.field, str(exc.value.value)) == (field, value)
    assert _snapshot() == before


def test_a_total_beyond_what_an_amount_holds_is_refused():
    # given a campaign that cost almost a trillion
    campaign = CampaignFactory(costs=False)
    campaign_cost_add(campaign=campaign, amount="999999999999.00", spent_on=D(2026, 2, 3))
    before = _snapshot()
    # when one more unit is entered
    with pytest.raises(ValidationFailed) as exc:
        campaign_cost_add(campaign=campaign, amount="1", spent_on=D(2026, 2, 3))
    # then
    assert exc.value.field == "amount"
    assert _snapshot() == before


def test_totals_refresh_sets_each_campaigns_cost_to_its_entries_and_only_where_it_differs():
    # given entries written as a loader writes them (the totals not yet kept) and a campaign that is right
    stale = CampaignFactory(costs=False)
    CampaignCostFactory(campaign=stale, amount=Decimal("0.10"))
    CampaignCostFactory(campaign=stale, amount=Decimal("0.20"))
    right = CampaignFactory(actual_cost=Decimal("50.00"))
    now = dt.datetime(2026, 5, 1, tzinfo=dt.UTC)
    # when
    changed = campaign_totals_refresh_bulk(campaign_ids=[stale.pk, right.pk], now=now)
    # then only the stale one changed, to the exact cents
    stale.refresh_from_db()
    right.refresh_from_db()
    assert (changed, stale.actual_cost, stale.updated_at, right.actual_cost) == (1, Decimal("0.30"), now, Decimal("50.00"))


def test_cost_spans_are_summed_by_the_database_per_key_and_span_inside_the_period():
    # given two email campaigns and one paid-search campaign with entries in and around February
    mail_a = CampaignFactory(name="A", channel="email", costs=False)
    mail_b = CampaignFactory(name="B", channel="email", costs=False)
    search = CampaignFactory(name="S", channel="paid_search", costs=False)
    for campaign, amount, on, until in (
        (mail_a, "10", D(2026, 2, 3), None), (mail_b, "5", D(2026, 2, 3), None),
        (search, "280", D(2026, 1, 15), D(2026, 2, 10)), (search, "7", D(2026, 3, 1), None),
        (mail_a, "99", D(2026, 1, 31), None),
    ):
        campaign_cost_add(campaign=campaign, amount=amount, spent_on=on, spent_until=until)
    # when the spans touching February are read per channel
    spans = campaign_cost_spans(by="channel", date_from=D(2026, 2, 1), date_to=D(2026, 2, 28))
    # then the two email entries of 3 February are one row, the January span reaches in, the rest stays out
    assert sorted(spans) == [
        ("email", D(2026, 2, 3), D(2026, 2, 3), Decimal("15.00")),
        ("paid_search", D(2026, 1, 15), D(2026, 2, 10), Decimal("280.00")),
    ]
    with pytest.raises(ValidationFailed) as exc:
        campaign_cost_spans(by="planet")
    assert exc.value.field == "by"
