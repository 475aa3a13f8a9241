"""In chromium: a rep opens the queue (sorted by expected value) and a person page with its score and factors."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from tandem.crm.models import Person
from tandem.scoring.models import PersonScore
from tandem.users.models import Role
from tandem.users.roles import roles_sync
from tandem.users.services import user_create
from tests.browser_helpers import PASSWORD, browser_login

SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_a_rep_sees_the_queue_by_expected_value_and_a_person_score_with_factors(live_server, page):
    # given a rep with three scored open leads
    roles_sync()
    rep = user_create(username="raj", password=PASSWORD, role=Role.SALES_REP, first_name="Raj", last_name="Demo")
    when = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)
    for name, probability, value in (("Low", 0.6, 120.0), ("High", 0.2, 2400.0), ("Mid", 0.3, 800.0)):
        person = Person.objects.create(first_name="Lee", last_name=name, email=f"{name.lower()}@example.com", owner=rep)
        PersonScore.objects.create(
            person=person, probability=probability, tier="hot" if value > 1000 else "gray", expected_value=value,
            fit_grade="A", engagement=20.0, scored_at=when,
            factors={"raising": [{"text": "Webinar: 2 times", "contribution": 0.9}],
                     "lowering": [{"text": "Company size: 1-10", "contribution": -0.4}]},
        )
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    browser_login(page, live_server.url, "raj")
    # when the rep opens the queue from the navigation
    page.click("nav.nav >> text=Queue")
    page.wait_for_selector("[data-testid=queue-table]")
    page.screenshot(path=str(SCREENSHOTS / "scoring_queue.png"), full_page=True)
    # then the leads are sorted by expected value
    values = page.locator("[data-testid=queue-value]").all_inner_texts()
    assert values == ["2,400", "800", "120"]
    # and the top lead's page shows its score, tier and factors
    page.click("text=Lee High")
    page.wait_for_selector("[data-testid=person-score]")
    page.screenshot(path=str(SCREENSHOTS / "scoring_person.png"), full_page=True)
    assert page.inner_text("[data-testid=score-probability]") == "20.0%"
    assert page.inner_text("[data-testid=score-tier]") == "hot"
    factors = page.inner_text("[data-testid=score-factors]")
    assert "Webinar: 2 times: +" in factors and "Company size: 1-10: −" in factors
