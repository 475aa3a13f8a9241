from __future__ import annotations

import re

import pytest

from tandem.core.models import Event
from tandem.crm.models import Account
from tests.crm.factories import AccountFactory, PersonFactory
from tests.users.factories import UserFactory


def _names(body: bytes) -> list[str]:
    return re.findall(r'<a class="cell-main" href="/accounts/\d+/">([^<]+)</a>', body.decode())


def _link(body: bytes, rel: str) -> str | None:
    found = re.search(rf'rel="{rel}" href="([^"]+)"', body.decode())
    return found.group(1).replace("&amp;", "&") if found else None


def _text(body: bytes) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", body.decode()).split())


@pytest.fixture
def manager(db, client):
    user = UserFactory(role="sales_manager", first_name="Max", last_name="Manager")
    client.force_login(user)
    return user


@pytest.fixture
def viewer(db, client):
    user = UserFactory(role="viewer")
    client.force_login(user)
    return user


# ---- the list ----


def test_the_list_shows_accounts_by_name_with_people_and_open_deals(client, filled_account):
    # given
    AccountFactory(name="Acme", domain="acme.example", industry="software", country="US", owner=filled_account.rep)
    UserFactory(role="viewer")
    client.force_login(filled_account.rep)
    # when
    response = client.get("/accounts/")
    # then
    assert response.status_code == 200
    assert _names(response.content)[:2] == ["Acme", "Northwind"]
    row = _text(response.content).split("Northwind northwind.example", 1)[1].strip()
    assert row.startswith("retail 201–1,000 Germany Rita Rep 2 1")


def test_search_finds_part_of_the_name_or_of_the_domain_in_any_case(client, manager):
    # given
    AccountFactory(name="Northwind Traders", domain="nwt.example")
    AccountFactory(name="Globex", domain="globex-north.example")
    AccountFactory(name="Initech", domain="initech.example")
    # when
    by_name = client.get("/accounts/?q=WIND")
    by_domain = client.get("/accounts/?q=north")
    # then
    assert _names(by_name.content) == ["Northwind Traders"]
    assert _names(by_domain.content) == ["Globex", "Northwind Traders"]


def test_filters_by_industry_country_and_owner(client, manager):
    # given
    rep = UserFactory(role="sales_rep")
    AccountFactory(name="Acme", industry="software", country="US", owner=rep)
    AccountFactory(name="Globex", industry="software", country="Germany")
    AccountFactory(name="Initech", industry="retail", country="US")
    # when
    software = client.get("/accounts/?industry=software")
    us_software = client.get("/accounts/?industry=software&country=US")
    owned = client.get(f"/accounts/?owner={rep.pk}")
    unassigned = client.get("/accounts/?owner=none")
    # then
    assert _names(software.content) == ["Acme", "Globex"]
    assert _names(us_software.content) == ["Acme"]
    assert _names(owned.content) == ["Acme"]
    assert _names(unassigned.content) == ["Globex", "Initech"]


def test_an_unknown_owner_is_an_error_on_the_page_not_an_empty_list(client, manager):
    # when
    response = client.get("/accounts/?owner=abc")
    # then
    assert response.status_code == 422
    assert "owner must be a user id or &#x27;none&#x27;, got &#x27;abc&#x27;" in response.content.decode()


def test_the_list_pages_by_keyset_and_back(client, manager):
    # given 60 accounts: more than one page
    for i in range(60):
        AccountFactory(name=f"Account {i:02d}")
    # when
    first = client.get("/accounts/")
    second = client.get(_link(first.content, "next"))
    back = client.get(_link(second.content, "prev"))
    # then
    assert _names(first.content) == [f"Account {i:02d}" for i in range(50)]
    assert _names(second.content) == [f"Account {i:02d}" for i in range(50, 60)]
    assert _link(second.content, "next") is None
    assert _names(back.content) == _names(first.content)


def test_the_list_query_count_is_pinned(client, manager, django_assert_num_queries):
    # given 60 accounts with people and owners
    rep = UserFactory(role="sales_rep")
    for i in range(60):
        account = AccountFactory(owner=rep if i % 2 else None)
        PersonFactory(account=account)
    # when: session, user, permissions (user and group), the manager's teams (record-level access), one page of
    # accounts with counts, owners, filter options
    with django_assert_num_queries(8):
        response = client.get("/accounts/")
    # then
    assert len(_names(response.content)) == 50


def test_an_htmx_request_gets_only_the_results(client, manager, django_assert_num_queries):
    # given
    AccountFactory(name="Acme")
    # when: session, user, permissions (user and group), the manager's teams (record-level access), the page
    with django_assert_num_queries(6):
        response = client.get("/accounts/?q=ac", HTTP_HX_REQUEST="true")
    # then
    assert response.content.decode().lstrip().startswith('<div id="account-results">')
    assert _names(response.content) == ["Acme"]


# ---- the account page ----


