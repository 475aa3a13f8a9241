"""The pipeline and deal API: pipelines and stages, deals listed, opened, edited, moved, their history and people,
and the forecast; bad input is a 4xx naming the field and writes nothing."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from tandem.crm.models import Pipeline
from tandem.crm.services import deal_create
from tests.crm.factories import AccountFactory, LostReasonFactory, PersonFactory
from tests.crm.pipelines.helpers import counts, deal_state, sales_stages
from tests.users.factories import UserFactory

JSON = "application/json"


@pytest.fixture
def rep(db, client):
    user = UserFactory(role="sales_rep")
    client.force_login(user)
    return user


@pytest.fixture
def manager(db, client):
    user = UserFactory(role="sales_manager")
    client.force_login(user)
    return user


def test_pipelines_are_listed_added_and_changed(client, manager):
    # when a manager lists the pipelines, adds one with its stages, renames a stage and reorders them
    listed = client.get("/api/pipelines").json()
    created = client.post(
        "/api/pipelines",
        {"name": "Partners", "stages": [
            {"name": "Intro", "probability": 20}, {"name": "Signed", "kind": "won"}, {"name": "Dropped", "kind": "lost"},
        ]},
        content_type=JSON,
    )
    body = created.json()
    ids = [s["id"] for s in body["stages"]]
    added = client.post(f"/api/pipelines/{body['id']}/stages", {"name": "Trial", "probability": 60}, content_type=JSON)
    renamed = client.patch(f"/api/pipelines/{body['id']}/stages/{ids[0]}", {"name": "First call"}, content_type=JSON)
    order = [ids[0], added.json()["id"], ids[2], ids[1]]
    ordered = client.put(f"/api/pipelines/{body['id']}/stages/order", {"stage_ids": order}, content_type=JSON)
    default = client.patch(f"/api/pipelines/{body['id']}", {"is_default": True}, content_type=JSON)
    # then
    assert [(p["name"], p["is_default"], [s["name"] for s in p["stages"]]) for p in listed] == [
        ("Sales", True, ["New", "Qualified", "Proposal", "Negotiation", "Won", "Lost"])
    ]
    assert created.status_code == 201
    assert [(s["name"], s["kind"], s["probability"]) for s in body["stages"]] == [
        ("Intro", "open", 20), ("Signed", "won", 100), ("Dropped", "lost", 0),
    ]
    assert added.status_code == 201 and added.json()["position"] == 1
    assert renamed.json()["name"] == "First call"
    assert [s["id"] for s in ordered.json()] == order
    assert default.json()["is_default"] is True
    assert list(Pipeline.objects.filter(is_default=True).values_list("name", flat=True)) == ["Partners"]


@pytest.mark.parametrize(
    ("method", "path", "payload", "status", "field"),
    [
        ("post", "/api/pipelines", {"name": "Sales"}, 422, "name"),
        ("post", "/api/pipelines", {"name": "X", "stages": [{"name": "A", "probability": 5}]}, 422, "stages"),
        ("post", "/api/pipelines", {"name": "X", "color": "red"}, 422, "color"),
        ("post", "/api/pipelines/{p}/stages", {"name": "Signed", "kind": "won", "probability": 90}, 422, "probability"),
        ("post", "/api/pipelines/{p}/stages", {"name": "Late", "probability": 101}, 422, "probability"),
        ("post", "/api/pipelines/{p}/stages", {"name": "A\u0000", "probability": 1}, 422, "name"),
        ("patch", "/api/pipelines/{p}", {"is_default": False}, 409, "is_default"),
        ("put", "/api/pipelines/{p}/stages/order", {"stage_ids": [1]}, 422, "stage_ids"),
        ("post", "/api/pipelines/{p}/stages/{s}/deactivate", {}, 422, "move_to_stage_id"),
        ("post", "/api/pipelines/{p}/stages/{s}/deactivate", {"move_to_stage_id": 424242}, 422, "move_to_stage_id"),
        ("delete", "/api/pipelines/{p}/stages/{s}", None, 409, "stage_id"),
    ],
)
def test_bad_pipeline_input_is_a_4xx_naming_the_field_and_writes_nothing(client, manager, method, path, payload, status, field):
    # given the Sales pipeline with a deal in "New"
    stages = sales_stages()
    deal_create(account=AccountFactory(), amount=Decimal("1"))
    url = path.format(p=stages["New"].pipeline_id, s=stages["New"].pk)
    before = counts()
    # when
    kwargs = {"content_type": JSON} if payload is not None else {}
    response = getattr(client, method)(url, payload, **kwargs) if payload is not None else getattr(client, method)(url)
    # then
    assert response.status_code == status, response.content
    body = response.json()
    assert body.get("field") == field or body["detail"].startswith(f"{field}:")
    assert counts() == before


def test_a_rep_may_not_change_pipelines(client, rep):
    # given / when
    response = client.post("/api/pipelines", {"name": "Mine"}, content_type=JSON)
    # then
    assert response.status_code == 403
    assert Pipeline.objects.count() == 1


def test_open_an_account_deal_edit_move_and_read_its_history(client, rep):
    # given an account, a stage and a lost reason
    stages = sales_stages()
    account = AccountFactory(owner=rep)
    reason = LostReasonFactory(name="Timing")
    # when a deal is opened for the account at Qualified, edited, moved to Proposal, then lost
    created = client.post(
        "/api/deals",
        {"account_id": account.pk, "amount": "1500.00", "name": "Fleet", "stage_id": stages["Qualified"].pk,
         "expected_close_on": "2025-09-30"},
        content_type=JSON,
    )
    deal_id = created.json()["id"]
    patched = client.patch(f"/api/deals/{deal_id}", {"amount": "1750.25", "owner_id": rep.pk}, content_type=JSON)
    moved = client.post(f"/api/deals/{deal_id}/move", {"to_stage_id": stages["Proposal"].pk, "reason": "pricing sent"}, content_type=JSON)
    lost = client.post(
        f"/api/deals/{deal_id}/move", {"to_stage_id": stages["Lost"].pk, "lost_reason_id": reason.pk}, content_type=JSON
    )
    history = client.get(f"/api/deals/{deal_id}/history").json()
    # then
    assert created.status_code == 201
    assert {k: created.json()[k] for k in ("person_id", "account_id", "pipeline_stage_id", "stage", "expected_close_on")} == {
        "person_id": None, "account_id": account.pk, "pipeline_stage_id": stages["Qualified"].pk, "stage": "open",
        "expected_close_on": "2025-09-30",
    }
    assert (patched.json()["amount"], patched.json()["owner_id"]) == ("1750.25", rep.pk)
    assert (moved.status_code, moved.json()["pipeline_stage_id"]) == (200, stages["Proposal"].pk)
    assert (lost.json()["stage"], lost.json()["lost_reason"]) == ("lost", "Timing")
    assert [(h["from_stage"], h["to_stage"], h["to_kind"], h["reason"], h["current"]) for h in history] == [
        (None, "Qualified", "open", "", False),
        ("Qualified", "Proposal", "open", "pricing sent", False),
        ("Proposal", "Lost", "lost", "Timing", True),
    ]
    assert all(isinstance(h["seconds_in_stage"], int) and h["by_user_id"] == rep.pk for h in history)


@pytest.mark.parametrize(
    ("payload", "status", "field"),
    [
        ({"to_stage_id": "won"}, 422, "to_stage_id"),
        ({"to_stage_id": 424242}, 422, "to_stage_id"),
        ({"to_stage": "Lost"}, 422, "to_stage_id"),
        ({"to_stage_id": "{Lost}"}, 422, "lost_reason"),
        ({"to_stage_id": "{Lost}", "lost_reason_id": 424242}, 422, "lost_reason_id"),
        ({"to_stage_id": "{New}"}, 409, "to_stage_id"),
        ({"to_stage_id": "{Won}", "amount": "-1"}, 422, "amount"),
        ({"to_stage_id": "{Won}", "at": "2000-01-01T00:00:00Z"}, 422, "at"),
        ({"to_stage_id": "{Won}", "reason": "x" * 2001}, 422, "reason"),
    ],
)
def test_bad_moves_are_4xx_naming_the_field_and_change_nothing(client, rep, payload, status, field):
    # given an open deal in New
    stages = sales_stages()
    deal = deal_create(person=PersonFactory(owner=rep), amount=Decimal("10"))
    body = {k: (stages[v[1:-1]].pk if isinstance(v, str) and v.startswith("{") else v) for k, v in payload.items()}
    before, state = counts(), deal_state(deal)
    # when
    response = client.post(f"/api/deals/{deal.pk}/move", body, content_type=JSON)
    # then
    assert response.status_code == status, response.content
    got = response.json()
    assert got.get("field") == field or got["detail"].startswith(f"{field}:")
    assert counts() == before and deal_state(deal) == state


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"amount": "5"}, "account_id"),
        ({"amount": "5", "account_id": 424242}, "account_id"),
        ({"amount": "5", "person_id": "{person}", "pipeline_id": 424242}, "pipeline_id"),
        ({"amount": "5", "person_id": "{person}", "stage_id": "{Won}"}, "stage_id"),
        ({"amount": "5", "person_id": "{person}", "expected_close_on": "someday"}, "expected_close_on"),
    ],
)
def test_bad_new_deals_are_422_naming_the_field(client, rep, payload, field):
    # given
    stages, person = sales_stages(), PersonFactory(owner=rep)
    body = {
        k: (person.pk if v == "{person}" else stages[v[1:-1]].pk if isinstance(v, str) and v.startswith("{") else v)
        for k, v in payload.items()
    }
    before = counts()
    # when
    response = client.post("/api/deals", body, content_type=JSON)
    # then
    assert response.status_code == 422, response.content
    got = response.json()
    assert got.get("field") == field or got["detail"].startswith(f"{field}:")
    assert counts() == before


def test_deals_are_listed_by_pipeline_stage_status_account_and_person_in_keyset_pages(client, rep, django_assert_num_queries):
    # given deals in two stages, one of an account, one won
    stages = sales_stages()
    account = AccountFactory(owner=rep)
    in_new = [deal_create(account=AccountFactory(owner=rep), amount=Decimal(i)) for i in range(3)]
    of_account = deal_create(account=account, amount=Decimal("7"), stage=stages["Proposal"])
    person = PersonFactory(owner=rep)
    won = deal_create(person=person, amount=Decimal("9"))
    client.post(f"/api/deals/{won.pk}/move", {"to_stage_id": stages["Won"].pk}, content_type=JSON)
    # when
    by_stage = client.get("/api/deals", {"stage_id": stages["New"].pk, "limit": 2}).json()
    rest = client.get("/api/deals", {"stage_id": stages["New"].pk, "limit": 2, "cursor": by_stage["next_cursor"]}).json()
    by_account = client.get("/api/deals", {"account_id": account.pk}).json()
    by_status = client.get("/api/deals", {"status": "won", "pipeline_id": stages["Won"].pipeline_id}).json()
    by_person = client.get("/api/deals", {"person_id": person.pk}).json()
    bad = client.get("/api/deals", {"status": "maybe"})
    # then
    assert [d["id"] for d in by_stage["items"] + rest["items"]] == [d.pk for d in reversed(in_new)]
    assert rest["next_cursor"] is None
    assert [d["id"] for d in by_account["items"]] == [of_account.pk]
    assert [d["id"] for d in by_status["items"]] == [won.pk] == [d["id"] for d in by_person["items"]]
    assert bad.status_code == 422 and bad.json()["field"] == "status"
    # and a page costs the same queries for 5 deals as for 50
    for n in (0, 45):
        for i in range(n):
            deal_create(account=account, amount=Decimal(i))
        with django_assert_num_queries(5):
            client.get("/api/deals", {"limit": 50})


def test_people_on_a_deal_are_added_with_roles_and_removed(client, rep):
    # given
    deal = deal_create(account=AccountFactory(owner=rep), amount=Decimal("1"))
    ann = PersonFactory(owner=rep, first_name="Ann", last_name="Lee")
    # when
    added = client.post(f"/api/deals/{deal.pk}/contacts", {"person_id": ann.pk, "role": "champion"}, content_type=JSON)
    bad_role = client.post(f"/api/deals/{deal.pk}/contacts", {"person_id": ann.pk, "role": "boss"}, content_type=JSON)
    nobody = client.post(f"/api/deals/{deal.pk}/contacts", {"person_id": 424242}, content_type=JSON)
    listed = client.get(f"/api/deals/{deal.pk}/contacts").json()
    removed = client.delete(f"/api/deals/{deal.pk}/contacts/{ann.pk}")
    again = client.delete(f"/api/deals/{deal.pk}/contacts/{ann.pk}")
    # then
    assert added.status_code == 200 and [(c["name"], c["role"]) for c in added.json()] == [("Ann Lee", "champion")]
    assert listed == added.json()
    assert (bad_role.status_code, nobody.status_code, nobody.json()["field"]) == (422, 422, "person_id")
    assert (removed.status_code, again.status_code) == (204, 404)


def test_the_forecast_endpoint_changes_when_a_deal_moves(client, rep):
    # given a deal of 10,000 in Proposal (50%) expected in March 2026, created before
    stages = sales_stages()
    deal = deal_create(
        account=AccountFactory(owner=rep), amount=Decimal("10000"), stage=stages["Proposal"], owner=rep,
        expected_close_on=dt.date(2026, 3, 15), created_at=dt.datetime(2026, 1, 5, tzinfo=dt.UTC),
    )
    query = {"month_from": "2026-03", "months": 1}
    # when the forecast is read, the deal moves to Negotiation (75%), and it is read again
    before = client.get("/api/forecast", query).json()
    client.post(f"/api/deals/{deal.pk}/move", {"to_stage_id": stages["Negotiation"].pk}, content_type=JSON)
    after = client.get("/api/forecast", query).json()
    bad = client.get("/api/forecast", {"month_from": "March"})
    # then the month's weighted amount goes from 5,000 to 7,500
    assert [(m["key"], m["deals"], m["weighted"], m["forecast"]) for m in before["months"]] == [("2026-03-01", 1, "5000.00", "5000.00")]
    assert [(m["weighted"], m["forecast"]) for m in after["months"]] == [("7500.00", "7500.00")]
    assert [(o["key"], o["weighted"]) for o in after["by_owner"]] == [(str(rep.pk), "7500.00")]
    assert (after["total"]["amount"], after["month_to"]) == ("10000.00", "2026-04-01")
    assert bad.status_code == 422 and bad.json()["field"] == "month_from"


def test_pipeline_conversion_endpoint(client, rep):
    # given a deal moved from New to Qualified
    stages = sales_stages()
    deal = deal_create(account=AccountFactory(owner=rep), amount=Decimal("1"))
    client.post(f"/api/deals/{deal.pk}/move", {"to_stage_id": stages["Qualified"].pk}, content_type=JSON)
    # when
    body = client.get(f"/api/pipelines/{deal.pipeline_id}/conversion").json()
    # then
    assert [(s["stage"], s["reached"]) for s in body["steps"]] == [
        ("New", 1), ("Qualified", 1), ("Proposal", 0), ("Negotiation", 0), ("Won", 0),
    ]
