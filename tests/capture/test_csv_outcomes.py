"""Outcome columns of a flat lead export (capture/csvimport/outcomes.py) and mapping files
(capture/csvimport/mappingfile.py): `tandem import csv FILE --mapping FILE.json`."""

from __future__ import annotations

import datetime as dt
import io
import json
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from tandem.capture.csvimport.mapping import Mapping
from tandem.capture.csvimport.mappingfile import mapping_from_dict
from tandem.capture.csvimport.presets import PRESETS
from tandem.capture.csvimport.services import mapping_save
from tandem.core.errors import ValidationFailed
from tandem.crm.models import Deal, LostReason, Person, StageChange
from tests.capture.factories import csv_table_counts

LEADS = """\
Lead ID,Name,Source,Signed up,Converted,Won on,Revenue,Lost,Why lost
L1,Ann Lee,Google,2024-01-10,yes,2024-02-01,1200.50,,
L2,Bo Chan,Referral,2024-01-11,no,,,Y,Too expensive
L3,Cy Diaz,,2024-01-12,Y,,,,
L4,Di Eng,Google,2024-01-13,0,,,no,
"""

MAPPING = {
    "tandem_mapping": 1,
    "name": "shop-leads",
    "kind": "people",
    "description": "the shop's lead export",
    "columns": {
        "Lead ID": "external_id",
        "Name": "full_name",
        "Source": "original_channel",
        "Signed up": "created_at",
        "Converted": "converted",
        "Won on": "won_at",
        "Revenue": "amount",
        "Lost": "lost",
        "Why lost": "lost_reason",
    },
    "options": {
        "external_id_system": "shop",
        "values": {"original_channel": {"Google": "paid_search", "Referral": "referral"}},
        "defaults": {"touchpoint_kind": "form_submit"},
        "outcomes": {"pipeline": "Sales"},
    },
}


def _files(tmp_path: Path, mapping: dict | str = MAPPING, leads: str = LEADS) -> tuple[Path, Path]:
    csv_path = tmp_path / "leads.csv"
    csv_path.write_text(leads)
    json_path = tmp_path / "shop-leads.json"
    json_path.write_text(mapping if isinstance(mapping, str) else json.dumps(mapping))
    return csv_path, json_path


def _call(*args: str) -> list[str]:
    out = io.StringIO()
    call_command("import", *args, "--no-progress", stdout=out, stderr=io.StringIO())
    # The encoding line the importer may print first is another feature's: counted from the mapping line.
    lines = out.getvalue().splitlines()
    return lines[next(i for i, line in enumerate(lines) if line.startswith("mapping: ")) :]


def _data_counts() -> dict[str, int]:
    return {name: n for name, n in csv_table_counts().items() if name != "Event"}


def _day(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC)


def test_outcome_columns_give_stage_changes_and_deals(db, tmp_path):
    # given: a flat lead export and its mapping file
    csv_path, json_path = _files(tmp_path)
    # when
    lines = _call("csv", str(csv_path), "--mapping", str(json_path))
    # then: two customers (won deals), one opportunity (a lost deal), one lead
    assert lines == [
        "mapping: shop-leads (people); 4 rows",
        "created 4  updated 0  unchanged 0  merged 0  refused 0",
        "touchpoints created: 4; external ids linked: 4; accounts created: 0; stage changes written: 9",
        "won deals created: 2; lost deals created: 1; deals updated: 0",
    ]
    why = "csv import of leads.csv (mapping shop-leads)"
    history = [
        (p.external_ids.get().external_id, c.from_stage, c.to_stage, c.changed_at, c.reason)
        for p in Person.objects.order_by("id")
        for c in StageChange.objects.filter(person=p).order_by("changed_at", "id")
    ]
    assert history == [
        ("L1", "", "lead", _day("2024-01-10"), "csv import"),
        ("L1", "lead", "opportunity", _day("2024-02-01"), f"{why}: converted"),
        ("L1", "opportunity", "customer", _day("2024-02-01"), f"{why}: converted"),
        ("L2", "", "lead", _day("2024-01-11"), "csv import"),
        ("L2", "lead", "opportunity", _day("2024-01-11"), f"{why}: lost"),
        # no won date: the person's own created date
        ("L3", "", "lead", _day("2024-01-12"), "csv import"),
        ("L3", "lead", "opportunity", _day("2024-01-12"), f"{why}: converted"),
        ("L3", "opportunity", "customer", _day("2024-01-12"), f"{why}: converted"),
        ("L4", "", "lead", _day("2024-01-13"), "csv import"),
    ]
    deals = list(
        Deal.objects.order_by("id").values_list(
            "external_id",
            "person__external_ids__external_id",
            "stage",
            "amount",
            "closed_at",
            "pipeline__name",
            "pipeline_stage__kind",
            "lost_reason__name",
        )
    )
    assert deals == [
        ("shop-L1", "L1", "won", Decimal("1200.50"), _day("2024-02-01"), "Sales", "won", None),
        ("shop-L2", "L2", "lost", Decimal("0.00"), _day("2024-01-11"), "Sales", "lost", "Too expensive"),
        ("shop-L3", "L3", "won", Decimal("0.00"), _day("2024-01-12"), "Sales", "won", None),
    ]
    stages = dict(Person.objects.values_list("external_ids__external_id", "lifecycle_stage"))
    assert stages == {"L1": "customer", "L2": "opportunity", "L3": "customer", "L4": "lead"}
    assert "converted" not in Person.objects.get(external_ids__external_id="L1").custom_fields


