"""NUL and the other C0 control characters in imported files: a clear refusal naming the row and column, never a
database error (PostgreSQL cannot store NUL at all), on SQLite and PostgreSQL alike."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from tandem.capture.bundle import BundleError
from tandem.capture.control_chars import control_char_cell, control_char_problem, control_chars_shown
from tandem.capture.csvimport.mapping import RowError
from tandem.capture.csvimport.selectors import mapping_resolve
from tandem.capture.csvimport.services import csv_import
from tandem.capture.services import bundle_import
from tandem.crm.models import Person
from tests.capture.factories import (
    HUBSPOT_CSV,
    SAMPLE,
    bundle_write_files,
    csv_table_counts,
    database_snapshot,
    replace_line,
)
from tests.users.factories import UserFactory

HEADERS = HUBSPOT_CSV.splitlines()[0].split(",")
# Row 3 holds a NUL in First Name, row 4 a bell (U+0007) in an unmapped column; rows 2 and 5 are clean.
CSV_WITH_CONTROLS = (
    "Record ID,First Name,Last Name,Email,Phone Number,Company Name,Job Title,Create Date,Original Source,Notes\n"
    "101,Ada,Lovelace,ada@acme.example,,Acme,CTO,2025-01-10 09:00,Organic Search,ok\n"
    "102,B\x00o,Chen,bo@gmail.com,,,,2025-01-11 10:00,Paid Social,\n"
    "103,Cy,Diaz,cy@acme.example,,Acme,,2025-01-12 11:00,Direct Traffic,ring\x07\n"
    "104,Di,Eng,di@beta.example,,,,2025-01-13 11:00,Direct Traffic,\"two\r\nlines\tand a tab\"\n"
)


def _mapping(headers: list[str]):  # type: ignore[no-untyped-def]
    return mapping_resolve(name="hubspot", kind="people", headers=headers)


def test_control_characters_are_found_and_named_but_tab_and_line_breaks_are_text():
    # given / when / then
    assert control_char_problem("a\x00b") == "control character U+0000 not allowed"
    assert control_char_problem("\x1f") == "control character U+001F not allowed"
    assert control_char_problem("tab\there\r\nand there") is None
    assert control_char_cell(["ok", "fine\n", "bad\x0b", "worse\x00"]) == 2
    assert control_char_cell(["ok", "fine\t"]) is None
    assert control_chars_shown("a\x00b\x1b") == "a\\u0000b\\u001b"


@pytest.mark.django_db
def test_a_csv_row_with_a_control_character_is_refused_naming_its_column_and_the_rest_is_loaded():
    # given a file whose rows 3 and 4 hold a NUL and a bell
    headers = CSV_WITH_CONTROLS.splitlines()[0].split(",")
    # when it is imported in good-rows mode
    result = csv_import(data=CSV_WITH_CONTROLS.encode(), mapping=_mapping(headers), mode="good_rows")
    # then those two rows are refused with the column and the character, and the other two are created
    assert result.counts == {"created": 2, "updated": 0, "unchanged": 0, "merged": 0, "refused": 2}
    refused = [r.as_dict() for r in result.rows if r.outcome == "refused"]
    assert refused == [
        {"line": 3, "outcome": "refused", "key": "", "column": "First Name", "value": "B\\u0000o",
         "error": "row 3, column 'First Name': control character U+0000 not allowed", "detail": ""},
        {"line": 4, "outcome": "refused", "key": "", "column": "Notes", "value": "ring\\u0007",
         "error": "row 4, column 'Notes': control character U+0007 not allowed", "detail": ""},
    ]
    assert sorted(Person.objects.values_list("email", flat=True)) == ["ada@acme.example", "di@beta.example"]
    # and the refused-rows file carries the rows as they came, with the error
    lines = result.refused_csv().splitlines()
    assert lines[1].endswith("First Name,B\\u0000o,\"row 3, column 'First Name': control character U+0000 not allowed\"")


@pytest.mark.django_db
def test_all_or_nothing_refuses_the_whole_file_at_the_first_control_character_and_writes_nothing():
    # given the same file
    headers = CSV_WITH_CONTROLS.splitlines()[0].split(",")
    before = csv_table_counts()
    # when it is imported all or nothing
    with pytest.raises(RowError) as refused:
        csv_import(data=CSV_WITH_CONTROLS.encode(), mapping=_mapping(headers))
    # then the first bad row is named, and nothing was written
    assert refused.value.message == (
        "row 3, column 'First Name': control character U+0000 not allowed (and 1 more refused rows); nothing was written"
    )
    assert csv_table_counts() == before


@pytest.mark.django_db
def test_a_control_character_in_the_header_refuses_the_file():
    # given a header with an escape character in a column name
    text = HUBSPOT_CSV.replace("Job Title", "Job\x1bTitle", 1)
    # when / then
    with pytest.raises(RowError) as refused:
        csv_import(data=text.encode(), mapping=_mapping(HEADERS), mode="good_rows")
    assert refused.value.message == "row 1, column '#7': control character U+001B not allowed"
    assert refused.value.value == "Job\\u001bTitle"


@pytest.mark.django_db
def test_over_the_api_a_nul_row_is_refused_the_rest_loaded_and_the_job_report_is_stored(client, settings, tmp_path):
    # given marketing, and uploads in a throwaway folder
    settings.MEDIA_ROOT = tmp_path / "media"
    client.force_login(UserFactory(role="marketing"))
    upload = SimpleUploadedFile("contacts.csv", CSV_WITH_CONTROLS.encode(), content_type="text/csv")
    # when the file is imported in good-rows mode (the job keeps its report in the database)
    response = client.post("/api/imports/csv", {"file": upload, "kind": "people", "mode": "good_rows"})
    # then the job is done, its stored report names the refused rows, and the others are in
    body = response.json()
    assert response.status_code == 200 and body["status"] == "done"
    assert body["counts"]["created"] == 2 and body["counts"]["refused"] == 2
    assert [(r["line"], r["column"], r["value"]) for r in body["report"] if r["outcome"] == "refused"] == [
        (3, "First Name", "B\\u0000o"), (4, "Notes", "ring\\u0007"),
    ]
    assert Person.objects.count() == 2


@pytest.mark.django_db
def test_a_bundle_cell_with_a_control_character_refuses_the_bundle_naming_file_line_and_column(tmp_path):
    # given a bundle whose people.csv has a NUL in a first name
    people = replace_line(
        SAMPLE["people.csv"], 3, "bo@gmail.com,B\x00o,Berg,Berg Consulting,consulting,1-10,SE,Owner,2025-03-05T12:30:00Z,"
    )
    bundle_write_files(tmp_path, people=people)
    before = database_snapshot()
    # when / then it is refused, naming the cell, and nothing was written
    with pytest.raises(BundleError) as refused:
        bundle_import(directory=tmp_path)
    assert refused.value.message == "people.csv line 3, column first_name: control character U+0000 not allowed"
    assert refused.value.as_dict()["value"] == "B\\u0000o"
    assert database_snapshot() == before


@pytest.mark.django_db
def test_a_bundle_with_an_escape_in_a_multi_line_note_is_refused_at_the_rows_first_line(tmp_path):
    # given an activity note over two lines, the second holding an escape character
    activities = SAMPLE["activities.csv"].replace("Follow up in May", "\x1b[31mFollow up in May")
    bundle_write_files(tmp_path, activities=activities)
    # when / then
    with pytest.raises(BundleError) as refused:
        bundle_import(directory=tmp_path)
    assert refused.value.message == "activities.csv line 4, column notes: control character U+001B not allowed"
    assert Person.objects.count() == 0
