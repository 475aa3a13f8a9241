"""The bundle as a backup (format version 2): export → import into an empty database → export gives the same
bytes; an older (version 1) bundle still imports; a bad cell is refused with its place and nothing is written."""

from __future__ import annotations

import datetime as dt
import io
import json
import time
import zipfile
from pathlib import Path

import pytest
from django.core.management import call_command

from tandem.campaigns.models import Campaign, Touchpoint
from tandem.capture.backup import FILES, MANIFEST
from tandem.capture.bundle import BundleError
from tandem.capture.services import bundle_export_archive, bundle_import_archive
from tandem.core.errors import NotAllowed
from tandem.crm.models import Activity, ConsentRecord, Deal, ExternalId, Person, StageChange
from tandem.crm.services import crm_defaults_ensure
from tandem.demo.company import generate_company
from tandem.demo.services import demo_load, demo_users_create
from tandem.feedback.models import Question
from tandem.users.models import User
from tandem.users.roles import roles_sync

FIXTURE_V1 = Path(__file__).parent / "fixtures" / "bundle_v1.zip"
END = dt.date(2026, 6, 30)


def _empty_database() -> None:
    """What a new database holds: flushed, with the rows migrations install."""
    call_command("flush", interactive=False, verbosity=0)
    crm_defaults_ensure()


def _counts() -> dict[str, int]:
    return {
        "people": Person.objects.count(),
        "external_ids": ExternalId.objects.count(),
        "stage_changes": StageChange.objects.count(),
        "consent": ConsentRecord.objects.count(),
        "deals": Deal.objects.count(),
        "activities": Activity.objects.count(),
        "touchpoints": Touchpoint.objects.count(),
        "users": User.objects.count(),
    }


def _with_cell(data: bytes, *, file: str, line: int, column: str, value: str) -> bytes:
    """The archive with one cell of one file replaced (the file's first line is its header)."""
    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as target:
        for name in source.namelist():
            body = source.read(name)
            if name == file:
                lines = body.decode().split("\n")
                header = lines[0].split(",")
                cells = lines[line - 1].split(",")
                cells[header.index(column)] = value
                lines[line - 1] = ",".join(cells)
                body = "\n".join(lines).encode()
            target.writestr(name, body)
    return out.getvalue()


@pytest.mark.django_db(transaction=True)
def test_demo_company_round_trip_is_byte_identical():
    # given: the demo company (300 people) in the database, exported (roles synced first: a transactional test
    # before this one may have flushed the permissions the migrations installed)
    roles_sync()
    demo_load(company=generate_company(people=300, seed=7, end=END))
    started = time.perf_counter()
    first = bundle_export_archive()
    exported = time.perf_counter() - started
    before = _counts()
    # when: imported into an empty database and exported again
    _empty_database()
    started = time.perf_counter()
    result = bundle_import_archive(archive=io.BytesIO(first))
    imported = time.perf_counter() - started
    second = bundle_export_archive()
    print(f"demo (300 people): export {exported:.2f} s, import {imported:.2f} s, {len(first)} bytes")
    # then: the same bytes, the same rows, every file of the format in the archive after its manifest
    assert second == first
    assert _counts() == before
    # 300 generated people and one who filled in a demo web form
    assert before["people"] == 301
    assert result.files["people.csv"].created == 301
    assert zipfile.ZipFile(io.BytesIO(first)).namelist() == [MANIFEST, *FILES]


@pytest.mark.shared_data
@pytest.mark.django_db(transaction=True)
def test_x_education_round_trip_is_byte_identical_and_keeps_every_person(shared_data):
    # given: X Education's 9,240 leads (no e-mail addresses) imported with the shipped preset
    path = shared_data / "x_education_leads" / "Leads.csv"
    call_command(
        "import",
        "csv",
        str(path),
        "--kind",
        "people",
        "--mapping",
        "x-education",
        "--no-progress",
        stdout=io.StringIO(),
    )
    started = time.perf_counter()
    first = bundle_export_archive()
    exported = time.perf_counter() - started
    before = _counts()
    # when
    _empty_database()
    started = time.perf_counter()
    bundle_import_archive(archive=io.BytesIO(first))
    imported = time.perf_counter() - started
    second = bundle_export_archive()
    print(f"X Education: export {exported:.2f} s, import {imported:.2f} s, {len(first)} bytes")
    # then
    assert second == first
    assert Person.objects.count() == 9240
    assert ExternalId.objects.filter(system="x_education").count() == 9240
    assert _counts() == before


