"""activities.csv in the interchange bundle: the SLA counts its calls, every field survives a round trip, and a
bad row is refused naming its cell with nothing written."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from tandem.capture.bundle import BundleError
from tandem.capture.services import bundle_export, bundle_import
from tandem.core.models import Event
from tandem.crm.activities.services import activity_record
from tandem.crm.models import Account, Activity, Deal, Person, StageChange
from tandem.crm.services import deal_create, person_change_stage
from tandem.lifecycle.selectors import sla_scorecard
from tandem.users.models import Role
from tests.capture.factories import bundle_read_files, bundle_write_files, database_snapshot
from tests.crm.factories import AccountFactory, PersonFactory
from tests.users.factories import TeamFactory, UserFactory

pytestmark = pytest.mark.django_db

MONDAY_10 = dt.datetime(2026, 6, 15, 10, 0, tzinfo=dt.UTC)
JUNE = (dt.datetime(2026, 6, 1, tzinfo=dt.UTC), dt.datetime(2026, 7, 1, tzinfo=dt.UTC))
PEOPLE = "email,first_name,last_name,company,industry,company_size,country,job_title,created_at\n"
HEADER = "activity_id,email,kind,occurred_at,outcome,direction,duration_minutes,subject,notes,deal_id,user\n"


@pytest.fixture
def ann():  # type: ignore[no-untyped-def]
    return UserFactory(
        role=Role.SALES_REP, username="ann", team=TeamFactory(name="UTC team", time_zone="UTC")
    )


@pytest.fixture
def lee(ann):  # type: ignore[no-untyped-def]
    person = PersonFactory(email="lee@acme.example", account=AccountFactory(domain="acme.example"))
    Person.objects.filter(pk=person.pk).update(owner=ann)
    person_change_stage(person=person, to_stage="mql", at=MONDAY_10)
    return person


def test_a_call_in_a_bundle_is_the_mqls_first_touch_and_a_note_is_not(tmp_path, ann, lee):
    # given a bundle of a note at 10:30 and Ann's call at 11:00 for Lee, Ann's MQL since Monday 10:00
    activities = (
        HEADER
        + "N-1,lee@acme.example,note,2026-06-15T10:30:00Z,,,,,Read their site,,ann\n"
        + "C-1,lee@acme.example,call,2026-06-15T11:00:00Z,connected,outbound,12,Intro,Wants pricing,,ann\n"
    )
    bundle_write_files(tmp_path, {}, people=PEOPLE, activities=activities)
    # when
    result = bundle_import(directory=tmp_path)
    # then the call is Lee's, by Ann, and the SLA counts its first touch after 60 minutes
    assert (result.files["activities.csv"].created, result.files["activities.csv"].updated) == (2, 0)
    call = Activity.objects.get(external_id="C-1")
    assert (call.person_id, call.kind_id, call.outcome, call.direction, call.duration_minutes) == (
        lee.pk,
        "call",
        "connected",
        "outbound",
        12,
    )
    assert (call.subject, call.notes, call.user_id, call.account_id) == (
        "Intro",
        "Wants pricing",
        ann.pk,
        lee.account_id,
    )
    (line,) = sla_scorecard(start=JUNE[0], end=JUNE[1])["reps"]
    assert (line["touched"], line["median_minutes_to_touch"], line["mean_attempts"], line["within_sla"]) == (
        1,
        60.0,
        1.0,
        1,
    )
    # when the same bundle is imported again
    again = bundle_import(directory=tmp_path)
    # then nothing changed
    assert (again.files["activities.csv"].unchanged, again.changed) == (2, False)


def test_every_field_survives_export_and_import_into_an_empty_database(tmp_path, ann):
    # given activities made in Tandem (no external ids): one with every field, on a deal made in Tandem too
    ana = PersonFactory(email="ana@acme.example", account=AccountFactory(name="Acme", domain="acme.example"))
    deal = deal_create(person=ana, amount=Decimal("100.00"), created_at=MONDAY_10)
    made = activity_record(
        person=ana,
        kind="meeting",
        occurred_at=MONDAY_10 + dt.timedelta(hours=2),
        outcome="no_show",
        direction="inbound",
        duration_minutes=30,
        subject="Demo, part 2",
        notes='They said "next week"\nmaybe',
        deal=deal,
        by_user=ann,
    )
    activity_record(person=ana, kind="note", occurred_at=MONDAY_10, external_id="HS-7")
    bundle_export(directory=tmp_path / "first")
    # when the bundle goes into an empty database (the users stay) and out again
    for model in (StageChange, Activity, Deal, Person, Account, Event):
        model._default_manager.all().delete()
    bundle_import(directory=tmp_path / "first")
    bundle_export(directory=tmp_path / "second")
    # then the files are identical, and the activities are as they were
    first = bundle_read_files(tmp_path / "first")
    assert first == bundle_read_files(tmp_path / "second")
    assert first["activities.csv"].decode().splitlines()[1:] == [
        "HS-7,ana@acme.example,note,2026-06-15T10:00:00Z,,,,,,,",
        f"tandem-{made.pk},ana@acme.example,meeting,"
        f'2026-06-15T12:00:00Z,no_show,inbound,30,"Demo, part 2","They said ""next week""',
        f'maybe",tandem-{deal.pk},ann',
    ]
    meeting = Activity.objects.get(kind="meeting")
    assert (
        meeting.outcome,
        meeting.direction,
        meeting.duration_minutes,
        meeting.subject,
        meeting.user_id,
    ) == (
        "no_show",
        "inbound",
        30,
        "Demo, part 2",
        ann.pk,
    )
    assert meeting.deal is not None and meeting.deal.external_id == f"tandem-{deal.pk}"
    assert meeting.notes == 'They said "next week"\nmaybe'


@pytest.mark.parametrize(
    ("row", "column", "value", "problem"),
    [
        ("A-1,lee@acme.example,fax,2026-06-15,,,,,,,", "kind", "fax", "unknown activity kind 'fax'"),
        (
            "A-1,lee@acme.example,call,2026-06-15,,,,,,,zed",
            "user",
            "zed",
            "no user 'zed' (create the user first)",
        ),
        ("A-1,lee@acme.example,call,2026-06-15,great,,,,,,", "outcome", "great", "unknown outcome 'great'"),
        ("A-1,lee@acme.example,call,2026-06-15,,up,,,,,", "direction", "up", "unknown direction 'up'"),
        (
            "A-1,lee@acme.example,call,2026-06-15,,,-5,,,,",
            "duration_minutes",
            "-5",
            "must be whole minutes from 0 to 1440",
        ),
        (
            "A-1,lee@acme.example,call,2026-06-15,,,,,,D-9,",
            "deal_id",
            "D-9",
            "neither in deals.csv nor in the database",
        ),
        (
            "A-1,lee@acme.example,call,2099-06-15,,,,,,,",
            "occurred_at",
            "2099-06-15T00:00:00+00:00",
            "more than a day",
        ),
        (
            "A-1,zed@acme.example,call,2026-06-15,,,,,,,",
            "email",
            "zed@acme.example",
            "neither in people.csv nor",
        ),
        (",lee@acme.example,call,2026-06-15,,,,,,,", "activity_id", "", "value is missing"),
        ("A-1,lee@acme.example,call,2026-06-15,,,,,,D-OTHER,", "deal_id", "D-OTHER", "belongs neither to"),
    ],
)
def test_a_bad_row_is_refused_naming_its_cell_and_nothing_is_written(
    tmp_path, lee, row, column, value, problem
):
    # given a deal of someone else
    Deal.objects.filter(pk=deal_create(person=PersonFactory(), amount=Decimal("1.00")).pk).update(
        external_id="D-OTHER"
    )
    bundle_write_files(tmp_path, {}, people=PEOPLE, activities=HEADER + row + "\n")
    before = database_snapshot()
    # when
    with pytest.raises(BundleError) as refused:
        bundle_import(directory=tmp_path)
    # then
    assert (refused.value.file, refused.value.line, refused.value.column, refused.value.value) == (
        "activities.csv",
        2,
        column,
        value,
    )
    assert problem in refused.value.message
    assert database_snapshot() == before


def test_an_extra_column_is_refused_as_activities_keep_no_custom_fields(tmp_path, lee):
    # given / when
    bundle_write_files(
        tmp_path,
        {},
        people=PEOPLE,
        activities=HEADER.strip() + ",mood\nA-1,lee@acme.example,call,2026-06-15,,,,,,,,happy\n",
    )
    # then
    with pytest.raises(BundleError, match="unknown column 'mood'"):
        bundle_import(directory=tmp_path)
