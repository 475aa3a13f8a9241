"""Bundles for tests: a small canonical company as CSV text, and helpers to write and change its files."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

from django.core.files.uploadedfile import SimpleUploadedFile

from tandem.capture.bundle import FILES

# Canonical: UTC times with Z, two-decimal amounts, rows sorted as an export sorts them, custom columns
# last and sorted. An export of this bundle imported into an empty database gives these bytes back.
SAMPLE: dict[str, str] = {
    "campaigns.csv": (
        "campaign_id,name,channel,started_on,ended_on,cost,kind,offer,offer_ends_on,talking_points,region\n"
        "C-1,Spring webinar,webinar,2025-03-01,2025-03-31,1200.00,event,,,Live demo of the dashboard,EMEA\n"
        "C-2,Search ads,paid_search,2025-01-01,,350.50,promotion,20% off the first year,2025-02-15,,\n"
    ),
    "campaign_costs.csv": (
        "campaign_id,spent_on,spent_until,amount,note\n"
        "C-1,2025-02-20,,500.00,Booth deposit\n"
        'C-1,2025-03-01,2025-03-31,700.00,"Webinar platform, March"\n'
        "C-2,2025-01-01,2025-01-31,200.00,January clicks\n"
        "C-2,2025-02-01,2025-02-15,150.50,February clicks\n"
    ),
    "people.csv": (
        "email,first_name,last_name,company,industry,company_size,country,job_title,created_at,persona\n"
        "ana@acme.example,Ana,Lopez,Acme,software,51-200,ES,CTO,2025-03-02T09:00:00Z,builder\n"
        "bo@gmail.com,Bo,Berg,Berg Consulting,consulting,1-10,SE,Owner,2025-03-05T12:30:00Z,\n"
        "cy@acme.example,Cy,Chen,Acme,software,51-200,ES,Engineer,2025-03-10T08:00:00Z,\n"
    ),
    "touchpoints.csv": (
        "email,occurred_at,channel,campaign_id,kind\n"
        "ana@acme.example,2025-03-02T09:00:00Z,paid_search,C-2,ad_click\n"
        "ana@acme.example,2025-03-12T15:00:00Z,webinar,C-1,webinar\n"
        "bo@gmail.com,2025-03-05T12:30:00Z,organic_search,,page_view\n"
        "bo@gmail.com,2025-03-05T12:30:00Z,organic_search,,page_view\n"
        "cy@acme.example,2025-03-10T08:00:00Z,referral,,form_submit\n"
    ),
    "deals.csv": (
        "deal_id,email,amount,stage,created_at,closed_at,lost_reason\n"
        "D-1,ana@acme.example,12000.00,won,2025-04-01T10:00:00Z,2025-05-15T16:00:00Z,\n"
        "D-2,bo@gmail.com,800.00,lost,2025-04-03T10:00:00Z,2025-04-20T10:00:00Z,No budget\n"
        "D-3,cy@acme.example,5000.50,open,2025-04-10T10:00:00Z,,\n"
    ),
    "activities.csv": (
        "activity_id,email,kind,occurred_at,outcome,direction,duration_minutes,subject,notes,deal_id,user\n"
        'A-1,ana@acme.example,call,2025-03-13T10:00:00Z,connected,outbound,15,Discovery,"Wants pricing, and SSO",D-1,\n'
        "A-2,bo@gmail.com,email,2025-03-06T09:00:00Z,sent,outbound,,Welcome,,,\n"
        'A-3,cy@acme.example,note,2025-04-11T10:00:00Z,,,,,"Met at the fair\nFollow up in May",,\n'
    ),
    "questions.csv": (
        "email,asked_at,text,theme\n"
        'ana@acme.example,2025-04-02T11:00:00Z,"Does it work with SSO, SAML?",security\n'
        "cy@acme.example,2025-04-11T09:30:00Z,How is pricing per seat?,\n"
    ),
}


def bundle_write_files(directory: Path, files: dict[str, str] | None = None, **changes: str | None) -> Path:
    """Write the sample bundle (or `files`) into `directory`; keyword changes replace a file's text by name
    without '.csv' (`deals="..."`), None leaves that file out."""
    directory.mkdir(parents=True, exist_ok=True)
    texts = dict(SAMPLE if files is None else files)
    for stem, text in changes.items():
        texts[f"{stem}.csv"] = text  # type: ignore[assignment]
    for name in FILES:
        path = directory / name
        if path.exists():
            path.unlink()
        if texts.get(name) is not None:
            path.write_text(texts[name], encoding="utf-8")
    return directory


def bundle_read_files(directory: Path) -> dict[str, bytes]:
    """The bytes of every bundle file in a folder."""
    return {name: (directory / name).read_bytes() for name in FILES if (directory / name).exists()}


def replace_line(text: str, line: int, new: str) -> str:
    """`text` with its `line`-th line (1 is the header) replaced."""
    lines = text.split("\n")
    lines[line - 1] = new
    return "\n".join(lines)


def database_snapshot() -> dict[str, list[dict[str, object]]]:
    """Every row of every table, to show that a refused import left the database exactly as it was."""
    from django.apps import apps

    return {
        model._meta.label: list(model._default_manager.order_by("pk").values()) for model in apps.get_models()
    }


def bundle_upload(files: dict[str, str], *, folder: str = "") -> SimpleUploadedFile:
    """The files as an uploaded .zip (inside `folder` when given, as zipping a folder does)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in files.items():
            archive.writestr(f"{folder}{name}", text)
    return SimpleUploadedFile("bundle.zip", buffer.getvalue(), content_type="application/zip")


# ---- web-to-lead forms ----

FORM_FIELDS = [
    {"name": "email", "label": "Work email", "type": "email", "required": True},
    {"name": "first_name", "label": "First name", "type": "text", "required": False},
    {"name": "company", "label": "Company", "type": "text", "required": False},
    {"name": "team_size", "label": "Team size", "type": "select", "required": False, "choices": ["1-10", "11-50"]},
    {"name": "consent_email", "label": "Email me", "type": "consent_email", "required": False},
]


def make_form(**overrides: object) -> object:
    """A form with the usual fields, made through the service as the builder would."""
    from tandem.capture.intake.services import form_create

    values: dict[str, object] = {"name": "Demo request", "fields": FORM_FIELDS}
    values.update(overrides)
    return form_create(**values)  # type: ignore[arg-type]


# ---- CSV imports ----

HUBSPOT_CSV = (
    "Record ID,First Name,Last Name,Email,Phone Number,Company Name,Job Title,Create Date,Original Source\n"
    "101,Ada,Lovelace,ada@acme.example,+1 555 0100 200,Acme,CTO,2025-01-10 09:00,Organic Search\n"
    "102,Bo,Chen,bo@gmail.com,,,,2025-01-11 10:00,Paid Social\n"
    "103,Cy,Diaz,cy@acme.example,,Acme,VP Sales,2025-01-12 11:00,Direct Traffic\n"
)


def csv_table_counts() -> dict[str, int]:
    """Rows per table a CSV import may write, to show that a refused or dry run wrote nothing."""
    from tandem.campaigns.models import Touchpoint
    from tandem.core.models import Event
    from tandem.crm.models import Account, Deal, ExternalId, Person, StageChange

    return {
        model.__name__: model._default_manager.count()
        for model in (Person, ExternalId, Account, Touchpoint, Deal, StageChange, Event)
    }
