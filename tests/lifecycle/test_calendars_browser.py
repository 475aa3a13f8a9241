"""In chromium: an admin gives a team its hours and US public holidays, and a rep reads the calendar in plain words."""

from __future__ import annotations

import pytest

from tandem.users.models import Role, Team
from tandem.users.roles import roles_sync
from tandem.users.services import user_create
from tests.lifecycle.test_handoff_browser import PASSWORD, SCREENSHOTS, _login


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_an_admin_edits_a_team_calendar_and_a_rep_reads_it(live_server, page, browser):  # type: ignore[no-untyped-def]
    # given a team with default hours, an admin and a rep
    roles_sync()
    team = Team.objects.create(name="Americas", time_zone="UTC")
    user_create(username="ada", password=PASSWORD, role=Role.ADMIN, first_name="Ada", last_name="Admin")
    user_create(username="ray", password=PASSWORD, role=Role.SALES_REP, first_name="Ray", last_name="Rep")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    # when the admin goes from the SLA page to the team's calendar, types a bad shift, then fixes it
    _login(page, live_server.url, "ada")
    page.goto(f"{live_server.url}/sla/")
    page.click("text=team calendars (hours, time zones, holidays)")
    page.click("text=Edit Americas")
    page.fill("#id_time_zone", "America/New_York")
    page.uncheck("#id_default_hours")
    page.fill("#id_hours_mon", "08:30-12:00, 13:00-17:30")
    page.fill("#id_hours_fri", "8:30 till 4")
    page.click("text=Save calendar")
    error = page.locator("#calendar-error").inner_text()
    page.fill("#id_hours_fri", "08:30-16:00")
    page.fill("#id_reason", "New York office")
    page.click("text=Save calendar")
    page.wait_for_selector("text=Saved the calendar of Americas")
    # and tries an unknown country, then chooses the US public holidays
    page.fill("#id_country", "XX")
    page.click("text=Save calendar")
    country_error = page.locator("#calendar-error").inner_text()
    page.fill("#id_country", "US")
    page.click("text=Save calendar")
    page.wait_for_selector("text=Public holidays of US are closed all day.")
    page.screenshot(path=str(SCREENSHOTS / "handoff_calendar_edit.png"), full_page=True)
    # then the bad shift and the bad country were refused by name, and the US holidays are listed
    assert "hours.fri" in error
    assert "country" in country_error and "XX" in country_error
    assert page.locator("text=Thanksgiving Day").count() >= 1

    # when a rep opens the calendars page in their own session
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    other = context.new_page()
    other.set_default_timeout(15000)
    _login(other, live_server.url, "ray")
    other.goto(f"{live_server.url}/sla/calendars/")
    text = other.locator(f"#team-{team.pk}").inner_text()
    edit_links = other.locator("text=Edit Americas").count()
    context.close()
    # then the calendar reads in plain words, and the rep cannot edit it
    assert "Times are in America/New_York." in text
    assert "Monday: 08:30–12:00 and 13:00–17:30" in text and "Friday: 08:30–16:00" in text
    assert "Tuesday: 09:00–17:00" in text and "Saturday: closed" in text
    assert edit_links == 0
