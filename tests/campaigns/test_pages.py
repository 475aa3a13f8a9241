"""Campaign pages: drafts from UTM tags listed first for review, a campaign's reach, and editing it."""

from __future__ import annotations

import pytest
from django.test import Client

from tandem.campaigns.models import Campaign
from tandem.core.models import Event
from tandem.users.models import Role
from tests.users.factories import UserFactory

pytestmark = pytest.mark.django_db


def _client(role: str) -> Client:
    client = Client()
    client.force_login(UserFactory(role=role))
    return client


def test_drafts_are_listed_first_for_review():
    # given an active campaign and a draft made from UTM tags
    Campaign.objects.create(name="Aardvark ads", channel="paid_search", status="active")
    Campaign.objects.create(name="zz-promo (google)", channel="paid_search", status="draft", utm_campaign="zz-promo")
    # when marketing opens the list
    html = _client(Role.MARKETING).get("/campaigns/").content.decode()
    # then the draft comes first and the page says there is one to review
    assert html.index("zz-promo (google)") < html.index("Aardvark ads")
    assert "1 draft</strong>" in html


def test_marketing_reviews_a_draft_names_it_and_activates_it():
    # given a draft
    draft = Campaign.objects.create(name="bf (google)", channel="paid_search", status="draft", utm_campaign="bf")
    client = _client(Role.MARKETING)
    # when it is renamed and activated
    response = client.post(
        f"/campaigns/{draft.pk}/edit/",
        {"name": "Black Friday search", "channel": "paid_search", "status": "active", "actual_cost": "1200"},
    )
    # then it is saved and the change recorded
    draft.refresh_from_db()
    assert response.status_code == 302
    assert (draft.name, draft.status, str(draft.actual_cost)) == ("Black Friday search", "active", "1200.00")
    assert Event.objects.get(kind="campaign.updated").data["changes"]["name"] == ["bf (google)", "Black Friday search"]


def test_an_end_before_the_start_is_refused_naming_the_field_and_nothing_changes():
    # given a campaign
    campaign = Campaign.objects.create(name="Spring", channel="email")
    # when its dates are set backwards
    response = _client(Role.MARKETING).post(
        f"/campaigns/{campaign.pk}/edit/",
        {"name": "Spring", "channel": "email", "status": "active", "started_on": "2026-05-01", "ended_on": "2026-04-01"},
    )
    # then 422 names the end date, and nothing changed
    campaign.refresh_from_db()
    assert response.status_code == 422
    assert "before it starts" in response.content.decode()
    assert campaign.started_on is None and Event.objects.count() == 0


def test_reps_see_campaigns_but_cannot_edit_them():
    # given a rep and a campaign
    campaign = Campaign.objects.create(name="Spring", channel="email")
    client = _client(Role.SALES_REP)
    # then they can read but not change it
    assert client.get(f"/campaigns/{campaign.pk}/").status_code == 200
    assert client.post(f"/campaigns/{campaign.pk}/edit/", {"name": "X", "channel": "email", "status": "active"}).status_code == 403
    campaign.refresh_from_db()
    assert campaign.name == "Spring"
