"""In chromium: a rep logs a call from the person page with the keyboard only, and sees it in the timeline."""

from __future__ import annotations

from pathlib import Path

import pytest

from tandem.crm.models import Activity
from tandem.users.models import Role
from tandem.users.roles import roles_sync
from tandem.users.services import user_create
from tests.browser_helpers import PASSWORD, browser_login
from tests.crm.factories import PersonFactory

SCREENSHOTS = Path(__file__).resolve().parents[3] / "var" / "screenshots"


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_a_rep_logs_a_call_in_a_few_keystrokes(live_server, page):  # type: ignore[no-untyped-def]
    # given a rep on a lead's page
    roles_sync()
    ray = user_create(username="ray", password=PASSWORD, role=Role.SALES_REP, first_name="Ray", last_name="Rep")
    lead = PersonFactory(first_name="Lee", last_name="Caller", job_title="Head of Ops", owner=ray)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    browser_login(page, live_server.url, "ray")
    page.goto(f"{live_server.url}/people/{lead.pk}/")
    page.wait_for_selector("#quicklog-text")

    # when the rep presses l, types what happened and presses Enter
    page.keyboard.press("l")
    page.keyboard.type("call connected 15m wants pricing for 40 seats")
    page.keyboard.press("Enter")
    page.wait_for_selector("[data-testid=activity-logged]")
    page.screenshot(path=str(SCREENSHOTS / "activities_quicklog.png"), full_page=False)

    # then the call is stored and at the top of the timeline, and the box is ready for the next one
    call = Activity.objects.get(person=lead)
    assert (call.kind_id, call.outcome, call.duration_minutes, call.notes, call.user.username) == (
        "call",
        "connected",
        15,
        "wants pricing for 40 seats",
        "ray",
    )
    first = page.locator("[data-testid=activity-timeline] li").first
    assert "Call · Connected · 15 min" in first.inner_text()
    assert "wants pricing for 40 seats" in first.inner_text()
    assert page.evaluate("document.activeElement.id") == "quicklog-text"
    assert page.input_value("#quicklog-text") == ""

    # when a bad duration is typed, the error shows in the panel and nothing is logged
    page.keyboard.type("call 3000m")
    page.keyboard.press("Enter")
    page.wait_for_selector("[data-testid=activity-error]")
    assert "at most 1440 minutes" in page.inner_text("[data-testid=activity-error]")
    assert Activity.objects.count() == 1
