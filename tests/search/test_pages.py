"""The header's search box on every signed-in page, its suggestions (HTMX) and the full results page."""

from __future__ import annotations

import pytest

from tests.search.factories import world
from tests.users.factories import UserFactory


@pytest.fixture
def rep(db, client):
    user = UserFactory(role="sales_rep")
    client.force_login(user)
    return user


def test_every_signed_in_page_has_the_search_box(client, rep):
    # when
    pages = [client.get(url) for url in ("/people/", "/campaigns/", "/search/")]
    # then
    assert [p.status_code for p in pages] == [200, 200, 200]
    assert all(
        'id="header-q"' in p.content.decode() and "search/search.js" in p.content.decode() for p in pages
    )


def test_the_sign_in_page_has_no_search_box(client, db):
    assert 'id="header-q"' not in client.get("/login/").content.decode()


def test_suggestions_list_hits_as_options_and_a_link_to_all_results(client, rep, django_assert_num_queries):
    # given
    w = world(owner=rep)
    client.get("/search/suggest/", {"q": "x"})
    # when
    with django_assert_num_queries(4 + 3 + 3):
        response = client.get("/search/suggest/", {"q": "nordw"}, headers={"HX-Request": "true"})
    # then
    body = response.content.decode()
    assert response.status_code == 200
    assert f'id="search-opt-person-{w.jane.pk}" href="/people/{w.jane.pk}/"' in body
    assert f'id="search-opt-deal-{w.deal.pk}"' in body
    assert body.count('role="option"') == 4  # Jane, Nordwind Logistics, the deal, "All results"
    assert 'href="/search/?q=nordw"' in body


def test_an_emptied_box_gets_nothing_and_a_too_long_query_a_message(client, rep):
    # when
    empty = client.get("/search/suggest/", {"q": "  "})
    long = client.get("/search/suggest/", {"q": "x" * 101})
    # then
    assert (empty.status_code, empty.content) == (200, b"")
    assert long.status_code == 422
    assert "q is 101 characters long; at most 100" in long.content.decode()


def test_the_results_page_groups_hits_and_one_kind_shows_more(client, rep):
    # given
    w = world(owner=rep)
    # when
    everything = client.get("/search/", {"q": "smith"})
    people = client.get("/search/", {"q": "smith", "kind": "person"})
    # then
    body = everything.content.decode()
    assert everything.status_code == 200
    assert (
        body.index('id="group-person"') < body.index('id="group-account"') < body.index('id="group-campaign"')
    )
    assert f'data-kind="person" data-id="{w.smith.pk}"' in body
    assert "No campaigns match." in body
    assert people.content.decode().count('data-kind="person"') == 4
    assert 'id="group-account"' not in people.content.decode()


def test_the_results_page_shows_a_bad_query_as_a_message(client, rep):
    # when
    response = client.get("/search/", {"q": "ja", "kind": "people"})
    # then
    assert response.status_code == 422
    assert "unknown kind &#x27;people&#x27;" in response.content.decode()


def test_the_results_page_without_a_query_asks_for_one(client, rep):
    response = client.get("/search/")
    assert response.status_code == 200
    assert "Type part of a name, an e-mail, a company or a domain." in response.content.decode()
