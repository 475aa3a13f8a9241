"""CSV formula injection: every CSV Tandem writes neutralises formula-like text, and its own files come back exactly.

The values are the issue's (`=HYPERLINK(...)`, `+cmd|...`, `-2+3`, `@SUM(...)`, a leading tab or CR) and the shapes
that make the escaping reversible (text that already starts with a quote).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import zipfile
from decimal import Decimal

import pytest
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command

from tandem.analytics.economics.selectors import LTV_SEGMENTS
from tandem.analytics.economics.views import CSV_TABLES
from tandem.analytics.statistics.selectors import SEGMENT_FIELDS
from tandem.campaigns.models import Campaign, CampaignCost, Touchpoint
from tandem.campaigns.services import campaign_cost_add
from tandem.capture.bundle import FILES
from tandem.capture.csvimport.mapping import REFUSED_COLUMNS, table_read
from tandem.capture.services import bundle_export, bundle_import
from tandem.core.csvsafe import FORMULA_STARTS
from tandem.core.models import Event
from tandem.crm.activities.services import activity_record
from tandem.crm.models import Account, Activity, Deal, LostReason, Person, StageChange
from tandem.crm.services import deal_close, deal_create, lost_reason_get_or_create
from tandem.feedback.models import Question
from tandem.scoring.models import PersonScore
from tandem.users.models import Role
from tests.campaigns.factories import CampaignFactory
from tests.capture.factories import bundle_read_files
from tests.crm.factories import AccountFactory, PersonFactory
from tests.feedback.factories import QuestionFactory
from tests.users.factories import UserFactory

ATTACKS = ['=HYPERLINK("http://x","y")', "+cmd|' /C calc'!A0", "-2+3", "@SUM(A1)", "\tx", "\rx"]
VALUES = [*ATTACKS, "'=already", "'", "normal"]
# A number we wrote (a negative ROI, a rate) is a number, not text: the only cells allowed to start with '-'.
NUMBER = re.compile(r"-?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?|-inf")
AT = dt.datetime(2025, 3, 3, 9, 0, tzinfo=dt.UTC)


def _cells(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text, newline="")))


def _unsafe(text: str) -> list[str]:
    """The cells of a CSV text that a spreadsheet would run (numbers excepted)."""
    return [
        cell
        for row in _cells(text)
        for cell in row
        if cell[:1] in FORMULA_STARTS and not NUMBER.fullmatch(cell)
    ]


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


def _company(*, values: list[str] = VALUES) -> None:
    """A company whose every free-text field holds the values: people, accounts, campaigns and their costs,
    touchpoints, deals lost for a reason, activities and questions, custom fields and a custom column's name."""
    rep = UserFactory(username="rep1", role=Role.SALES_REP)
    for i, value in enumerate(values):
        campaign = CampaignFactory(
            external_id=f"C-{i}",
            name=value,
            channel="email",
            offer=value,
            talking_points=value,
            started_on=dt.date(2025, 3, 1),
            ended_on=dt.date(2025, 3, 31),
            actual_cost=Decimal("0.00"),
            custom_fields={"region": value},
        )
        campaign_cost_add(
            campaign=campaign, amount=Decimal("100.00"), spent_on=dt.date(2025, 3, 1), note=value
        )
        account = AccountFactory(name=value, domain=None, industry=value, country=value, size_band="11-50")
        person = PersonFactory(
            email=f"p{i}@gmail.com",
            first_name=value,
            last_name=value,
            job_title=value,
            account=account,
            original_channel="email",
            original_campaign=campaign,
            custom_fields={"note": value, "=col": value},
        )
        Touchpoint.objects.create(
            person=person, channel="email", campaign=campaign, occurred_at=AT, kind="email_click"
        )
        StageChange.objects.create(person=person, to_stage="mql", changed_at=AT + dt.timedelta(days=1))
        StageChange.objects.create(person=person, to_stage="customer", changed_at=AT + dt.timedelta(days=5))
        won = deal_create(person=person, amount=Decimal("1000.00"), created_at=AT + dt.timedelta(days=2))
        deal_close(deal=won, won=True, at=AT + dt.timedelta(days=5))
        lost = deal_create(person=person, amount=Decimal("50.00"), created_at=AT + dt.timedelta(days=2))
        deal_close(
            deal=lost,
            won=False,
            at=AT + dt.timedelta(days=6),
            lost_reason=lost_reason_get_or_create(name=value),
        )
        activity = activity_record(person=person, kind="call", user=rep, occurred_at=AT, external_id=f"A-{i}")
        # The services strip what forms send; what an older import or the API stored may not be: set it as it is.
        Person.objects.filter(pk=person.pk).update(first_name=value, last_name=value, job_title=value)
        Activity.objects.filter(pk=activity.pk).update(subject=value, notes=value)
        QuestionFactory(person=person, asked_at=AT, text=value)


