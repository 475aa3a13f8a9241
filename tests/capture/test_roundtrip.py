"""Round trips: export of an import gives the rows back, and export → import elsewhere → export is identical."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

from tandem.campaigns.models import Campaign, Touchpoint
from tandem.capture.bundle import COLUMNS, FILES, OPTIONAL_COLUMNS
from tandem.capture.services import bundle_export, bundle_import
from tandem.core.models import Event
from tandem.crm.models import Account, Activity, Deal, LostReason, Person, StageChange
from tandem.crm.services import account_for_email, deal_close, deal_create, lost_reason_get_or_create
from tandem.feedback.models import Question
from tests.campaigns.factories import CampaignFactory, TouchpointFactory
from tests.capture.factories import SAMPLE, bundle_read_files, bundle_write_files, database_snapshot
from tests.crm.factories import PersonFactory

MESSY = {
    "campaigns.csv": (
        "campaign_id,cost,name,channel,started_on,ended_on,Region\n"
        "Z-9,99,Zeta,Paid Social,2025-02-01,2025-02-28,NA\n"
        "A-1,,Alpha,EMAIL,,,\n"
    ),
    "people.csv": (
        "created_at,email,first_name,last_name,company,industry,company_size,country,job_title,tier\n"
        '2025-03-04 10:15:00,Zoe@Zeta.example,Zoe,Zed,,fintech,"5,001+",US,CFO,gold\n'
        "2025-03-04T10:15:00+02:00,al@gmail.com,Al,Ames,Ames & Co,retail,tiny,GB,,\n"
        "2025-01-01,bea@zeta.example,Bea,Bo,Zeta Inc,,,,Analyst,silver\n"
    ),
    "touchpoints.csv": (
        "kind,email,occurred_at,channel,campaign_id,utm_source\n"
        "Form Submit,zoe@zeta.example,2025-03-05,Paid Social,Z-9,linkedin\n"
        ",al@gmail.com,2025-03-06T00:00:00-05:00,direct,,\n"
        "form_submit,zoe@zeta.example,2025-03-05,paid-social,Z-9,linkedin\n"
    ),
    "deals.csv": (
        "deal_id,email,amount,stage,created_at,closed_at,lost_reason\n"
        "9,al@gmail.com,10,LOST,2025-03-07,2025-03-08 12:00:00,  Went   dark \n"
        "10,ZOE@zeta.example,0.5,open,2025-03-07,,\n"
    ),
    "questions.csv": 'email,asked_at,text\nbea@zeta.example,2025-03-09,"Line one\nline two"\n',
}


def _wipe() -> None:
    """Empty every table a bundle fills, as in a fresh database."""
    for model in (
        StageChange,
        Touchpoint,
        Question,
        Activity,
        Deal,
        Person,
        Account,
        Campaign,
        LostReason,
        Event,
    ):
        model._default_manager.all().delete()


def _made_in_tandem() -> None:
    """Rows created by the app itself, without external ids: a campaign, a person, deals, a touchpoint."""
    campaign = CampaignFactory(external_id=None, name="Made here", channel="events")
    account = account_for_email(email="Made@Here.example", company="Here Ltd")
    person = PersonFactory(
        email="Made@Here.example", first_name="Mo", last_name="Made", account=account, custom_fields={"n": 5}
    )
    TouchpointFactory(person=person, campaign=campaign, channel="events", kind="event_visit")
    open_deal = deal_create(
        person=person, amount=Decimal("10.00"), created_at=dt.datetime(2025, 5, 1, tzinfo=dt.UTC)
    )
    lost = deal_create(
        person=person, amount=Decimal("20.00"), created_at=dt.datetime(2025, 5, 2, tzinfo=dt.UTC)
    )
    deal_close(
        deal=lost,
        won=False,
        at=dt.datetime(2025, 5, 3, tzinfo=dt.UTC),
        lost_reason=lost_reason_get_or_create(name="Timing"),
    )
    assert open_deal.external_id is None


def test_export_of_an_import_gives_back_the_same_rows(db, tmp_path):
    # given a canonical bundle imported into an empty database
    bundle_write_files(tmp_path / "in")
    bundle_import(directory=tmp_path / "in")
    # when
    result = bundle_export(directory=tmp_path / "out")
    # then
    assert bundle_read_files(tmp_path / "out") == {name: text.encode() for name, text in SAMPLE.items()}
    assert result.rows == {
        "campaigns.csv": 2,
        "campaign_costs.csv": 4,
        "people.csv": 3,
        "touchpoints.csv": 5,
        "deals.csv": 3,
        "activities.csv": 3,
        "questions.csv": 2,
    }


def test_export_then_import_into_an_empty_database_then_export_gives_identical_files(db, tmp_path):
    # given messy input and rows made in the app
    bundle_write_files(tmp_path / "in", MESSY)
    bundle_import(directory=tmp_path / "in")
    _made_in_tandem()
    bundle_export(directory=tmp_path / "first")
    _wipe()
    # when
    bundle_import(directory=tmp_path / "first")
    bundle_export(directory=tmp_path / "second")
    # then
    first, second = bundle_read_files(tmp_path / "first"), bundle_read_files(tmp_path / "second")
    assert first == second
    assert first["people.csv"].decode().splitlines() == [
        "email,first_name,last_name,company,industry,company_size,country,job_title,created_at,n,tier",
        "al@gmail.com,Al,Ames,Ames & Co,retail,tiny,GB,,2025-03-04T08:15:00Z,,",
        "bea@zeta.example,Bea,Bo,Zeta Inc,fintech,5001+,US,Analyst,2025-01-01T00:00:00Z,,silver",
        "Made@Here.example,Mo,Made,Here Ltd,,,,Head of Operations,2025-03-03T09:00:00Z,5,",
        "Zoe@Zeta.example,Zoe,Zed,Zeta Inc,fintech,5001+,US,CFO,2025-03-04T10:15:00Z,,gold",
    ]


def test_export_of_messy_input_is_canonical(db, tmp_path):
    # given
    bundle_write_files(tmp_path / "in", MESSY)
    bundle_import(directory=tmp_path / "in")
    # when
    bundle_export(directory=tmp_path / "out")
    # then
    files = {name: data.decode() for name, data in bundle_read_files(tmp_path / "out").items()}
    assert files["campaigns.csv"] == (
        "campaign_id,name,channel,started_on,ended_on,cost,kind,offer,offer_ends_on,talking_points,Region\n"
        "A-1,Alpha,email,,,0.00,campaign,,,,\n"
        "Z-9,Zeta,paid_social,2025-02-01,2025-02-28,99.00,campaign,,,,NA\n"
    )
    assert files["touchpoints.csv"] == (
        "email,occurred_at,channel,campaign_id,kind,utm_source\n"
        "al@gmail.com,2025-03-06T05:00:00Z,direct,,other,\n"
        "Zoe@Zeta.example,2025-03-05T00:00:00Z,paid_social,Z-9,form_submit,linkedin\n"
        "Zoe@Zeta.example,2025-03-05T00:00:00Z,paid_social,Z-9,form_submit,linkedin\n"
    )
    assert files["deals.csv"] == (
        "deal_id,email,amount,stage,created_at,closed_at,lost_reason\n"
        "10,Zoe@Zeta.example,0.50,open,2025-03-07T00:00:00Z,,\n"
        "9,al@gmail.com,10.00,lost,2025-03-07T00:00:00Z,2025-03-08T12:00:00Z,Went dark\n"
    )
    assert (
        files["questions.csv"]
        == 'email,asked_at,text\nbea@zeta.example,2025-03-09T00:00:00Z,"Line one\nline two"\n'
    )


def test_importing_an_export_into_the_same_database_changes_nothing(db, tmp_path):
    # given rows from a bundle and rows made in the app (exported under tandem-<pk> ids)
    bundle_write_files(tmp_path / "in")
    bundle_import(directory=tmp_path / "in")
    _made_in_tandem()
    bundle_export(directory=tmp_path / "out")
    before = database_snapshot()
    # when
    result = bundle_import(directory=tmp_path / "out")
    # then
    assert result.changed is False
    assert database_snapshot() == before
    made = Campaign.objects.get(name="Made here")
    assert f"tandem-{made.pk},Made here,events," in (tmp_path / "out" / "campaigns.csv").read_text()


def test_export_of_an_empty_database_writes_headers_only(db, tmp_path):
    # given / when
    result = bundle_export(directory=tmp_path / "out")
    # then
    assert bundle_read_files(tmp_path / "out") == {
        name: (",".join((*COLUMNS[name], *OPTIONAL_COLUMNS.get(name, ()))) + "\n").encode() for name in FILES
    }
    assert set(result.rows.values()) == {0}
    assert isinstance(result.directory, Path)


CALENDAR_FIELDS = ("name", "kind", "offer", "offer_ends_on", "talking_points")


def test_calendar_fields_survive_export_and_import_into_an_empty_database(db, tmp_path):
    # given campaigns with calendar fields, talking points over several lines (a textarea's CRLF, a lone CR)
    CampaignFactory(
        name="Spring promo",
        kind=Campaign.Kind.PROMOTION,
        offer="20% off, first year",
        offer_ends_on=dt.date(2025, 4, 30),
        talking_points='Ask about their "renewal" date\nMention the ROI study\r\n- Offer a demo\rBook it',
    )
    CampaignFactory(name="Launch day", kind=Campaign.Kind.LAUNCH, talking_points="One point")
    CampaignFactory(name="Plain")
    before = list(Campaign.objects.order_by("name").values_list(*CALENDAR_FIELDS))
    bundle_export(directory=tmp_path / "out")
    _wipe()
    # when
    result = bundle_import(directory=tmp_path / "out")
    # then
    assert result.files["campaigns.csv"].created == 3
    assert list(Campaign.objects.order_by("name").values_list(*CALENDAR_FIELDS)) == before
    assert before == [
        ("Launch day", "launch", "", None, "One point"),
        ("Plain", "campaign", "", None, ""),
        (
            "Spring promo",
            "promotion",
            "20% off, first year",
            dt.date(2025, 4, 30),
            'Ask about their "renewal" date\nMention the ROI study\r\n- Offer a demo\rBook it',
        ),
    ]


def test_a_custom_field_named_like_a_standard_column_is_not_exported_twice(db, tmp_path):
    # given a campaign whose custom fields, kept from a bundle older than the calendar columns, hold "Kind"
    CampaignFactory(name="Old import", kind=Campaign.Kind.EVENT, custom_fields={"Kind": "webinar", "region": "EMEA"})
    # when it is exported and imported into an empty database
    bundle_export(directory=tmp_path / "out")
    header = bundle_read_files(tmp_path / "out")["campaigns.csv"].splitlines()[0].decode()
    _wipe()
    result = bundle_import(directory=tmp_path / "out")
    # then the header names kind once (the column, which shadows the custom field) and the import takes it
    assert header.split(",") == [*COLUMNS["campaigns.csv"], *OPTIONAL_COLUMNS["campaigns.csv"], "region"]
    assert result.files["campaigns.csv"].created == 1
    assert Campaign.objects.get().kind == "event"
    assert Campaign.objects.get().custom_fields == {"region": "EMEA"}
