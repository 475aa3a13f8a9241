"""In chromium: a rep opens the calendar, sees a promotion with its offer and end date, and pages to next month."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from django.utils import timezone

from tandem.campaigns import calendar as cal
from tandem.campaigns.models import Campaign
from tandem.campaigns.services import campaign_create
from tandem.users.models import Role
from tandem.users.roles import roles_sync
from tandem.users.services import user_create
from tests.browser_helpers import PASSWORD, browser_login

SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_a_rep_sees_a_promotion_with_its_offer_and_pages_to_next_month(live_server, page):  # type: ignore[no-untyped-def]
    # given a promotion running this month with an offer, and a launch next month
    roles_sync()
    user_create(username="ray", password=PASSWORD, role=Role.SALES_REP, first_name="Ray", last_name="Rep")
    today = timezone.localdate()
    first = today.replace(day=1)
    promo = campaign_create(
        name="Winter promo", channel="email", kind="promotion", started_on=first, ended_on=cal.month_last(first),
        offer="20 % off the first year", offer_ends_on=cal.month_last(first), talking_points="Only for new customers",
    )
    nxt = cal.month_step(first, 1)
    campaign_create(name="Product launch", channel="content", kind="launch", started_on=nxt + dt.timedelta(days=4), ended_on=nxt + dt.timedelta(days=4))
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    # when the rep opens the calendar
    browser_login(page, live_server.url, "ray")
    page.click('nav >> text="Calendar"')
    page.wait_for_selector(f"#campaign-{promo.pk}")
    item = page.locator(f"#campaign-{promo.pk}")
    page.screenshot(path=str(SCREENSHOTS / "campaign_calendar.png"), full_page=True)
    # then the promotion is there with its offer, its end date, "applies now" and its talking point
    text = item.inner_text()
    assert "Winter promo" in text and "Offer: 20 % off the first year" in text
    assert f"until {cal.month_last(first):%-d %b %Y}" in text and "applies now" in text and "Only for new customers" in text
    assert page.locator(f"td[data-day='{cal.month_last(first):%Y-%m-%d}']").inner_text().count("Winter promo") >= 1

    # when the rep pages to next month (HTMX), then the launch shows, the promotion does not, and the URL follows
    page.click("a[rel=next]")
    page.wait_for_selector("text=Product launch")
    assert page.locator("#calendar-month").inner_text() == f"{nxt:%B %Y}"
    assert page.locator(f"#campaign-{promo.pk}").count() == 0
    assert f"month={nxt:%Y-%m}" in page.url
    assert Campaign.objects.count() == 2
