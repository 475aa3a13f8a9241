"""CSV deals that belong to an account and no person: matched by domain, else by name; missing accounts made."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from tandem.capture.csvimport.mapping import RowError
from tandem.capture.csvimport.selectors import mapping_resolve
from tandem.capture.csvimport.services import csv_import
from tandem.core.models import Event
from tandem.crm.models import Account, Deal, DealStageChange, Person, StageChange
from tests.crm.factories import AccountFactory, PersonFactory
from tests.users.factories import UserFactory

FILE = (
    "Opportunity ID,Account Name,Company Domain,Sales Agent,Amount,Deal Stage,Create Date,Close Date\n"
    "OPP-1,Acme Corporation,acme.example,moses,4514,won,2016-10-25,2017-03-11\n"
    "OPP-2,Acme (the name differs),https://www.ACME.example/,,50,open,2016-10-25,\n"
    "OPP-3,Betatech,,Darcel Schlecht,0,lost,2016-11-01,2017-01-05\n"
    "OPP-4,Cancity,,,1054,open,2016-12-01,\n"
)


def _mapping(text: str = FILE):  # type: ignore[no-untyped-def]
    return mapping_resolve(name="auto", kind="deals", headers=text.splitlines()[0].split(","))


def _state() -> tuple[object, ...]:
    return (
        list(Account.objects.order_by("pk").values_list("pk", "name", "domain")),
        list(
            Deal.objects.order_by("pk").values_list(
                "external_id", "account_id", "person_id", "owner_id", "stage", "amount"
            )
        ),
        DealStageChange.objects.count(),
        StageChange.objects.count(),
        Event.objects.count(),
    )


def test_auto_mapping_reads_account_domain_and_owner_columns():
    # when
    mapping = _mapping()
    # then
    assert mapping.columns == {
        "Opportunity ID": "deal_id",
        "Account Name": "account",
        "Company Domain": "account_domain",
        "Sales Agent": "owner",
        "Amount": "amount",
        "Deal Stage": "stage",
        "Create Date": "created_at",
        "Close Date": "closed_at",
    }


def test_deals_with_an_account_and_no_person_are_imported_onto_found_or_new_accounts(db):
    # given an account by domain, one by name, two users named by username and by full name
    acme = AccountFactory(name="Acme Corp", domain="acme.example")
    betatech = AccountFactory(name="Betatech", domain=None)
    moses = UserFactory(username="moses", first_name="Moses", last_name="Frase")
    darcel = UserFactory(username="dschlecht", first_name="Darcel", last_name="Schlecht")
    # when
    result = csv_import(data=FILE.encode(), mapping=_mapping())
    # then
    assert result.counts == {"created": 4, "updated": 0, "unchanged": 0, "merged": 0, "refused": 0}
    assert result.accounts_created == 1
    cancity = Account.objects.get(name="Cancity")
    assert cancity.domain is None
    deals = {
        d.external_id: (d.account_id, d.person_id, d.owner_id, d.stage, d.amount, d.pipeline_stage.name)
        for d in Deal.objects.select_related("pipeline_stage")
    }
    assert deals == {
        "OPP-1": (acme.pk, None, moses.pk, "won", Decimal("4514.00"), "Won"),
        "OPP-2": (acme.pk, None, None, "open", Decimal("50.00"), "New"),
        "OPP-3": (betatech.pk, None, darcel.pk, "lost", Decimal("0.00"), "Lost"),
        "OPP-4": (cancity.pk, None, None, "open", Decimal("1054.00"), "New"),
    }
    won = Deal.objects.get(external_id="OPP-1")
    assert (won.created_at, won.closed_at) == (
        dt.datetime(2016, 10, 25, tzinfo=dt.UTC),
        dt.datetime(2017, 3, 11, tzinfo=dt.UTC),
    )
    assert Person.objects.count() == 0 and StageChange.objects.count() == 0


def test_importing_the_same_file_again_changes_nothing(db):
    # given
    UserFactory(username="moses")
    UserFactory(first_name="Darcel", last_name="Schlecht")
    csv_import(data=FILE.encode(), mapping=_mapping())
    before = _state()
    # when
    again = csv_import(data=FILE.encode(), mapping=_mapping())
    # then
    assert again.counts == {"created": 0, "updated": 0, "unchanged": 4, "merged": 0, "refused": 0}
    assert again.accounts_created == 0
    assert _state()[:4] == before[:4]


def test_a_deal_moves_to_a_newly_named_account(db):
    # given
    UserFactory(username="moses")
    UserFactory(first_name="Darcel", last_name="Schlecht")
    csv_import(data=FILE.encode(), mapping=_mapping())
    moved = FILE.replace("OPP-4,Cancity,,", "OPP-4,Dambase,dambase.example,")
    # when
    result = csv_import(data=moved.encode(), mapping=_mapping(moved))
    # then
    assert result.counts["updated"] == 1 and result.accounts_created == 1
    dambase = Account.objects.get(domain="dambase.example")
    assert Deal.objects.get(external_id="OPP-4").account_id == dambase.pk


def test_a_row_naming_a_person_keeps_needing_that_person(db):
    # given a person-level deal row for someone not stored, and one for someone stored with an account
    maria = PersonFactory(email="maria@northwind.example", account=AccountFactory(name="Northwind"))
    text = (
        "Deal ID,Email,Account,Amount\n"
        "D-1,nobody@nowhere.example,Acme,10\n"
        "D-2,maria@northwind.example,,20\n"
        "D-3,maria@northwind.example,Globex,30\n"
    )
    # when
    result = csv_import(data=text.encode(), mapping=_mapping(text), mode="good_rows")
    # then
    assert [(r.line, r.outcome) for r in result.rows] == [(2, "refused"), (3, "created"), (4, "created")]
    assert result.rows[0].error == (
        "row 2, column 'Email': no person with email 'nobody@nowhere.example' (import the people first)"
    )
    d2, d3 = Deal.objects.get(external_id="D-2"), Deal.objects.get(external_id="D-3")
    assert (d2.person_id, d2.account_id) == (maria.pk, maria.account_id)
    assert (d3.person_id, d3.account.name) == (maria.pk, "Globex")
    assert not Account.objects.filter(name="Acme").exists()


@pytest.mark.parametrize(
    ("row", "message"),
    [
        (
            "X-1,Acme,not a domain,,1,open,2016-01-01,",
            "row 2, column 'Company Domain': domain 'not a domain' is not a domain name such as acme.example",
        ),
        (
            "X-1,Acme,,nobody,1,open,2016-01-01,",
            "row 2, column 'Sales Agent': no Tandem user 'nobody' (a username, email or full name)",
        ),
        (
            "X-1,,,,1,open,2016-01-01,",
            "row 2, column 'email': the row names no person (no email, external id or phone)",
        ),
    ],
)
def test_a_bad_account_or_owner_refuses_the_file_and_writes_nothing(db, row, message):
    # given
    text = FILE.splitlines()[0] + "\n" + row + "\n"
    before = _state()
    # when
    with pytest.raises(RowError) as refused:
        csv_import(data=text.encode(), mapping=_mapping(text))
    # then
    assert refused.value.message == message + "; nothing was written"
    assert _state() == before
