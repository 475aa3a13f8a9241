"""Campaign pages: drafts listed above the list for review, the keyset-paged list, a campaign's budget, cost
entries and reach, creating, editing, cloning and closing it."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

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
        {"name": "Black Friday search", "channel": "paid_search", "status": "active", "utm_campaign": "bf"},
    )
    # then it is saved and the change recorded
    draft.refresh_from_db()
    assert response.status_code == 302
    assert (draft.name, draft.status, draft.utm_campaign) == ("Black Friday search", "active", "bf")
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


def test_the_list_is_paged_newest_first_filters_by_channel_and_pins_its_queries(django_assert_num_queries):
    # given 55 campaigns (every fifth one email) and marketing signed in
    made = [Campaign.objects.create(name=f"C{i:02d}", channel="email" if i % 5 == 0 else "paid_search") for i in range(55)]
    client = _client(Role.MARKETING)
    client.get("/campaigns/")
    # when the first page is read (session, user, campaigns with touchpoint counts, the drafts to review, and
    # the user's permissions for the "New campaign" button)
    with django_assert_num_queries(6):
        first = client.get("/campaigns/")
    # then it holds the newest 50 and links to the older ones; HTMX asks for the results only
    html = first.content.decode()
    assert html.count('class="cell-main"') == 50 and html.index("C54") < html.index("C05") and "C04" not in html
    older = client.get("/campaigns/", {"cursor": first.context["page"].next_cursor}, HTTP_HX_REQUEST="true").content.decode()
    assert older.count('class="cell-main"') == 5 and "<html" not in older
    email = client.get("/campaigns/", {"channel": "email"}).context["page"].items
    assert [c.pk for c in email] == [c.pk for c in reversed(made) if c.channel == "email"]


def test_a_bad_cursor_is_shown_as_an_error_not_a_500():
    # given / when
    response = _client(Role.VIEWER).get("/campaigns/", {"cursor": "zzz"})
    # then
    assert response.status_code == 422 and "not a valid page cursor" in response.content.decode()


def test_the_campaign_page_shows_budget_spend_entries_and_the_roi_link(django_assert_num_queries):
    # given a campaign with a budget of 2,000 and two cost entries
    from decimal import Decimal

    from tandem.campaigns.services import campaign_cost_add
    from tests.campaigns.factories import CampaignFactory

    campaign = CampaignFactory(budget=Decimal("2000.00"), costs=False)
    campaign_cost_add(campaign=campaign, amount="1200.50", spent_on=dt.date(2025, 1, 10), note="Google Ads, January")
    campaign_cost_add(campaign=campaign, amount="300", spent_on=dt.date(2025, 2, 1), spent_until=dt.date(2025, 2, 28))
    client = _client(Role.MARKETING)
    client.get("/campaigns/")
    # when the page is read (session, user, campaign, cost entries, touchpoints by kind, people it sourced,
    # latest touchpoints, the form rejections panel, the user's permissions twice)
    with django_assert_num_queries(10):
        html = client.get(f"/campaigns/{campaign.pk}/").content.decode()
    # then budget against spend, the entries (latest spent first) and the link to ROI are there
    assert "1,500.50" in html and "75 % of the budget" in html and "499.50" in html
    assert html.index("2025-02-01 – 2025-02-28") < html.index("Google Ads, January")
    assert "/reports/economics/?by=campaign" in html
    assert 'data-testid="cost-form"' in html and 'data-testid="campaign-clone"' in html


def test_marketing_adds_a_cost_with_htmx_and_the_panel_comes_back():
    # given a campaign without costs
    campaign = Campaign.objects.create(name="Spring", channel="email")
    client = _client(Role.MARKETING)
    # when an entry is posted from the panel
    response = client.post(
        f"/campaigns/{campaign.pk}/costs/", {"amount": "1,250.00", "spent_on": "2026-03-02", "note": "Invoice 7"}, HTTP_HX_REQUEST="true"
    )
    # then the panel shows it and the new total
    campaign.refresh_from_db()
    html = response.content.decode()
    assert response.status_code == 200 and 'id="campaign-costs"' in html and "<html" not in html
    assert "Cost entry added." in html and "Invoice 7" in html and "total 1,250.00" in html
    assert campaign.actual_cost == Decimal("1250.00")


@pytest.mark.parametrize(
    ("post", "field", "words"),
    [
        ({"amount": "-5", "spent_on": "2026-03-02"}, "amount", "amount cannot be negative"),
        ({"amount": "", "spent_on": "2026-03-02"}, "amount", "enter the amount spent"),
        ({"amount": "5", "spent_on": ""}, "spent-on", "enter the day it was spent"),
        ({"amount": "5", "spent_on": "2026-03-05", "spent_until": "2026-03-01"}, "spent-until", "is before spent_on"),
        ({"amount": "5", "spent_on": "03/05/2026"}, "spent-on", "must be a date"),
    ],
)
def test_a_bad_cost_is_shown_next_to_its_field_and_nothing_changes(post, field, words):  # type: ignore[no-untyped-def]
    # given a campaign
    campaign = Campaign.objects.create(name="Spring", channel="email")
    client = _client(Role.MARKETING)
    # when a bad entry is posted
    response = client.post(f"/campaigns/{campaign.pk}/costs/", post, HTTP_HX_REQUEST="true")
    # then 422, the message sits under its field and the typed values are kept; nothing was written
    html = response.content.decode()
    assert response.status_code == 422
    assert f'id="cost-{field}-error"' in html and words in html
    assert f'value="{post["amount"]}"' in html
    assert campaign.costs.count() == 0 and Event.objects.count() == 0


def test_without_htmx_a_cost_post_goes_back_to_the_campaign():
    # given
    campaign = Campaign.objects.create(name="Spring", channel="email")
    # when
    response = _client(Role.MARKETING).post(f"/campaigns/{campaign.pk}/costs/", {"amount": "5", "spent_on": "2026-03-02"})
    # then
    assert (response.status_code, response["Location"]) == (302, f"/campaigns/{campaign.pk}/#campaign-costs")
    assert campaign.costs.count() == 1


def test_a_cost_entry_is_deleted_from_the_panel():
    # given a campaign with one entry of 1,000
    from tests.campaigns.factories import CampaignFactory

    campaign = CampaignFactory()
    entry = campaign.costs.get()
    # when
    response = _client(Role.MARKETING).post(f"/campaigns/{campaign.pk}/costs/{entry.pk}/delete/", HTTP_HX_REQUEST="true")
    # then
    campaign.refresh_from_db()
    assert response.status_code == 200 and "Cost entry deleted." in response.content.decode()
    assert (campaign.actual_cost, campaign.costs.count()) == (Decimal("0.00"), 0)


def test_marketing_creates_a_campaign_from_the_form_and_errors_sit_next_to_the_field():
    # given marketing
    client = _client(Role.MARKETING)
    assert client.get("/campaigns/new/").status_code == 200
    # when a campaign with an unknown-to-the-service outside id clash is posted, then a good one
    Campaign.objects.create(name="Old", channel="email", external_id="X-1")
    clash = client.post("/campaigns/new/", {"name": "New", "channel": "email", "status": "active", "external_id": "X-1"})
    made = client.post("/campaigns/new/", {"name": "New", "channel": "email", "status": "active", "budget": "900", "utm_campaign": "new"})
    # then the clash is shown under the outside id field, and the good one is created
    assert clash.status_code == 422
    assert clash.context["form"].errors["external_id"] == ["external id 'X-1' is already campaign " + str(Campaign.objects.get(external_id="X-1").pk) + "'s"]
    created = Campaign.objects.get(name="New")
    assert made.status_code == 302 and made["Location"] == f"/campaigns/{created.pk}/"
    assert (created.budget, created.utm_campaign, created.actual_cost) == (Decimal("900.00"), "new", Decimal("0.00"))


def test_clone_opens_the_copys_edit_form_and_close_archives():
    # given a campaign
    campaign = Campaign.objects.create(name="Expo", channel="events", started_on=dt.date(2026, 1, 1))
    client = _client(Role.MARKETING)
    # when it is cloned and closed from its page
    cloned = client.post(f"/campaigns/{campaign.pk}/clone/")
    closed = client.post(f"/campaigns/{campaign.pk}/close/")
    closed_again = client.post(f"/campaigns/{campaign.pk}/close/", follow=True)
    # then
    copy = Campaign.objects.get(name="Expo (copy)")
    campaign.refresh_from_db()
    assert (cloned.status_code, cloned["Location"], copy.status) == (302, f"/campaigns/{copy.pk}/edit/", "draft")
    assert (closed.status_code, campaign.status) == (302, "archived")
    assert "is already closed" in closed_again.content.decode()


def test_reps_cannot_create_clone_close_or_enter_costs():
    # given a campaign and a rep
    campaign = Campaign.objects.create(name="Spring", channel="email")
    client = _client(Role.SALES_REP)
    # when / then
    html = client.get(f"/campaigns/{campaign.pk}/").content.decode()
    assert 'data-testid="cost-form"' not in html and 'data-testid="campaign-clone"' not in html
    assert client.get("/campaigns/new/").status_code == 403
    for path in (f"/campaigns/{campaign.pk}/clone/", f"/campaigns/{campaign.pk}/close/", f"/campaigns/{campaign.pk}/costs/"):
        assert client.post(path, {"amount": "5", "spent_on": "2026-01-01"}).status_code == 403
    assert (Campaign.objects.count(), Event.objects.count()) == (1, 0)


def test_an_unknown_campaign_is_a_404():
    # given / when / then
    assert _client(Role.VIEWER).get("/campaigns/999999/").status_code == 404
