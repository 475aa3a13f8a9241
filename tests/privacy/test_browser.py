"""In chromium: an admin erases a person from the person page (typing the e-mail and a reason), and afterwards
the person's e-mail appears nowhere in the database."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from tandem.crm.activities.services import activity_record
from tandem.crm.models import Person
from tandem.users.models import Role
from tandem.users.roles import roles_sync
from tandem.users.services import user_create
from tests.browser_helpers import PASSWORD, browser_login
from tests.capture.factories import make_form
from tests.privacy.test_erase import _found

EMAIL = "ida.vortmann@browser-erase.example"


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_an_admin_erases_a_person_from_the_page_and_their_email_is_gone(live_server, page):  # type: ignore[no-untyped-def]
    # given a person who came in by a web form and has a note naming them, and an admin
    roles_sync()  # (the role groups live in the data: a transactional test before this one flushed them)
    user_create(username="ada", password=PASSWORD, role=Role.ADMIN, first_name="Ada", last_name="Admin")
    form = make_form()
    body = json.dumps({"email": EMAIL, "first_name": "Ida", "consent_email": "on"})
    posted = Client(REMOTE_ADDR="198.51.100.9").post(
        f"/api/capture/forms/{form.public_key}/submissions", data=body, content_type="application/json"
    )
    assert posted.status_code == 201
    person = Person.objects.get(email_normalized=EMAIL)
    activity_record(person=person, kind="note", notes=f"Ida wrote from {EMAIL}")
    assert _found(EMAIL)
    browser_login(page, live_server.url, "ada")
    # when the admin opens the person, chooses Erase, types the e-mail and a reason, and confirms
    page.goto(f"{live_server.url}/people/{person.pk}/")
    page.click("[data-testid=person-erase]")
    page.fill("#erase-confirm", EMAIL)
    page.fill("#erase-reason", "erasure request, ticket 88")
    page.click("[data-testid=erase-form] button[type=submit]")
    # then the person page says the person was erased
    page.locator("[data-testid=erased]").wait_for()
    assert page.locator("h1").inner_text() == f"Erased person #{person.pk}"
    # and the e-mail (and the address it came from) is in no column of any table
    assert _found(EMAIL) == [] and _found("198.51.100.9") == []
