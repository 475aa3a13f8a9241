"""The bundle API: upload a .zip to import it, download the database as one; admins only."""

from __future__ import annotations

import io
import json
import zipfile

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from tandem.capture.backup import FILES as BACKUP_FILES
from tandem.capture.backup import MANIFEST
from tandem.crm.models import Person
from tests.capture.factories import SAMPLE, bundle_upload, bundle_write_files, database_snapshot, replace_line
from tests.users.factories import UserFactory


@pytest.fixture
def admin(db, client):
    user = UserFactory(role="admin")
    client.force_login(user)
    return user


def test_admin_uploads_a_bundle_and_gets_the_counts(client, admin):
    # given / when
    response = client.post("/api/bundle/import", {"file": bundle_upload(SAMPLE, folder="bundle/")})
    # then
    assert response.status_code == 200
    body = response.json()
    assert body["files"]["people.csv"] == {"created": 3, "updated": 0, "unchanged": 0}
    assert body["files"]["touchpoints.csv"] == {"created": 5, "updated": 0, "unchanged": 0}
    assert (body["accounts"]["created"], body["lost_reasons_created"], body["stage_changes"]) == (2, 1, 7)
    assert Person.objects.count() == 3


def test_a_bad_row_answers_422_naming_its_cell_and_writes_nothing(client, admin):
    # given
    deals = replace_line(
        SAMPLE["deals.csv"], 3, "D-2,bo@gmail.com,-800.00,lost,2025-04-03T10:00:00Z,2025-04-20T10:00:00Z,"
    )
    before = database_snapshot()
    # when
    response = client.post(
        "/api/bundle/import", {"file": bundle_upload({**SAMPLE, "deals.csv": deals}, folder="bundle/")}
    )
    # then
    assert response.status_code == 422
    assert response.json() == {
        "detail": "deals.csv line 3, column amount: must not be negative, got '-800.00'",
        "file": "deals.csv",
        "line": 3,
        "column": "amount",
        "field": "amount",
        "value": "-800.00",
    }
    assert database_snapshot() == before


def test_an_upload_that_is_not_a_zip_answers_422(client, admin):
    # given / when
    response = client.post("/api/bundle/import", {"file": SimpleUploadedFile("people.csv", b"email\n")})
    # then
    assert response.status_code == 422
    assert response.json()["detail"] == "the upload: is not a zip archive"


def test_a_zip_without_people_answers_422(client, admin):
    # given / when
    response = client.post(
        "/api/bundle/import", {"file": bundle_upload({"deals.csv": SAMPLE["deals.csv"]}, folder="bundle/")}
    )
    # then
    assert response.status_code == 422
    assert response.json()["detail"] == "people.csv: the archive has no people.csv"


@pytest.mark.parametrize("role", ["marketing", "sales_manager", "sales_rep", "viewer"])
def test_other_roles_may_not_import_and_nothing_changes(db, client, role):
    # given
    client.force_login(UserFactory(role=role))
    before = database_snapshot()
    # when
    response = client.post("/api/bundle/import", {"file": bundle_upload(SAMPLE, folder="bundle/")})
    # then
    assert response.status_code == 403
    assert response.json() == {"detail": "only admins may import or export whole bundles"}
    assert database_snapshot() == before


def test_a_superuser_without_the_admin_role_may_import(db, client):
    # given
    client.force_login(UserFactory(role="viewer", is_superuser=True))
    # when
    response = client.post("/api/bundle/import", {"file": bundle_upload(SAMPLE, folder="bundle/")})
    # then
    assert response.status_code == 200


def test_signed_out_calls_answer_401(db, client):
    # given / when / then
    assert (
        client.post("/api/bundle/import", {"file": bundle_upload(SAMPLE, folder="bundle/")}).status_code
        == 401
    )
    assert client.get("/api/bundle/export").status_code == 401


def test_admin_downloads_the_database_as_a_zip(client, admin, tmp_path):
    # given
    bundle_write_files(tmp_path)
    client.post("/api/bundle/import", {"file": bundle_upload(SAMPLE, folder="bundle/")})
    # when
    response = client.get("/api/bundle/export")
    # then
    assert response.status_code == 200
    assert response["Content-Type"] == "application/zip"
    assert response["Content-Disposition"].startswith('attachment; filename="tandem-bundle-')
    # the backup (format version 2): its manifest, then every table, the three people among them
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    assert archive.namelist() == [MANIFEST, *BACKUP_FILES]
    assert json.loads(archive.read(MANIFEST))["format_version"] == 2
    assert len(archive.read("people.csv").decode().splitlines()) == 1 + 3


def test_other_roles_may_not_export(db, client):
    # given
    client.force_login(UserFactory(role="marketing"))
    # when
    response = client.get("/api/bundle/export")
    # then
    assert response.status_code == 403
