"""The campaigns API: list (keyset pages, pinned queries), create, edit, clone, close, cost entries; who may do what."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client

from tandem.campaigns.models import Campaign, CampaignCost
from tandem.core.models import Event
from tandem.users.models import Role
from tandem.users.services import api_token_create
from tests.campaigns.factories import CampaignFactory, TouchpointFactory
from tests.users.factories import UserFactory

pytestmark = pytest.mark.django_db
JSON = "application/json"


def _auth(role: str) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Bearer {api_token_create(user=UserFactory(role=role), name='t')[1]}"}


def _rows() -> tuple[Any, ...]:
    return (
        list(Campaign.objects.order_by("pk").values()),
        list(CampaignCost.objects.order_by("pk").values()),
        Event.objects.count(),
    )


def test_marketing_creates_a_campaign_and_reads_it_back():
    # given marketing's token
    client, mkt = Client(), _auth(Role.MARKETING)
    body = {
        "name": "Spring webinar", "channel": "webinar", "kind": "event", "started_on": "2026-03-01",
        "ended_on": "2026-03-31", "budget": "5000.50", "utm_campaign": "spring", "external_id": "HS-1",
        "talking_points": ["Live demo", " "],
    }
    # when
    response = client.post("/api/campaigns", body, content_type=JSON, **mkt)
    # then 201 with the campaign as stored
    assert response.status_code == 201
    got = response.json()
    assert {k: got[k] for k in ("name", "channel", "kind", "status", "budget", "actual_cost", "utm_campaign", "external_id", "talking_points")} == {
        "name": "Spring webinar", "channel": "webinar", "kind": "event", "status": "active", "budget": "5000.50",
        "actual_cost": "0.00", "utm_campaign": "spring", "external_id": "HS-1", "talking_points": ["Live demo"],
    }
    assert client.get(f"/api/campaigns/{got['id']}", **mkt).json()["ended_on"] == "2026-03-31"


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"name": "X", "channel": "pigeon"}, 422, "channel"),
        ({"name": "X", "channel": "email", "started_on": "2026-03-10", "ended_on": "2026-03-01"}, 422, "ended_on"),
        ({"name": "X", "channel": "email", "budget": "-5"}, 422, "budget"),
        ({"name": "X\u0000", "channel": "email"}, 422, "name"),
        ({"name": "X", "channel": "email", "actual_cost": "100"}, 422, "actual_cost"),
        ({"name": "X", "channel": "email", "external_id": "TAKEN"}, 422, "external_id"),
        ({"channel": "email"}, 422, "name"),
    ],
)
def test_bad_campaigns_are_refused_naming_the_field_and_nothing_is_written(body, status, field):  # type: ignore[no-untyped-def]
    # given a campaign holding the outside id TAKEN
    CampaignFactory(external_id="TAKEN")
    client, mkt = Client(), _auth(Role.MARKETING)
    before = _rows()
    # when
    response = client.post("/api/campaigns", body, content_type=JSON, **mkt)
    # then a 4xx names the field, and nothing changed
    answer = response.json()
    assert response.status_code == status
    assert answer.get("field") == field or any(e["field"] == field for e in answer.get("errors", []))
    assert _rows() == before


def test_reps_may_read_but_not_create_edit_clone_close_or_enter_costs():
    # given a campaign and a rep's token
    campaign = CampaignFactory()
    client, rep = Client(), _auth(Role.SALES_REP)
    before = _rows()
    # when / then
    assert client.get("/api/campaigns", **rep).status_code == 200
    assert client.get(f"/api/campaigns/{campaign.pk}/costs", **rep).status_code == 200
    cost = campaign.costs.get()
    for method, path, body in (
        ("post", "/api/campaigns", {"name": "X", "channel": "email"}),
        ("patch", f"/api/campaigns/{campaign.pk}", {"name": "X"}),
        ("post", f"/api/campaigns/{campaign.pk}/clone", None),
        ("post", f"/api/campaigns/{campaign.pk}/close", None),
        ("post", f"/api/campaigns/{campaign.pk}/costs", {"amount": "5", "spent_on": "2026-01-01"}),
        ("delete", f"/api/campaigns/{campaign.pk}/costs/{cost.pk}", None),
    ):
        response = getattr(client, method)(path, body, content_type=JSON, **rep) if body else getattr(client, method)(path, **rep)
        assert response.status_code == 403, (method, path)
    assert _rows() == before


def test_patch_edits_the_plan_and_refuses_unknown_fields():
    # given
    campaign = CampaignFactory(channel="email", budget=None)
    client, mkt = Client(), _auth(Role.MARKETING)
    # when the channel, budget and UTM tags change
    response = client.patch(
        f"/api/campaigns/{campaign.pk}", {"channel": "paid_social", "budget": "750", "utm_source": "meta", "external_id": ""},
        content_type=JSON, **mkt,
    )
    # then
    assert response.status_code == 200
    assert {k: response.json()[k] for k in ("channel", "budget", "utm_source", "external_id")} == {
        "channel": "paid_social", "budget": "750.00", "utm_source": "meta", "external_id": None,
    }
    before = _rows()
    refused = client.patch(f"/api/campaigns/{campaign.pk}", {"actual_cost": "1"}, content_type=JSON, **mkt)
    assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == "actual_cost"
    assert _rows() == before


def test_clone_and_close():
    # given a campaign with a plan and a cost
    campaign = CampaignFactory(name="Expo", channel="events", budget=Decimal("900"), started_on=dt.date(2025, 1, 1), ended_on=None)
    client, mkt = Client(), _auth(Role.MARKETING)
    # when it is cloned, then closed, then closed again
    clone = client.post(f"/api/campaigns/{campaign.pk}/clone", **mkt)
    named = client.post(f"/api/campaigns/{campaign.pk}/clone?name=Expo%202027", **mkt)
    closed = client.post(f"/api/campaigns/{campaign.pk}/close?reason=done", **mkt)
    again = client.post(f"/api/campaigns/{campaign.pk}/close", **mkt)
    # then
    assert clone.status_code == 201
    assert {k: clone.json()[k] for k in ("name", "status", "budget", "actual_cost", "started_on")} == {
        "name": "Expo (copy)", "status": "draft", "budget": "900.00", "actual_cost": "0.00", "started_on": None,
    }
    assert named.json()["name"] == "Expo 2027"
    assert closed.status_code == 200 and closed.json()["status"] == "archived" and closed.json()["ended_on"] is not None
    assert Event.objects.get(kind="campaign.closed").reason == "done"
    assert again.status_code == 409 and again.json()["field"] == "status"


def test_cost_entries_are_added_listed_newest_spent_first_in_pages_and_deleted():
    # given a campaign without costs
    campaign = CampaignFactory(costs=False, budget=Decimal("1000"))
    client, mkt = Client(), _auth(Role.MARKETING)
    # when three entries are posted
    for amount, on, until in (("100", "2026-01-05", None), ("250.50", "2026-02-01", "2026-02-28"), ("40", "2026-03-02", None)):
        body = {"amount": amount, "spent_on": on, "note": f"entry {on}", **({"spent_until": until} if until else {})}
        posted = client.post(f"/api/campaigns/{campaign.pk}/costs", body, content_type=JSON, **mkt)
        assert posted.status_code == 201
    # then they are listed two at a time, the latest spent first, with the campaign's total
    first = client.get(f"/api/campaigns/{campaign.pk}/costs?limit=2", **mkt).json()
    assert (first["budget"], first["actual_cost"]) == ("1000.00", "390.50")
    assert [(c["amount"], c["spent_on"], c["spent_until"]) for c in first["items"]] == [
        ("40.00", "2026-03-02", None), ("250.50", "2026-02-01", "2026-02-28"),
    ]
    assert first["items"][0]["entered_by"] is not None and first["prev_cursor"] is None
    second = client.get(f"/api/campaigns/{campaign.pk}/costs?limit=2&cursor={first['next_cursor']}", **mkt).json()
    assert [c["amount"] for c in second["items"]] == ["100.00"] and second["next_cursor"] is None
    back = client.get(f"/api/campaigns/{campaign.pk}/costs?limit=2&cursor={second['prev_cursor']}", **mkt).json()
    assert [c["amount"] for c in back["items"]] == ["40.00", "250.50"]
    # when the March entry is deleted
    gone = client.delete(f"/api/campaigns/{campaign.pk}/costs/{first['items'][0]['id']}", **mkt)
    # then
    campaign.refresh_from_db()
    assert (gone.status_code, campaign.actual_cost) == (204, Decimal("350.50"))


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"amount": "-1", "spent_on": "2026-01-01"}, "amount"),
        ({"amount": "1.001", "spent_on": "2026-01-01"}, "amount"),
        ({"amount": "5"}, "spent_on"),
        ({"amount": "5", "spent_on": "2026-01-10", "spent_until": "2026-01-01"}, "spent_until"),
        ({"amount": "5", "spent_on": "2026-01-10", "note": "a\u0000"}, "note"),
        ({"amount": "5", "spent_on": "01/10/2026"}, "spent_on"),
    ],
)
def test_bad_cost_entries_are_refused_naming_the_field_and_nothing_changes(body, field):  # type: ignore[no-untyped-def]
    # given
    campaign = CampaignFactory()
    client, mkt = Client(), _auth(Role.MARKETING)
    before = _rows()
    # when
    response = client.post(f"/api/campaigns/{campaign.pk}/costs", body, content_type=JSON, **mkt)
    # then
    answer = response.json()
    assert response.status_code == 422
    assert answer.get("field") == field or answer["errors"][0]["field"] == field
    assert _rows() == before


def test_unknown_campaigns_and_entries_are_404_naming_the_id():
    # given a campaign and an entry of another campaign
    campaign, other = CampaignFactory(), CampaignFactory()
    client, mkt = Client(), _auth(Role.MARKETING)
    before = _rows()
    # when / then
    assert client.get("/api/campaigns/999999/costs", **mkt).json()["field"] == "campaign_id"
    response = client.delete(f"/api/campaigns/{campaign.pk}/costs/{other.costs.get().pk}", **mkt)
    assert (response.status_code, response.json()["field"]) == (404, "cost_id")
    assert client.post("/api/campaigns/999999/clone", **mkt).status_code == 404
    assert _rows() == before


def test_the_list_pages_newest_first_filters_and_pins_its_queries(django_assert_num_queries):
    # given five campaigns, two of them email, one with touchpoints
    made = [CampaignFactory(channel="email" if i < 2 else "paid_search", status="draft" if i == 4 else "active") for i in range(5)]
    TouchpointFactory(campaign=made[3])
    TouchpointFactory(campaign=made[3])
    client = Client()
    client.force_login(UserFactory(role=Role.VIEWER))
    client.get("/api/campaigns")  # the session is warm
    # when a page of two is read (session, user, campaigns with their touchpoint counts)
    with django_assert_num_queries(3):
        first = client.get("/api/campaigns?limit=2").json()
    # then
    assert [(c["id"], c["touchpoints"]) for c in first["items"]] == [(made[4].pk, 0), (made[3].pk, 2)]
    second = client.get(f"/api/campaigns?limit=2&cursor={first['next_cursor']}").json()
    assert [c["id"] for c in second["items"]] == [made[2].pk, made[1].pk]
    assert [c["id"] for c in client.get("/api/campaigns?channel=email").json()["items"]] == [made[1].pk, made[0].pk]
    assert [c["id"] for c in client.get("/api/campaigns?status=draft").json()["items"]] == [made[4].pk]
    bad = client.get("/api/campaigns?status=paused")
    assert (bad.status_code, bad.json()["field"]) == (422, "status")
    assert client.get("/api/campaigns?cursor=nonsense").json()["field"] == "cursor"


def test_the_cost_list_pins_its_queries(django_assert_num_queries):
    # given a campaign with 30 entries
    campaign = CampaignFactory(costs=False)
    CampaignCost.objects.bulk_create(
        [CampaignCost(campaign=campaign, spent_on=dt.date(2026, 1, 1) + dt.timedelta(days=i), amount=Decimal(i),
                      entered_at=dt.datetime(2026, 1, 1, tzinfo=dt.UTC)) for i in range(30)]
    )
    client = Client()
    client.force_login(UserFactory(role=Role.VIEWER))
    client.get("/api/campaigns")
    # when a page is read (session, user, campaign, entries with who entered them)
    with django_assert_num_queries(4):
        page = client.get(f"/api/campaigns/{campaign.pk}/costs?limit=20").json()
    # then
    assert (len(page["items"]), page["items"][0]["spent_on"], page["items"][-1]["spent_on"]) == (20, "2026-01-30", "2026-01-11")