def _free_text() -> dict[str, list[tuple[object, ...]]]:
    """Every free-text value a bundle carries, by table, in a stable order."""
    return {
        "people": list(
            Person.objects.order_by("email").values_list(
                "email",
                "first_name",
                "last_name",
                "job_title",
                "custom_fields",
                "account__name",
                "account__industry",
                "account__country",
            )
        ),
        "campaigns": list(
            Campaign.objects.order_by("external_id").values_list(
                "external_id", "name", "offer", "talking_points", "custom_fields"
            )
        ),
        "costs": list(
            CampaignCost.objects.order_by("campaign__external_id").values_list(
                "campaign__external_id", "note"
            )
        ),
        "deals": list(
            Deal.objects.order_by("person__email", "amount").values_list(
                "person__email", "amount", "lost_reason__name"
            )
        ),
        "activities": list(
            Activity.objects.order_by("external_id").values_list("external_id", "subject", "notes")
        ),
        "questions": list(Question.objects.order_by("person__email").values_list("person__email", "text")),
    }


# ---- the bundle: neutralised on export, restored exactly on import ----


def test_formula_like_values_survive_bundle_export_and_import_into_an_empty_database(db, tmp_path):
    # given a company whose free text holds formula-like values, stored as typed
    _company()
    before = _free_text()
    assert [row[1] for row in before["people"]] == VALUES
    assert [row[1] for row in before["campaigns"]] == VALUES
    assert [row[1] for row in before["questions"]] == VALUES
    bundle_export(directory=tmp_path / "first")
    _wipe()
    # when the export is imported into an empty database and exported again
    bundle_import(directory=tmp_path / "first")
    bundle_export(directory=tmp_path / "second")
    # then every value came back exactly, and the second export is byte for byte the first
    assert _free_text() == before
    assert bundle_read_files(tmp_path / "second") == bundle_read_files(tmp_path / "first")


def test_the_bundle_writes_formula_like_text_with_a_leading_quote_and_numbers_as_they_are(db, tmp_path):
    # given
    _company()
    # when
    bundle_export(directory=tmp_path / "out")
    files = {name: data.decode() for name, data in bundle_read_files(tmp_path / "out").items()}
    # then no cell of any file starts with a formula character, the custom column's name included
    assert {name: _unsafe(text) for name, text in files.items()} == {name: [] for name in FILES}
    people = _cells(files["people.csv"])
    assert people[0][-2:] == ["'=col", "note"]
    assert [row[1] for row in people[1:]] == [
        '\'=HYPERLINK("http://x","y")',
        "'+cmd|' /C calc'!A0",
        "'-2+3",
        "'@SUM(A1)",
        "'\tx",
        "'\rx",
        "''=already",
        "'",
        "normal",
    ]
    assert {row[2] for row in _cells(files["deals.csv"])[1:]} == {"1000.00", "50.00"}


def test_a_hand_made_bundle_reads_a_leading_quote_before_a_formula_character_as_escaping(db, tmp_path):
    # given a people.csv holding an escaped cell, an escaped escape and quotes before plain text
    (tmp_path / "people.csv").write_text(
        "email,first_name,last_name,company,industry,company_size,country,job_title,created_at\n"
        "a@gmail.com,'=1+1,''-2,'plain,,,,'  ,2025-01-01\n"
    )
    # when
    bundle_import(directory=tmp_path)
    # then only the quote that escapes is taken off
    assert Person.objects.values_list("first_name", "last_name", "job_title").get() == ("=1+1", "'-2", "'")


