"""In chromium: a rep records a question during a call with the keyboard only; a marketer finds it in its theme."""

from __future__ import annotations

import datetime as dt
import random
from pathlib import Path

import pytest
from django.utils import timezone

from tandem.crm.models import Activity
from tandem.demo.company import question_text
from tandem.feedback.models import Question, Theme
from tandem.feedback.services import themes_mine
from tandem.users.models import Role
from tandem.users.roles import roles_sync
from tandem.users.services import user_create
from tests.browser_helpers import PASSWORD
from tests.browser_helpers import browser_login as _login
from tests.crm.factories import PersonFactory
from tests.feedback.factories import QuestionFactory

SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"
QUESTION = "Are you SOC 2 Type II certified, and can we see the security questionnaire?"


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_a_rep_records_a_question_by_keyboard_and_marketing_sees_it_in_its_theme(live_server, page, browser):  # type: ignore[no-untyped-def]
    # given a rep, a marketer, themes mined from earlier questions, and a lead on the phone
    roles_sync()
    ray = user_create(username="ray", password=PASSWORD, role=Role.SALES_REP, first_name="Ray", last_name="Rep")
    user_create(username="mia", password=PASSWORD, role=Role.MARKETING, first_name="Mia", last_name="Demo")
    rnd = random.Random(2)
    for theme in ("pricing", "security", "integrations") * 12:
        QuestionFactory(text=question_text(rnd, theme))
    themes_mine(k=3)
    lead = PersonFactory(first_name="Lee", last_name="Caller", owner=ray)
    earlier_call = Activity.objects.create(
        person=lead, kind_id="call", occurred_at=timezone.now() - dt.timedelta(days=3)
    )
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    _login(page, live_server.url, "ray")
    page.goto(f"{live_server.url}/people/{lead.pk}/")
    page.wait_for_selector("#question-text")

    # when the rep presses q, types the question and presses Enter: three keystroke actions, no mouse
    page.keyboard.press("q")
    page.keyboard.type(QUESTION)
    page.keyboard.press("Enter")
    saved = page.wait_for_selector("[data-testid=question-saved]")
    page.screenshot(path=str(SCREENSHOTS / "feedback_question_saved.png"), full_page=True)
    # then it is stored for the lead, by the rep, in the security theme, and the box is ready for the next one
    question = Question.objects.get(person=lead, text=QUESTION)
    assert question.text == QUESTION and question.heard_by.username == "ray"
    theme = Theme.objects.get(pk=question.theme_id)
    assert theme.label in saved.inner_text()
    assert page.evaluate("document.activeElement.id") == "question-text"
    assert page.input_value("#question-text") == ""
    assert question.activity_id is None

    # when the rep records a question from last week's call with its "+ question" button
    page.click(f"[data-question-activity='{earlier_call.pk}']")
    page.keyboard.type("Can you send the pricing for 40 seats again?")
    page.keyboard.press("Enter")
    page.wait_for_selector("[data-testid=recent-questions] >> text=pricing for 40 seats")
    # then that question is tied to the call
    assert Question.objects.get(text__startswith="Can you send").activity_id == earlier_call.pk

    # when marketing opens the Themes page and the question's theme
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    other = context.new_page()
    other.set_default_timeout(15000)
    _login(other, live_server.url, "mia")
    other.click("nav >> text=Themes")
    row = other.locator(f"tr[data-theme-id='{theme.pk}']")
    assert theme.label in row.inner_text()
    other.wait_for_selector(".chart .main-svg")
    other.screenshot(path=str(SCREENSHOTS / "feedback_themes.png"), full_page=True)
    row.locator("a").first.click()
    # then the rep's question is listed in that theme
    other.wait_for_selector("[data-testid=theme-questions]")
    assert QUESTION in other.locator("[data-testid=theme-questions]").inner_text()
    assert "Lee Caller" in other.locator("[data-testid=theme-questions]").inner_text()
    context.close()
