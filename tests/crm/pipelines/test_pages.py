"""The board, the deal page, the forecast page and pipeline settings, as served: sums, moves, errors and a query
count that does not grow with the number of deals."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import pytest
from django.utils import timezone

from tandem.core.models import Event
from tandem.crm.models import Deal, DealStageChange, Pipeline
from tandem.crm.pipelines import services
from tandem.crm.services import deal_create
from tests.crm.factories import AccountFactory, LostReasonFactory, PersonFactory
from tests.crm.pipelines.helpers import counts, deal_state, sales_stages
from tests.users.factories import UserFactory


@pytest.fixture
def rep(db, client):
    # A sales manager: the board's unassigned deals are theirs to see and move (tandem.users.access); these tests
    # are about the board, tests/test_access_matrix.py about who sees what.
    user = UserFactory(role="sales_manager", first_name="Rita", last_name="Rep")
    client.force_login(user)
    return user


def _text(content: bytes) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", content.decode()).split())


def _deals(n: int, stage_name: str, **kwargs):  # type: ignore[no-untyped-def]
    stage = sales_stages()[stage_name]
    return [deal_create(account=AccountFactory(), amount=Decimal("1000"), stage=stage, **kwargs) for _ in range(n)]


def test_the_board_shows_each_stage_with_count_amount_and_weighted_amount(client, rep):
    # given two deals in Proposal (50%) and one in Qualified (25%), one of them the rep's with a close date
    _deals(2, "Proposal")
    (mine,) = _deals(1, "Qualified", owner=rep, expected_close_on=dt.date(2025, 9, 1), name="Fleet renewal")
    # when the rep opens the board
    response = client.get("/pipelines/")
    text = _text(response.content)
    # then each column has its sums and the cards their facts
    assert response.status_code == 200
    assert "Qualified 25% Deals 1 Amount 1,000 Weighted 250" in text
    assert "Proposal 50% Deals 2 Amount 2,000 Weighted 1,000" in text
    assert "Won 100% Deals 0 Amount 0 Weighted 0" in text
    assert "Fleet renewal" in text and "1,000 USD · Rita Rep" in text and "0 days in stage · closes 1 Sep" in text
    assert f'id="deal-{mine.pk}"' in response.content.decode()
    # and the drag script is our own static file, not from another host
    assert "/static/pipelines/board.js" in response.content.decode()
    assert "https://" not in response.content.decode().split("<body")[0]


def test_board_query_count_does_not_grow_with_the_number_of_deals(client, rep, django_assert_num_queries):
    # given 5 deals, then 50
    for n in (5, 45):
        _deals(n, "New", owner=rep)
        # when the board is read, then the query count is the same
        # session, user, 2 permission sets, the manager's teams (record-level access), pipeline, stages, sums,
        # ranked ids, cards, pipelines, owners, lost reasons
        with django_assert_num_queries(13):
            response = client.get("/pipelines/")
        assert response.status_code == 200


def test_a_column_shows_its_newest_cards_and_a_more_button_that_pages(client, rep):
    # given 23 deals in New, entered a minute apart
    deals = _deals(23, "New")
    now = timezone.now()
    for i, deal in enumerate(deals):
        Deal.objects.filter(pk=deal.pk).update(stage_entered_at=now - dt.timedelta(minutes=100 - i))
    # when the board is opened and the "more" button followed
    page = client.get("/pipelines/").content.decode()
    more = re.search(r'hx-get="([^"]+/cards/\?cursor=[^"]+)"', page)
    assert more is not None
    rest = client.get(more.group(1).replace("&amp;", "&")).content.decode()
    # then the column shows the 20 newest, the page the last 3, oldest last, without another button
    shown = [int(x) for x in re.findall(r'id="deal-(\d+)"', page)]
    assert shown == [d.pk for d in reversed(deals)][:20]
    assert [int(x) for x in re.findall(r'id="deal-(\d+)"', rest)] == [d.pk for d in deals[:3]][::-1]
    assert "/cards/?cursor=" not in rest


def test_board_filters_by_owner_and_expected_close_month(client, rep):
    # given the rep's deal closing in September and someone else's closing in October
    (mine,) = _deals(1, "New", owner=rep, expected_close_on=dt.date(2025, 9, 10))
    (theirs,) = _deals(1, "New", expected_close_on=dt.date(2025, 10, 10))
    # when filtered
    by_owner = client.get("/pipelines/", {"owner": rep.pk}).content.decode()
    by_month = client.get("/pipelines/", {"month": "2025-10"}, HTTP_HX_REQUEST="true").content.decode()
    bad = client.get("/pipelines/", {"month": "October"})
    # then each shows its deal only; a bad month is named and the board still shows
    assert f'id="deal-{mine.pk}"' in by_owner and f'id="deal-{theirs.pk}"' not in by_owner
    assert f'id="deal-{theirs.pk}"' in by_month and f'id="deal-{mine.pk}"' not in by_month
    assert "<html" not in by_month
    assert bad.status_code == 200 and "month must be a month as YYYY-MM, got &#x27;October&#x27;" in bad.content.decode()


def test_moving_a_card_re_renders_the_board_with_the_card_in_its_new_column(client, rep):
    # given a deal in New
    stages = sales_stages()
    (deal,) = _deals(1, "New")
    # when the card's form posts it to Proposal (as drag and drop and the arrow keys do)
    response = client.post(
        "/pipelines/move/", {"deal": deal.pk, "to_stage": stages["Proposal"].pk, "pipeline": deal.pipeline_id},
        HTTP_HX_REQUEST="true",
    )
    # then the board comes back with the card in Proposal, focused, and the move said
    html = response.content.decode()
    assert response.status_code == 200
    column = html.split(f'<section class="deal-column kind-open" data-stage="{stages["Proposal"].pk}"')[1].split("</section>")[0]
    assert f'id="deal-{deal.pk}"' in column and "data-focus" in column
    assert f"{deal} moved to Proposal." in _text(response.content)
    assert DealStageChange.objects.filter(deal=deal, to_stage=stages["Proposal"], by_user=rep).count() == 1


def test_a_lost_move_without_a_reason_is_refused_and_with_one_closes_the_deal(client, rep):
    # given a deal in Negotiation and an offered reason
    stages = sales_stages()
    (deal,) = _deals(1, "Negotiation")
    reason = LostReasonFactory(name="Timing")
    before, state = counts(), deal_state(deal)
    # when it is dropped on Lost without a reason
    refused = client.post("/pipelines/move/", {"deal": deal.pk, "to_stage": stages["Lost"].pk}, HTTP_HX_REQUEST="true")
    # then the board says why, and nothing changed
    assert refused.status_code == 422 and "a lost deal needs a lost reason" in refused.content.decode()
    assert counts() == before and deal_state(deal) == state
    # when the dialog sends the reason
    done = client.post(
        "/pipelines/move/",
        {"deal": deal.pk, "to_stage": stages["Lost"].pk, "lost_reason_id": reason.pk, "reason": "next year"},
        HTTP_HX_REQUEST="true",
    )
    # then it is lost for that reason
    deal.refresh_from_db()
    assert done.status_code == 200 and (deal.stage, deal.lost_reason_id) == ("lost", reason.pk)


def test_a_move_without_htmx_redirects_back_to_the_board_with_the_filters(client, rep):
    # given
    stages = sales_stages()
    (deal,) = _deals(1, "New")
    # when
    response = client.post("/pipelines/move/", {"deal": deal.pk, "to_stage": stages["Qualified"].pk, "owner": "none"})
    bad = client.post("/pipelines/move/", {"deal": "x", "to_stage": stages["Qualified"].pk})
    # then
    assert response.status_code == 302 and response["Location"] == "/pipelines/?owner=none"
    assert bad.status_code == 302


def test_a_viewer_sees_the_board_without_move_controls_and_cannot_move(client, db):
    # given a viewer and a deal
    viewer = UserFactory(role="viewer")
    client.force_login(viewer)
    stages = sales_stages()
    (deal,) = _deals(1, "New")
    # when
    board = client.get("/pipelines/").content.decode()
    move = client.post("/pipelines/move/", {"deal": deal.pk, "to_stage": stages["Won"].pk})
    # then
    assert f'id="deal-{deal.pk}"' in board and 'draggable="true"' not in board and "deal-move" not in board
    assert move.status_code == 403 and Deal.objects.get(pk=deal.pk).stage == "open"


def test_the_deal_page_shows_amount_stage_people_activities_and_history_with_time_in_stage(client, rep):
    # given a deal of an account with a main contact and a champion, moved once
    stages = sales_stages()
    person, champion = PersonFactory(owner=rep, first_name="Maria", last_name="Weber"), PersonFactory(owner=rep, first_name="Tom", last_name="Lee")
    entered = timezone.now() - dt.timedelta(days=3, hours=2)
    deal = deal_create(person=person, account=AccountFactory(owner=rep, name="Northwind"), amount=Decimal("24000"), name="Northwind pilot",
                       created_at=entered - dt.timedelta(days=4))
    services.deal_move(deal=deal, to_stage=stages["Proposal"], by_user=rep, at=entered, reason="sent the proposal")
    services.deal_contact_add(deal=deal, person=champion, role="champion")
    # when the rep opens it
    response = client.get(f"/people/deals/{deal.pk}/")
    text = _text(response.content)
    # then
    assert response.status_code == 200
    assert "Northwind pilot" in text and "Northwind · Maria Weber" in text
    assert "Amount 24,000 USD Weighted 12,000 USD amount × 50%" in text
    assert "In this stage 3 days" in text
    assert "New → Proposal · 3 days so far in stage" in text and "sent the proposal" in text
    assert "New · 4 days in stage" in text
    assert "Tom Lee Champion" in text


def test_the_deal_page_edits_and_moves_and_contacts(client, rep):
    # given
    stages = sales_stages()
    (deal,) = _deals(1, "New")
    person = PersonFactory(owner=rep)
    # when the rep edits it, moves it and adds a person
    client.post(f"/pipelines/deals/{deal.pk}/edit/", {"name": "Bigger", "amount": "2500.50", "expected_close_on": "2025-12-01", "owner": rep.pk})
    client.post("/pipelines/move/", {"deal": deal.pk, "to_stage": stages["Proposal"].pk, "from": "deal"})
    client.post(f"/pipelines/deals/{deal.pk}/contacts/", {"person": person.pk, "role": "decision_maker"})
    bad = client.post(f"/pipelines/deals/{deal.pk}/edit/", {"amount": "lots"})
    # then
    deal.refresh_from_db()
    assert (deal.name, deal.amount, deal.expected_close_on, deal.owner_id, deal.pipeline_stage_id) == (
        "Bigger", Decimal("2500.50"), dt.date(2025, 12, 1), rep.pk, stages["Proposal"].pk,
    )
    assert list(deal.contacts.values_list("person_id", "role")) == [(person.pk, "decision_maker")]
    assert bad.status_code == 302
    page = client.get(f"/people/deals/{deal.pk}/").content.decode()
    assert "amount must be a number, got &#x27;lots&#x27;" in page


def test_the_forecast_page_shows_the_weighted_figures(client, rep):
    # given a deal in Proposal closing this month
    today = timezone.localdate()
    _deals(1, "Proposal", expected_close_on=today, owner=rep)
    # when
    response = client.get("/pipelines/forecast/")
    text = _text(response.content)
    # then
    assert response.status_code == 200
    assert "Forecast 500 won + weighted over the range" in text
    assert f"{today:%b %Y} 1 1,000 500 0 500" in text
    assert "Rita Rep 1 500 0 500" in text


def test_pipeline_settings_are_for_admins_and_managers(client, db):
    # given a manager and a rep
    manager = UserFactory(role="sales_manager")
    client.force_login(manager)
    sales = Pipeline.objects.get(is_default=True)
    # when the manager adds a stage and a pipeline
    page = client.get("/pipelines/settings/")
    client.post(f"/pipelines/settings/{sales.pk}/stages/new/", {"name": "Legal", "kind": "open", "probability": "85"})
    client.post("/pipelines/settings/new/", {"name": "Renewals"})
    # then they exist, with events
    assert page.status_code == 200
    assert sales.stages.filter(name="Legal", probability=85).exists() and Pipeline.objects.filter(name="Renewals").exists()
    assert Event.objects.filter(kind__in=["pipeline_stage.created", "pipeline.created"]).count() == 2
    # and a rep may not
    client.force_login(UserFactory(role="sales_rep"))
    assert client.get("/pipelines/settings/").status_code == 403
    assert client.post("/pipelines/settings/new/", {"name": "Mine"}).status_code == 403


def test_the_funnel_report_shows_the_deal_stage_conversion_of_a_pipeline(client, rep):
    # given two deals: one moved from New to Proposal, one still in New
    stages = sales_stages()
    moved, _ = _deals(2, "New")
    services.deal_move(deal=moved, to_stage=stages["Proposal"], by_user=rep)
    # when the funnel page is opened
    response = client.get("/reports/funnel/")
    text = _text(response.content)
    # then its deal-stage section counts the reach of each stage and the conversion between them
    assert response.status_code == 200
    assert "Deal stages: Sales pipeline 2 deals created" in text
    assert "New 2 — 0 1 Qualified 1 50% 0 0 Proposal 1 100% 0 1 Negotiation 0 0% 0 0 Won 0 — 0 0" in text