# ---- refused rows: ours, so restored when fixed and imported again; other tools' files read as they are ----


def _contacts(rows: list[list[str]]) -> str:
    out = io.StringIO()
    # Another tool's export, as spreadsheets write it: CRLF rows, so a cell holding a lone CR is quoted.
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["Record ID", "First Name", "Last Name", "Email", "Company Name", "Job Title"])
    writer.writerows(rows)
    return out.getvalue()


def test_refused_rows_are_neutralised_and_come_back_exactly_when_fixed_and_imported_again(
    db, tmp_path, settings
):
    # given a HubSpot export whose rows carry formula-like names and a bad email each
    settings.MEDIA_ROOT = tmp_path / "media"
    source = tmp_path / "contacts.csv"
    source.write_bytes(
        _contacts([[str(i), v, v, f"p{i}@@bad", "Acme", v] for i, v in enumerate(VALUES)]).encode()
    )
    call_command(
        "import",
        "csv",
        str(source),
        "--kind",
        "people",
        "--mapping",
        "hubspot",
        "--good-rows",
        "--no-progress",
        stdout=io.StringIO(),
        stderr=io.StringIO(),
    )
    refused = tmp_path / "contacts.refused.csv"
    text = refused.read_bytes().decode()
    assert _unsafe(text) == []
    assert _cells(text)[0] == [
        "Record ID",
        "First Name",
        "Last Name",
        "Email",
        "Company Name",
        "Job Title",
        *REFUSED_COLUMNS,
    ]
    assert _cells(text)[1][1] == '\'=HYPERLINK("http://x","y")'
    # when the user fixes the emails and imports the refused file
    refused.write_bytes(re.sub(r"p(\d)@@bad", r"p\1@gmail.com", text).encode())
    out = io.StringIO()
    call_command(
        "import",
        "csv",
        str(refused),
        "--kind",
        "people",
        "--mapping",
        "auto",
        "--no-progress",
        stdout=out,
        stderr=io.StringIO(),
    )
    # then the names are the file's (a CSV import strips its cells), and the error columns did not become custom
    # fields
    people = Person.objects.order_by("email")
    assert [p.first_name for p in people] == [v.strip() for v in VALUES]
    assert [p.job_title for p in people] == [v.strip() for v in VALUES]
    assert {key for p in people for key in p.custom_fields} <= {"record_id"}


def test_another_tools_csv_keeps_a_leading_quote_as_the_users_data():
    # given a file from another tool: its quotes are data, even before a formula character
    data = _contacts([["1", "'=x", "'Brien", "a@gmail.com", "", ""]]).encode()
    # when
    table = table_read(data=data)
    # then nothing is taken off
    assert table.rows == [(2, ["1", "'=x", "'Brien", "a@gmail.com", "", ""])]


def test_a_refused_file_is_known_by_its_error_columns_and_read_without_them():
    # given a refused-rows file as Tandem writes it
    data = b'Email,First Name,error_field,error_value,error\nx@@y,\'=1+1,Email,x@@y,"bad"\n'
    # when
    table = table_read(data=data)
    # then
    assert (table.headers, table.rows) == (["Email", "First Name"], [(2, ["x@@y", "=1+1"])])


# ---- every CSV the product writes ----


