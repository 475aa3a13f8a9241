from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from tandem.core.errors import NotAllowed, ValidationFailed
from tandem.core.models import Event
from tandem.crm.models import Deal, Person, StageChange
from tandem.crm.services import deal_close, deal_create, person_create
from tests.crm.factories import LostReasonFactory, PersonFactory

T0 = dt.datetime(2025, 6, 2, 10, 0, tzinfo=dt.UTC)


def test_person_create_refuses_unknown_stage_naming_the_field(db):
    # when
    with pytest.raises(ValidationFailed) as err:
        person_create(email="ann@acme.example", stage="hot")
    # then
    assert (err.value.field, err.value.value) == ("stage", "hot")
    assert Person.objects.count() == 0
    assert StageChange.objects.count() == 0


def test_person_create_matches_email_case_insensitively(db):
    # given
    person_create(email="Ann@Acme.example")
    # when
    with pytest.raises(NotAllowed, match=r"ann@acme\.example already exists"):
        person_create(email="  ANN@acme.EXAMPLE ")
    # then
    assert Person.objects.count() == 1


def test_deal_won_makes_a_customer_at_close_time(db):
    # given
    person = PersonFactory()
    deal = deal_create(person=person, amount=Decimal("5000"), created_at=T0)
    # when
    deal_close(deal=deal, won=True, at=T0 + dt.timedelta(days=30))
    # then
    history = list(StageChange.objects.filter(person=person).values_list("to_stage", "changed_at"))
    assert history[1:] == [("opportunity", T0), ("customer", T0 + dt.timedelta(days=30))]
    assert list(Event.objects.filter(subject_id=deal.pk).order_by("id").values_list("kind", flat=True)) == [
        "deal.created",
        "deal.won",
    ]


def test_lost_deal_needs_a_reason_and_changes_nothing_without(db):
    # given
    deal = deal_create(person=PersonFactory(), amount=Decimal("5000"), created_at=T0)
    # when
    with pytest.raises(ValidationFailed, match="lost reason"):
        deal_close(deal=deal, won=False)
    # then
    deal.refresh_from_db()
    assert (deal.stage, deal.closed_at) == ("open", None)
    # and with a reason it closes, and the person stays an opportunity
    deal_close(deal=deal, won=False, lost_reason=LostReasonFactory(name="Went with competitor"), at=T0)
    assert Deal.objects.get().lost_reason.name == "Went with competitor"
    assert Person.objects.get().lifecycle_stage == "opportunity"


def test_negative_amount_is_refused(db):
    # given
    person = PersonFactory()
    # when
    with pytest.raises(ValidationFailed) as err:
        deal_create(person=person, amount=Decimal("-1"))
    # then
    assert err.value.field == "amount"
    assert Deal.objects.count() == 0


def test_person_create_with_company_finds_the_domain_account_and_a_refusal_leaves_none(db):
    # given
    from tandem.crm.models import Account

    first = person_create(email="ann@globex.example", company="Globex")
    # when a second person of the same domain arrives, and then a refused one of a new company
    second = person_create(email="bob@globex.example", company="")
    with pytest.raises(NotAllowed):
        person_create(email="ANN@globex.example", company="Initech")
    # then
    assert first.account_id == second.account_id
    assert list(Account.objects.values_list("name", "domain")) == [("Globex", "globex.example")]


def test_deal_close_by_lost_reason_name_creates_it_once(db):
    # given
    from tandem.crm.models import LostReason

    one = deal_create(person=PersonFactory(), amount=Decimal("10"), created_at=T0)
    two = deal_create(person=PersonFactory(), amount=Decimal("10"), created_at=T0)
    # when
    deal_close(deal=one, won=False, lost_reason="  No   budget ", at=T0)
    deal_close(deal=two, won=False, lost_reason="No budget", at=T0)
    # then
    assert list(LostReason.objects.values_list("name", flat=True)) == ["No budget"]
    assert set(Deal.objects.values_list("lost_reason__name", flat=True)) == {"No budget"}
