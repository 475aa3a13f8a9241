"""GET /api/search: the answer's shape, its pinned query count, refusals naming the field."""

from __future__ import annotations

import pytest

from tests.search.factories import world
from tests.users.factories import UserFactory


@pytest.fixture
def rep(db, client):
    user = UserFactory(role="sales_rep")
    client.force_login(user)
    return user


def test_search_answers_groups_of_ranked_hits(client, rep):
    # given
    w = world(owner=rep)
    # when
    response = client.get("/api/search", {"q": "nordwind"})
    # then
    assert response.status_code == 200
    body = response.json()
    assert body["q"] == "nordwind"
    assert [(g["kind"], g["label"], g["more"]) for g in body["groups"]] == [
        ("person", "People", False),
        ("account", "Accounts", False),
        ("deal", "Deals", False),
        ("campaign", "Campaigns", False),
    ]
    assert body["groups"][0]["hits"] == [
        {
            "kind": "person",
            "id": w.jane.pk,
            "title": "Jane Doe",
            "subtitle": "jane.doe@nordwind-logistics.com · Nordwind Logistics · Opportunity",
            "match": "prefix",
            "url": f"/people/{w.jane.pk}/",
        }
    ]
    assert [h["title"] for h in body["groups"][1]["hits"]] == ["Nordwind Logistics"]
    assert [h["title"] for h in body["groups"][2]["hits"]] == ["Nordwind fleet renewal"]
    assert body["groups"][3]["hits"] == []


def test_one_kind_and_a_limit(client, rep):
    # given
    world(owner=rep)
    # when
    response = client.get("/api/search", {"q": "smith", "kind": "person", "limit": 2})
    # then
    body = response.json()
    assert [g["kind"] for g in body["groups"]] == ["person"]
    assert [(h["title"], h["match"]) for h in body["groups"][0]["hits"]] == [
        ("Smith", "exact"),
        ("Anna Smitherson", "prefix"),
    ]
    assert body["groups"][0]["more"] is True


def test_query_count_is_pinned(client, rep, django_assert_num_queries):
    # given: hits of every kind
    world(owner=rep)
    client.get("/api/search", {"q": "x"})
    # when / then: session, user, two permission reads; one statement per rank (exact, prefix, substring) until
    # every kind's list is full; one read per kind with hits
    cases = [
        ({"q": "nordwind"}, 4 + 3 + 3),
        ({"q": "smith"}, 4 + 3 + 1),
        ({"q": "qxzvw"}, 4 + 3 + 0),
        # "Smith" (exact) and two prefixes fill a list of one and tell there is more: no substring scan
        ({"q": "smith", "kind": "person", "limit": 1}, 4 + 2 + 1),
        # one or two letters: exact and prefix only
        ({"q": "jo"}, 4 + 2 + 1),
    ]
    for params, queries in cases:
        with django_assert_num_queries(queries):
            assert client.get("/api/search", params).status_code == 200


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({}, "q"),
        ({"q": ""}, "q"),
        ({"q": "   "}, "q"),
        ({"q": "x" * 101}, "q"),
        ({"q": "jane", "kind": "people"}, "kind"),
        ({"q": "jane", "limit": 0}, "limit"),
        ({"q": "jane", "limit": 51}, "limit"),
        ({"q": "jane", "limit": "many"}, "limit"),
    ],
)
def test_bad_input_is_a_422_naming_the_field(client, rep, params, field):
    # when
    response = client.get("/api/search", params)
    # then
    assert response.status_code == 422
    body = response.json()
    assert body.get("field") == field or [e["field"] for e in body.get("errors", [])] == [field], body


def test_a_nul_in_the_query_is_refused_naming_it(client, rep):
    # when
    response = client.get("/api/search?q=ja%00ne")
    # then
    assert response.status_code == 422
    assert "q" in response.json()["detail"]


def test_asking_for_a_kind_the_role_may_not_view_is_a_403(client, db):
    # given: a user who may view people only
    from django.contrib.auth.models import Permission

    user = UserFactory(role="viewer")
    user.groups.clear()
    user.user_permissions.add(Permission.objects.get(codename="view_person", content_type__app_label="crm"))
    client.force_login(user)
    # when
    refused = client.get("/api/search", {"q": "acme", "kind": "deal"})
    allowed = client.get("/api/search", {"q": "acme"})
    # then
    assert refused.status_code == 403
    assert "search deals" in refused.json()["detail"]
    assert [g["kind"] for g in allowed.json()["groups"]] == ["person"]


def test_without_authentication_the_answer_is_401(client, db):
    assert client.get("/api/search", {"q": "jane"}).status_code == 401