def test_importing_the_same_file_again_adds_no_outcome(db, tmp_path):
    # given
    csv_path, json_path = _files(tmp_path)
    _call("csv", str(csv_path), "--mapping", str(json_path))
    before = (_data_counts(), StageChange.objects.count(), Deal.objects.count(), LostReason.objects.count())
    # when
    lines = _call("csv", str(csv_path), "--mapping", str(json_path))
    # then: only the import.completed event is new
    assert lines == [
        "mapping: shop-leads (people); 4 rows",
        "created 0  updated 0  unchanged 4  merged 0  refused 0",
        "touchpoints created: 0; external ids linked: 0; accounts created: 0; stage changes written: 0",
        "won deals created: 0; lost deals created: 0; deals updated: 0",
    ]
    assert (
        _data_counts(),
        StageChange.objects.count(),
        Deal.objects.count(),
        LostReason.objects.count(),
    ) == before
    assert before[1:] == (9, 3, 1)


def test_a_later_export_updates_the_deal_and_moves_forward_only(db, tmp_path):
    # given: imported once; then L2 (lost) is won after all, and L4 converts
    csv_path, json_path = _files(tmp_path)
    _call("csv", str(csv_path), "--mapping", str(json_path))
    later = LEADS.replace(
        "L2,Bo Chan,Referral,2024-01-11,no,,,Y,Too expensive",
        "L2,Bo Chan,Referral,2024-01-11,yes,2024-03-05,99,,",
    )
    later = later.replace(
        "L4,Di Eng,Google,2024-01-13,0,,,no,", "L4,Di Eng,Google,2024-01-13,1,2024-03-01,10,no,"
    )
    csv_path.write_text(later)
    # when
    lines = _call("csv", str(csv_path), "--mapping", str(json_path), "--dry-run")
    written = _call("csv", str(csv_path), "--mapping", str(json_path))
    # then
    assert lines[1:3] == ["row      2  unchanged  L1", "row      3  updated    L2  updates its won deal"]
    assert lines[4] == "row      5  updated    L4  adds a won deal"
    assert written[1:] == [
        "created 0  updated 2  unchanged 2  merged 0  refused 0",
        "touchpoints created: 0; external ids linked: 0; accounts created: 0; stage changes written: 3",
        "won deals created: 1; lost deals created: 0; deals updated: 1",
    ]
    bo = Deal.objects.get(external_id="shop-L2")
    assert (bo.stage, bo.amount, bo.closed_at, bo.lost_reason_id, bo.pipeline_stage.kind) == (
        "won",
        Decimal("99.00"),
        _day("2024-03-05"),
        None,
        "won",
    )
    moves = list(
        StageChange.objects.filter(person__external_ids__external_id__in=["L2", "L4"])
        .order_by("person_id", "changed_at", "id")
        .values_list("person__external_ids__external_id", "to_stage", "changed_at")
    )
    assert moves == [
        ("L2", "lead", _day("2024-01-11")),
        ("L2", "opportunity", _day("2024-01-11")),
        ("L2", "customer", _day("2024-03-05")),
        ("L4", "lead", _day("2024-01-13")),
        ("L4", "opportunity", _day("2024-03-01")),
        ("L4", "customer", _day("2024-03-01")),
    ]


