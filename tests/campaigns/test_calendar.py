"""The sales calendar: months and their days on plain values, the month page and its HTMX navigation,
editing a promotion's offer and talking points, the API, and the person page's current campaigns."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client
from django.utils import timezone

from tandem.campaigns import calendar as cal
from tandem.campaigns.services import campaign_update
from tandem.core.errors import ValidationFailed
from tandem.core.models import Event
from tandem.users.models import Role
from tandem.users.services import api_token_create
from tests.campaigns.factories import CampaignFactory, TouchpointFactory
from tests.crm.factories import PersonFactory
from tests.users.factories import UserFactory

D = dt.date


def test_month_parse_accepts_yyyy_mm_and_blank_and_refuses_the_rest():
    # given today
    today = D(2026, 11, 23)
    # then blank is this month, 2026-02 is February, and malformed months name the field
    assert cal.month_parse(text="", today=today) == D(2026, 11, 1)
    assert cal.month_parse(text="2026-02", today=today) == D(2026, 2, 1)
    assert cal.month_step(cal.month_parse(text="1900-01", today=today), -1) == D(1899, 12, 1)
    assert cal.month_step(cal.month_parse(text="9998-12", today=today), 1) == D(9999, 1, 1)
    for bad in ("2026-13", "2026-2", "26-02", "0001-01", "1899-12", "9999-12", "2026-02-01", "２０２６-02"):
        with pytest.raises(ValidationFailed) as exc:
            cal.month_parse(text=bad, today=today)
        assert exc.value.field == "month"


def test_months_step_across_years_and_weeks_start_on_monday():
    # given February 2026 (starts on a Sunday, 28 days)
    first = D(2026, 2, 1)
    # then the steps cross the year, the last day is the 28th, and the grid runs Monday 26 Jan – Sunday 1 Mar
    assert (cal.month_step(first, -2), cal.month_step(first, 11), cal.month_last(first)) == (D(2025, 12, 1), D(2027, 1, 1), D(2026, 2, 28))
    weeks = cal.month_weeks(first)
    assert (len(weeks), weeks[0][0], weeks[-1][-1]) == (5, D(2026, 1, 26), D(2026, 3, 1))


def test_day_markers_show_starts_ends_one_day_items_and_offer_ends_inside_the_month_only():
    # given a promotion running from January into March with an offer ending 14 Feb, and a one-day event
    spans = [
        cal.Span(1, "Winter sale", "promotion", D(2026, 1, 20), D(2026, 3, 10), "20 % off", D(2026, 2, 14)),
        cal.Span(2, "Meetup", "event", D(2026, 2, 5), D(2026, 2, 5)),
        cal.Span(3, "Always on", "campaign", D(2026, 2, 9), None),
    ]
    # when February's markers are made
    days = cal.day_markers(spans=spans, first=D(2026, 2, 1), last=D(2026, 2, 28))
    # then only February's days carry markers
    assert {d: [(m.id, m.what) for m in ms] for d, ms in days.items()} == {
        D(2026, 2, 14): [(1, "offer_ends")], D(2026, 2, 5): [(2, "on")], D(2026, 2, 9): [(3, "starts")],
    }


def test_an_offer_applies_from_the_start_until_its_own_end_or_the_campaigns():
    # given an offer ending 14 Feb on a campaign 1 Feb – 28 Feb, and one without its own end
    kw = {"offer": "20 % off", "started_on": D(2026, 2, 1), "ended_on": D(2026, 2, 28)}
    # then it applies on 1 and 14 Feb, not on 31 Jan or 15 Feb; without its own end it lasts the campaign
    assert [cal.offer_applies(offer_ends_on=D(2026, 2, 14), today=d, **kw) for d in (D(2026, 1, 31), D(2026, 2, 1), D(2026, 2, 14), D(2026, 2, 15))] == [False, True, True, False]
    assert cal.offer_applies(offer_ends_on=None, today=D(2026, 2, 28), **kw) is True
    assert cal.offer_applies(offer_ends_on=None, today=D(2026, 3, 1), **kw) is False
    assert cal.offer_applies(offer="", offer_ends_on=None, started_on=None, ended_on=None, today=D(2026, 2, 1)) is False


pytestmark_db = pytest.mark.django_db


def _client(role: str) -> Client:
    client = Client()
    client.force_login(UserFactory(role=role))
    return client


@pytestmark_db
def test_marketing_sets_a_promotions_offer_and_talking_points_on_the_campaign_page():
    # given a campaign
    campaign = CampaignFactory(name="Spring promo", started_on=D(2026, 3, 1), ended_on=D(2026, 3, 31))
    client = _client(Role.MARKETING)
    # when marketing makes it a promotion with an offer and two talking points
    response = client.post(
        f"/campaigns/{campaign.pk}/edit/",
        {"name": "Spring promo", "channel": "paid_search", "status": "active", "started_on": "2026-03-01", "ended_on": "2026-03-31",
         "kind": "promotion", "offer": "20 % off the first year", "offer_ends_on": "2026-03-15",
         "talking_points": "- Cuts onboarding to a week\n\n• Works with your CRM\n"},
    )
    # then it is saved, recorded, and the campaign page shows the offer and the points
    campaign.refresh_from_db()
    assert response.status_code == 302
    assert (campaign.kind, campaign.offer, campaign.offer_ends_on) == ("promotion", "20 % off the first year", D(2026, 3, 15))
    assert campaign.talking_point_list == ["Cuts onboarding to a week", "Works with your CRM"]
    assert Event.objects.get(kind="campaign.updated").data["changes"]["kind"] == ["campaign", "promotion"]
    page = client.get(f"/campaigns/{campaign.pk}/").content.decode()
    assert "20 % off the first year" in page and "<li>Works with your CRM</li>" in page


@pytestmark_db
@pytest.mark.parametrize(
    ("changes", "field"),
    [({"kind": "webinar"}, "kind"), ({"offer_ends_on": D(2026, 3, 10)}, "offer_ends_on"),
     ({"offer": "x", "offer_ends_on": D(2026, 2, 1)}, "offer_ends_on"), ({"offer": "x" * 201}, "offer")],
)
def test_bad_calendar_fields_are_refused_naming_the_field_and_nothing_changes(changes, field):  # type: ignore[no-untyped-def]
    # given a campaign starting 1 March without an offer
    campaign = CampaignFactory(started_on=D(2026, 3, 1), ended_on=D(2026, 3, 31))
    # when an unknown kind, an offer end without an offer, an offer ending before the start or a too long offer is set
    with pytest.raises(ValidationFailed) as exc:
        campaign_update(campaign=campaign, **changes)
    # then the field is named and nothing changed
    campaign.refresh_from_db()
    assert exc.value.field == field
    assert (campaign.kind, campaign.offer, campaign.offer_ends_on) == ("campaign", "", None)
    assert not Event.objects.exists()


@pytestmark_db
def test_the_month_page_shows_whats_running_with_offers_and_markers(django_assert_num_queries):
    # given, in March 2026, a promotion with an offer, a one-day event, a draft, and a campaign from last year
    promo = CampaignFactory(name="Spring promo", kind="promotion", started_on=D(2026, 3, 1), ended_on=D(2026, 3, 31),
                            offer="20 % off", offer_ends_on=D(2026, 3, 15), talking_points="Cuts onboarding\nWorks with your CRM")
    event = CampaignFactory(name="Berlin meetup", kind="event", started_on=D(2026, 3, 12), ended_on=D(2026, 3, 12))
    CampaignFactory(name="Draft idea", status="draft", started_on=D(2026, 3, 1), ended_on=D(2026, 3, 31))
    CampaignFactory(name="Old one", started_on=D(2025, 1, 1), ended_on=D(2025, 3, 31))
    client = _client(Role.SALES_REP)
    # when a rep opens March (session, user, the user's two permission reads, campaigns, their assets)
    with django_assert_num_queries(6):
        html = client.get("/campaigns/calendar/?month=2026-03").content.decode()
    # then the promotion with its offer and points and the event are there, the draft and the old one are not
    assert "March 2026" in html
    assert f'id="campaign-{promo.pk}"' in html and f'id="campaign-{event.pk}"' in html
    assert "<strong>Offer:</strong> 20 % off" in html and "until 15 Mar 2026" in html and "<li>Works with your CRM</li>" in html
    assert "Draft idea" not in html and "Old one" not in html
    # and the grid marks the event on the 12th and the offer's end on the 15th
    cell = html[html.index('data-day="2026-03-12"'):html.index('data-day="2026-03-13"')]
    assert "Berlin meetup" in cell
    assert "offer ends" in html[html.index('data-day="2026-03-15"'):html.index('data-day="2026-03-16"')]


@pytestmark_db
def test_htmx_navigation_returns_only_the_calendar_and_filters_by_kind():
    # given an event in April 2026 and a promotion in April
    CampaignFactory(name="Launch day", kind="launch", started_on=D(2026, 4, 2), ended_on=D(2026, 4, 2))
    CampaignFactory(name="April promo", kind="promotion", started_on=D(2026, 4, 1), ended_on=D(2026, 4, 30), offer="Free setup")
    client = _client(Role.SALES_REP)
    # when the next-month link is followed with HTMX, launches only, as a list
    response = client.get("/campaigns/calendar/?month=2026-04&kind=launch&view=list", HTTP_HX_REQUEST="true")
    html = response.content.decode()
    # then only the calendar partial comes back, with the launch and no grid
    assert html.startswith('<div id="calendar"')
    assert "Launch day" in html and "April promo" not in html and "calendar-grid" not in html
    assert "?month=2026-05&kind=launch&view=list" in html


@pytestmark_db
def test_a_malformed_month_is_a_clear_4xx():
    # given a rep
    client = _client(Role.SALES_REP)
    # when a month is malformed, then the page says so with 422
    response = client.get("/campaigns/calendar/?month=2026-13")
    assert response.status_code == 422 and "month must look like 2026-03" in response.content.decode()


@pytestmark_db
def test_the_person_panel_shows_current_campaigns_that_touched_the_person_and_the_offer():
    # given a person touched by a running promotion (offer ends in 3 days), a running campaign without offer,
    # a finished campaign, and a running promotion that never touched them
    today = timezone.localdate()
    person = PersonFactory()
    promo = CampaignFactory(name="Autumn promo", kind="promotion", started_on=today - dt.timedelta(days=10),
                            ended_on=today + dt.timedelta(days=20), offer="Two months free", offer_ends_on=today + dt.timedelta(days=3))
    plain = CampaignFactory(name="Search always on", started_on=today - dt.timedelta(days=100), ended_on=None)
    done = CampaignFactory(name="Summer promo", kind="promotion", started_on=today - dt.timedelta(days=90),
                           ended_on=today - dt.timedelta(days=30), offer="Old offer")
    CampaignFactory(name="Someone else's promo", kind="promotion", started_on=today, ended_on=today + dt.timedelta(days=5), offer="Not yours")
    now = timezone.now()
    for campaign, days_ago in ((promo, 2), (plain, 1), (done, 40)):
        TouchpointFactory(person=person, campaign=campaign, occurred_at=now - dt.timedelta(days=days_ago))
    # (the rep who owns the person: another rep would be told the person does not exist)
    client = Client()
    owner = UserFactory(role=Role.SALES_REP)
    person.owner = owner
    person.save(update_fields=["owner"])
    client.force_login(owner)
    # when the person page loads its campaigns panel
    html = client.get(f"/campaigns/people/{person.pk}/").content.decode()
    # then the promotion comes first with its offer and days left, then the plain campaign; the others are absent
    assert html.index("Autumn promo") < html.index("Search always on")
    assert "<strong>Offer now:</strong> Two months free" in html and "3 days left" in html
    assert "Summer promo" not in html and "Not yours" not in html
    # and the person page itself only holds the lazy loader
    page = client.get(f"/people/{person.pk}/").content.decode()
    assert f'hx-get="/campaigns/people/{person.pk}/"' in page and "Two months free" not in page


@pytestmark_db
def test_api_calendar_patch_and_person_campaigns():
    # given a running promotion that touched a person, and tokens for a rep and a marketer
    today = timezone.localdate()
    seller = UserFactory(role=Role.SALES_REP)
    person = PersonFactory(owner=seller)
    promo = CampaignFactory(name="Autumn promo", started_on=today - dt.timedelta(days=1), ended_on=today + dt.timedelta(days=30))
    TouchpointFactory(person=person, campaign=promo, occurred_at=timezone.now())
    rep = {"HTTP_AUTHORIZATION": f"Bearer {api_token_create(user=seller, name='t')[1]}"}
    mkt = {"HTTP_AUTHORIZATION": f"Bearer {api_token_create(user=UserFactory(role=Role.MARKETING), name='t')[1]}"}
    client = Client()
    body = {"kind": "promotion", "offer": "Free onboarding", "offer_ends_on": (today + dt.timedelta(days=7)).isoformat(),
            "talking_points": ["Live in a week", "  ", "No setup fee"]}
    # when a rep tries to edit it, then 403 and nothing changes
    assert client.patch(f"/api/campaigns/{promo.pk}", body, content_type="application/json", **rep).status_code == 403
    # when marketing makes it a promotion with an offer
    patched = client.patch(f"/api/campaigns/{promo.pk}", body, content_type="application/json", **mkt)
    # then the campaign says so, and the offer applies today
    assert patched.status_code == 200
    out = patched.json()
    assert (out["kind"], out["offer"], out["offer_applies_today"], out["talking_points"]) == ("promotion", "Free onboarding", True, ["Live in a week", "No setup fee"])
    month = client.get(f"/api/campaigns/calendar?month={today:%Y-%m}&kind=promotion", **rep).json()
    assert [i["id"] for i in month["items"]] == [promo.pk] and month["month"] == f"{today:%Y-%m}"
    assert client.get("/api/campaigns/calendar?kind=webinar", **rep).status_code == 422
    assert client.get("/api/campaigns/calendar?month=2026-00", **rep).json()["field"] == "month"
    touched = client.get(f"/api/people/{person.pk}/campaigns", **rep).json()
    assert [(r["campaign"]["id"], r["offer_applies"], r["offer_days_left"]) for r in touched] == [(promo.pk, True, 7)]
    assert client.get("/api/people/999999/campaigns", **rep).status_code == 404
    bad = client.patch(f"/api/campaigns/{promo.pk}", {"offer": ""}, content_type="application/json", **mkt)
    assert bad.status_code == 422 and bad.json()["field"] == "offer_ends_on"


@pytestmark_db
def test_the_calendar_lists_each_campaigns_unexpired_assets(django_assert_num_queries):
    # given a launch with a deck and a battle card, one expired, and a second launch with its own asset
    from tests.enablement.factories import AssetFactory

    today = timezone.localdate()
    launch = CampaignFactory(name="Product launch", kind="launch", started_on=today, ended_on=today)
    other = CampaignFactory(name="Second launch", kind="launch", started_on=today, ended_on=today)
    AssetFactory(title="Launch deck", kind="deck", url="https://example.com/deck").campaigns.add(launch)
    AssetFactory(title="Old battle card", kind="battle_card", expires_on=today - dt.timedelta(days=1)).campaigns.add(launch)
    AssetFactory(title="Second deck", kind="deck").campaigns.add(other)
    client = _client(Role.SALES_REP)
    # when the month is opened, then the queries stay fixed with several campaigns and assets
    with django_assert_num_queries(6):
        html = client.get("/campaigns/calendar/").content.decode()
    # then each launch lists its own current material; the expired card is gone
    item = html[html.index(f'id="campaign-{launch.pk}"'):html.index(f'id="campaign-{other.pk}"')]
    assert '<a href="https://example.com/deck" rel="noopener">Launch deck</a>' in item
    assert "Old battle card" not in html and "Second deck" not in item and "Second deck" in html


@pytestmark_db
def test_old_free_text_types_become_kinds_and_unknown_ones_are_kept_aside():
    # given campaigns whose old free-text type was a webinar, blank, "Promotion", something else, and already a kind
    from importlib import import_module

    from django.apps import apps

    forwards = import_module("tandem.campaigns.migrations.0004_kind_from_type").forwards
    old = {t: CampaignFactory(kind=t) for t in ("Webinar", "", "Promotion", "Brand awareness", "launch")}
    # when the data migration runs
    forwards(apps, None)
    # then each has one of the four kinds, and the unknown text is kept in custom_fields
    for campaign in old.values():
        campaign.refresh_from_db()
    assert {t: c.kind for t, c in old.items()} == {
        "Webinar": "event", "": "campaign", "Promotion": "promotion", "Brand awareness": "campaign", "launch": "launch",
    }
    assert old["Brand awareness"].custom_fields == {"type_before": "Brand awareness"}
    assert old[""].custom_fields == {} and old["Webinar"].custom_fields == {}
