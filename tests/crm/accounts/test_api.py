from __future__ import annotations

import pytest

from tandem.core.models import Event
from tandem.crm.models import Account
from tests.crm.factories import AccountFactory, PersonFactory
from tests.users.factories import UserFactory


@pytest.fixture
def manager(db, client):
    user = UserFactory(role="sales_manager")
    client.force_login(user)
    return user


def _state() -> list[tuple[object, ...]]:
    rows = Account.objects.order_by("pk").values_list(
        "pk", "name", "domain", "industry", "owner_id", "custom_fields"
    )
    return [*rows, ("events", Event.objects.count())]


def _patch(client, url, body):  # type: ignore[no-untyped-def]
    return client.patch(url, body, content_type="application/json")


def _post(client, url, body):  # type: ignore[no-untyped-def]
    return client.post(url, body, content_type="application/json")


def test_without_authentication_the_endpoints_answer_401(client, db):
    # given
    account = AccountFactory()
    # when
    responses = [
        client.get("/api/accounts"),
        client.get(f"/api/accounts/{account.pk}"),
        _post(client, "/api/accounts", {"name": "X"}),
        _patch(client, f"/api/accounts/{account.pk}", {"name": "Y"}),
        client.get(f"/api/accounts/{account.pk}/deals"),
    ]
    # then
    assert [r.status_code for r in responses] == [401] * 5


def test_list_searches_filters_and_pages(client, manager):
    # given
    rep = UserFactory(role="sales_rep")
    for i in range(3):
        AccountFactory(name=f"Northwind {i}", domain=f"nw{i}.example", industry="retail", owner=rep)
    AccountFactory(name="Globex", domain="globex.example", industry="software")
    # when
    first = client.get(
        "/api/accounts", {"q": "north", "industry": "retail", "owner": rep.pk, "limit": 2}
    ).json()
    second = client.get(
        "/api/accounts",
        {"q": "north", "industry": "retail", "owner": rep.pk, "limit": 2, "cursor": first["next_cursor"]},
    ).json()
    by_domain = client.get("/api/accounts", {"q": "GLOBEX.ex"}).json()
    # then
    assert [a["name"] for a in first["items"]] == ["Northwind 0", "Northwind 1"]
    assert [a["name"] for a in second["items"]] == ["Northwind 2"]
    assert second["next_cursor"] is None and second["prev_cursor"] is not None
    assert [a["name"] for a in by_domain["items"]] == ["Globex"]
    assert first["items"][0]["people"] == 0 and first["items"][0]["open_deals"] == 0


def test_list_query_count_is_pinned(client, manager, django_assert_num_queries):
    # given
    for _ in range(30):
        PersonFactory(account=AccountFactory())
    # when: session, user, permissions (user and group), the manager's teams (record-level access), one page of
    # accounts with their counts
    with django_assert_num_queries(6):
        response = client.get("/api/accounts")
    # then
    assert len(response.json()["items"]) == 30


def test_a_bad_filter_is_a_422_naming_it(client, manager):
    # when
    owner = client.get("/api/accounts", {"owner": "someone"})
    cursor = client.get("/api/accounts", {"cursor": "garbage"})
    # then
    assert (owner.status_code, owner.json()["field"]) == (422, "owner")
    assert (cursor.status_code, cursor.json()["field"]) == (422, "cursor")


def test_create_returns_the_account_and_records_an_event(client, manager):
    # given
    owner = UserFactory(role="sales_rep")
    # when
    response = _post(
        client,
        "/api/accounts",
        {
            "name": "Acme Corporation",
            "domain": "www.acme.example",
            "industry": "technology",
            "size_band": "1001-5000",
            "country": "United States",
            "owner_id": owner.pk,
            "custom_fields": {"revenue_musd": 1100.04, "year_established": 1996, "subsidiary_of": ""},
        },
    )
    # then
    body = response.json()
    assert response.status_code == 201
    assert {
        k: body[k]
        for k in ("name", "domain", "industry", "size_band", "country", "owner_id", "custom_fields")
    } == {
        "name": "Acme Corporation",
        "domain": "acme.example",
        "industry": "technology",
        "size_band": "1001-5000",
        "country": "United States",
        "owner_id": owner.pk,
        "custom_fields": {"revenue_musd": 1100.04, "year_established": 1996, "subsidiary_of": ""},
    }
    assert Event.objects.filter(kind="account.created", subject_id=body["id"], actor=manager).count() == 1


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"name": "Acme 2", "domain": "ACME.example"}, 409, "domain"),
        ({"name": ""}, 422, "name"),
        ({"name": "X", "domain": "no spaces please"}, 422, "domain"),
        ({"name": "X", "size_band": "big"}, 422, "size_band"),
        ({"name": "X", "owner_id": 999999}, 422, "owner_id"),
        ({"name": "X", "custom_fields": {"note": "a\u0000b"}}, 422, "custom_fields.note"),
        ({"name": "X", "custom_fields": {"list": [1, 2]}}, 422, "custom_fields.list.str"),
        ({"name": "X\u0000"}, 422, "name"),
        ({"name": "X", "unknown": 1}, 422, "unknown"),
    ],
)
def test_bad_input_is_refused_naming_the_field_and_nothing_changes(client, manager, body, status, field):
    # given
    AccountFactory(name="Acme", domain="acme.example")
    before = _state()
    # when
    response = _post(client, "/api/accounts", body)
    # then
    assert response.status_code == status
    answer = response.json()
    assert answer.get("field") == field or answer.get("errors", [{}])[0].get("field") == field
    assert _state() == before


