"""Uploads handed to the worker go through Django's storage: a real S3-compatible server (moto's, started here on a
free port; never a mock of boto) holds CSV imports and content-library files, a worker in another process with
its own empty disk imports from it, and every upload is removed once its import ended."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from tandem.capture.csvimport import services
from tandem.capture.csvimport.selectors import mapping_resolve
from tandem.capture.models import ImportJob
from tandem.core.errors import NotAllowed
from tandem.crm.models import Person
from tandem.enablement.models import Asset
from tandem.users.models import Role
from tandem.users.roles import roles_sync
from tests.capture.factories import HUBSPOT_CSV
from tests.cluster_helpers import node_env, python_run
from tests.redis_helpers import free_port
from tests.users.factories import UserFactory

BAD_ROW = "104,Di,Eng,di@@beta,,,,,\n"
KEYS = {"access_key": "testing-key", "secret_key": "testing-secret"}


@pytest.fixture
def s3(settings) -> Iterator[dict[str, Any]]:  # type: ignore[no-untyped-def]
    """A bucket on a real S3-compatible server, and the default storage pointed at it."""
    moto_server = pytest.importorskip(
        "moto.server", reason="moto is not installed (pip install -e '.[dev]' installs moto[server])"
    )
    import boto3

    port = free_port()
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    client = boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id=KEYS["access_key"],
        aws_secret_access_key=KEYS["secret_key"],
    )
    # moto keeps its buckets in this process: each test gets its own.
    bucket = f"tandem-test-{uuid.uuid4().hex[:12]}"
    client.create_bucket(Bucket=bucket)
    options = {
        "bucket_name": bucket,
        "endpoint_url": endpoint,
        "region_name": "us-east-1",
        "location": "",
        "addressing_style": None,
        "default_acl": None,
        "querystring_auth": True,
        **KEYS,
    }
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": "storages.backends.s3.S3Storage", "OPTIONS": options},
    }
    try:
        yield {"client": client, "endpoint": endpoint, "options": options, "bucket": bucket}
    finally:
        server.stop()


def _keys(s3: dict[str, Any]) -> list[str]:
    listed = s3["client"].list_objects_v2(Bucket=s3["bucket"])
    return sorted(o["Key"] for o in listed.get("Contents", []))


def _files(folder: Path) -> list[str]:
    return (
        sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())
        if folder.exists()
        else []
    )


def _login(role: str) -> Client:
    # Roles' permissions come from migrations; a transactional test run before this one flushed them.
    roles_sync()
    client = Client()
    client.force_login(UserFactory(role=role))
    return client


def _csv(text: str) -> SimpleUploadedFile:
    return SimpleUploadedFile("contacts.csv", text.encode(), content_type="text/csv")


WORKER = """
import json
from django.conf import settings
from tandem.capture.csvimport.tasks import import_job_task
import_job_task.call_local({job_id})
print(json.dumps(settings.STORAGES["default"]))
"""


@pytest.mark.django_db(transaction=True)
def test_a_csv_uploaded_to_one_node_is_imported_by_a_worker_elsewhere_from_the_bucket_and_then_removed(
    s3, settings, monkeypatch, tmp_path
):
    # given a 3-row file counted as large (over 2 rows), so the upload only stores it and queues the import
    monkeypatch.setattr(services, "BACKGROUND_ROWS", 2)
    queued: list[tuple[str, list[Any]]] = []
    monkeypatch.setattr(
        services,
        "task_enqueue_on_commit",
        lambda *, task, args: queued.append((task.func.__name__, list(args))),
    )
    marketing = _login(Role.MARKETING)
    # when marketing uploads it through the API
    response = marketing.post("/api/imports/csv", {"file": _csv(HUBSPOT_CSV), "kind": "people"})
    # then it waits for the worker, the file is in the bucket under a generated name, and no local disk holds it
    assert response.status_code == 202
    job = ImportJob.objects.get()
    assert (job.status, queued) == ("queued", [("import_job_task", [job.pk])])
    assert (
        _keys(s3) == [job.stored_path]
        and job.stored_path.startswith("imports/")
        and len(job.stored_path) == 44
    )
    assert _files(Path(settings.MEDIA_ROOT)) == []
    # when a worker in another process, with a disk of its own and the bucket named by TANDEM_S3_*, runs the task
    worker_tmp = tmp_path / "worker-tmp"
    worker_tmp.mkdir()
    env = node_env(
        tmp_path / "worker-var",
        TANDEM_S3_BUCKET=s3["bucket"],
        TANDEM_S3_ENDPOINT_URL=s3["endpoint"],
        TANDEM_S3_REGION="us-east-1",
        TANDEM_S3_ACCESS_KEY=KEYS["access_key"],
        TANDEM_S3_SECRET_KEY=KEYS["secret_key"],
        TMPDIR=str(worker_tmp),
    )
    out = python_run(WORKER.format(job_id=job.pk), env=env, cwd=tmp_path)
    # then the environment chose the same storage as this node's, the people were imported, and the upload is
    # gone from the bucket and the worker's temporary copy from its disk
    assert json.loads(out.strip().splitlines()[-1]) == {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": s3["options"],
    }
    job.refresh_from_db()
    assert (job.status, job.counts["created"], job.stored_path, job.error) == ("done", 3, "", "")
    assert sorted(Person.objects.values_list("email", flat=True)) == [
        "ada@acme.example",
        "bo@gmail.com",
        "cy@acme.example",
    ]
    assert _keys(s3) == []
    assert _files(worker_tmp) == [] and _files(tmp_path / "worker-var" / "media") == []


@pytest.mark.django_db
def test_refused_rows_are_kept_in_the_bucket_and_download_while_the_upload_goes(s3):
    # given marketing, importing the good rows of a file with one bad row
    marketing = _login(Role.MARKETING)
    # when it is uploaded (small: imported at once) and its refused rows fetched
    body = marketing.post(
        "/api/imports/csv", {"file": _csv(HUBSPOT_CSV + BAD_ROW), "kind": "people", "mode": "good_rows"}
    ).json()
    refused = marketing.get(body["refused_rows_url"])
    # then the good rows are in, the bucket keeps only the refused-rows file, and it downloads through the API
    job = ImportJob.objects.get()
    assert (body["status"], body["counts"]["created"], body["counts"]["refused"]) == ("done", 3, 1)
    assert _keys(s3) == [job.refused_path] and job.refused_path.endswith(f"-job{job.pk}.refused.csv")
    assert job.stored_path == ""
    assert refused.status_code == 200
    lines = b"".join(refused.streaming_content).decode().splitlines()  # type: ignore[attr-defined]
    assert lines[1].startswith("104,Di,Eng,di@@beta,")


@pytest.mark.django_db
def test_a_content_library_file_is_stored_in_the_bucket_and_downloaded_from_it(s3):
    # given marketing uploading a battle card
    marketing = _login(Role.MARKETING)
    card = SimpleUploadedFile("card.csv", b"They say,We say\nToo pricey,Compare the total cost\n")
    created = marketing.post(
        "/api/enablement/assets/upload", {"file": card, "title": "Card", "kind": "battle_card"}
    ).json()
    # when a rep downloads it
    download = _login(Role.SALES_REP).get(created["download_url"])
    # then the bytes live in the bucket under the generated name and come back whole
    asset = Asset.objects.get()
    assert _keys(s3) == [asset.file] and asset.file.startswith("enablement/assets/")
    assert download.status_code == 200
    assert b"".join(download.streaming_content) == b"They say,We say\nToo pricey,Compare the total cost\n"  # type: ignore[attr-defined]


# ---- the local folder (the default storage): the same cleanup ----


def _job(*, text: str = HUBSPOT_CSV, dry_run: bool = False) -> ImportJob:
    headers = text.splitlines()[0].split(",")
    mapping = mapping_resolve(name="hubspot", kind="people", headers=headers)
    return services.import_job_create(
        data=text.encode(), file_name="contacts.csv", mapping=mapping, dry_run=dry_run
    )


@pytest.mark.django_db
def test_a_dry_run_keeps_the_upload_for_the_real_run_which_removes_it(settings):
    # given a dry run that went through
    dry = services.import_job_run(job_id=_job(dry_run=True).pk)
    name = dry.stored_path
    assert (dry.status, default_storage.exists(name)) == ("done", True)
    # when it is run for real
    real = services.import_job_run(job_id=services.import_job_confirm(job=dry).pk)
    # then the people are in and the file is gone, forgotten by both jobs
    assert (real.status, real.counts["created"], Person.objects.count()) == ("done", 3, 3)
    assert default_storage.exists(name) is False and _files(Path(settings.MEDIA_ROOT)) == []
    assert list(ImportJob.objects.order_by("id").values_list("stored_path", flat=True)) == ["", ""]
    # and the dry run cannot be run for real a second time
    dry.refresh_from_db()
    with pytest.raises(NotAllowed) as refused:
        services.import_job_confirm(job=dry)
    assert (
        refused.value.message
        == f"the file of import job {dry.pk} was imported already and removed; upload it again"
    )


@pytest.mark.django_db
def test_a_failed_import_removes_its_upload(settings):
    # given an all-or-nothing import of a file with a bad row
    job = _job(text=HUBSPOT_CSV + BAD_ROW)
    name = job.stored_path
    # when it runs
    done = services.import_job_run(job_id=job.pk)
    # then it failed naming the row, wrote nothing, and left no file behind
    assert (done.status, done.stored_path, Person.objects.count()) == ("failed", "", 0)
    assert done.error == (
        "row 5, column 'Email': 'di@@beta' is not a valid email address: the part after the @-sign contains "
        "invalid characters: '@'; nothing was written"
    )
    assert default_storage.exists(name) is False and _files(Path(settings.MEDIA_ROOT)) == []
