"""The pipeline board over the API, as on its page: columns with count, amount and weighted amount of the deals the
user may see, the newest cards, a column's further cards by cursor, the owner and month filters; and the forecast
filter named `pipeline` as on the forecast page."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from tandem.crm.models import Deal
from tandem.crm.services import deal_create
from tests.crm.factories import AccountFactory, PersonFactory
from tests.crm.pipelines.helpers import sales_stages
from tests.users.factories import UserFactory


@pytest.fixture
def manager(db, client):
    # A sales manager on no team reaches every deal (tandem.users.access); who sees what is the access matrix's.
    user = UserFactory(role="sales_manager", username="mia")
    client.force_login(user)
    return user


def _deals(n: int, stage_name: str, **kwargs):  # type: ignore[no-untyped-def]
    stage = sales_stages()[stage_name]
    return [
        deal_create(account=AccountFactory(), amount=Decimal("1000"), stage=stage, **kwargs) for _ in range(n)
    ]


def test_the_board_answers_each_column_with_its_sums_and_cards(client, manager):
    # given two deals in Proposal (50%) and the manager's deal with a person in Qualified (25%)
    _deals(2, "Proposal")
    person = PersonFactory(first_name="Ann", last_name="Lee")
    mine = deal_create(
        person=person,
        amount=Decimal("1200.50"),
        stage=sales_stages()["Qualified"],
        owner=manager,
        name="Fleet renewal",
        expected_close_on=dt.date(2025, 9, 1),
    )
    # when the board is read
    response = client.get(f"/api/pipelines/{mine.pipeline_id}/board")
    # then every active stage is a column in order, with its sums
    assert response.status_code == 200
    board = response.json()
    assert (board["pipeline_id"], board["owner"], board["month"]) == (mine.pipeline_id, "", None)
    assert [(c["stage"]["name"], c["count"], c["amount"], c["weighted"]) for c in board["columns"]] == [
        ("New", 0, "0.00", "0.00"),
        ("Qualified", 1, "1200.50", "300.13"),
        ("Proposal", 2, "2000.00", "1000.00"),
        ("Negotiation", 0, "0.00", "0.00"),
        ("Won", 0, "0.00", "0.00"),
        ("Lost", 0, "0.00", "0.00"),
    ]
    # and the card carries what the board shows
    card = board["columns"][1]["cards"][0]
    assert {k: v for k, v in card.items() if k not in ("stage_entered_at",)} == {
        "id": mine.pk,
        "name": "Fleet renewal",
        "amount": "1200.50",
        "currency": "USD",
        "stage": "open",
        "pipeline_stage_id": sales_stages()["Qualified"].pk,
        "owner_id": manager.pk,
        "owner": "mia",
        "account_id": mine.account_id,
        "account": mine.account.name if mine.account else None,
        "person_id": person.pk,
        "person": "Ann Lee",
        "expected_close_on": "2025-09-01",
        "closed_at": None,
        "days_in_stage": 0,
    }


def test_a_column_pages_on_from_the_boards_cursor_in_constant_queries(
    client, manager, django_assert_num_queries
):
    # given 23 deals in New, entered a minute apart
    deals = _deals(23, "New")
    now = timezone.now()
    for i, deal in enumerate(deals):
        Deal.objects.filter(pk=deal.pk).update(stage_entered_at=now - dt.timedelta(minutes=100 - i))
    new = sales_stages()["New"]
    # when the board is read and the column's cursor followed, 2 cards a page
    board = client.get(f"/api/pipelines/{new.pipeline_id}/board").json()
    column = board["columns"][0]
    url = f"/api/pipelines/{new.pipeline_id}/stages/{new.pk}/cards"
    first = client.get(url, {"cursor": column["next_cursor"], "limit": 2}).json()
    second = client.get(url, {"cursor": first["next_cursor"], "limit": 2}).json()
    # then the board shows the 20 newest, the pages the next ones, the last without a cursor
    newest = [d.pk for d in reversed(deals)]
    assert (column["count"], [c["id"] for c in column["cards"]]) == (23, newest[:20])
    assert [c["id"] for c in first["cards"]] == newest[20:22]
    assert ([c["id"] for c in second["cards"]], second["next_cursor"]) == (newest[22:], None)
    # and a page's queries do not grow with its size: session, user, permissions (2), the manager's teams,
    # pipeline, its stages, the stage, the cards
    for limit in (1, 3):
        with django_assert_num_queries(9):
            client.get(url, {"cursor": column["next_cursor"], "limit": limit})


def test_the_board_filters_by_owner_and_month_and_names_a_bad_value(client, manager):
    # given the manager's deal closing in September and an unowned one closing in October
    (mine,) = _deals(1, "New", owner=manager, expected_close_on=dt.date(2025, 9, 10))
    (other,) = _deals(1, "New", expected_close_on=dt.date(2025, 10, 10))
    url = f"/api/pipelines/{mine.pipeline_id}/board"

    def ids(**query: str) -> list[int]:
        return [c["id"] for col in client.get(url, query).json()["columns"] for c in col["cards"]]

    # then each filter keeps its deal only
    assert ids(owner=str(manager.pk)) == [mine.pk]
    assert ids(owner="none") == [other.pk]
    assert ids(month="2025-10") == [other.pk]
    # and a bad value is a 422 naming it
    for query, field in (({"month": "October"}, "month"), ({"owner": "bob"}, "owner")):
        got = client.get(url, query)
        assert (got.status_code, got.json()["field"]) == (422, field)


def test_a_cards_page_refuses_a_stage_of_another_pipeline_and_a_bad_cursor(client, manager):
    # given the default pipeline and another one
    new = sales_stages()["New"]
    other = client.post("/api/pipelines", {"name": "Partners"}, content_type="application/json").json()
    # when
    wrong_stage = client.get(f"/api/pipelines/{other['id']}/stages/{new.pk}/cards", {"cursor": "x"})
    bad_cursor = client.get(f"/api/pipelines/{new.pipeline_id}/stages/{new.pk}/cards", {"cursor": "x"})
    missing = client.get(f"/api/pipelines/{new.pipeline_id}/stages/{new.pk}/cards")
    # then
    assert (wrong_stage.status_code, wrong_stage.json()["field"]) == (404, "stage_id")
    assert (bad_cursor.status_code, bad_cursor.json()["field"]) == (422, "cursor")
    assert missing.status_code == 422 and [e["field"] for e in missing.json()["errors"]] == ["cursor"]


def test_a_viewer_reads_the_board_and_a_rep_sees_only_their_own_cards(client, db):
    # given a rep's deal and another rep's deal
    rep, other = UserFactory(role="sales_rep"), UserFactory(role="sales_rep")
    (mine,) = _deals(1, "New", owner=rep)
    (theirs,) = _deals(1, "New", owner=other)
    url = f"/api/pipelines/{mine.pipeline_id}/board"
    # when each reads the board
    client.force_login(rep)
    rep_cards = [c["id"] for col in client.get(url).json()["columns"] for c in col["cards"]]
    client.force_login(UserFactory(role="viewer"))
    viewer_cards = sorted(c["id"] for col in client.get(url).json()["columns"] for c in col["cards"])
    # then the rep sees their card only and the viewer both
    assert rep_cards == [mine.pk]
    assert viewer_cards == sorted([mine.pk, theirs.pk])


def test_the_forecast_takes_the_pipeline_as_the_forecast_page_names_it(client, manager):
    # given a deal in the default pipeline and an empty second pipeline
    (deal,) = _deals(1, "Proposal", expected_close_on=timezone.localdate())
    other = client.post("/api/pipelines", {"name": "Partners"}, content_type="application/json").json()
    # when the forecast is asked per pipeline, by the page's name and by the older one
    default = client.get("/api/forecast", {"pipeline": deal.pipeline_id}).json()
    empty = client.get("/api/forecast", {"pipeline": other["id"]}).json()
    older = client.get("/api/forecast", {"pipeline_id": other["id"]}).json()
    unknown = client.get("/api/forecast", {"pipeline": 999999})
    # then
    assert (default["total"]["deals"], empty["total"]["deals"], older["total"]["deals"]) == (1, 0, 0)
    assert (unknown.status_code, unknown.json()["field"]) == (422, "pipeline")
