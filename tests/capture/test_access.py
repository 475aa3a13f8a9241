"""Record-level access in capture: a form's page lists the submissions of people the reader may see; whole-company
imports and exports stay with the roles that reach every record (CSV: admins and marketing; bundles: admins)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from tandem.capture.models import Submission
from tandem.crm.models import Person
from tests.capture.factories import HUBSPOT_CSV, make_form
from tests.users.access_world import World, world  # noqa: F401


def _submission(form, person, n: int) -> Submission:  # type: ignore[no-untyped-def]
    return Submission.objects.create(
        received_at=dt.datetime(2026, 3, 1, 9, n, tzinfo=dt.UTC), source="form", form=form, person=person,
        status="processed",
    )


def test_a_forms_page_lists_the_submissions_of_people_the_reader_may_see(client, world: World) -> None:  # noqa: F811
    # given a form that made A1's and B1's people, and a submission that made nobody
    form = make_form()
    a1, b1, nobody = (_submission(form, p, i) for i, p in enumerate((world.a1.person, world.b1.person, None)))
    # when rep B1 and marketing open the form's page
    client.force_login(world.rep_b1)
    as_rep = client.get(f"/forms/{form.pk}/").content.decode()
    client.force_login(world.marketing)
    as_marketing = client.get(f"/forms/{form.pk}/").content.decode()
    # then the rep sees their own person's submission and the one without a person, not A1's
    assert "Quincy Buffalo" in as_rep and "Quincy Aardvark" not in as_rep
    assert f"/journal/{nobody.pk}/" in as_rep and f"/journal/{a1.pk}/" not in as_rep and f"/journal/{b1.pk}/" in as_rep
    assert "Quincy Aardvark" in as_marketing and "Quincy Buffalo" in as_marketing


@pytest.mark.parametrize("who", ["rep_a1", "manager_a", "viewer"])
def test_sales_and_viewers_import_nothing(client, world: World, who: str) -> None:  # noqa: F811
    # given a rep, a manager or the viewer, and a CSV that would overwrite nobody's people
    client.force_login(getattr(world, who))
    before = Person.objects.count()
    # when they upload it
    upload = SimpleUploadedFile("contacts.csv", HUBSPOT_CSV.encode(), content_type="text/csv")
    response = client.post("/api/imports/csv", {"file": upload, "kind": "people"})
    # then it is refused and no person is written
    assert response.status_code == 403 and Person.objects.count() == before


@pytest.mark.parametrize(("who", "status"), [("admin", 200), ("marketing", 403), ("manager_a", 403), ("rep_a1", 403)])
def test_only_admins_export_the_whole_company(client, world: World, who: str, status: int) -> None:  # noqa: F811
    # given each role
    client.force_login(getattr(world, who))
    # when they download the bundle
    # then only the admin gets it
    assert client.get("/api/bundle/export").status_code == status
