"""In chromium: marketing opens a campaign, enters a cost with a mistake, corrects it, and sees budget against spend."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest

from tandem.campaigns.models import Campaign
from tandem.campaigns.services import campaign_cost_add, campaign_create
from tandem.users.models import Role
from tandem.users.roles import roles_sync
from tandem.users.services import user_create
from tests.browser_helpers import PASSWORD, browser_login

SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_marketing_enters_a_cost_on_the_campaign_page(live_server, page):  # type: ignore[no-untyped-def]
    # given a campaign with a budget of 5,000 and one invoice of 1,200
    roles_sync()
    user_create(username="mia", password=PASSWORD, role=Role.MARKETING, first_name="Mia", last_name="Marketing")
    campaign = campaign_create(
        name="Spring webinar", channel="webinar", kind="event", started_on=dt.date(2026, 3, 1), ended_on=dt.date(2026, 3, 31),
        budget="5000", utm_campaign="spring-webinar",
    )
    campaign_cost_add(campaign=campaign, amount="1200", spent_on=dt.date(2026, 2, 20), note="Booth deposit")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    browser_login(page, live_server.url, "mia")
    page.goto(f"{live_server.url}/campaigns/{campaign.pk}/")

    # when she enters a negative amount, the error sits under the amount and nothing is saved
    page.fill("#cost-amount", "-300")
    page.fill("#cost-spent-on", "2026-03-01")
    page.click("text=Add cost")
    page.wait_for_selector("#cost-amount-error")
    assert "amount cannot be negative" in page.locator("#cost-amount-error").inner_text()
    page.screenshot(path=str(SCREENSHOTS / "campaign_cost_error.png"), full_page=True)
    # when she corrects it to a March invoice spread over the month (HTMX: the panel is swapped in place)
    page.fill("#cost-amount", "3,100.50")
    page.fill("#cost-spent-until", "2026-03-31")
    page.fill("#cost-note", "Webinar platform, March")
    page.click("text=Add cost")
    page.wait_for_selector("[data-testid=cost-saved]")
    # then the entry is listed first and the total follows
    rows = page.locator("[data-testid=cost-table] tbody tr")
    assert rows.count() == 2 and "2026-03-01 – 2026-03-31" in rows.first.inner_text()
    assert "total 4,300.50" in page.locator("#campaign-costs h2").inner_text()
    page.reload()
    assert "86 % of the budget" in page.locator("[data-testid=campaign-spent]").inner_text()
    page.screenshot(path=str(SCREENSHOTS / "campaign_costs.png"), full_page=True)
    assert Campaign.objects.get().actual_cost == Decimal("4300.50")
    # when she clones it, the copy's edit form opens; the list shows both, the draft to review above it
    page.click("[data-testid=campaign-clone]")
    page.wait_for_selector("text=Edit campaign")
    page.screenshot(path=str(SCREENSHOTS / "campaign_clone_form.png"), full_page=True)
    assert page.input_value("#id_name") == "Spring webinar (copy)"
    page.goto(f"{live_server.url}/campaigns/")
    page.screenshot(path=str(SCREENSHOTS / "campaign_list.png"), full_page=True)
    assert "Spring webinar (copy)" in page.locator("[data-testid=campaign-drafts]").inner_text()