@pytest.fixture
def seeded(db, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    cache.clear()
    _company(values=ATTACKS)
    for i, value in enumerate(ATTACKS):
        # Open leads (the score export lists only those, with e-mail consent), scored with a formula-like factor.
        lead = PersonFactory(email=f"lead{i}@gmail.com", first_name=value)
        Person.objects.filter(pk=lead.pk).update(consent_email=True)
        PersonScore.objects.create(
            person=lead,
            probability=0.5,
            tier="gray",
            expected_value=10.0,
            scored_at=AT,
            factors={"raising": [{"text": value, "contribution": 1.0}], "lowering": []},
        )
    yield
    cache.clear()


def _download(client, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, url
    assert response["Content-Type"] == "text/csv", url
    if response.streaming:
        return b"".join(response.streaming_content).decode()
    return response.content.decode()


def _command(*args: str) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def test_no_csv_the_product_writes_has_a_cell_starting_with_a_formula_character(seeded, client, tmp_path):
    # given a company whose names, industries, titles, reasons and notes are formula-like, and a marketer
    client.force_login(UserFactory(role=Role.MARKETING))
    upload = SimpleUploadedFile(
        "contacts.csv",
        _contacts([[str(i), v, v, f"p{i}@@bad", v, v] for i, v in enumerate(ATTACKS)]).encode(),
        content_type="text/csv",
    )
    job = client.post("/api/imports/csv", {"file": upload, "kind": "people", "mode": "good_rows"}).json()
    outputs: dict[str, str] = {}
    # when every CSV download and export is written
    for by in (*SEGMENT_FIELDS, "none"):
        outputs[f"funnel by {by}"] = _download(client, f"/reports/funnel/?format=csv&by={by}")
    for model in ("last_touch", "linear"):
        for by in ("channel", "campaign"):
            outputs[f"attribution {model} {by}"] = _download(
                client, f"/reports/attribution/?format=csv&model={model}&by={by}"
            )
    for table in CSV_TABLES:
        for segment in LTV_SEGMENTS:
            outputs[f"economics {table} {segment}"] = _download(
                client,
                f"/reports/economics/?format=csv&by=campaign&model=last_touch&segment={segment}&table={table}",
            )
    outputs["kpis"] = _download(client, "/reports/dashboard/?period=month&format=csv")
    outputs["refused rows (API)"] = _download(client, job["refused_rows_url"])
    outputs["refused rows (page)"] = _download(client, f"/data/imports/{job['id']}/refused.csv")
    outputs["report funnel"] = _command("report", "funnel", "--by", "job_title", "--format", "csv")
    outputs["report attribution"] = _command(
        "report", "attribution", "--by", "campaign", "--model", "last_touch", "--format", "csv"
    )
    for table in ("costs", "roi", "ltv", "lead_value"):
        outputs[f"report economics {table}"] = _command(
            "report",
            "economics",
            "--by",
            "campaign",
            "--model",
            "last_touch",
            "--table",
            table,
            "--format",
            "csv",
        )
    outputs["report ltv"] = _command("report", "ltv", "--format", "csv")
    outputs["score export"] = _command("score", "export", "--format", "csv")
    _command("export", "bundle", str(tmp_path / "bundle"), "--format", "1", "--no-progress")
    for name, data in bundle_read_files(tmp_path / "bundle").items():
        outputs[f"bundle {name}"] = data.decode()
    # the backup (format 2): every CSV file of its zip
    _command("export", "bundle", str(tmp_path / "backup.zip"), "--no-progress")
    with zipfile.ZipFile(tmp_path / "backup.zip") as backup:
        for name in backup.namelist():
            if name.endswith(".csv"):
                outputs[f"backup {name}"] = backup.read(name).decode()
    # then no cell starts with a formula character, and the formula-like values are there, neutralised
    assert {name: _unsafe(text) for name, text in outputs.items()} == {name: [] for name in outputs}
    neutralised = tuple("'" + value for value in ATTACKS)
    showing = {
        name
        for name, text in outputs.items()
        if any(c.startswith(neutralised) for r in _cells(text) for c in r)
    }
    assert {
        "funnel by industry",
        "funnel by job_title",
        "funnel by campaign",
        "attribution last_touch campaign",
        "economics costs source",
        "economics ltv industry",
        "refused rows (API)",
        "refused rows (page)",
        "report funnel",
        "report attribution",
        "report economics costs",
        "score export",
        "bundle people.csv",
        "bundle campaigns.csv",
        "bundle campaign_costs.csv",
        "bundle deals.csv",
        "bundle activities.csv",
        "bundle questions.csv",
        "backup people.csv",
        "backup activities.csv",
    } <= showing


def test_the_score_export_quotes_text_and_leaves_numbers(seeded):
    # given the seeded company, each person scored with a formula-like factor
    # when
    rows = _cells(_command("score", "export", "--format", "csv"))
    # then the text cells are quoted and the numbers are not
    first = next(row for row in rows if row[0] == "lead2@gmail.com")
    assert first == ["lead2@gmail.com", "0.5000", "gray", "10.00", "'-2+3: +"]
