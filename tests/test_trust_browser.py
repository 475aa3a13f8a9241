"""Trust in chromium: a rep who types another team's person into the address bar is told it does not exist, and an
admin who erases a person from the page leaves no trace of their e-mail anywhere in the database."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from tandem.crm.services import person_change_stage
from tandem.feedback.services import question_record
from tandem.users.models import Role, Team
from tandem.users.roles import roles_sync
from tandem.users.services import user_create
from tests.browser_helpers import PASSWORD, browser_login
from tests.crm.factories import AccountFactory, PersonFactory
from tests.privacy.test_erase import _found

SCREENSHOTS = Path(__file__).resolve().parents[1] / "var" / "screenshots"
EMAIL = "zelda.quartermain@northwind-traders.example"


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_a_rep_is_refused_another_teams_person_and_an_admin_erases_a_person_for_good(live_server, page):  # type: ignore[no-untyped-def]
    # given two teams, a rep in each, an admin, and a person of team A's rep with history and a question
    roles_sync()
    north, south = Team.objects.create(name="North"), Team.objects.create(name="South")
    ann = user_create(username="ann", password=PASSWORD, role=Role.SALES_REP, first_name="Ann", last_name="North")
    bob = user_create(username="bob", password=PASSWORD, role=Role.SALES_REP, first_name="Bob", last_name="South")
    user_create(username="ada", password=PASSWORD, role=Role.ADMIN, first_name="Ada", last_name="Admin")
    ann.team, bob.team = north, south
    ann.save(update_fields=["team"])
    bob.save(update_fields=["team"])
    person = PersonFactory(
        email=EMAIL, first_name="Zelda", last_name="Quartermain", owner=ann,
        account=AccountFactory(name="Northwind Traders", owner=ann),
    )
    person_change_stage(person=person, to_stage="mql", at=dt.datetime(2026, 3, 2, 9, tzinfo=dt.UTC))
    question_record(person=person, text=f"Can {EMAIL} get the pricing sheet?", by_user=ann)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    # when team South's rep opens the person's page by its address
    browser_login(page, live_server.url, "bob")
    response = page.goto(f"{live_server.url}/people/{person.pk}/")
    # then the answer is the documented refusal: not found, and nothing of the person on the page
    assert response is not None and response.status == 404
    assert "Quartermain" not in page.content() and EMAIL not in page.content()
    page.screenshot(path=str(SCREENSHOTS / "trust-refused.png"), full_page=True)

    # when the admin opens the person, chooses Erase, types the e-mail and a reason and confirms
    page.context.clear_cookies()
    browser_login(page, live_server.url, "ada")
    page.goto(f"{live_server.url}/people/{person.pk}/")
    page.click("[data-testid=person-erase]")
    page.fill("#erase-confirm", EMAIL)
    page.fill("#erase-reason", "erasure request of 3 March, ticket 1182")
    page.click("[data-testid=erase-form] button[type=submit]")
    page.wait_for_selector("[data-testid=erased]")
    page.screenshot(path=str(SCREENSHOTS / "trust-erased.png"), full_page=True)

    # then the page says the person is erased, and the e-mail is in no text column of any table
    assert "Quartermain" not in page.content()
    assert _found(EMAIL) == []
    assert _found("Quartermain") == []
