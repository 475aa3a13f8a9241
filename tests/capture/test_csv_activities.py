"""CSV import of activities: HubSpot and Salesforce exports by their real headers, idempotent on their ids,
counted by the SLA as first touches (a note is not one)."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from django.core.management import call_command

from tandem.capture.csvimport.mapping import RowError, activity_value, duration_read, table_read
from tandem.capture.csvimport.selectors import mapping_resolve
from tandem.capture.csvimport.services import csv_import
from tandem.core.errors import ValidationFailed
from tandem.core.models import Event
from tandem.crm.models import Activity, ExternalId, Person
from tandem.crm.services import person_change_stage
from tandem.lifecycle.selectors import sla_scorecard
from tandem.users.models import Role
from tests.crm.factories import AccountFactory, DealFactory, PersonFactory
from tests.users.factories import TeamFactory, UserFactory

MONDAY_10 = dt.datetime(2026, 6, 15, 10, 0, tzinfo=dt.UTC)
JUNE = (dt.datetime(2026, 6, 1, tzinfo=dt.UTC), dt.datetime(2026, 7, 1, tzinfo=dt.UTC))

HUBSPOT_CALLS = (
    "Record ID,Activity date,Call Title,Call notes,Call direction,Call outcome,Call duration (HH:mm:ss),Call status,"
    "Activity assigned to,Associated Contact,Associated Contact IDs\n"
    "501,2026-06-15 11:00,Discovery,<p>Wants pricing</p><p>40 seats &amp; SSO</p>,OUTBOUND,Connected,00:15:30,"
    "COMPLETED,Ann Lee,Lee Caller (lee@acme.example),\n"
    "502,2026-06-15 10:30,,,OUTBOUND,No answer,00:00:20,COMPLETED,ann@corp.example,,9001\n"
    "503,2026-06-16 09:00,,,INBOUND,Left live message,00:01:00,COMPLETED,Nobody Here,Zed (zed@nowhere.example),\n"
)
SALESFORCE_TASKS = (
    "Activity ID,Subject,Type,Activity Date,Call Result,Call Duration in Seconds,Call Type,Comments,Assigned,Email,"
    "Lead ID,Status\n"
    "00T1,Call: intro,Call,2026-06-15,Left Voicemail,95,Outbound,,Ann Lee,lee@acme.example,,Completed\n"
    "00T2,Email: pricing,Email,2026-06-16,,,,Sent the deck,,lee@acme.example,,Completed\n"
    "00T3,Follow up,,2026-06-17,Meeting booked,,,Call went well,,,00Q9,Completed\n"
)
HUBSPOT_MEETINGS = (
    "Record ID,Meeting start time,Meeting end time,Meeting name,Meeting description,Meeting outcome,"
    "Activity assigned to,Associated Contact\n"
    "801,2026-06-18 14:00,2026-06-18 14:45,Demo,Showed the dashboard,Completed,Ann Lee,lee@acme.example\n"
    "802,2026-06-19 14:00,2026-06-19 14:30,Demo 2,,No Show,,lee@acme.example\n"
)


@pytest.fixture
def ann(db):  # type: ignore[no-untyped-def]
    return UserFactory(
        role=Role.SALES_REP,
        username="ann",
        email="ann@corp.example",
        first_name="Ann",
        last_name="Lee",
        team=TeamFactory(name="UTC team", time_zone="UTC"),
    )


@pytest.fixture
def lee(ann):  # type: ignore[no-untyped-def]
    # Lee is Ann's MQL since Monday 10:00, known to HubSpot as contact 9001 and to Salesforce as lead 00Q9.
    person = PersonFactory(email="lee@acme.example", account=AccountFactory(domain="acme.example"))
    Person.objects.filter(pk=person.pk).update(owner=ann)
    person_change_stage(person=person, to_stage="mql", at=MONDAY_10)
    ExternalId.objects.create(person=person, system="hubspot", external_id="9001")
    ExternalId.objects.create(person=person, system="salesforce", external_id="00Q9")
    return person


def _import(text: str, **options: object):  # type: ignore[no-untyped-def]
    table = table_read(data=text.encode())
    mapping = mapping_resolve(name="auto", kind="activities", headers=table.headers)
    return csv_import(data=text.encode(), mapping=mapping, **options)  # type: ignore[arg-type]


def _rep_line() -> tuple[object, ...]:
    (line,) = sla_scorecard(start=JUNE[0], end=JUNE[1])["reps"]
    return (
        line["mqls"],
        line["touched"],
        line["median_minutes_to_touch"],
        line["mean_attempts"],
        line["within_sla"],
    )


@pytest.mark.parametrize(
    ("text", "preset", "columns"),
    [
        (
            HUBSPOT_CALLS,
            "hubspot-calls",
            {
                "Record ID": "activity_id",
                "Activity date": "occurred_at",
                "Call Title": "subject",
                "Call notes": "notes",
                "Call direction": "direction",
                "Call outcome": "outcome",
                "Call duration (HH:mm:ss)": "duration",
                "Associated Contact": "email",
                "Associated Contact IDs": "external_id",
                "Activity assigned to": "user",
            },
        ),
        (
            SALESFORCE_TASKS,
            "salesforce-tasks",
            {
                "Activity ID": "activity_id",
                "Subject": "subject",
                "Type": "kind",
                "Activity Date": "occurred_at",
                "Call Result": "outcome",
                "Call Duration in Seconds": "duration",
                "Call Type": "direction",
                "Comments": "notes",
                "Email": "email",
                "Lead ID": "external_id",
                "Assigned": "user",
            },
        ),
        (
            HUBSPOT_MEETINGS,
            "hubspot-meetings",
            {
                "Record ID": "activity_id",
                "Meeting start time": "occurred_at",
                "Meeting end time": "ended_at",
                "Meeting name": "subject",
                "Meeting description": "notes",
                "Meeting outcome": "outcome",
                "Associated Contact": "email",
                "Activity assigned to": "user",
            },
        ),
        (
            "Record ID,Activity date,Email subject,Email body,Email direction,Email send status,Contact email\n",
            "hubspot-emails",
            {
                "Record ID": "activity_id",
                "Activity date": "occurred_at",
                "Email subject": "subject",
                "Email body": "notes",
                "Email direction": "direction",
                "Email send status": "outcome",
                "Contact email": "email",
            },
        ),
        (
            "Event ID,Subject,Start,End,Duration,Description,Assigned To,Email,Contact ID\n",
            "salesforce-events",
            {
                "Event ID": "activity_id",
                "Subject": "subject",
                "Start": "occurred_at",
                "End": "ended_at",
                "Duration": "duration",
                "Description": "notes",
                "Assigned To": "user",
                "Email": "email",
                "Contact ID": "external_id",
            },
        ),
    ],
)
def test_the_presets_recognise_the_exports_by_their_real_headers(db, text, preset, columns):
    # given / when
    mapping = mapping_resolve(name="auto", kind="activities", headers=table_read(data=text.encode()).headers)
    # then
    assert (mapping.name, mapping.columns) == (preset, columns)


def test_a_hubspot_calls_export_is_imported_once_and_counts_as_first_touches(ann, lee):
    # given Lee untouched
    assert _rep_line() == (1, 0, None, 0.0, 0)
    # when the calls export is imported (keeping the good rows)
    result = _import(HUBSPOT_CALLS, mode="good_rows")
    # then two calls are Lee's, by Ann; the third names nobody Tandem knows
    assert result.counts == {"created": 2, "updated": 0, "unchanged": 0, "merged": 0, "refused": 1}
    refused = next(r for r in result.rows if r.outcome == "refused")
    assert (refused.line, refused.column, refused.value) == (4, "Associated Contact", "zed@nowhere.example")
    calls = {a.external_id: a for a in Activity.objects.all()}
    first, second = calls["hubspot-501"], calls["hubspot-502"]
    assert (first.person_id, first.kind_id, first.outcome, first.direction, first.duration_minutes) == (
        lee.pk,
        "call",
        "connected",
        "outbound",
        16,
    )
    assert (first.subject, first.notes, first.user_id, first.account_id) == (
        "Discovery",
        "Wants pricing\n40 seats & SSO",
        ann.pk,
        lee.account_id,
    )
    assert first.occurred_at == dt.datetime(2026, 6, 15, 11, 0, tzinfo=dt.UTC)
    assert (second.person_id, second.outcome, second.duration_minutes, second.user_id) == (
        lee.pk,
        "no_answer",
        1,
        ann.pk,
    )
    # and the SLA counts the first touch at 10:30 (30 business minutes) and two attempts
    assert _rep_line() == (1, 1, 30.0, 2.0, 1)
    assert Event.objects.filter(kind="import.completed").count() == 1
    # when the same export is imported again
    again = _import(HUBSPOT_CALLS, mode="good_rows")
    # then nothing changes
    assert again.counts == {"created": 0, "updated": 0, "unchanged": 2, "merged": 0, "refused": 1}
    assert Activity.objects.count() == 2


def test_a_changed_row_updates_its_activity(ann, lee):
    # given an imported export
    _import(HUBSPOT_CALLS, mode="good_rows")
    # when the outcome of call 502 changed in HubSpot
    changed = HUBSPOT_CALLS.replace("OUTBOUND,No answer,00:00:20", "OUTBOUND,Busy,00:00:20")
    result = _import(changed, mode="good_rows")
    # then
    assert result.counts == {"created": 0, "updated": 1, "unchanged": 1, "merged": 0, "refused": 1}
    assert [r.detail for r in result.rows if r.outcome == "updated"] == ["changes outcome"]
    assert Activity.objects.get(external_id="hubspot-502").outcome == "busy"


def test_a_salesforce_tasks_export_keeps_unknown_results_in_the_notes_and_untyped_tasks_as_notes(ann, lee):
    # given / when
    result = _import(SALESFORCE_TASKS)
    # then
    assert result.counts["created"] == 3
    rows = {a.external_id: a for a in Activity.objects.all()}
    call, email, task = rows["salesforce-00T1"], rows["salesforce-00T2"], rows["salesforce-00T3"]
    assert (call.kind_id, call.outcome, call.duration_minutes, call.direction, call.user_id) == (
        "call",
        "left_voicemail",
        2,
        "outbound",
        ann.pk,
    )
    assert call.occurred_at == dt.datetime(2026, 6, 15, tzinfo=dt.UTC)
    assert (email.kind_id, email.notes, email.subject, email.user_id) == (
        "email",
        "Sent the deck",
        "Email: pricing",
        None,
    )
    assert (task.kind_id, task.person_id, task.outcome, task.notes) == (
        "note",
        lee.pk,
        "",
        "Outcome: Meeting booked\nCall went well",
    )


def test_a_meetings_export_takes_the_duration_from_start_and_end(ann, lee):
    # given / when
    _import(HUBSPOT_MEETINGS)
    # then
    assert list(
        Activity.objects.order_by("external_id").values_list("kind", "outcome", "duration_minutes", "subject")
    ) == [
        ("meeting", "held", 45, "Demo"),
        ("meeting", "no_show", 30, "Demo 2"),
    ]


@pytest.mark.parametrize(
    ("row", "column", "value", "problem"),
    [
        ("9,2026-06-15 11:00,fax,lee@acme.example,,", "kind", "fax", "unknown activity kind 'fax'"),
        (",2026-06-15 11:00,call,lee@acme.example,,", "activity_id", "", "value is missing"),
        (
            "9,2099-06-15 11:00,call,lee@acme.example,,",
            "occurred_at",
            "2099-06-15T11:00:00+00:00",
            "more than a day in the future",
        ),
        ("9,,call,lee@acme.example,,", "occurred_at", "", "value is missing"),
        ("9,2026-06-15 11:00,call,lee@acme.example,D-9,", "deal_id", "D-9", "no deal with id 'D-9'"),
        (
            "9,2026-06-15 11:00,call,lee@acme.example,D-OTHER,",
            "deal_id",
            "D-OTHER",
            "belongs neither to this person",
        ),
        ("9,2026-06-15 11:00,call,lee@acme.example,,25:00:00", "duration", "25:00:00", "longer than a day"),
        (
            "9,2026-06-15 11:00,call,lee@acme.example,,1:xx",
            "duration",
            "1:xx",
            "cannot read '1:xx' as a duration",
        ),
    ],
)
def test_a_bad_row_is_refused_naming_its_column_and_nothing_is_written(ann, lee, row, column, value, problem):
    # given a spreadsheet of Tandem's own column names and a deal of someone else
    DealFactory(person=PersonFactory(), external_id="D-OTHER")
    text = f"activity_id,occurred_at,kind,email,deal_id,duration\n{row}\n"
    table = table_read(data=text.encode())
    mapping = mapping_resolve(name="auto", kind="activities", headers=table.headers)
    before = (Activity.objects.count(), Event.objects.count())
    # when
    with pytest.raises(RowError) as refused:
        csv_import(data=text.encode(), mapping=mapping)
    # then
    assert (refused.value.line, refused.value.column, refused.value.value) == (2, column, value)
    assert problem in refused.value.message
    assert (Activity.objects.count(), Event.objects.count()) == before


def test_an_activities_file_needs_its_ids(db):
    # given a spreadsheet without an id column
    text = b"email,occurred_at,kind\nlee@acme.example,2026-06-15,call\n"
    mapping = mapping_resolve(name="auto", kind="activities", headers=table_read(data=text).headers)
    # when / then: a second import could not tell its rows from the first's
    with pytest.raises(ValidationFailed, match="an activities file needs an activity_id column"):
        csv_import(data=text, mapping=mapping)


@pytest.mark.parametrize(
    ("text", "unit", "minutes"),
    [
        ("00:15:30", "", 16),
        ("15:29", "", 15),
        ("0:00:10", "", 1),
        ("0", "", 0),
        ("95", "seconds", 2),
        ("90000", "milliseconds", 2),
        ("1.5", "hours", 90),
        ("45", "", 45),
    ],
)
def test_durations_are_read_as_whole_minutes(text, unit, minutes):
    # given / when / then
    assert duration_read(text, unit=unit or "minutes", line=2, column="Duration") == minutes


def test_cells_name_outcomes_directions_and_people_the_ways_exports_write_them():
    # given / when / then
    assert [
        activity_value("outcome", t, line=2, column="o")
        for t in ("No Show", "LEFT_VOICEMAIL", "Sent", "nope")
    ] == [
        "no_show",
        "left_voicemail",
        "sent",
        None,
    ]
    assert [
        activity_value("direction", t, line=2, column="d") for t in ("OUTBOUND", "Incoming", "Internal")
    ] == [
        "outbound",
        "inbound",
        "",
    ]
    assert activity_value(
        "email_in_text", "Lee Caller (Lee@Acme.example); Bo (bo@x.example)", line=2, column="c"
    ) == ("Lee@Acme.example")
    assert activity_value("email_in_text", "Lee Caller", line=2, column="c") == ""
    assert activity_value("activity_kind", "E-mail", line=2, column="k") == "email"


def test_the_command_imports_an_activities_file(ann, lee, tmp_path):
    # given
    path = tmp_path / "calls.csv"
    path.write_text(HUBSPOT_CALLS, encoding="utf-8")
    out = io.StringIO()
    # when
    call_command(
        "import",
        "csv",
        str(path),
        "--kind",
        "activities",
        "--good-rows",
        "--no-progress",
        stdout=out,
        stderr=io.StringIO(),
    )
    # then
    assert "mapping: hubspot-calls (activities); 3 rows" in out.getvalue()
    assert Activity.objects.count() == 2
