"""CSV imports over the API and on the /data/imports/ pages, with large files run as background jobs."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from huey.contrib.djhuey import HUEY

from tandem.capture.csvimport import services
from tandem.capture.models import ImportJob, ImportMapping
from tandem.core.models import Event
from tandem.crm.models import Person
from tests.capture.factories import HUBSPOT_CSV, csv_table_counts
from tests.users.factories import UserFactory

BAD_ROW = "104,Di,Eng,di@@beta,,,,,\n"


@pytest.fixture(autouse=True)
def uploads_in_tmp(settings, tmp_path):
    # Uploaded files and refused-rows files go to a throwaway MEDIA_ROOT, not var/media.
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def marketer(db, client):
    user = UserFactory(role="marketing")
    client.force_login(user)
    return user


@pytest.fixture
def immediate_huey():
    before = HUEY.immediate
    HUEY.immediate = True
    yield HUEY
    HUEY.immediate = before


def _upload(text: str, name: str = "contacts.csv") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, text.encode(), content_type="text/csv")


def test_api_upload_imports_and_reports_counts(client, marketer):
    # given / when
    response = client.post("/api/imports/csv", {"file": _upload(HUBSPOT_CSV), "kind": "people"})
    # then
    assert response.status_code == 200
    body = response.json()
    assert (body["status"], body["mapping_name"], body["dry_run"], body["total_rows"]) == (
        "done",
        "hubspot",
        False,
        3,
    )
    assert {k: body["counts"][k] for k in ("created", "updated", "unchanged", "merged", "refused")} == {
        "created": 3,
        "updated": 0,
        "unchanged": 0,
        "merged": 0,
        "refused": 0,
    }
    assert [r["outcome"] for r in body["report"]] == ["created", "created", "created"]
    assert Person.objects.count() == 3
    event = Event.objects.get(kind="import.completed")
    assert (event.subject_type, event.subject_id, event.actor_id) == (
        "capture.importjob",
        body["id"],
        marketer.pk,
    )


def test_api_good_rows_returns_a_refused_file(client, marketer):
    # given
    response = client.post(
        "/api/imports/csv", {"file": _upload(HUBSPOT_CSV + BAD_ROW), "kind": "people", "mode": "good_rows"}
    )
    body = response.json()
    # when
    refused = client.get(body["refused_rows_url"])
    # then
    assert body["counts"]["refused"] == 1
    assert refused.status_code == 200
    assert refused["Content-Disposition"] == 'attachment; filename="contacts-refused.csv"'
    lines = b"".join(refused.streaming_content).decode().splitlines()
    assert lines[1] == (
        "104,Di,Eng,di@@beta,,,,,,Email,di@@beta,\"row 5, column 'Email': 'di@@beta' is not a valid email address: the part after the @-sign contains invalid characters: '@'\""
    )


def test_api_all_or_nothing_failure_names_the_cell_and_writes_nothing(client, marketer):
    # given
    before = csv_table_counts()
    # when
    response = client.post("/api/imports/csv", {"file": _upload(HUBSPOT_CSV + BAD_ROW), "kind": "people"})
    # then
    body = response.json()
    assert (body["status"], body["error"]) == (
        "failed",
        "row 5, column 'Email': 'di@@beta' is not a valid email address: the part after the @-sign contains invalid characters: '@'; nothing was written",
    )
    assert body["report"] == [
        {
            "error": {
                "detail": "row 5, column 'Email': 'di@@beta' is not a valid email address: the part after the @-sign contains invalid characters: '@'; nothing was written",
                "line": 5,
                "column": "Email",
                "field": "Email",
                "value": "di@@beta",
            }
        }
    ]
    after = csv_table_counts()
    assert after == before


def test_api_bad_mapping_name_is_422_and_sales_reps_get_403(client, marketer):
    # given / when
    unknown = client.post(
        "/api/imports/csv", {"file": _upload(HUBSPOT_CSV), "kind": "people", "mapping": "nope"}
    )
    client.force_login(UserFactory(role="sales_rep"))
    forbidden = client.post("/api/imports/csv", {"file": _upload(HUBSPOT_CSV), "kind": "people"})
    # then
    assert unknown.status_code == 422
    assert (unknown.json()["field"], unknown.json()["value"]) == ("mapping", "nope")
    assert forbidden.status_code == 403
    assert Person.objects.count() == 0


def test_api_lists_mappings_and_missing_job_is_404(client, marketer):
    # given / when
    mappings = client.get("/api/imports/mappings")
    missing = client.get("/api/imports/999999")
    # then
    assert [m["name"] for m in mappings.json()] == [
        "hubspot",
        "hubspot-calls",
        "hubspot-emails",
        "hubspot-meetings",
        "maven-pipeline",
        "olist-deals",
        "olist-mql",
        "salesforce",
        "salesforce-events",
        "salesforce-tasks",
        "x-education",
    ]
    assert missing.status_code == 404
    assert missing.json() == {"detail": "no import job 999999", "field": "job_id", "value": "999999"}


def test_page_upload_correct_mapping_dry_run_then_run(client, marketer):
    # given: the page offers the shipped mappings
    page = client.get(reverse("capture:imports"))
    assert page.status_code == 200
    assert b'<option value="x-education">' in page.content
    # when: upload, the mapping page shows the auto-mapping
    uploaded = client.post(
        reverse("capture:import-upload"), {"file": _upload(HUBSPOT_CSV), "kind": "people", "mapping": "auto"}
    )
    job = ImportJob.objects.get()
    setup = client.get(uploaded["Location"])
    # then
    assert uploaded["Location"] == reverse("capture:import-setup", args=[job.pk])
    assert b'<option value="job_title" selected>' in setup.content
    assert "ada@acme.example · bo@gmail.com · cy@acme.example" in setup.content.decode()
    # when: the user maps Job Title to a custom field instead, saves the mapping and runs a dry run
    headers = HUBSPOT_CSV.splitlines()[0].split(",")
    form = {f"col_{i}": job.mapping["columns"][h] for i, h in enumerate(headers)}
    form[f"col_{headers.index('Job Title')}"] = "custom:job_title"
    dry = client.post(
        reverse("capture:import-setup", args=[job.pk]),
        {**form, "mode": "all_or_nothing", "save_as": "hubspot-titles", "action": "dry_run"},
    )
    report = client.get(dry["Location"])
    # then
    assert report.status_code == 200
    assert b"Dry run: nothing was written" in report.content
    assert report.content.count(b'<span class="badge">created</span>') == 3
    assert Person.objects.count() == 0
    assert ImportMapping.objects.get(name="hubspot-titles").columns["Job Title"] == "custom:job_title"
    # when: run for real
    run = client.post(reverse("capture:import-run", args=[job.pk]))
    real = ImportJob.objects.exclude(pk=job.pk).get()
    # then
    assert run["Location"] == reverse("capture:import-job", args=[real.pk])
    assert (real.status, real.dry_run, real.counts["created"]) == ("done", False, 3)
    ada = Person.objects.get(email_normalized="ada@acme.example")
    assert (ada.job_title, ada.custom_fields["job_title"]) == ("", "CTO")


def test_page_shows_a_mapping_error_naming_the_field(client, marketer):
    # given
    client.post(reverse("capture:import-upload"), {"file": _upload(HUBSPOT_CSV), "kind": "people"})
    job = ImportJob.objects.get()
    headers = HUBSPOT_CSV.splitlines()[0].split(",")
    form = {f"col_{i}": "" for i in range(len(headers))}
    form["col_1"] = "first_name"
    # when: nothing identifies a person
    response = client.post(reverse("capture:import-setup", args=[job.pk]), {**form, "action": "run"})
    # then
    assert response.status_code == 422
    assert b"the mapping names no column for email, external_id or phone" in response.content
    assert Person.objects.count() == 0


def test_sales_reps_cannot_open_the_imports_page(client, db):
    # given
    client.force_login(UserFactory(role="sales_rep"))
    # when
    response = client.get(reverse("capture:imports"))
    # then
    assert response.status_code == 403


def test_large_file_runs_in_the_background_with_progress(
    client, marketer, immediate_huey, monkeypatch, django_capture_on_commit_callbacks
):
    # given: a threshold of 2 rows makes the 3-row file "large"
    monkeypatch.setattr(services, "BACKGROUND_ROWS", 2)
    seen: list[tuple[str, int]] = []
    real_run = services.import_job_run

    def watching(*, job_id: int) -> ImportJob:
        seen.append(
            (ImportJob.objects.get(pk=job_id).status, ImportJob.objects.get(pk=job_id).processed_rows)
        )
        return real_run(job_id=job_id)

    monkeypatch.setattr("tandem.capture.csvimport.tasks.import_job_run", watching)
    # when
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/api/imports/csv", {"file": _upload(HUBSPOT_CSV), "kind": "people"})
    job = ImportJob.objects.get()
    progress = client.get(reverse("capture:import-progress", args=[job.pk]))
    # then: the answer came before the job ran (202, queued), then the task ran it
    assert response.status_code == 202
    assert response.json()["status"] == "queued"
    assert seen == [("queued", 0)]
    assert (job.status, job.processed_rows, job.total_rows) == ("done", 3, 3)
    assert progress["HX-Refresh"] == "true"
    assert b'value="100"' in progress.content
    assert Person.objects.count() == 3


def test_progress_fragment_polls_while_the_job_is_queued(client, marketer):
    # given
    job = ImportJob.objects.create(
        kind="people",
        file_name="big.csv",
        total_rows=4000,
        processed_rows=1000,
        created_at="2025-01-01T00:00Z",
    )
    # when
    response = client.get(reverse("capture:import-progress", args=[job.pk]))
    # then
    assert 'hx-trigger="every 1s"' in response.content.decode()
    assert b'value="25"' in response.content
    assert "HX-Refresh" not in response


def test_an_unexpected_error_fails_the_job_instead_of_leaving_it_running(client, marketer, monkeypatch):
    # given
    def broken(**kwargs: object) -> None:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(services, "csv_import", broken)
    # when
    response = client.post("/api/imports/csv", {"file": _upload(HUBSPOT_CSV), "kind": "people"})
    # then
    body = response.json()
    assert (response.status_code, body["status"], body["error"]) == (
        200,
        "failed",
        "the import stopped on an unexpected error, nothing was written: disk on fire",
    )
    assert Person.objects.count() == 0


def test_the_huey_worker_knows_the_import_task():
    # given: a fresh process that loads tasks the way `tandem run_huey` does (each app's tasks module)
    import os
    import subprocess
    import sys

    code = (
        "import django; django.setup()\n"
        "from django.utils.module_loading import autodiscover_modules\n"
        "autodiscover_modules('tasks')\n"
        "from huey.contrib.djhuey import HUEY\n"
        "print('\\n'.join(sorted(HUEY._registry._registry)))\n"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tandem.settings"}
    # when
    names = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    ).stdout.split()
    # then
    assert "tandem.capture.csvimport.tasks.import_job_task" in names


@pytest.mark.parametrize(
    ("data", "detail", "field", "value"),
    [
        (b"", "row 1: the file is empty: it has no header row", "", ""),
        (
            # (a Windows-1252 file is read; one that says UTF-16 by its BOM and then breaks off is refused)
            b"\xff\xfe" + "Email,Name\na@b.example,Ann\n".encode("utf-16-le") + b"\x00\xd8",
            "row 3: the file starts like UTF-16 LE text but is not (byte 0x00)",
            "",
            "00",
        ),
        (
            b"Email,Email\na@b.example,x\n",
            "row 1, column 'Email': the header names column 'Email' twice",
            "Email",
            "Email",
        ),
        (
            b"Name,Notes\nAnn,x\n",
            "the mapping names no column for email, external_id or phone: rows could not be "
            "matched to people",
            "columns",
            "Name, Notes",
        ),
    ],
)
def test_api_bad_files_answer_422_naming_the_problem(client, marketer, data, detail, field, value):
    # given
    upload = SimpleUploadedFile("the file", data, content_type="text/csv")
    # when
    response = client.post("/api/imports/csv", {"file": upload, "kind": "people"})
    # then
    assert response.status_code == 422
    body = response.json()
    assert (body["detail"], body.get("field"), body.get("value")) == (detail, field, value)
    assert ImportJob.objects.count() == 0


def test_a_row_with_too_many_cells_is_refused_naming_the_count(client, marketer):
    # given
    text = HUBSPOT_CSV + "104,Di,Eng,di@beta.example,,,,,,surplus\n"
    # when
    response = client.post("/api/imports/csv", {"file": _upload(text), "kind": "people", "mode": "good_rows"})
    # then
    body = response.json()
    assert body["counts"]["refused"] == 1
    assert body["report"][-1] == {
        "line": 5,
        "outcome": "refused",
        "key": "",
        "column": "",
        "value": "10",
        "error": "row 5: the row has 10 cells where the header has 9 columns",
        "detail": "",
    }


def test_a_dry_run_with_refused_rows_warns_that_all_or_nothing_would_write_nothing(client, marketer):
    # given
    response = client.post(
        "/api/imports/csv", {"file": _upload(HUBSPOT_CSV + BAD_ROW), "kind": "people", "dry_run": "true"}
    )
    job_id = response.json()["id"]
    # when
    page = client.get(reverse("capture:import-job", args=[job_id]))
    # then
    assert response.json()["counts"]["refused"] == 1
    assert "with 1 refused row the real import" in " ".join(page.content.decode().split())
