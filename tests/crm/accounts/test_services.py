from __future__ import annotations

import pytest

from tandem.core.errors import NotAllowed, ValidationFailed
from tandem.core.models import Event
from tandem.crm.accounts.services import account_create, account_domain_clean, account_update
from tandem.crm.models import Account
from tests.crm.factories import AccountFactory
from tests.users.factories import UserFactory


def _state() -> list[tuple[object, ...]]:
    accounts = Account.objects.order_by("pk").values_list(
        "pk", "name", "domain", "industry", "size_band", "country", "owner_id", "custom_fields"
    )
    return [*accounts, ("events", Event.objects.count())]


def test_account_create_stores_the_cleaned_fields_and_records_an_event(db):
    # given
    owner = UserFactory(role="sales_rep")
    manager = UserFactory(role="sales_manager")
    # when
    account = account_create(
        name="  Northwind   Traders ",
        domain="https://www.Northwind.example/about?x=1",
        industry="Retail",
        size_band="201-1000",
        country="Germany",
        owner=owner,
        custom_fields={"revenue_musd": 12.5, "employees": 640, "public": False, "parent": "Globex"},
        by_user=manager,
    )
    # then
    stored = Account.objects.get(pk=account.pk)
    assert (
        stored.name,
        stored.domain,
        stored.industry,
        stored.size_band,
        stored.country,
        stored.owner_id,
    ) == (
        "Northwind Traders",
        "northwind.example",
        "Retail",
        "201-1000",
        "Germany",
        owner.pk,
    )
    assert stored.custom_fields == {
        "revenue_musd": 12.5,
        "employees": 640,
        "public": False,
        "parent": "Globex",
    }
    event = Event.objects.get(kind="account.created")
    assert (event.subject_type, event.subject_id, event.actor_id) == ("crm.account", account.pk, manager.pk)
    assert event.data == {
        "name": "Northwind Traders",
        "domain": "northwind.example",
        "industry": "Retail",
        "size_band": "201-1000",
        "country": "Germany",
        "owner": owner.pk,
        "custom_fields": {"revenue_musd": 12.5, "employees": 640, "public": False, "parent": "Globex"},
    }


@pytest.mark.parametrize(
    "given",
    [
        "acme.example",
        "ACME.example",
        "https://www.acme.example/",
        "http://acme.example:8080/x",
        "ops@acme.example",
    ],
)
def test_the_same_domain_in_another_spelling_is_refused_and_nothing_changes(db, given):
    # given
    AccountFactory(name="Acme", domain="acme.example")
    before = _state()
    # when
    with pytest.raises(NotAllowed) as refused:
        account_create(name="Acme again", domain=given)
    # then
    assert refused.value.field == "domain"
    assert refused.value.value == "acme.example"
    assert refused.value.message.startswith("the domain acme.example already belongs to account 'Acme' (#")
    assert _state() == before


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"name": "  "}, "name", "name must not be empty"),
        ({"name": "x" * 201}, "name", "name must be at most 200 characters, got 201"),
        ({"name": "A\x00B"}, "name", "name must not contain NUL characters"),
        (
            {"domain": "not a domain"},
            "domain",
            "domain 'not a domain' is not a domain name such as acme.example",
        ),
        ({"domain": "localhost"}, "domain", "domain 'localhost' is not a domain name such as acme.example"),
        (
            {"size_band": "huge"},
            "size_band",
            "size_band 'huge' is not one of 1-10, 11-50, 51-200, 201-1000, 1001-5000, 5001+",
        ),
        ({"industry": "i" * 81}, "industry", "industry must be at most 80 characters, got 81"),
        ({"custom_fields": {"": "x"}}, "custom_fields", "custom_fields must not be empty"),
        (
            {"custom_fields": {"note": ["a"]}},
            "custom_fields.note",
            "custom_fields.note must be text, a number, true/false or null",
        ),
        (
            {"custom_fields": {"ratio": float("nan")}},
            "custom_fields.ratio",
            "custom_fields.ratio must be a finite number",
        ),
        ({"custom_fields": "x=1"}, "custom_fields", "custom_fields must be an object of names and values"),
        ({"owner": 7}, "owner", "owner must be a user"),
    ],
)
def test_bad_fields_are_refused_naming_the_field_and_nothing_is_written(db, fields, field, message):
    # given
    AccountFactory(name="Existing")
    before = _state()
    # when
    with pytest.raises(ValidationFailed) as refused:
        account_create(**{"name": "Globex", **fields})
    # then
    assert (refused.value.field, refused.value.message) == (field, message)
    assert _state() == before


def test_account_domain_clean_reads_urls_and_addresses():
    assert account_domain_clean("  HTTPS://WWW.Globex.Example/path#top ") == "globex.example"
    assert account_domain_clean("sales@sub.globex.example") == "sub.globex.example"
    assert account_domain_clean("globex.example.") == "globex.example"
    assert account_domain_clean("") is None
    assert account_domain_clean(None) is None


def test_account_update_changes_only_what_differs_and_records_the_old_and_new_values(db):
    # given
    owner = UserFactory(role="sales_rep")
    account = AccountFactory(name="Initech", domain="initech.example", industry="software", country="US")
    # when
    account_update(
        account=account, name="Initech", industry="Software", owner=owner, custom_fields={"tier": "A"}
    )
    # then
    stored = Account.objects.get(pk=account.pk)
    assert (stored.name, stored.industry, stored.owner_id, stored.custom_fields) == (
        "Initech",
        "Software",
        owner.pk,
        {"tier": "A"},
    )
    event = Event.objects.get(kind="account.updated")
    assert event.data == {
        "changes": {
            "industry": ["software", "Software"],
            "owner": [None, owner.pk],
            "custom_fields": [{}, {"tier": "A"}],
        }
    }


def test_an_update_that_changes_nothing_writes_nothing(db):
    # given
    account = AccountFactory(name="Initech", domain="initech.example")
    before = _state()
    # when
    account_update(account=account, name=" Initech ", domain="https://initech.example")
    # then
    assert _state() == before


def test_moving_to_another_accounts_domain_is_refused_and_the_account_is_unchanged(db):
    # given
    AccountFactory(name="Acme", domain="acme.example")
    account = AccountFactory(name="Initech", domain="initech.example")
    before = _state()
    # when
    with pytest.raises(NotAllowed) as refused:
        account_update(account=account, domain="www.acme.example", name="Initech Acme")
    # then
    assert refused.value.field == "domain"
    assert _state() == before


def test_fields_outside_the_editable_ones_are_refused(db):
    # given
    account = AccountFactory(name="Initech")
    before = _state()
    # when
    with pytest.raises(ValidationFailed) as refused:
        account_update(account=account, created_at="2020-01-01")
    # then
    assert refused.value.field == "created_at"
    assert _state() == before


def test_removing_the_domain_frees_it_for_another_account(db):
    # given
    old = AccountFactory(name="Acme (old)", domain="acme.example")
    # when
    account_update(account=old, domain="")
    new = account_create(name="Acme", domain="acme.example")
    # then
    assert Account.objects.get(pk=old.pk).domain is None
    assert new.domain == "acme.example"
