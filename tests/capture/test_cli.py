"""`tandem import bundle DIR` and `tandem export bundle DIR`."""

from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command

from tandem.crm.models import Person
from tests.capture.factories import (
    SAMPLE,
    bundle_read_files,
    bundle_write_files,
    database_snapshot,
    replace_line,
)


def test_import_bundle_prints_the_counts(db, tmp_path):
    # given
    bundle_write_files(tmp_path)
    out = io.StringIO()
    # when
    call_command("import", "bundle", str(tmp_path), stdout=out, stderr=io.StringIO())
    # then
    lines = out.getvalue().splitlines()
    assert lines[:9] == [
        "file                 created   updated  unchanged",
        "campaigns.csv              2         0          0",
        "campaign_costs.csv         4         0          0",
        "people.csv                 3         0          0",
        "touchpoints.csv            5         0          0",
        "deals.csv                  3         0          0",
        "activities.csv             3         0          0",
        "questions.csv              2         0          0",
        "(accounts)                 2         0          0",
    ]
    assert lines[9] == "stage changes written: 7; lost reasons created: 1"
    assert Person.objects.count() == 3


def test_importing_twice_says_nothing_changed(db, tmp_path):
    # given
    bundle_write_files(tmp_path)
    call_command("import", "bundle", str(tmp_path), stdout=io.StringIO())
    out = io.StringIO()
    # when
    call_command("import", "bundle", str(tmp_path), "--no-progress", stdout=out)
    # then
    assert out.getvalue().splitlines()[-1] == "nothing changed: the database already held this bundle"


def test_a_bad_row_is_a_command_error_naming_the_cell(db, tmp_path):
    # given
    deals = replace_line(SAMPLE["deals.csv"], 4, "D-3,cy@acme.example,5000.50,maybe,2025-04-10T10:00:00Z,,")
    bundle_write_files(tmp_path, deals=deals)
    before = database_snapshot()
    # when
    with pytest.raises(CommandError) as refused:
        call_command("import", "bundle", str(tmp_path), stdout=io.StringIO())
    # then
    assert (
        str(refused.value)
        == "deals.csv line 4, column stage: unknown stage 'maybe' (expected open, won or lost)"
    )
    assert database_snapshot() == before


def test_a_missing_folder_is_a_command_error(db, tmp_path):
    # given / when / then
    with pytest.raises(CommandError, match="is not a folder"):
        call_command("import", "bundle", str(tmp_path / "nowhere"), stdout=io.StringIO())


def test_export_bundle_writes_the_five_files(db, tmp_path):
    # given
    bundle_write_files(tmp_path / "in")
    call_command("import", "bundle", str(tmp_path / "in"), stdout=io.StringIO())
    out = io.StringIO()
    # when
    call_command("export", "bundle", str(tmp_path / "out"), "--format", "1", stdout=out)
    # then
    assert bundle_read_files(tmp_path / "out") == {name: text.encode() for name, text in SAMPLE.items()}
    assert out.getvalue().splitlines()[:3] == [
        "campaigns.csv              2 rows",
        "campaign_costs.csv         4 rows",
        "people.csv                 3 rows",
    ]


def test_import_without_a_kind_is_a_usage_error(db):
    # given / when / then
    with pytest.raises(CommandError, match="the following arguments are required: what"):
        call_command("import")