def test_the_account_page_shows_people_deals_activities_tasks_touchpoints_and_custom_fields(
    client, filled_account
):
    # given
    client.force_login(filled_account.rep)
    # when
    response = client.get(f"/accounts/{filled_account.account.pk}/")
    # then
    text = _text(response.content)
    assert response.status_code == 200
    assert "Northwind northwind.example · retail · Germany" in text
    assert (
        "People 2 Open deals 1 24,000 USD in the pipeline Won 1 1,800 USD revenue Lost 0 2 deals in all"
        in text
    )
    assert (
        "Northwind pilot Jonas Fischer · Rita Rep Won 1,800 USD 4 Mar 2025 23 Mar 2025 "
        "Northwind platform Maria Weber · Rita Rep New 24,000 USD 3 Mar 2025 —"
    ) in text
    assert "Jonas Fischer jonas@northwind.example Head of Operations Customer Rita Rep" in text
    assert "Maria Weber maria@northwind.example Head of Operations Opportunity Rita Rep" in text
    assert "5 Mar 2025, 09:00 Call Maria Weber Connected Rita Rep Wants a pilot." in text
    assert "due 8 Mar 2025, 09:00 · Rita Rep Send the pilot proposal with Maria Weber" in text
    assert "Done already" not in text
    assert "28 Feb 2025, 09:00 · Maria Weber Webinar attended via Webinar Campaign: Spring webinar" in text
    assert "Elsewhere" not in text
    assert "revenue_musd 1100.04 subsidiary_of Globex" in text


def test_the_account_page_query_count_is_pinned(client, filled_account, django_assert_num_queries):
    # given
    client.force_login(filled_account.rep)
    # when: session, user, the account, people, deals, deal totals, activities, tasks, touchpoints, permissions (2)
    with django_assert_num_queries(11):
        response = client.get(f"/accounts/{filled_account.account.pk}/")
    # then
    assert response.status_code == 200


def test_an_unknown_account_is_a_404_naming_it(client, manager):
    # when
    response = client.get("/accounts/999999/")
    # then
    assert response.status_code == 404


# ---- create and edit ----


def test_a_manager_adds_an_account_with_custom_fields(client, manager):
    # when
    response = client.post(
        "/accounts/new/",
        {
            "name": "Globex",
            "domain": "https://globex.example/",
            "industry": "software",
            "size_band": "51-200",
            "country": "US",
            "owner": "",
            "cf_name": ["Tier", "", "Empty"],
            "cf_value": ["A", "", ""],
        },
    )
    # then
    account = Account.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/accounts/{account.pk}/"
    assert (account.name, account.domain, account.size_band, account.custom_fields) == (
        "Globex",
        "globex.example",
        "51-200",
        {"Tier": "A"},
    )
    assert Event.objects.filter(kind="account.created", subject_id=account.pk, actor=manager).count() == 1


def test_a_duplicate_domain_is_shown_on_the_form_and_nothing_is_written(client, manager):
    # given
    AccountFactory(name="Globex", domain="globex.example")
    events = Event.objects.count()
    # when
    response = client.post(
        "/accounts/new/",
        {"name": "Globex 2", "domain": "GLOBEX.example", "cf_name": ["Tier"], "cf_value": ["B"]},
    )
    # then
    body = response.content.decode()
    assert response.status_code == 409
    assert "the domain globex.example already belongs to account &#x27;Globex&#x27; (#" in body
    assert 'value="Globex 2"' in body and 'value="Tier"' in body and 'value="B"' in body
    assert Account.objects.count() == 1
    assert Event.objects.count() == events


def test_editing_keeps_a_stored_number_and_removes_a_cleared_field(client, manager):
    # given
    account = AccountFactory(
        name="Acme", domain="acme.example", custom_fields={"employees": 2822, "old": "x"}
    )
    # when
    page = client.get(f"/accounts/{account.pk}/edit/")
    response = client.post(
        f"/accounts/{account.pk}/edit/",
        {
            "name": "Acme Corporation",
            "domain": "acme.example",
            "industry": "technology",
            "size_band": "1001-5000",
            "country": "United States",
            "owner": str(manager.pk),
            "cf_name": ["employees", "old", "founded"],
            "cf_value": ["2822", "", "1996"],
        },
    )
    # then
    assert 'value="employees"' in page.content.decode() and 'value="2822"' in page.content.decode()
    assert response.status_code == 302
    account.refresh_from_db()
    assert (account.name, account.owner_id, account.custom_fields) == (
        "Acme Corporation",
        manager.pk,
        {"employees": 2822, "founded": "1996"},
    )


def test_a_viewer_may_not_add_or_edit_accounts(client, viewer):
    # given
    account = AccountFactory(name="Acme")
    # when
    add = client.post("/accounts/new/", {"name": "Globex"})
    edit = client.post(f"/accounts/{account.pk}/edit/", {"name": "Changed"})
    # then
    assert (add.status_code, edit.status_code) == (403, 403)
    assert list(Account.objects.values_list("name", flat=True)) == ["Acme"]
