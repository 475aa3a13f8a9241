"""`tandem import csv FILE` and `tandem import mappings`."""

from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command

from tandem.capture.models import ImportMapping
from tandem.crm.models import Person
from tests.capture.factories import HUBSPOT_CSV, csv_table_counts


def _call(*args: str) -> list[str]:
    out = io.StringIO()
    call_command("import", "csv", *args, "--no-progress", stdout=out, stderr=io.StringIO())
    return out.getvalue().splitlines()


def test_import_csv_prints_the_mapping_and_counts(db, tmp_path):
    # given
    path = tmp_path / "contacts.csv"
    path.write_text(HUBSPOT_CSV)
    # when
    lines = _call(str(path), "--kind", "people", "--mapping", "auto")
    # then: auto recognises a HubSpot export
    assert lines == [
        "Detected: UTF-8, comma-separated",
        "mapping: hubspot (people); 3 rows",
        "created 3  updated 0  unchanged 0  merged 0  refused 0",
        "touchpoints created: 3; external ids linked: 3; accounts created: 1; stage changes written: 3",
    ]
    assert Person.objects.count() == 3


def test_dry_run_lists_rows_and_writes_nothing(db, tmp_path):
    # given
    path = tmp_path / "contacts.csv"
    path.write_text(HUBSPOT_CSV + "104,Di,Eng,di@@beta,,,,,\n")
    before = csv_table_counts()
    # when
    lines = _call(str(path), "--kind", "people", "--mapping", "hubspot", "--dry-run", "--show", "2")
    # then: two rows shown, and every refused row
    assert lines == [
        "Detected: UTF-8, comma-separated",
        "mapping: hubspot (people); 4 rows",
        "row      2  created    ada@acme.example",
        "row      3  created    bo@gmail.com",
        "row      5  refused      row 5, column 'Email': 'di@@beta' is not a valid email address: the part after the @-sign contains invalid characters: '@'",
        "created 3  updated 0  unchanged 0  merged 0  refused 1",
        "dry run: nothing was written",
    ]
    assert csv_table_counts() == before


def test_a_bad_row_is_a_command_error_naming_row_column_and_value(db, tmp_path):
    # given
    path = tmp_path / "contacts.csv"
    path.write_text(HUBSPOT_CSV + "104,Di,Eng,di@@beta,,,,,\n")
    before = csv_table_counts()
    # when
    with pytest.raises(CommandError) as refused:
        _call(str(path), "--kind", "people")
    # then
    assert str(refused.value) == (
        "row 5, column 'Email': 'di@@beta' is not a valid email address: the part after the @-sign contains invalid characters: '@'; nothing was written"
    )
    assert csv_table_counts() == before


def test_good_rows_writes_the_refused_file(db, tmp_path):
    # given
    path = tmp_path / "contacts.csv"
    path.write_text(HUBSPOT_CSV + "104,Di,Eng,di@@beta,,,,,\n")
    refused = tmp_path / "out" / "refused.csv"
    refused.parent.mkdir()
    # when
    lines = _call(str(path), "--kind", "people", "--good-rows", "--refused-file", str(refused))
    # then
    assert lines[2] == "created 3  updated 0  unchanged 0  merged 0  refused 1"
    assert lines[-1] == f"refused rows written to {refused}"
    assert refused.read_text().splitlines()[1] == (
        "104,Di,Eng,di@@beta,,,,,,Email,di@@beta,\"row 5, column 'Email': 'di@@beta' is not a valid email address: the part after the @-sign contains invalid characters: '@'\""
    )


def test_save_mapping_then_use_it_by_name(db, tmp_path):
    # given
    path = tmp_path / "contacts.csv"
    path.write_text(HUBSPOT_CSV)
    _call(str(path), "--kind", "people", "--dry-run", "--save-mapping", "our-hubspot")
    # when
    lines = _call(str(path), "--kind", "people", "--mapping", "our-hubspot")
    # then
    assert ImportMapping.objects.get(name="our-hubspot").options["external_id_system"] == "hubspot"
    assert lines[:2] == ["Detected: UTF-8, comma-separated", "mapping: our-hubspot (people); 3 rows"]
    assert Person.objects.count() == 3


def test_unknown_mapping_and_missing_file_are_command_errors(db, tmp_path):
    # given
    path = tmp_path / "contacts.csv"
    path.write_text(HUBSPOT_CSV)
    # when
    with pytest.raises(CommandError) as unknown:
        _call(str(path), "--kind", "people", "--mapping", "marketo")
    with pytest.raises(CommandError) as missing:
        _call(str(tmp_path / "nope.csv"), "--kind", "people")
    # then
    assert str(unknown.value).startswith("no mapping named 'marketo' (known: auto, hubspot,")
    assert str(missing.value) == f"cannot read {tmp_path / 'nope.csv'}: no such file"


def test_import_mappings_lists_shipped_and_saved(db):
    # given
    ImportMapping.objects.create(
        name="webinars", kind="people", columns={"Mail": "email"}, created_at="2025-01-01T00:00Z"
    )
    out = io.StringIO()
    # when
    call_command("import", "mappings", stdout=out)
    # then
    names = [line.split()[0:3] for line in out.getvalue().splitlines()]
    assert names == [
        ["name", "kind", "source"],
        ["hubspot", "people", "shipped"],
        ["hubspot-calls", "activities", "shipped"],
        ["hubspot-emails", "activities", "shipped"],
        ["hubspot-meetings", "activities", "shipped"],
        ["maven-pipeline", "people", "shipped"],
        ["olist-deals", "deals", "shipped"],
        ["olist-mql", "people", "shipped"],
        ["salesforce", "people", "shipped"],
        ["salesforce-events", "activities", "shipped"],
        ["salesforce-tasks", "activities", "shipped"],
        ["webinars", "people", "saved"],
        ["x-education", "people", "shipped"],
    ]
