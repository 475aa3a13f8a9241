"""The bulk variants imports write crm rows through: the rows they write and the statements they cost."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from tandem.core.errors import ValidationFailed
from tandem.crm.models import Account, Activity, Deal, DealStageChange, ExternalId, LostReason, Person
from tandem.crm.services import (
    accounts_create_bulk,
    accounts_update_bulk,
    activities_log_bulk,
    deals_assign_owner_bulk,
    deals_copy_bulk,
    deals_create_bulk,
    deals_update_bulk,
    external_ids_add_bulk,
    external_ids_copy_bulk,
    lost_reasons_create_bulk,
    people_copy_bulk,
    people_insert_bulk,
    people_phones_set_bulk,
    people_rows_update_bulk,
    people_update_bulk,
)
from tests.crm.factories import AccountFactory, DealFactory, PersonFactory
from tests.users.factories import UserFactory

T0 = dt.datetime(2025, 6, 2, 10, 0, tzinfo=dt.UTC)
NOW = dt.datetime(2025, 6, 3, 12, 30, tzinfo=dt.UTC)


class _Reports:
    def __init__(self) -> None:
        self.calls: list[tuple[str, int, int]] = []

    def __call__(self, label: str, done: int, total: int) -> None:
        self.calls.append((label, done, total))


def test_people_insert_bulk_returns_keys_in_row_order_in_one_statement(db, django_assert_num_queries):
    # given
    columns = ("email", "email_normalized", "first_name", "created_at", "updated_at")
    rows = [
        ("Bo@b.example", "bo@b.example", "Bo", T0, NOW),
        ("al@a.example", "al@a.example", "Al", T0, NOW),
    ]
    # when
    with django_assert_num_queries(1):
        pks = people_insert_bulk(columns=columns, rows=rows, now=NOW)
    # then
    stored = Person.objects.in_bulk(pks)
    assert [(stored[pk].email_normalized, stored[pk].first_name) for pk in pks] == [
        ("bo@b.example", "Bo"),
        ("al@a.example", "Al"),
    ]
    assert [(stored[pk].created_at, stored[pk].updated_at, stored[pk].lead_status) for pk in pks] == [
        (T0, NOW, "new"),
        (T0, NOW, "new"),
    ]
    assert pks == sorted(pks)


def test_people_insert_bulk_of_no_rows_writes_nothing(db, django_assert_num_queries):
    # when
    with django_assert_num_queries(0):
        pks = people_insert_bulk(columns=("email", "created_at"), rows=[], now=NOW)
    # then
    assert pks == []


def test_people_copy_bulk_stamps_auto_fields_with_now_and_reports_progress(db):
    # given
    reports = _Reports()
    rows = [("cy@c.example", "cy@c.example", T0), ("di@d.example", "di@d.example", T0)]
    # when
    written = people_copy_bulk(
        columns=("email", "email_normalized", "created_at"),
        rows=rows,
        now=NOW,
        progress=reports,
        label="write people",
    )
    # then
    assert written == 2
    assert list(
        Person.objects.order_by("email").values_list(
            "email_normalized", "created_at", "updated_at", "custom_fields"
        )
    ) == [("cy@c.example", T0, NOW, {}), ("di@d.example", T0, NOW, {})]
    assert reports.calls == [("write people", 2, 2)]


def test_people_rows_update_bulk_writes_only_the_given_fields(db, django_assert_num_queries):
    # given
    ann, bob = PersonFactory(email="ann@a.example"), PersonFactory(email="bob@b.example")
    ann.latest_channel, ann.job_title = "email", "not written"
    bob.latest_channel = "events"
    # when
    with django_assert_num_queries(1):
        changed = people_rows_update_bulk(people=[ann, bob], fields=["latest_channel"])
    # then
    assert changed == 2
    assert list(Person.objects.order_by("email").values_list("email", "latest_channel", "job_title")) == [
        ("ann@a.example", "email", "Head of Operations"),
        ("bob@b.example", "events", "Head of Operations"),
    ]


def test_external_ids_add_bulk_links_outside_ids_in_one_statement(db, django_assert_num_queries):
    # given
    ann = PersonFactory(email="ann@a.example")
    links = [
        ExternalId(person=ann, system="hubspot", external_id="h-1"),
        ExternalId(person=ann, system="salesforce", external_id="s-1"),
    ]
    # when
    with django_assert_num_queries(1):
        added = external_ids_add_bulk(external_ids=links)
    # then
    assert added == 2
    assert list(ExternalId.objects.order_by("system").values_list("person_id", "system", "external_id")) == [
        (ann.pk, "hubspot", "h-1"),
        (ann.pk, "salesforce", "s-1"),
    ]


def test_external_ids_copy_bulk_writes_tuples_stamped_now(db):
    # given
    ann = PersonFactory(email="ann@a.example")
    reports = _Reports()
    # when
    written = external_ids_copy_bulk(
        rows=[(ann.pk, "csv", "row-7"), (ann.pk, "crm", "c-9")], now=NOW, progress=reports, label="write ids"
    )
    # then
    assert written == 2
    assert list(
        ExternalId.objects.order_by("system").values_list("person_id", "system", "external_id", "created_at")
    ) == [
        (ann.pk, "crm", "c-9", NOW),
        (ann.pk, "csv", "row-7", NOW),
    ]
    assert reports.calls == [("write ids", 2, 2)]


def test_accounts_create_bulk_sets_keys_and_honours_the_batch_size(db, django_assert_num_queries):
    # given
    accounts = [Account(name=f"Acme {i}", domain=f"acme{i}.example", created_at=T0) for i in range(3)]
    # when
    with django_assert_num_queries(2):
        created = accounts_create_bulk(accounts=accounts, batch_size=2)
    # then
    assert created == 3
    assert [a.pk is not None for a in accounts] == [True, True, True]
    assert list(Account.objects.order_by("pk").values_list("pk", "domain")) == [
        (a.pk, f"acme{i}.example") for i, a in enumerate(accounts)
    ]


def test_accounts_update_bulk_writes_the_given_fields(db, django_assert_num_queries):
    # given
    one, two = AccountFactory(domain="one.example"), AccountFactory(domain="two.example")
    one.industry, two.industry, two.country = "retail", "media", "not written"
    # when
    with django_assert_num_queries(1):
        matched = accounts_update_bulk(accounts=[one, two], fields=["industry"])
    # then
    assert matched == 2
    assert list(Account.objects.order_by("domain").values_list("domain", "industry", "country")) == [
        ("one.example", "retail", "DE"),
        ("two.example", "media", "DE"),
    ]


def test_deals_create_bulk_sets_keys(db, django_assert_num_queries):
    # given
    ann = PersonFactory(email="ann@a.example")
    deals = [
        Deal(external_id="d-1", person=ann, amount=Decimal("10.00"), created_at=T0, updated_at=NOW),
        Deal(external_id="d-2", person=ann, amount=Decimal("20.00"), created_at=T0, updated_at=NOW),
    ]
    # when (the pipeline stages once, the deals, their entries into a stage)
    with django_assert_num_queries(3):
        created = deals_create_bulk(deals=deals)
    # then each is open on the default pipeline's first stage, entered when the deal was created
    assert created == 2
    rows = Deal.objects.order_by("external_id").values_list(
        "pk", "external_id", "amount", "stage", "pipeline__name", "pipeline_stage__name", "stage_entered_at"
    )
    assert list(rows) == [
        (deals[0].pk, "d-1", Decimal("10.00"), "open", "Sales", "New", T0),
        (deals[1].pk, "d-2", Decimal("20.00"), "open", "Sales", "New", T0),
    ]
    assert list(DealStageChange.objects.order_by("deal_id").values_list("deal_id", "to_stage__name", "changed_at")) == [
        (deals[0].pk, "New", T0),
        (deals[1].pk, "New", T0),
    ]


def test_deals_copy_bulk_writes_tuples_with_defaults(db):
    # given
    ann = PersonFactory(email="ann@a.example")
    reports = _Reports()
    # when
    written = deals_copy_bulk(
        columns=("external_id", "person_id", "amount", "created_at"),
        rows=[("d-9", ann.pk, Decimal("99.50"), T0)],
        now=NOW,
        progress=reports,
        label="write deals",
    )
    # then
    assert written == 1
    assert list(
        Deal.objects.values_list(
            "external_id", "person_id", "amount", "stage", "currency", "created_at", "updated_at"
        )
    ) == [("d-9", ann.pk, Decimal("99.50"), "open", "USD", T0, NOW)]
    assert reports.calls == [("write deals", 1, 1)]


def test_deals_update_bulk_writes_the_given_fields(db, django_assert_num_queries):
    # given
    deal = DealFactory(external_id="d-1")
    deal.amount, deal.name = Decimal("750.00"), "not written"
    # when
    with django_assert_num_queries(1):
        matched = deals_update_bulk(deals=[deal], fields=["amount"])
    # then
    assert matched == 1
    assert list(Deal.objects.values_list("external_id", "amount", "name")) == [("d-1", Decimal("750.00"), "")]


def test_lost_reasons_create_bulk_sets_keys(db, django_assert_num_queries):
    # given
    reasons = [LostReason(name="Price"), LostReason(name="Timing")]
    # when
    with django_assert_num_queries(1):
        created = lost_reasons_create_bulk(reasons=reasons)
    # then
    assert created == 2
    assert list(LostReason.objects.order_by("name").values_list("pk", "name", "is_active")) == [
        (reasons[0].pk, "Price", True),
        (reasons[1].pk, "Timing", True),
    ]


# ---- the loaders' bulk updates (the demo company) ----


def test_people_update_bulk_sets_the_fields_on_exactly_those_people(db, django_assert_num_queries):
    # given three people and an owner
    a, b, c = PersonFactory(), PersonFactory(), PersonFactory()
    rep = UserFactory()
    # when two of them get an owner and a status in one call
    with django_assert_num_queries(1):
        changed = people_update_bulk(person_ids=[b.pk, a.pk], at=NOW, owner=rep, lead_status="working")
    # then only those two changed, stamped with the given time
    assert changed == 2
    rows = dict(Person.objects.values_list("pk", "owner_id"))
    assert rows == {a.pk: rep.pk, b.pk: rep.pk, c.pk: None}
    assert set(Person.objects.filter(pk__in=[a.pk, b.pk]).values_list("lead_status", "updated_at")) == {
        ("working", NOW)
    }


def test_people_update_bulk_refuses_consent_which_changes_only_with_a_record(db):
    # given a person without consent
    person = PersonFactory()
    # when a loader tries to set their e-mail consent as a field
    with pytest.raises(ValidationFailed) as refused:
        people_update_bulk(person_ids=[person.pk], consent_email=True)
    # then it is refused, naming the field, and nothing changed
    assert refused.value.field == "consent_email"
    person.refresh_from_db()
    assert person.consent_email is False


def test_people_update_bulk_refuses_the_lifecycle_stage_and_changes_nothing(db):
    # given a person
    person = PersonFactory()
    before = Person.objects.values_list("lifecycle_stage", "updated_at").get(pk=person.pk)
    # when a loader tries to set the stage in bulk
    with pytest.raises(ValidationFailed) as refused:
        people_update_bulk(person_ids=[person.pk], lifecycle_stage="customer")
    # then the field is named and the row is untouched (stages move only through the stage service)
    assert (refused.value.field, refused.value.value) == ("lifecycle_stage", "customer")
    assert Person.objects.values_list("lifecycle_stage", "updated_at").get(pk=person.pk) == before


def test_phones_deal_owners_and_activities_are_written_in_bulk(db):
    # given two people, one with a deal, and a rep
    a, b = PersonFactory(phone=""), PersonFactory(phone="")
    deal = DealFactory(person=a, owner=None)
    rep = UserFactory()
    # when phones, the deal owner and two activities are written
    phones = people_phones_set_bulk(phones={a.pk: "+49 30 1234", b.pk: "+1 555 0100"})
    owners = deals_assign_owner_bulk(person_ids=[a.pk, b.pk], owner=rep)
    logged = activities_log_bulk(
        activities=[
            Activity(person=a, user=rep, kind_id="call", outcome="connected", occurred_at=T0),
            Activity(person=b, user=rep, kind_id="email", occurred_at=NOW),
        ]
    )
    # then each wrote exactly its rows
    assert (phones, owners, logged) == (2, 1, 2)
    assert dict(Person.objects.values_list("pk", "phone")) == {a.pk: "+49 30 1234", b.pk: "+1 555 0100"}
    assert Deal.objects.get(pk=deal.pk).owner_id == rep.pk
    assert sorted(Activity.objects.values_list("person_id", "kind", "occurred_at")) == sorted(
        [(a.pk, "call", T0), (b.pk, "email", NOW)]
    )
