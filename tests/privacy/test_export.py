"""The per-person export: a ZIP of JSON and CSV holding everything about one person, and nobody else, from the
person page, the API and the command line, each leaving an audit event without personal data."""

from __future__ import annotations

import csv
import io
import json
import zipfile

import pytest
from django.core.management import call_command

from tandem.core import csvsafe
from tandem.core.models import Event
from tandem.privacy.services import person_export
from tests.crm.factories import PersonFactory
from tests.privacy.world import EMAIL, IP, NAME, world_build
from tests.users.factories import UserFactory

pytestmark = pytest.mark.django_db

SECTIONS = [
    "person", "external_ids", "consent_records", "stage_changes", "activities", "deals", "deal_roles", "tasks",
    "touchpoints", "questions", "lead_ratings", "submissions", "events", "content_uses", "collateral_requests",
    "notifications", "score", "experiment_assignments", "import_file_rows", "audience_memberships",
]  # fmt: skip


def _files(data: bytes) -> dict[str, str]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {name: archive.read(name).decode() for name in archive.namelist()}


def test_the_export_holds_every_section_about_the_person_and_nothing_of_anyone_else():
    # given Zelda, present in every table, among other people
    world = world_build()
    # when her data is exported
    files = _files(person_export(person=world.person, by_user=world.admin))
    # then the archive has a README, one JSON document and one CSV per section
    assert sorted(files) == sorted(["README.txt", "person.json", *(f"{s}.csv" for s in SECTIONS)])
    document = json.loads(files["person.json"])
    sections = document["sections"]
    assert sorted(sections) == sorted(SECTIONS) and document["person_id"] == world.person.pk
    counts = {name: len(rows) for name, rows in sections.items()}
    assert counts | {"events": 0, "stage_changes": 0, "touchpoints": 0} == {
        "person": 1, "external_ids": 2, "consent_records": 1, "stage_changes": 0, "activities": 1, "deals": 1,
        "deal_roles": 0, "tasks": 2, "touchpoints": 0, "questions": 1, "lead_ratings": 1, "submissions": 2,
        "events": 0, "content_uses": 1, "collateral_requests": 1, "notifications": 1, "score": 1,
        "experiment_assignments": 1, "import_file_rows": 1, "audience_memberships": 1,
    }  # fmt: skip
    assert counts["events"] >= 10 and counts["stage_changes"] == 6 and counts["touchpoints"] == 4
    # and what arrived is there as it arrived: her address, her e-mail in the raw post
    assert {s["remote_addr"] for s in sections["submissions"]} == {IP}
    assert sections["person"][0]["email"] == EMAIL and NAME in files["activities.csv"]
    assert sections["import_file_rows"][0]["row"]["Email"] == EMAIL
    # and nobody else's e-mail appears anywhere in it
    others = [p.email for p in world.others] + ["keep.me@acme.example"]
    assert [o for o in others if any(o in text for text in files.values())] == []
    # and no CSV cell starts with a formula character
    for name, text in files.items():
        if name.endswith(".csv"):
            assert all(csvsafe.cell_is_safe(cell) for row in csv.reader(io.StringIO(text)) for cell in row), (
                name
            )


def test_the_export_leaves_an_audit_event_with_counts_and_no_personal_data():
    # given a person and a marketer
    person = PersonFactory(email="audit.me@acme.example", first_name="Audra")
    marketer = UserFactory(role="marketing")
    # when exported
    person_export(person=person, by_user=marketer, via="api")
    # then one event names who and how, with the section counts, and nothing of the person
    event = Event.objects.get(kind="privacy.person_exported")
    assert (event.subject_type, event.subject_id, event.actor_id, event.reason) == (
        "crm.person",
        person.pk,
        marketer.pk,
        "",
    )
    assert event.data["via"] == "api" and event.data["sections"]["person"] == 1
    assert "audit.me" not in json.dumps(event.data) and "Audra" not in json.dumps(event.data)


def test_api_answers_a_zip_to_whoever_may_change_people_and_403_to_a_viewer(client):
    # given a person
    person = PersonFactory(email="api.export@acme.example")
    # when a viewer asks / then 403 and no event
    client.force_login(UserFactory(role="viewer"))
    assert client.get(f"/api/people/{person.pk}/export").status_code == 403
    assert not Event.objects.filter(kind="privacy.person_exported").exists()
    # when a marketer asks / then a ZIP named after the person's number
    client.force_login(UserFactory(role="marketing"))
    response = client.get(f"/api/people/{person.pk}/export")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/zip"
    assert response["Content-Disposition"] == f'attachment; filename="tandem-person-{person.pk}.zip"'
    assert (
        json.loads(_files(response.content)["person.json"])["sections"]["person"][0]["email"]
        == "api.export@acme.example"
    )
    # and a missing person is 404
    assert client.get("/api/people/999999/export").status_code == 404


def test_the_person_page_offers_the_export_and_the_button_downloads_it(client):
    # given a person and a marketer
    person = PersonFactory(email="page.export@acme.example")
    client.force_login(UserFactory(role="marketing"))
    # when the person page is opened / then it links to the export, not to the erasure (admins only)
    page = client.get(f"/people/{person.pk}/").content.decode()
    assert f'href="/privacy/people/{person.pk}/export/"' in page and 'data-testid="person-erase"' not in page
    # when the button is followed / then the ZIP comes back
    response = client.get(f"/privacy/people/{person.pk}/export/")
    assert response.status_code == 200 and response["Content-Type"] == "application/zip"
    assert Event.objects.get(kind="privacy.person_exported").data["via"] == "ui"


def test_the_command_writes_the_zip_for_an_email(tmp_path, capsys):
    # given a person
    person = PersonFactory(email="cli.export@acme.example")
    target = tmp_path / "out.zip"
    # when exported from the command line by e-mail (any case)
    call_command("person", "export", "CLI.Export@acme.example", "-o", str(target))
    # then the file is the ZIP and the command says where it went
    assert json.loads(_files(target.read_bytes())["person.json"])["person_id"] == person.pk
    assert f"written to {target}" in capsys.readouterr().out
    assert Event.objects.get(kind="privacy.person_exported").data["via"] == "cli"
