"""CSV import service: per-row outcomes, dry runs, all or nothing, good rows, matching, saved mappings."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from tandem.campaigns.models import Campaign, Touchpoint
from tandem.capture.csvimport.mapping import Mapping, RowError
from tandem.capture.csvimport.selectors import mapping_resolve
from tandem.capture.csvimport.services import csv_import, mapping_save
from tandem.capture.models import ImportMapping
from tandem.core.errors import ValidationFailed
from tandem.core.models import Event
from tandem.crm.models import Account, Deal, ExternalId, Person
from tandem.crm.services import person_create
from tests.capture.factories import HUBSPOT_CSV, csv_table_counts

HEADERS = HUBSPOT_CSV.splitlines()[0].split(",")


def _hubspot() -> Mapping:
    return mapping_resolve(name="hubspot", kind="people", headers=HEADERS)


def _run(text: str, **options: object) -> object:
    return csv_import(data=text.encode(), mapping=_hubspot(), **options)  # type: ignore[arg-type]


def test_hubspot_export_creates_people_accounts_links_and_a_first_touchpoint(db):
    # given / when
    result = _run(HUBSPOT_CSV)
    # then
    assert result.counts == {"created": 3, "updated": 0, "unchanged": 0, "merged": 0, "refused": 0}
    ada = Person.objects.get(email_normalized="ada@acme.example")
    assert (ada.first_name, ada.last_name, ada.job_title, ada.phone) == (
        "Ada",
        "Lovelace",
        "CTO",
        "+1 555 0100 200",
    )
    assert ada.created_at == dt.datetime(2025, 1, 10, 9, 0, tzinfo=dt.UTC)
    assert (ada.original_channel, ada.latest_channel, ada.lifecycle_stage) == (
        "organic_search",
        "organic_search",
        "lead",
    )
    assert ada.account is not None and (ada.account.name, ada.account.domain) == ("Acme", "acme.example")
    assert Person.objects.get(email_normalized="cy@acme.example").account_id == ada.account_id
    assert Account.objects.count() == 1
    assert sorted(ExternalId.objects.values_list("system", "external_id")) == [
        ("hubspot", "101"),
        ("hubspot", "102"),
        ("hubspot", "103"),
    ]
    touch = Touchpoint.objects.get(person=ada)
    assert (touch.channel, touch.kind, touch.occurred_at) == ("organic_search", "other", ada.created_at)
    bo = Person.objects.get(email_normalized="bo@gmail.com")
    assert (bo.original_channel, bo.custom_fields) == ("paid_social", {})
    cy = Person.objects.get(email_normalized="cy@acme.example")
    assert (cy.original_channel, cy.custom_fields) == ("direct", {"original_source": "Direct Traffic"})
    event = Event.objects.get(kind="import.completed")
    assert event.data["counts"]["created"] == 3
    assert (event.data["touchpoints_created"], event.data["stage_changes"]) == (3, 3)


def test_importing_twice_changes_nothing(db):
    # given
    _run(HUBSPOT_CSV)
    before = csv_table_counts()
    # when
    result = _run(HUBSPOT_CSV)
    # then
    assert result.counts == {"created": 0, "updated": 0, "unchanged": 3, "merged": 0, "refused": 0}
    after = csv_table_counts()
    assert after == {**before, "Event": before["Event"] + 1}


def test_dry_run_reports_each_row_and_writes_nothing(db):
    # given: Ada is in the database already (created by hand), then the file changes Bo's title, repeats Cy
    # under his id, and has a row with a broken email
    _run(HUBSPOT_CSV)
    text = (
        HUBSPOT_CSV.replace("102,Bo,Chen,bo@gmail.com,,,,", "102,Bo,Chen,bo@gmail.com,,,Founder,")
        + "104,Di,Eng,di@beta.example,,,,2025-02-01 08:00,Referrals\n"
        + "103,,,cy@acme.example,,,,,\n"
        + "105,Ed,Fox,ed@@beta,,,,2025-02-02 08:00,\n"
    )
    before = csv_table_counts()
    # when
    result = _run(text, dry_run=True)
    # then
    assert [(r.line, r.outcome, r.key) for r in result.rows] == [
        (2, "unchanged", "ada@acme.example"),
        (3, "updated", "bo@gmail.com"),
        (4, "unchanged", "cy@acme.example"),
        (5, "created", "di@beta.example"),
        (6, "merged", "cy@acme.example"),
        (7, "refused", ""),
    ]
    assert [r.detail for r in result.rows[:5]] == ["", "changes job_title", "", "", "merged into row 4"]
    refused = result.rows[-1]
    assert (refused.column, refused.value) == ("Email", "ed@@beta")
    assert refused.error == "row 7, column 'Email': 'ed@@beta' is not a valid email address: the part after the @-sign contains invalid characters: '@'"
    assert result.counts == {"created": 1, "updated": 1, "unchanged": 2, "merged": 1, "refused": 1}
    assert csv_table_counts() == before


def test_all_or_nothing_refuses_the_file_on_one_bad_row(db):
    # given
    text = HUBSPOT_CSV + "104,Di,Eng,di@beta.example,,,,13/45/2025,\n"
    before = csv_table_counts()
    # when
    with pytest.raises(RowError) as refused:
        _run(text)
    # then
    assert (refused.value.line, refused.value.column, refused.value.value) == (5, "Create Date", "13/45/2025")
    assert refused.value.message == (
        "row 5, column 'Create Date': cannot read '13/45/2025' as a date-time; nothing was written"
    )
    assert csv_table_counts() == before


def test_good_rows_mode_imports_the_rest_and_returns_the_refused_rows(db):
    # given
    text = HUBSPOT_CSV + "104,Di,Eng,di@beta.example,,,,13/45/2025,\n" + ",Zoe,,,,,,,\n"
    # when
    result = _run(text, mode="good_rows")
    # then
    assert result.counts == {"created": 3, "updated": 0, "unchanged": 0, "merged": 0, "refused": 2}
    assert Person.objects.count() == 3
    assert result.refused_csv().splitlines() == [
        "Record ID,First Name,Last Name,Email,Phone Number,Company Name,Job Title,Create Date,Original Source,"
        "error_field,error_value,error",
        "104,Di,Eng,di@beta.example,,,,13/45/2025,,Create Date,13/45/2025,"
        "\"row 5, column 'Create Date': cannot read '13/45/2025' as a date-time\"",
        ",Zoe,,,,,,,,Email,,\"row 6, column 'Email': the row has no email, external id or phone to identify "
        'the person"',
    ]


def test_a_person_without_email_is_matched_by_external_id_then_by_phone(db):
    # given: a phone-only lead stored before, and a person known by an id of another system
    phone_only = person_create(phone="+44 20 7946 0958", first_name="Pat")
    linked = person_create(first_name="Lin")
    ExternalId.objects.create(person=linked, system="crm2", external_id="X-9")
    mapping = Mapping(
        name="other-crm",
        kind="people",
        columns={"Id": "external_id", "Phone": "phone", "Title": "job_title"},
        options={"external_id_system": "crm2"},
    )
    text = "Id,Phone,Title\nX-9,,Buyer\nX-10,+44 (20) 7946-0958,Analyst\n"
    # when
    result = csv_import(data=text.encode(), mapping=mapping)
    # then
    assert [(r.line, r.outcome) for r in result.rows] == [(2, "updated"), (3, "updated")]
    assert Person.objects.get(pk=linked.pk).job_title == "Buyer"
    pat = Person.objects.get(pk=phone_only.pk)
    assert pat.job_title == "Analyst"
    assert list(pat.external_ids.values_list("system", "external_id")) == [("crm2", "X-10")]
    assert Person.objects.count() == 2


def test_an_email_and_an_id_naming_two_people_is_refused(db):
    # given
    ada = person_create(email="ada@acme.example")
    other = person_create(email="other@acme.example")
    ExternalId.objects.create(person=other, system="hubspot", external_id="101")
    # when
    result = _run(HUBSPOT_CSV, dry_run=True)
    # then
    first = result.rows[0]
    assert (first.outcome, first.column, first.value) == ("refused", "Record ID", "101")
    assert first.error == (
        f"row 2, column 'Record ID': email 'ada@acme.example' belongs to person #{ada.pk} but hubspot id "
        f"'101' to person #{other.pk}"
    )


def test_touchpoints_file_attaches_to_people_by_email_and_refuses_strangers(db):
    # given
    _run(HUBSPOT_CSV)
    Campaign.objects.create(
        name="Spring webinar", channel="webinar", created_at=dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
    )
    text = (
        "Email,Date,Channel,Type,Campaign\n"
        "ada@acme.example,2025-03-01 10:00,Webinar,webinar,Spring webinar\n"
        "ada@acme.example,2025-03-01 10:00,Webinar,webinar,Spring webinar\n"
        "zed@nowhere.example,2025-03-02 10:00,Email,email_open,\n"
    )
    mapping = mapping_resolve(name="auto", kind="touchpoints", headers=text.splitlines()[0].split(","))
    # when
    result = csv_import(data=text.encode(), mapping=mapping, mode="good_rows")
    # then
    assert mapping.columns == {
        "Email": "email",
        "Date": "occurred_at",
        "Channel": "channel",
        "Type": "kind",
        "Campaign": "campaign_id",
    }
    assert [(r.line, r.outcome) for r in result.rows] == [(2, "created"), (3, "merged"), (4, "refused")]
    assert result.rows[2].error == (
        "row 4, column 'Email': no person with email 'zed@nowhere.example' (import the people first)"
    )
    ada = Person.objects.get(email_normalized="ada@acme.example")
    assert sorted(ada.touchpoints.values_list("channel", "kind")) == [
        ("organic_search", "other"),
        ("webinar", "webinar"),
    ]
    assert (ada.original_channel, ada.latest_channel) == ("organic_search", "webinar")


def test_deals_file_creates_won_deals_and_moves_people_to_customer(db):
    # given
    _run(HUBSPOT_CSV)
    text = (
        "Deal ID,Email,Amount,Deal Stage,Create Date,Close Date\n"
        'D-1,ada@acme.example,"12,000.00",Closed Won,2025-02-01,2025-03-01\n'
        "D-2,bo@gmail.com,500,open,2025-02-02,\n"
        "D-3,cy@acme.example,900,maybe,2025-02-03,\n"
    )
    mapping = mapping_resolve(name="auto", kind="deals", headers=text.splitlines()[0].split(","))
    # when
    with pytest.raises(RowError) as refused:
        csv_import(data=text.encode(), mapping=mapping)
    result = csv_import(data=text.encode(), mapping=mapping, mode="good_rows")
    # then
    assert refused.value.message == (
        "row 4, column 'Deal Stage': unknown deal stage 'maybe' (expected open, won or lost, or a value map); "
        "nothing was written"
    )
    assert result.counts == {"created": 2, "updated": 0, "unchanged": 0, "merged": 0, "refused": 1}
    won = Deal.objects.get(external_id="D-1")
    assert (won.stage, won.amount, won.closed_at) == (
        "won",
        Decimal("12000.00"),
        dt.datetime(2025, 3, 1, tzinfo=dt.UTC),
    )
    assert won.account_id == Person.objects.get(email_normalized="ada@acme.example").account_id
    stages = dict(Person.objects.values_list("email_normalized", "lifecycle_stage"))
    assert stages == {
        "ada@acme.example": "customer",
        "bo@gmail.com": "opportunity",
        "cy@acme.example": "lead",
    }


def test_saved_mapping_round_trip_by_name(db):
    # given
    mapping = Mapping(
        name="webinar-list",
        kind="people",
        columns={"Mail": "email", "Who": "full_name", "How": "original_channel"},
        options={"values": {"original_channel": {"LinkedIn Live": "webinar"}}},
    )
    mapping_save(name="webinar-list", mapping=mapping)
    text = "Mail,Who,How\nann@x.example,Ann Lee,LinkedIn Live\n"
    # when
    resolved = mapping_resolve(name="webinar-list", kind="people", headers=["Mail", "Who", "How"])
    csv_import(data=text.encode(), mapping=resolved)
    # then
    assert ImportMapping.objects.get(name="webinar-list").columns == mapping.columns
    assert resolved.as_dict() == mapping.as_dict()
    ann = Person.objects.get(email_normalized="ann@x.example")
    assert (ann.first_name, ann.last_name, ann.original_channel) == ("Ann", "Lee", "webinar")


def test_unknown_mapping_name_and_wrong_kind_are_refused(db):
    # given / when
    with pytest.raises(ValidationFailed) as unknown:
        mapping_resolve(name="nope", kind="people", headers=HEADERS)
    with pytest.raises(ValidationFailed) as wrong:
        mapping_resolve(name="olist-deals", kind="people", headers=HEADERS)
    # then
    assert unknown.value.message == (
        "no mapping named 'nope' (known: auto, hubspot, hubspot-calls, hubspot-emails, hubspot-meetings, "
        "maven-pipeline, olist-deals, olist-mql, salesforce, salesforce-events, salesforce-tasks, x-education)"
    )
    assert wrong.value.message == "mapping 'olist-deals' is for deals, not people"


def test_rows_of_one_person_with_two_ids_or_two_emails_are_refused(db):
    # given: row 3 repeats Ada's email under another id; row 4 repeats Bo's id under another email
    text = HUBSPOT_CSV + "109,Ada,,ada@acme.example,,,,,\n" + "102,Bo,,bob@gmail.com,,,,,\n"
    # when
    result = _run(text, dry_run=True)
    # then
    assert [(r.line, r.outcome, r.column, r.value) for r in result.rows[3:]] == [
        (5, "refused", "Record ID", "109"),
        (6, "refused", "Email", "bob@gmail.com"),
    ]
    assert (
        result.rows[3].error
        == "row 5, column 'Record ID': email 'ada@acme.example' is on row 2 with external id '101', not '109'"
    )
    assert (
        result.rows[4].error
        == "row 6, column 'Email': external id '102' is on row 3 with email 'bo@gmail.com', not 'bob@gmail.com'"
    )
