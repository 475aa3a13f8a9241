"""The data page: admins import a bundle .zip and download the database as one; others get 403."""

from __future__ import annotations

import io
import zipfile

import pytest

from tandem.capture.backup import FILES as BACKUP_FILES
from tandem.capture.backup import MANIFEST
from tandem.capture.bundle import FILES
from tandem.crm.models import Person
from tests.capture.factories import SAMPLE, bundle_upload, database_snapshot, replace_line
from tests.users.factories import UserFactory


@pytest.fixture
def admin(db, client):
    user = UserFactory(role="admin")
    client.force_login(user)
    return user


def test_the_data_page_shows_the_upload_form_and_what_an_export_holds(
    client, admin, django_assert_num_queries
):
    # given
    client.post("/data/import/", {"archive": bundle_upload(SAMPLE)})
    # when (session, user, a count per file)
    with django_assert_num_queries(2 + len(FILES)):
        response = client.get("/data/")
    # then
    body = " ".join(response.content.decode().split())
    assert response.status_code == 200
    assert 'enctype="multipart/form-data"' in body
    assert 'name="archive"' in body
    assert '<td class="mono">people.csv</td><td class="num">3</td>' in body
    assert '<td class="mono">touchpoints.csv</td><td class="num">5</td>' in body
    assert '<td class="mono">campaign_costs.csv</td><td class="num">4</td>' in body
    assert 'href="/data/export/"' in body


def test_an_htmx_upload_answers_with_the_result_table(client, admin):
    # given / when
    response = client.post(
        "/data/import/", {"archive": bundle_upload(SAMPLE)}, headers={"HX-Request": "true"}
    )
    # then
    body = " ".join(response.content.decode().split())
    assert response.status_code == 200
    assert "<html" not in body
    assert "Imported. 7 stage changes written." in body
    assert (
        '<td class="mono">people.csv</td><td class="num">3</td><td class="num">0</td><td class="num">0</td>'
        in body
    )
    assert Person.objects.count() == 3


def test_uploading_the_same_bundle_again_says_nothing_changed(client, admin):
    # given
    client.post("/data/import/", {"archive": bundle_upload(SAMPLE)})
    # when
    response = client.post(
        "/data/import/", {"archive": bundle_upload(SAMPLE)}, headers={"HX-Request": "true"}
    )
    # then
    assert "Nothing changed: the database already held this bundle." in response.content.decode()


def test_a_bad_row_shows_file_line_column_and_value_and_writes_nothing(client, admin):
    # given
    people = replace_line(
        SAMPLE["people.csv"], 2, "ana@acme.example,Ana,Lopez,Acme,software,51-200,ES,CTO,yesterday,"
    )
    before = database_snapshot()
    # when
    response = client.post(
        "/data/import/",
        {"archive": bundle_upload({**SAMPLE, "people.csv": people})},
        headers={"HX-Request": "true"},
    )
    # then
    body = " ".join(response.content.decode().split())
    assert response.status_code == 422
    assert "people.csv line 2, column created_at: cannot read &#x27;yesterday&#x27; as a date-time" in body
    assert '<dt>line</dt><dd class="mono">2</dd>' in body
    assert '<dt>value</dt><dd class="mono">yesterday</dd>' in body
    assert database_snapshot() == before


def test_a_plain_form_post_renders_the_whole_page_with_the_result(client, admin):
    # given / when
    response = client.post("/data/import/", {"archive": bundle_upload(SAMPLE)})
    # then
    body = response.content.decode()
    assert response.status_code == 200
    assert "<html" in body and "Imported." in body


def test_posting_without_a_file_asks_for_one(client, admin):
    # given / when
    response = client.post("/data/import/", {}, headers={"HX-Request": "true"})
    # then
    assert response.status_code == 422
    assert "choose a .zip file" in response.content.decode()


def test_the_export_button_downloads_the_zip(client, admin):
    # given
    client.post("/data/import/", {"archive": bundle_upload(SAMPLE)})
    # when
    response = client.get("/data/export/")
    # then
    assert response.status_code == 200
    # the backup (format version 2): its manifest, then every table, the three people among them
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    assert archive.namelist() == [MANIFEST, *BACKUP_FILES]
    assert len(archive.read("people.csv").decode().splitlines()) == 1 + 3


@pytest.mark.parametrize("path", ["/data/", "/data/export/"])
def test_other_roles_get_403(db, client, path):
    # given
    client.force_login(UserFactory(role="marketing"))
    # when
    response = client.get(path)
    # then
    assert response.status_code == 403


def test_other_roles_cannot_upload_and_nothing_changes(db, client):
    # given
    client.force_login(UserFactory(role="sales_manager"))
    before = database_snapshot()
    # when
    response = client.post("/data/import/", {"archive": bundle_upload(SAMPLE)})
    # then
    assert response.status_code == 403
    assert database_snapshot() == before


def test_signed_out_visitors_are_sent_to_sign_in(db, client):
    # given / when
    response = client.get("/data/")
    # then
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")