@pytest.mark.django_db(transaction=True)
def test_a_format_1_bundle_written_before_the_backup_still_imports(tmp_path):
    # given: the users its activities name (a version-1 bundle names users; it does not carry them)
    demo_users_create()
    out = io.StringIO()
    # when
    call_command("import", "bundle", str(FIXTURE_V1), "--no-progress", stdout=out)
    # then: every row of the fixture (written by the version-1 writer) is in
    assert out.getvalue().splitlines()[:9] == [
        "file                 created   updated  unchanged",
        "campaigns.csv             98         0          0",
        "campaign_costs.csv       319         0          0",
        "people.csv                41         0          0",
        "touchpoints.csv          157         0          0",
        "deals.csv                  4         0          0",
        "activities.csv            60         0          0",
        "questions.csv              3         0          0",
        "(accounts)                26         0          0",
    ]
    assert (Person.objects.count(), Campaign.objects.count(), Question.objects.count()) == (41, 98, 3)


@pytest.mark.django_db(transaction=True)
def test_a_bad_cell_is_refused_with_its_place_and_nothing_is_written():
    # given: a backup whose people.csv has a date-time that is none on its second line
    demo_users_create()
    call_command("import", "bundle", str(FIXTURE_V1), "--no-progress", stdout=io.StringIO())
    good = bundle_export_archive()
    bad = _with_cell(good, file="people.csv", line=3, column="created_at", value="yesterday")
    _empty_database()
    # when
    with pytest.raises(BundleError) as refused:
        bundle_import_archive(archive=io.BytesIO(bad))
    # then: the file, line, column and value are named; nothing was written
    assert refused.value.as_dict() == {
        "detail": "people.csv line 3, column created_at: must be a date-time such as 2025-03-04T10:15:00Z, "
        "got 'yesterday'",
        "file": "people.csv",
        "line": 3,
        "column": "created_at",
        "field": "created_at",
        "value": "yesterday",
    }
    assert _counts() == dict.fromkeys(_counts(), 0)


@pytest.mark.django_db(transaction=True)
def test_a_reference_to_a_missing_row_is_refused_with_its_place():
    # given: a touchpoint of a person the bundle does not hold
    demo_users_create()
    call_command("import", "bundle", str(FIXTURE_V1), "--no-progress", stdout=io.StringIO())
    bad = _with_cell(
        bundle_export_archive(), file="touchpoints.csv", line=2, column="person_id", value="99999"
    )
    _empty_database()
    # when
    with pytest.raises(BundleError) as refused:
        bundle_import_archive(archive=io.BytesIO(bad))
    # then
    assert refused.value.message == "touchpoints.csv line 2, column person_id: 99999 is not in people.csv"
    assert Touchpoint.objects.count() == 0


@pytest.mark.django_db(transaction=True)
def test_a_backup_is_refused_by_a_database_that_holds_data():
    # given: a database with people in it
    demo_users_create()
    call_command("import", "bundle", str(FIXTURE_V1), "--no-progress", stdout=io.StringIO())
    data = bundle_export_archive()
    before = _counts()
    # when
    with pytest.raises(NotAllowed) as refused:
        bundle_import_archive(archive=io.BytesIO(data))
    # then
    assert refused.value.message.startswith(
        "a backup restores only into an empty database, and this one already holds 98 rows of campaigns.csv"
    )
    assert _counts() == before


@pytest.mark.django_db(transaction=True)
def test_users_travel_without_passwords_and_stored_usernames_are_kept():
    # given: a backup, and an empty database where the admin who restores it already exists
    demo_users_create()
    call_command("import", "bundle", str(FIXTURE_V1), "--no-progress", stdout=io.StringIO())
    data = bundle_export_archive()
    _empty_database()
    admin = User.objects.create_user(username="admin", password="a-long-enough-secret", role="admin")
    # when
    bundle_import_archive(archive=io.BytesIO(data))
    # then: the stored admin keeps its password; the others have none they could sign in with
    users = zipfile.ZipFile(io.BytesIO(data)).read("users.csv").decode()
    assert "password" not in users.splitlines()[0].split(",")
    admin.refresh_from_db()
    assert admin.check_password("a-long-enough-secret")
    assert not User.objects.get(username="tom").has_usable_password()
    assert Person.objects.count() == 41


def test_a_newer_format_is_refused_naming_its_version():
    # given
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr(MANIFEST, json.dumps({"format": "tandem-bundle", "format_version": 3}))
    # when
    with pytest.raises(BundleError) as refused:
        bundle_import_archive(archive=io.BytesIO(out.getvalue()))
    # then
    assert refused.value.file == MANIFEST
    assert refused.value.value == "3"
