"""In chromium: a rep types part of a company in the header's search box, moves down the list with the arrow
keys, closes it with Escape, opens it again and goes to the person with Enter."""

from __future__ import annotations

from pathlib import Path

import pytest

from tandem.users.models import Role
from tandem.users.roles import roles_sync
from tandem.users.services import user_create
from tests.browser_helpers import PASSWORD, browser_login
from tests.search.factories import world

SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_a_rep_finds_a_person_by_company_from_the_header(live_server, page):  # type: ignore[no-untyped-def]
    # given
    # (the role groups live in the data: a transactional test before this one flushed them)
    roles_sync()
    ray = user_create(username="ray", password=PASSWORD, role=Role.SALES_REP, first_name="Ray", last_name="Rep")
    # (the world is Ray's: a rep finds the records they may see)
    w = world(owner=ray)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    browser_login(page, live_server.url, "ray")
    box = page.locator("#header-q")

    # when the rep types part of the company name
    box.click()
    box.type("nordw", delay=30)
    option = page.locator(f"#search-opt-person-{w.jane.pk}")
    option.wait_for()
    # then people, accounts and deals are listed, and the arrow key selects the first hit
    box.press("ArrowDown")
    assert option.get_attribute("aria-selected") == "true"
    assert box.get_attribute("aria-activedescendant") == f"search-opt-person-{w.jane.pk}"
    assert box.get_attribute("aria-expanded") == "true"
    pop = page.locator("#header-search-results")
    assert [t.strip() for t in pop.locator(".search-group-head").all_text_contents()] == [
        "People",
        "Accounts",
        "Deals",
    ]
    page.screenshot(path=str(SCREENSHOTS / "search_header.png"))

    # when Escape is pressed, the list closes; ArrowDown opens it again
    box.press("Escape")
    assert pop.is_hidden()
    assert box.get_attribute("aria-expanded") == "false"
    box.press("ArrowDown")
    assert pop.is_visible()

    # when Enter is pressed on the selected hit, the rep lands on the person's page
    box.press("Enter")
    page.wait_for_url(f"{live_server.url}/people/{w.jane.pk}/")
    assert "Jane Doe" in page.locator("h1").inner_text()

    # when the rep types a name and presses Enter without choosing, the full results page opens
    page.locator("#header-q").fill("smith")
    page.locator("#header-q").press("Enter")
    page.wait_for_url(f"{live_server.url}/search/?q=smith")
    page.screenshot(path=str(SCREENSHOTS / "search_page.png"), full_page=True)
    assert page.locator("tr[data-kind=person]").count() == 4
