"""Collateral pages and API: a rep files from "my requests", marketing moves cards on the HTMX board,
refused moves say why and change nothing, and the board's query count is pinned."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from tandem.core.models import Event
from tandem.enablement.requests import services
from tandem.enablement.requests.models import CollateralRequest
from tandem.users.models import Role
from tandem.users.services import api_token_create
from tests.crm.factories import AccountFactory, DealFactory
from tests.users.factories import UserFactory

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}


def _client(user) -> Client:  # type: ignore[no-untyped-def]
    client = Client()
    client.force_login(user)
    return client


def _file(rep, **kw):  # type: ignore[no-untyped-def]
    values = {"kind": "deck", "purpose": "Deck for the board meeting", "due_on": timezone.localdate() + dt.timedelta(days=10), **kw}
    return services.collateral_request_file(by_user=rep, **values)


def test_a_rep_files_a_request_from_my_requests_and_sees_it_there():
    # given a rep with an open deal at Globex
    rep = UserFactory(role=Role.SALES_REP)
    deal = DealFactory(owner=rep, account=AccountFactory(name="Globex"), name="Globex renewal")
    client = _client(rep)
    due = timezone.localdate() + dt.timedelta(days=14)
    # when the form offers the deal and the rep files a request for it
    page = client.get("/requests/").content.decode()
    response = client.post(
        "/requests/new/",
        {"kind": "brochure", "purpose": "Brochures for the Globex visit", "deal": str(deal.pk), "account": "", "quantity": "50", "due_on": due.isoformat()},
    )
    # then it is saved, new, and listed on the rep's page
    request = CollateralRequest.objects.get()
    assert "Globex renewal" in page
    assert response.status_code == 302
    assert (request.kind, request.quantity, request.deal_id, request.account.name, request.status) == ("brochure", 50, deal.pk, "Globex", "new")
    mine = client.get("/requests/").content.decode()
    assert f'id="mine-{request.pk}"' in mine and "Brochures for the Globex visit" in mine


def test_a_request_due_in_the_past_is_refused_on_the_form_naming_the_field():
    # given a rep
    client = _client(UserFactory(role=Role.SALES_REP))
    # when they ask for something due yesterday
    response = client.post(
        "/requests/new/",
        {"kind": "swag", "purpose": "Mugs", "quantity": "10", "due_on": (timezone.localdate() - dt.timedelta(days=1)).isoformat()},
    )
    # then 422 with the message by the field, and nothing saved
    assert response.status_code == 422
    assert "is in the past" in response.content.decode()
    assert CollateralRequest.objects.count() == 0


def test_my_requests_lists_only_my_own():
    # given two reps with a request each
    ann, bob = UserFactory(role=Role.SALES_REP), UserFactory(role=Role.SALES_REP)
    mine, theirs = _file(ann, purpose="Ann's deck"), _file(bob, purpose="Bob's deck")
    # when Ann opens her requests
    html = _client(ann).get("/requests/").content.decode()
    # then only hers is there
    assert f'id="mine-{mine.pk}"' in html and f'id="mine-{theirs.pk}"' not in html


def test_marketing_moves_a_card_with_htmx_and_the_board_comes_back_with_it_moved():
    # given a new request and a marketer
    request = _file(UserFactory(role=Role.SALES_REP))
    client = _client(UserFactory(role=Role.MARKETING))
    # when marketing presses Accept
    response = client.post(f"/requests/{request.pk}/move/", {"to": "accepted"}, **HTMX)
    # then the board partial comes back with the card in the accepted column, focused
    html = response.content.decode()
    assert response.status_code == 200
    assert html.startswith('<div id="board"')
    accepted = html[html.index('data-column="accepted"'):html.index('data-column="in_progress"')]
    assert f'id="request-{request.pk}"' in accepted and "data-focus" in accepted
    request.refresh_from_db()
    assert request.status == "accepted"


def test_a_refused_move_on_the_board_says_why_and_changes_nothing():
    # given a new request
    request = _file(UserFactory(role=Role.SALES_REP))
    client = _client(UserFactory(role=Role.MARKETING))
    # when a crafted post tries to deliver it, and another declines it without a reason
    skip = client.post(f"/requests/{request.pk}/move/", {"to": "delivered"}, **HTMX)
    no_reason = client.post(f"/requests/{request.pk}/move/", {"to": "declined", "reason": ""}, **HTMX)
    # then 409 and 422 with an alert, the card still new, no move recorded
    assert skip.status_code == 409 and "cannot move to delivered" in skip.content.decode()
    assert no_reason.status_code == 422 and "needs a reason" in no_reason.content.decode()
    request.refresh_from_db()
    assert request.status == "new" and not Event.objects.filter(kind="collateral.moved").exists()


def test_a_rep_sees_the_board_without_buttons_and_cannot_move():
    # given a request
    rep = UserFactory(role=Role.SALES_REP)
    request = _file(rep)
    client = _client(rep)
    # when the rep opens the board and posts a move anyway
    html = client.get("/requests/board/").content.decode()
    response = client.post(f"/requests/{request.pk}/move/", {"to": "accepted"}, **HTMX)
    # then no move buttons are shown and the move is refused
    assert f'id="request-{request.pk}"' in html and f"Accept request {request.pk}" not in html
    assert response.status_code == 409
    request.refresh_from_db()
    assert request.status == "new"


def test_the_board_page_query_count_does_not_grow_with_cards(django_assert_num_queries):
    # given ten requests from five reps in every column
    marketer = UserFactory(role=Role.MARKETING)
    for i in range(10):
        rep = UserFactory(role=Role.SALES_REP)
        request = _file(rep, deal_id=DealFactory(account=AccountFactory(), owner=rep).pk)
        for to in ("accepted", "in_progress", "delivered")[: i % 4]:
            services.collateral_request_move(request_id=request.pk, to=to, by_user=marketer)
    client = _client(marketer)
    # when the board is opened, then it takes a fixed number of queries:
    # session, user, board cards, suggestions (requests + their reps), lead times
    with django_assert_num_queries(6):
        response = client.get("/requests/board/")
    assert response.status_code == 200
    assert response.content.decode().count('id="request-') == 10


def test_api_files_moves_and_reads_a_request():
    # given a rep's and a marketer's tokens
    rep, marketer = UserFactory(role=Role.SALES_REP), UserFactory(role=Role.MARKETING)
    rep_auth = {"HTTP_AUTHORIZATION": f"Bearer {api_token_create(user=rep, name='t')[1]}"}
    mkt_auth = {"HTTP_AUTHORIZATION": f"Bearer {api_token_create(user=marketer, name='t')[1]}"}
    client = Client()
    due = (timezone.localdate() + dt.timedelta(days=5)).isoformat()
    # when the rep files a request
    created = client.post("/api/collateral/requests", {"type": "swag", "purpose": "Mugs for the fair", "quantity": 40, "due_on": due},
                          content_type="application/json", **rep_auth)
    rid = created.json()["id"]
    # then it is new, with the moves marketing can make
    assert created.status_code == 201
    assert (created.json()["status"], created.json()["allowed_moves"]) == ("new", ["accepted", "declined"])
    # when the rep tries to move it, and marketing skips a column, then both are refused
    assert client.post(f"/api/collateral/requests/{rid}/move", {"to": "accepted"}, content_type="application/json", **rep_auth).status_code == 409
    skip = client.post(f"/api/collateral/requests/{rid}/move", {"to": "delivered"}, content_type="application/json", **mkt_auth)
    assert skip.status_code == 409 and skip.json()["field"] == "to"
    decline = client.post(f"/api/collateral/requests/{rid}/move", {"to": "declined"}, content_type="application/json", **mkt_auth)
    assert decline.status_code == 422 and decline.json()["field"] == "reason"
    # when marketing accepts it
    moved = client.post(f"/api/collateral/requests/{rid}/move", {"to": "accepted"}, content_type="application/json", **mkt_auth)
    # then it is accepted and its history has the filing and the move
    assert moved.status_code == 200
    assert [(h["kind"], h["data"].get("to")) for h in moved.json()["history"]] == [("collateral.requested", None), ("collateral.moved", "accepted")]
    mine = client.get("/api/collateral/requests?mine=true", **rep_auth).json()["items"]
    assert [(r["id"], r["status"], r["due_warning"]) for r in mine] == [(rid, "accepted", "")]
    assert client.get("/api/collateral/requests?mine=true", **mkt_auth).json() == {"items": [], "next_cursor": None, "prev_cursor": None}
    board = client.get("/api/collateral/board", **mkt_auth).json()
    assert [r["id"] for r in board["accepted"]] == [rid] and board["new"] == []
    assert client.get("/api/collateral/lead-times", **rep_auth).json() == []
    assert client.get("/api/collateral/suggestions", **rep_auth).json() == []
    assert client.get("/api/collateral/requests/999999", **rep_auth).status_code == 404


def test_api_refuses_unknown_filters_and_nul_characters_with_a_422():
    # given a request and a marketer's token
    rep, marketer = UserFactory(role=Role.SALES_REP), UserFactory(role=Role.MARKETING)
    request = _file(rep)
    auth = {"HTTP_AUTHORIZATION": f"Bearer {api_token_create(user=marketer, name='t')[1]}"}
    client = Client()
    # when filters name no status or type, or a decline reason holds a NUL character
    bad_status = client.get("/api/collateral/requests?status=done", **auth)
    bad_type = client.get("/api/collateral/requests?type=poster", **auth)
    nul = client.post(f"/api/collateral/requests/{request.pk}/move", {"to": "declined", "reason": "no\x00pe"}, content_type="application/json", **auth)
    # then each is a 422 naming the field, and the request did not move
    assert (bad_status.status_code, bad_status.json()["field"]) == (422, "status")
    assert (bad_type.status_code, bad_type.json()["field"]) == (422, "type")
    assert (nul.status_code, nul.json()["field"]) == (422, "reason")
    request.refresh_from_db()
    assert request.status == "new"


def test_my_requests_page_query_count_does_not_grow_with_requests_or_deals(django_assert_num_queries):
    # given a rep with eight requests and five open deals at different accounts
    rep = UserFactory(role=Role.SALES_REP)
    for i in range(5):
        DealFactory(owner=rep, account=AccountFactory(), name=f"Deal {i}")
    for i in range(8):
        _file(rep, purpose=f"Deck {i}")
    client = _client(rep)
    # when the rep opens the page: session, user, requests, lead times, the form's deals and accounts
    with django_assert_num_queries(6):
        response = client.get("/requests/")
    # then all are listed
    assert response.content.decode().count('id="mine-') == 8


def test_the_board_suggests_a_repeated_request_for_the_library_with_a_link_to_add_it():
    # given two reps asking for the same case study in other words
    _file(UserFactory(role=Role.SALES_REP), kind="case_study", purpose="Healthcare hospital case study")
    _file(UserFactory(role=Role.SALES_REP), kind="case_study", purpose="Case study from a hospital, healthcare")
    # when marketing and a rep open the board
    marketing = _client(UserFactory(role=Role.MARKETING)).get("/requests/board/").content.decode()
    rep = _client(UserFactory(role=Role.SALES_REP)).get("/requests/board/").content.decode()
    # then both see the suggestion; only marketing gets the link to add it
    section = marketing[marketing.index('data-testid="suggestions"'):]
    assert "case healthcare hospital study" in section and "2 requests from 2 reps" in section
    href = (
        f"{reverse('enablement:library')}?add=1&amp;new_title=case%20healthcare%20hospital%20study&amp;"
        "new_kind=case_study&amp;new_description=Case%20study%20from%20a%20hospital%2C%20healthcare#asset-new"
    )
    assert f'href="{href}" data-testid="suggestion-add">Add it to the library' in section
    assert "case healthcare hospital study" in rep and "Add it to the library" not in rep


def test_every_link_on_the_collateral_board_answers_200():
    # given a suggestion on the board (its "Add it to the library" link once answered 405: it pointed at a POST)
    _file(UserFactory(role=Role.SALES_REP), kind="case_study", purpose="Healthcare hospital case study")
    _file(UserFactory(role=Role.SALES_REP), kind="case_study", purpose="Case study from a hospital, healthcare")
    client = _client(UserFactory(role=Role.MARKETING))
    page = client.get("/requests/board/").content.decode()
    # when every link of the page is followed
    import html
    import re

    links = {html.unescape(h).split("#")[0] for h in re.findall(r'<a [^>]*href="(/[^"]*)"', page)}
    statuses = {link: client.get(link, follow=True).status_code for link in sorted(links)}
    # then none is refused or missing
    assert {link: code for link, code in statuses.items() if code != 200} == {}
    assert any(link.startswith("/enablement/?add=1") for link in links)


def test_the_library_opens_its_add_form_filled_from_a_suggestion_for_editors_only():
    # given the link of a suggestion
    url = "/enablement/?add=1&new_title=Hospital%20case%20study&new_kind=case_study&new_description=Asked%20twice"
    # when marketing follows it
    page = _client(UserFactory(role=Role.MARKETING)).get(url).content.decode()
    # then the add form is open and filled
    assert 'id="asset-new" open' in page
    assert 'name="title" maxlength="200" required value="Hospital case study"' in page
    assert '<option value="case_study" selected>' in page
    assert ">Asked twice</textarea>" in page
    # and a request kind that is no asset type (e.g. swag) leaves the type to choose
    swag = _client(UserFactory(role=Role.MARKETING)).get(url.replace("case_study", "swag")).content.decode()
    assert "selected>Case study" not in swag
    # and a rep, who cannot add, sees the library without the form
    assert 'data-testid="asset-new"' not in _client(UserFactory(role=Role.SALES_REP)).get(url).content.decode()