def test_a_bad_mapping_file_is_refused_naming_the_key_and_nothing_is_written(db, tmp_path):
    # given: a channel Tandem does not know as a value map's target
    bad = json.loads(json.dumps(MAPPING))
    bad["options"]["defaults"]["original_channel"] = "tiktok"
    csv_path, json_path = _files(tmp_path, bad)
    before = (csv_table_counts(), StageChange.objects.count(), Deal.objects.count())
    # when
    with pytest.raises(CommandError) as refused:
        _call("csv", str(csv_path), "--mapping", str(json_path))
    # then
    assert str(refused.value).startswith(
        "mapping file shop-leads.json: mapping key 'options.defaults.original_channel': unknown channel (expected one of"
    )
    assert str(refused.value).endswith("(got 'tiktok')")
    assert (csv_table_counts(), StageChange.objects.count(), Deal.objects.count()) == before


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda m: m["columns"].__setitem__("Converted", "convertd"),
            "mapping key 'columns.Converted': unknown people field (expected one of",
        ),
        (
            lambda m: m["options"].__setitem__("outcome", {}),
            "mapping key 'options.outcome': unknown key (expected one of",
        ),
        (
            lambda m: m["options"]["outcomes"].__setitem__("won_after_days", -1),
            "mapping key 'options.outcomes.won_after_days': must be a number of days from 0 to 3650 (got '-1')",
        ),
        (
            lambda m: m["options"]["outcomes"].update(true_values=["yes"], false_values=["no", "YES"]),
            "mapping key 'options.outcomes.false_values': a value cannot mean both yes and no (got 'yes')",
        ),
        (
            lambda m: m.__setitem__("kind", "leads"),
            "mapping key 'kind': must be one of people, touchpoints, deals",
        ),
    ],
)
def test_mapping_file_errors_name_the_key_and_value(db, tmp_path, change, message):
    # given
    bad = json.loads(json.dumps(MAPPING))
    change(bad)
    csv_path, json_path = _files(tmp_path, bad)
    # when
    with pytest.raises(CommandError) as refused:
        _call("csv", str(csv_path), "--mapping", str(json_path))
    # then
    assert message in str(refused.value)
    assert Person.objects.count() == 0


def test_a_mapping_file_naming_a_column_the_file_lacks_is_refused(db, tmp_path):
    # given
    csv_path, json_path = _files(tmp_path, leads=LEADS.replace("Won on", "Won"))
    # when
    with pytest.raises(CommandError) as refused:
        _call("csv", str(csv_path), "--mapping", str(json_path))
    # then
    assert str(refused.value).startswith(
        "mapping key 'columns.Won on': the file has no such column (its columns: Lead ID, Name, Source,"
    )
    assert Person.objects.count() == 0


def test_a_flag_cell_that_is_neither_yes_nor_no_refuses_its_row(db, tmp_path):
    # given
    csv_path, json_path = _files(
        tmp_path, leads=LEADS.replace("L4,Di Eng,Google,2024-01-13,0", "L4,Di Eng,Google,2024-01-13,maybe")
    )
    # when
    with pytest.raises(CommandError) as refused:
        _call("csv", str(csv_path), "--mapping", str(json_path))
    # then
    assert str(refused.value) == (
        "row 5, column 'Converted': cannot read 'maybe' as yes or no (yes: 1, true, y, yes; no: 0, false, n, no; "
        "set options.outcomes.true_values / false_values); nothing was written"
    )
    assert (Person.objects.count(), Deal.objects.count()) == (0, 0)


def test_mapping_export_gives_a_file_the_import_reads(db, tmp_path):
    # given: a mapping saved from the upload page
    mapping_save(name="shop-leads", mapping=mapping_from_dict(MAPPING))
    # when
    out = io.StringIO()
    call_command("import", "mapping", "export", "shop-leads", stdout=out)
    # then: the same mapping, as a file
    assert json.loads(out.getvalue()) == MAPPING
    csv_path, json_path = _files(tmp_path, out.getvalue())
    assert _call("csv", str(csv_path), "--mapping", str(json_path))[1] == (
        "created 4  updated 0  unchanged 0  merged 0  refused 0"
    )


def test_every_shipped_preset_is_a_valid_mapping_file(db):
    for name, data in PRESETS.items():
        # when
        mapping = mapping_from_dict(data)
        # then
        assert isinstance(mapping, Mapping) and mapping.name == name


def test_a_bad_default_is_refused_by_name():
    # given
    data = {
        "name": "x",
        "kind": "people",
        "columns": {"id": "external_id"},
        "options": {"defaults": {"won_at": "soon"}},
    }
    # when
    with pytest.raises(ValidationFailed) as refused:
        mapping_from_dict(data)
    # then
    assert refused.value.message == (
        "mapping key 'options.defaults.won_at': cannot read 'soon' as a date-time (got 'soon')"
    )
    assert refused.value.field == "options.defaults.won_at"


def test_mapping_check_says_whether_a_file_fits_and_writes_nothing(db, tmp_path):
    # given
    csv_path, json_path = _files(tmp_path)
    other = tmp_path / "other.csv"
    other.write_text("Lead ID,Name\nL1,Ann\n")
    out = io.StringIO()
    # when
    call_command("import", "mapping", "check", str(json_path), "--file", str(csv_path), stdout=out)
    with pytest.raises(CommandError) as refused:
        call_command("import", "mapping", "check", str(json_path), "--file", str(other), stdout=io.StringIO())
    # then
    assert (
        out.getvalue()
        == f"mapping file {json_path}: mapping 'shop-leads' (people), 9 columns; it fits leads.csv\n"
    )
    assert str(refused.value) == (
        "mapping key 'columns.Source': the file has no such column (its columns: Lead ID, Name) (got 'Source')"
    )
    assert Person.objects.count() == 0