def test_a_viewer_may_read_but_not_create_or_change(client, db):
    # given
    account = AccountFactory(name="Acme")
    client.force_login(UserFactory(role="viewer"))
    before = _state()
    # when
    read = client.get(f"/api/accounts/{account.pk}")
    create = _post(client, "/api/accounts", {"name": "Globex"})
    change = _patch(client, f"/api/accounts/{account.pk}", {"name": "Changed"})
    # then
    assert (read.status_code, create.status_code, change.status_code) == (200, 403, 403)
    assert _state() == before


def test_detail_has_the_counts_and_totals(client, filled_account):
    # given
    client.force_login(filled_account.rep)
    # when
    body = client.get(f"/api/accounts/{filled_account.account.pk}").json()
    # then
    assert (body["name"], body["people_count"], body["touchpoints_count"]) == ("Northwind", 2, 1)
    assert body["deal_totals"] == {
        "total": 2,
        "open": 1,
        "won": 1,
        "lost": 0,
        "open_amount": "24000.00",
        "won_amount": "1800.00",
    }


def test_patch_changes_only_what_is_sent_and_merges_custom_fields(client, manager):
    # given
    owner = UserFactory(role="sales_rep")
    account = AccountFactory(
        name="Acme", domain="acme.example", industry="software", owner=owner, custom_fields={"a": 1, "b": "x"}
    )
    # when
    response = _patch(
        client,
        f"/api/accounts/{account.pk}",
        {"owner_id": None, "domain": None, "custom_fields": {"b": None, "c": True}},
    )
    # then
    assert response.status_code == 200
    account.refresh_from_db()
    assert (account.name, account.domain, account.industry, account.owner_id, account.custom_fields) == (
        "Acme",
        None,
        "software",
        None,
        {"a": 1, "c": True},
    )
    event = Event.objects.get(kind="account.updated")
    assert event.data == {
        "changes": {
            "domain": ["acme.example", None],
            "owner": [owner.pk, None],
            "custom_fields": [{"a": 1, "b": "x"}, {"a": 1, "c": True}],
        }
    }


def test_patch_to_a_taken_domain_is_a_409_and_nothing_changes(client, manager):
    # given
    AccountFactory(name="Acme", domain="acme.example")
    account = AccountFactory(name="Globex", domain="globex.example")
    before = _state()
    # when
    response = _patch(
        client, f"/api/accounts/{account.pk}", {"domain": "acme.example", "name": "Globex Acme"}
    )
    # then
    assert response.status_code == 409
    assert response.json()["field"] == "domain"
    assert _state() == before


def test_an_unknown_account_is_a_404(client, manager):
    # when
    responses = [
        client.get("/api/accounts/424242"),
        _patch(client, "/api/accounts/424242", {"name": "X"}),
        client.get("/api/accounts/424242/people"),
    ]
    # then
    assert [r.status_code for r in responses] == [404, 404, 404]


def test_the_accounts_people_deals_and_activities(client, filled_account, django_assert_num_queries):
    # given
    client.force_login(filled_account.rep)
    url = f"/api/accounts/{filled_account.account.pk}"
    client.get(url)  # the session and permissions are cached after the first request of the test
    # when: session, user, permissions (user and group), the account, one page
    with django_assert_num_queries(6):
        people = client.get(f"{url}/people", {"limit": 1}).json()
    with django_assert_num_queries(6):
        deals = client.get(f"{url}/deals").json()
    with django_assert_num_queries(6):
        activities = client.get(f"{url}/activities").json()
    more_people = client.get(f"{url}/people", {"limit": 1, "cursor": people["next_cursor"]}).json()
    # then
    assert [p["name"] for p in people["items"] + more_people["items"]] == ["Jonas Fischer", "Maria Weber"]
    assert [
        (d["name"], d["pipeline"], d["pipeline_stage"], d["stage"], d["amount"]) for d in deals["items"]
    ] == [
        ("Northwind pilot", "Sales", "Won", "won", "1800.00"),
        ("Northwind platform", "Sales", "New", "open", "24000.00"),
    ]
    assert [(a["kind"], a["outcome"], a["person_id"]) for a in activities["items"]] == [
        ("call", "connected", filled_account.maria.pk)
    ]
