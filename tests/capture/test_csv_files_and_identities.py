"""Files and identities as they come: any encoding and delimiter imported, phones and e-mails as identity keys."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from django.apps import apps as django_apps
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from tandem.capture.csvimport.mapping import Mapping
from tandem.capture.csvimport.services import csv_import
from tandem.capture.intake.validation import form_fields_parse, submission_clean, track_events_clean
from tandem.capture.models import ImportJob
from tandem.core.errors import ValidationFailed
from tandem.core.models import Event
from tandem.crm.identity import email_check, email_normalize, phone_key
from tandem.crm.models import ExternalId, Person
from tandem.crm.selectors import person_duplicate_candidates, person_match
from tandem.crm.services import person_create
from tests.capture.factories import csv_table_counts
from tests.users.factories import UserFactory

PEOPLE = Mapping(
    name="test",
    kind="people",
    columns={"email": "email", "first_name": "first_name", "last_name": "last_name", "phone": "phone"},
    options={},
)
NAMES = [
    ("rene@acme.example", "René", "Größer"),
    ("soren@acme.example", "Søren", "Ødegård"),
    ("zoe@acme.example", "Zoë", "Straße"),
]


def _file(rows: list[tuple[str, ...]], *, encoding: str = "utf-8", delimiter: str = ",") -> bytes:
    header = ("email", "first_name", "last_name", "phone")
    lines = [delimiter.join(header)] + [delimiter.join((*row, "", "", "")[:4]) for row in rows]
    return ("\r\n".join(lines) + "\r\n").encode(encoding)


@pytest.fixture(autouse=True)
def uploads_in_tmp(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")


# ---- files ----


@pytest.mark.parametrize(
    ("encoding", "name"),
    [
        ("utf-8", "UTF-8"),
        ("utf-8-sig", "UTF-8 with BOM"),
        ("utf-16", "UTF-16 LE"),
        ("cp1252", "Windows-1252"),
    ],
)
@pytest.mark.parametrize(("delimiter", "word"), [(",", "comma"), (";", "semicolon"), ("\t", "tab")])
def test_people_files_in_every_encoding_and_delimiter_import_with_their_accents(
    db, encoding, name, delimiter, word
):
    # given an Excel-style file with accented names
    data = _file(NAMES, encoding=encoding, delimiter=delimiter)
    # when
    result = csv_import(data=data, mapping=PEOPLE)
    # then
    assert result.detected == f"{name}, {word}-separated"
    assert result.counts["created"] == 3
    stored = list(Person.objects.order_by("email").values_list("email", "first_name", "last_name"))
    assert stored == NAMES


def test_the_dry_run_says_what_was_detected_on_the_api_the_page_and_the_cli(db, client, tmp_path):
    # given a marketer and a Windows-1252, semicolon-separated file
    client.force_login(UserFactory(role="marketing"))
    data = _file(NAMES, encoding="cp1252", delimiter=";")
    before = csv_table_counts()
    # when it is dry-run over the API
    response = client.post(
        "/api/imports/csv",
        {
            "file": SimpleUploadedFile("excel.csv", data, content_type="text/csv"),
            "kind": "people",
            "dry_run": True,
        },
    )
    # then
    body = response.json()
    assert (response.status_code, body["detected"], body["counts"]["created"]) == (
        200,
        "Windows-1252, semicolon-separated",
        3,
    )
    # and the job's page says it
    page = client.get(reverse("capture:import-job", args=[body["id"]])).content.decode()
    assert (
        '<p class="muted" data-testid="import-detected">Detected: Windows-1252, semicolon-separated</p>'
        in page
    )
    # and so does the command line
    path = tmp_path / "excel.csv"
    path.write_bytes(data)
    out = io.StringIO()
    call_command("import", "csv", str(path), "--kind", "people", "--dry-run", "--no-progress", stdout=out)
    assert out.getvalue().splitlines()[0] == "Detected: Windows-1252, semicolon-separated"
    assert csv_table_counts() == before


def test_the_upload_page_shows_what_was_detected(db, client):
    # given
    client.force_login(UserFactory(role="marketing"))
    data = _file(NAMES, encoding="utf-16", delimiter="\t")
    # when
    response = client.post(
        reverse("capture:import-upload"),
        {"file": SimpleUploadedFile("unicode.txt", data), "kind": "people", "mapping": "auto"},
    )
    setup = client.get(response["Location"]).content.decode()
    # then
    assert "Detected: UTF-16 LE, tab-separated" in setup
    assert "Søren" in setup  # the sample values, read in the file's encoding
    assert ImportJob.objects.get().mapping["detected"] == "UTF-16 LE, tab-separated"


# ---- phones ----


def test_one_uk_number_written_three_ways_is_one_person_on_import(db, settings):
    # given a company in Great Britain, and a file naming one person by phone three ways
    settings.DEFAULT_COUNTRY = "GB"
    rows = [
        ("", "Pat", "Lee", "+44 20 7946 0958"),
        ("", "Pat", "Lee", "020 7946 0958"),
        ("", "", "", "(020) 7946-0958"),
    ]
    # when
    result = csv_import(data=_file(rows), mapping=PEOPLE)
    # then
    assert [(r.line, r.outcome, r.key) for r in result.rows] == [
        (2, "created", "+442079460958"),
        (3, "merged", "+442079460958"),
        (4, "merged", "+442079460958"),
    ]
    pat = Person.objects.get()
    # the phone is shown as the file last wrote it (later cells win); the identity is its E.164 form
    assert (pat.first_name, pat.phone) == ("Pat", "(020) 7946-0958")
    assert person_match(phone="(020) 7946-0958") == pat


def test_a_second_import_finds_the_person_under_another_spelling_of_the_number(db, settings):
    # given
    settings.DEFAULT_COUNTRY = "GB"
    pat = person_create(first_name="Pat", phone="(020) 7946-0958")
    # when
    result = csv_import(data=_file([("", "Pat", "Lee", "+44 20 7946 0958")]), mapping=PEOPLE)
    # then: the number is not a change, the spelling stored stays
    assert [(r.outcome, r.detail) for r in result.rows] == [("updated", "changes last_name")]
    assert list(Person.objects.values_list("pk", "last_name", "phone")) == [
        (pat.pk, "Lee", "(020) 7946-0958")
    ]


def test_without_a_default_country_numbers_without_their_code_are_keyed_by_their_digits(settings):
    # given / when
    settings.DEFAULT_COUNTRY = ""
    # then
    assert phone_key("+44 20 7946 0958") == "+442079460958"
    assert phone_key("020 7946 0958") == phone_key("(020) 7946-0958") == "02079460958"
    assert phone_key("020 7946 0958", country="GB") == "+442079460958"
    assert phone_key("(650) 253-0000", country="US") == "+16502530000"


def test_a_row_known_only_by_an_invalid_phone_is_refused_naming_it(db, settings):
    # given
    settings.DEFAULT_COUNTRY = "GB"
    rows = [("", "Ann", "Bee", "12345"), ("ann@acme.example", "Ann", "Bee", "12345")]
    # when
    result = csv_import(data=_file(rows), mapping=PEOPLE, mode="good_rows")
    # then: alone it cannot say who the row is; beside an e-mail it is kept as typed, without a key
    assert [(r.line, r.outcome, r.column, r.value, r.error) for r in result.rows] == [
        (
            2,
            "refused",
            "phone",
            "12345",
            "row 2, column 'phone': phone '12345' cannot identify the person: it is not a valid number in GB",
        ),
        (3, "created", "", "", ""),
    ]
    assert list(Person.objects.values_list("email", "phone")) == [("ann@acme.example", "12345")]


def test_forms_and_tracking_refuse_a_phone_that_is_the_only_identity(settings):
    # given
    settings.DEFAULT_COUNTRY = "GB"
    fields = form_fields_parse([{"name": "phone", "type": "tel"}, {"name": "email", "type": "email"}])
    now = timezone.now()
    # when
    with pytest.raises(ValidationFailed) as form:
        submission_clean(fields=fields, data={"phone": "0123 45"})
    with pytest.raises(ValidationFailed) as event:
        track_events_clean(data={"kind": "call", "phone": "0123 45"}, kinds={"call"}, channels=set(), now=now)
    kept = submission_clean(fields=fields, data={"phone": "0123 45", "email": "ann@acme.example"})
    # then
    assert (form.value.field, form.value.value, form.value.message) == (
        "phone",
        "0123 45",
        "phone '0123 45' cannot identify you: it is not a valid number in GB",
    )
    assert (event.value.field, event.value.message) == (
        "phone",
        "phone '0123 45' cannot say whose touchpoint it is: it is not a valid number in GB",
    )
    assert kept.person["phone"] == "0123 45"


# ---- e-mails ----


def test_malformed_emails_are_refused_with_their_line(db):
    # given
    rows = [("ann@example.com", "Ann"), ("ann..x@example.com", "Ann"), ("bob@example.com.", "Bob")]
    before = csv_table_counts()
    # when
    result = csv_import(data=_file(rows), mapping=PEOPLE, dry_run=True)
    # then
    assert [(r.line, r.outcome, r.column, r.value, r.error) for r in result.rows] == [
        (2, "created", "", "", ""),
        (
            3,
            "refused",
            "email",
            "ann..x@example.com",
            "row 3, column 'email': 'ann..x@example.com' is not a valid email address: "
            "an email address cannot have two periods in a row",
        ),
        (
            4,
            "refused",
            "email",
            "bob@example.com.",
            "row 4, column 'email': 'bob@example.com.' is not a valid email address: "
            "an email address cannot end with a period",
        ),
    ]
    assert csv_table_counts() == before


def test_the_api_refuses_a_malformed_email_naming_the_field(db, client):
    # given
    client.force_login(UserFactory(role="admin"))
    # when
    response = client.post(
        "/api/people", {"email": "ann@example.com.", "first_name": "Ann"}, content_type="application/json"
    )
    # then
    assert response.status_code == 422
    assert (response.json()["field"], response.json()["value"]) == ("email", "ann@example.com.")
    assert Person.objects.count() == 0


def test_an_accented_domain_and_its_punycode_are_one_person(db):
    # given one person stored under the punycode form
    ann = person_create(email="Ann@XN--BCHER-KVA.example", first_name="Ann")
    # when a file names her under the Unicode form, and again under the punycode form
    rows = [("ann@Bücher.example", "Ann", "Müller"), ("ann@xn--bcher-kva.example", "", "Müller")]
    result = csv_import(data=_file(rows, encoding="cp1252", delimiter=";"), mapping=PEOPLE)
    # then: one person, shown as first typed, keyed by the Unicode domain
    assert [(r.line, r.outcome) for r in result.rows] == [(2, "updated"), (3, "merged")]
    assert list(Person.objects.values_list("pk", "email", "email_normalized", "last_name")) == [
        (ann.pk, "Ann@XN--BCHER-KVA.example", "ann@bücher.example", "Müller")
    ]
    assert email_check(" ann@Bücher.example ") == "ann@Bücher.example"
    assert person_match(email="ANN@bücher.example") == ann


# ---- the keys stored before (migration crm.0010) ----


def test_the_migration_recomputes_old_keys_and_never_merges_people(db):
    # given keys as the old rule stored them: lower-cased, the domain as typed
    from importlib import import_module

    migration = import_module("tandem.crm.migrations.0010_normalise_identity_keys")
    moved = person_create(email="cy@xn--caf-dma.example", first_name="Cy")
    kept = person_create(email="placeholder@acme.example", first_name="Ann")
    holder = person_create(email="ann@bücher.example", first_name="Ann")
    plain = person_create(email="Bo@Acme.example", first_name="Bo")
    Person.objects.filter(pk=moved.pk).update(email_normalized="cy@xn--caf-dma.example")
    Person.objects.filter(pk=kept.pk).update(
        email="ann@xn--bcher-kva.example", email_normalized="ann@xn--bcher-kva.example"
    )
    merged = ExternalId.objects.create(
        person=plain, system="merged-email", external_id="bo@xn--caf-dma.example"
    )
    # when
    migration.normalise_identity_keys(django_apps, None)
    # then the free key moved, the taken one stayed where it was, and nobody was merged
    keys = dict(Person.objects.values_list("pk", "email_normalized"))
    assert keys == {
        moved.pk: "cy@café.example",
        kept.pk: "ann@xn--bcher-kva.example",
        holder.pk: "ann@bücher.example",
        plain.pk: "bo@acme.example",
    }
    merged.refresh_from_db()
    assert merged.external_id == "bo@café.example"
    events = {
        e.kind: (e.subject_id, e.data) for e in Event.objects.filter(kind__startswith="person.identity_key")
    }
    assert events == {
        "person.identity_key_changed": (
            moved.pk,
            {"from": "cy@xn--caf-dma.example", "to": "cy@café.example"},
        ),
        "person.identity_key_kept": (
            kept.pk,
            {"key": "ann@xn--bcher-kva.example", "would_be": "ann@bücher.example", "held_by": holder.pk},
        ),
    }
    # and the duplicates page lists the pair a human should merge, before the name-and-company groups
    groups = person_duplicate_candidates()
    assert [(g.reason, g.name_key, [p.pk for p in g.members]) for g in groups] == [
        ("e-mail", "ann@bücher.example", [kept.pk, holder.pk])
    ]
    assert email_normalize("ann@xn--bcher-kva.example") == "ann@bücher.example"


def test_the_duplicates_page_shows_an_email_written_two_ways(db, client):
    # given
    client.force_login(UserFactory(role="admin"))
    kept = person_create(email="placeholder@acme.example", first_name="Ann")
    person_create(email="ann@bücher.example", first_name="Ann")
    Person.objects.filter(pk=kept.pk).update(
        email="ann@xn--bcher-kva.example",
        email_normalized="ann@xn--bcher-kva.example",
        created_at=dt.datetime(2020, 1, 1, tzinfo=dt.UTC),
    )
    # when
    page = client.get(reverse("crm:duplicates")).content.decode()
    # then
    assert 'one e-mail address, <span class="mono">ann@bücher.example</span>, written two ways' in page


def test_a_stored_windows_1252_upload_is_searched_for_a_person_in_its_own_encoding(db):
    # given a Windows-1252, semicolon-separated upload kept by an import job
    from tandem.capture.csvimport.selectors import import_rows_export_person
    from tandem.capture.csvimport.services import import_job_create

    job = import_job_create(
        data=_file(NAMES, encoding="cp1252", delimiter=";"), file_name="excel.csv", mapping=PEOPLE
    )
    # when a person's data is exported (privacy): the rows of stored files naming them
    found = import_rows_export_person(needles=["soren@acme.example"])
    # then the row is found and read right
    assert found == [
        {
            "job_id": job.pk,
            "file": "excel.csv",
            "which": "uploaded",
            "row": {
                "email": "soren@acme.example",
                "first_name": "Søren",
                "last_name": "Ødegård",
                "phone": "",
            },
        }
    ]
