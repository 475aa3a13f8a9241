"""Touchpoints over the API, read-only as in the UI: a person's journey and a campaign's touchpoints, the latest
first, in keyset pages of pinned queries, filtered by campaign, channel and kind; only of people the user may see."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client

from tandem.users.models import Role
from tests.campaigns.factories import CampaignFactory, TouchpointFactory
from tests.crm.factories import PersonFactory
from tests.users.factories import UserFactory

pytestmark = pytest.mark.django_db
T0 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)


def _ids(response) -> list[int]:  # type: ignore[no-untyped-def]
    assert response.status_code == 200, response.content
    return [t["id"] for t in response.json()["items"]]


def test_a_persons_journey_is_listed_latest_first_with_each_touch_as_stored():
    # given a person touched by a campaign's ad and by an e-mail without a campaign
    rep = UserFactory(role=Role.SALES_REP)
    person = PersonFactory(owner=rep, first_name="Ann", last_name="Lee")
    spring = CampaignFactory(name="Spring", channel="paid_search")
    ad = TouchpointFactory(
        person=person,
        campaign=spring,
        occurred_at=T0,
        channel="paid_search",
        kind="ad_click",
        utm_source="google",
        utm_campaign="spring",
        url="https://example.com/p?utm_campaign=spring",
    )
    mail = TouchpointFactory(
        person=person, occurred_at=T0 + dt.timedelta(hours=1), channel="email", kind="email_click"
    )
    client = Client()
    client.force_login(rep)
    # when the rep reads the person's touchpoints
    response = client.get(f"/api/people/{person.pk}/touchpoints")
    # then the latest comes first, each with its campaign, tags and address
    assert _ids(response) == [mail.pk, ad.pk]
    got = response.json()["items"][1]
    assert {k: v for k, v in got.items() if k != "created_at"} == {
        "id": ad.pk,
        "person_id": person.pk,
        "person": "Ann Lee",
        "occurred_at": "2026-03-02T09:00:00Z",
        "channel": "paid_search",
        "kind": "ad_click",
        "campaign_id": spring.pk,
        "campaign": "Spring",
        "utm_source": "google",
        "utm_medium": "",
        "utm_campaign": "spring",
        "utm_term": "",
        "utm_content": "",
        "url": "https://example.com/p?utm_campaign=spring",
        "referrer": "",
    }
    # and the filters are named as on the people list and the campaign page
    assert _ids(client.get(f"/api/people/{person.pk}/touchpoints?campaign={spring.pk}")) == [ad.pk]
    assert _ids(client.get(f"/api/people/{person.pk}/touchpoints?channel=email")) == [mail.pk]
    assert _ids(client.get(f"/api/people/{person.pk}/touchpoints?kind=ad_click")) == [ad.pk]


def test_a_campaigns_touchpoints_show_only_the_people_the_user_may_see():
    # given a campaign that touched a rep's person and another rep's person
    rep, other = UserFactory(role=Role.SALES_REP), UserFactory(role=Role.SALES_REP)
    campaign = CampaignFactory()
    mine = TouchpointFactory(person=PersonFactory(owner=rep), campaign=campaign, occurred_at=T0)
    theirs = TouchpointFactory(person=PersonFactory(owner=other), campaign=campaign, occurred_at=T0)
    client = Client()
    # when the rep and marketing read the campaign's touchpoints
    client.force_login(rep)
    by_rep = _ids(client.get(f"/api/campaigns/{campaign.pk}/touchpoints"))
    client.force_login(UserFactory(role=Role.MARKETING))
    by_marketing = _ids(client.get(f"/api/campaigns/{campaign.pk}/touchpoints"))
    # then the rep sees their person's only, marketing both (ties by id, latest first)
    assert by_rep == [mine.pk]
    assert by_marketing == [theirs.pk, mine.pk]
    # and another rep's person is not found, as a missing one
    client.force_login(rep)
    hidden = client.get(f"/api/people/{theirs.person_id}/touchpoints")
    assert (hidden.status_code, hidden.json()["field"]) == (404, "person_id")


def test_touchpoint_pages_walk_both_ways_in_constant_queries(django_assert_num_queries):
    # given a campaign with 5 touchpoints of 5 people, an hour apart
    campaign = CampaignFactory()
    made = [TouchpointFactory(campaign=campaign, occurred_at=T0 + dt.timedelta(hours=i)) for i in range(5)]
    client = Client()
    client.force_login(UserFactory(role=Role.MARKETING))
    url = f"/api/campaigns/{campaign.pk}/touchpoints"
    # when read 2 at a time
    first = client.get(f"{url}?limit=2").json()
    second = client.get(f"{url}?limit=2&cursor={first['next_cursor']}").json()
    third = client.get(f"{url}?limit=2&cursor={second['next_cursor']}").json()
    back = client.get(f"{url}?limit=2&cursor={third['prev_cursor']}").json()
    # then the pages follow the latest-first order, and back again
    newest = [t.pk for t in reversed(made)]
    assert [[t["id"] for t in page["items"]] for page in (first, second, third, back)] == [
        newest[0:2],
        newest[2:4],
        newest[4:],
        newest[2:4],
    ]
    assert (first["prev_cursor"], third["next_cursor"]) == (None, None)
    # and a page costs the same whatever its size: session, user, the campaign, the page with people and campaign
    for limit in (1, 5):
        with django_assert_num_queries(4):
            client.get(f"{url}?limit={limit}")


@pytest.mark.parametrize(
    ("query", "status", "field"),
    [
        ("channel=pigeon", 422, "channel"),
        ("kind=wink", 422, "kind"),
        ("cursor=abc", 422, "cursor"),
        ("limit=0", 422, "limit"),
    ],
)
def test_a_bad_touchpoint_filter_is_a_422_naming_it(query, status, field):
    campaign = CampaignFactory()
    client = Client()
    client.force_login(UserFactory(role=Role.ADMIN))
    got = client.get(f"/api/campaigns/{campaign.pk}/touchpoints?{query}")
    assert got.status_code == status
    assert got.json().get("field") == field or [e["field"] for e in got.json()["errors"]] == [field]


def test_an_unknown_campaign_is_a_404_naming_it():
    client = Client()
    client.force_login(UserFactory(role=Role.ADMIN))
    got = client.get("/api/campaigns/999999/touchpoints")
    assert (got.status_code, got.json()["field"]) == (404, "campaign_id")


def test_an_accounts_touchpoints_are_those_of_its_people_the_user_may_see():
    # given an account with a rep's person and another rep's person, each touched once, and a person elsewhere
    from tests.crm.factories import AccountFactory

    rep, other = UserFactory(role=Role.SALES_REP), UserFactory(role=Role.SALES_REP)
    account = AccountFactory(owner=rep)
    mine = TouchpointFactory(person=PersonFactory(owner=rep, account=account), occurred_at=T0)
    theirs = TouchpointFactory(person=PersonFactory(owner=other, account=account), occurred_at=T0)
    TouchpointFactory(person=PersonFactory(owner=rep), occurred_at=T0)
    client = Client()
    # when the rep and an admin read the account's touchpoints
    client.force_login(rep)
    by_rep = _ids(client.get(f"/api/accounts/{account.pk}/touchpoints"))
    client.force_login(UserFactory(role=Role.ADMIN))
    by_admin = _ids(client.get(f"/api/accounts/{account.pk}/touchpoints"))
    # then the rep sees their person's only, the admin the account's two
    assert (by_rep, by_admin) == ([mine.pk], [theirs.pk, mine.pk])
    # and an account out of sight is not found
    client.force_login(UserFactory(role=Role.SALES_REP))
    hidden = client.get(f"/api/accounts/{account.pk}/touchpoints")
    assert (hidden.status_code, hidden.json()["field"]) == (404, "account_id")


def test_a_campaigns_reach_counts_every_touchpoint_by_kind_and_the_people_it_sourced():
    # given a campaign with two ad clicks and a form post, that first brought one person
    campaign = CampaignFactory()
    sourced = PersonFactory(original_campaign=campaign)
    TouchpointFactory(person=sourced, campaign=campaign, kind="ad_click")
    TouchpointFactory(person=sourced, campaign=campaign, kind="form_submit")
    TouchpointFactory(campaign=campaign, kind="ad_click")
    client = Client()
    # when a rep who sees none of those people reads it
    client.force_login(UserFactory(role=Role.SALES_REP))
    got = client.get(f"/api/campaigns/{campaign.pk}/reach")
    # then the company's numbers, as on the campaign page
    assert got.json() == {
        "campaign_id": campaign.pk,
        "touchpoints": 3,
        "people_sourced": 1,
        "by_kind": [{"kind": "ad_click", "n": 2}, {"kind": "form_submit", "n": 1}],
    }
