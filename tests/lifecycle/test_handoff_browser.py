"""In chromium: a rep sees a new MQL with a running SLA timer, rejects it, and marketing sees why on its campaign."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from tandem.campaigns.models import Campaign, Touchpoint
from tandem.crm.models import Person
from tandem.lifecycle.services import definition_publish, people_qualify, routing_publish
from tandem.users.models import Role, Team
from tandem.users.roles import roles_sync
from tandem.users.services import user_create
from tests.browser_helpers import PASSWORD
from tests.browser_helpers import browser_login as _login
from tests.crm.factories import PersonFactory

SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_a_rep_rejects_a_new_mql_and_marketing_sees_it_on_the_campaign(live_server, page, browser):  # type: ignore[no-untyped-def]
    # given a rep on a round-robin team, a marketer, and a lead from a campaign who just requested a demo
    roles_sync()
    squad = Team.objects.create(name="Squad", time_zone="UTC")
    rep = user_create(username="ray", password=PASSWORD, role=Role.SALES_REP, first_name="Ray", last_name="Rep")
    rep.team = squad
    rep.save(update_fields=["team"])
    user_create(username="mia", password=PASSWORD, role=Role.MARKETING, first_name="Mia", last_name="Demo")
    definition_publish(
        stage="mql", spec={"any": [{"id": "demo", "type": "touchpoint", "kinds": ["demo_request"], "days": 30}]}, reason="Demo requests", by_user=None
    )
    routing_publish(spec={"rules": [{"id": "rr", "kind": "round_robin", "team_id": squad.pk}]}, reason="One team", by_user=None)
    campaign = Campaign.objects.create(name="Spring webinar", channel="webinar")
    lead = PersonFactory(first_name="Lee", last_name="Student")
    now = timezone.now()
    Touchpoint.objects.create(person=lead, occurred_at=now - dt.timedelta(minutes=5), kind="demo_request", channel="webinar", campaign=campaign)
    Person.objects.filter(pk=lead.pk).update(latest_campaign=campaign)
    assert people_qualify(person_ids=[lead.pk], as_of=now) == [lead.pk]
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    # when the rep opens the inbox
    _login(page, live_server.url, "ray")
    page.click("nav >> text=Inbox")
    row = page.locator(f"#mql-{lead.pk}")
    timer = row.locator(".sla-timer")
    # the script replaces the server's "due …" text on its first tick; the click may return before it loads
    expect(timer).to_have_text(re.compile(r"s left$"))
    first = timer.inner_text()
    page.wait_for_timeout(1500)
    second = timer.inner_text()
    page.screenshot(path=str(SCREENSHOTS / "handoff_inbox.png"), full_page=True)
    # then the lead is there with a timer counting down
    assert "Lee Student" in row.inner_text()
    assert first.endswith("s left") and second.endswith("s left") and first != second

    # when the rep rejects it as a student / job seeker
    row.locator("summary", has_text="Reject").click()
    row.locator("select[name=reason_code]").select_option("student")
    row.locator("input[name=comment]").fill("Writing a thesis")
    row.locator("button", has_text="Send back to marketing").click()
    page.wait_for_selector("text=back to marketing as recycled")
    # then it leaves the inbox
    assert page.locator(f"#mql-{lead.pk}").count() == 0

    # when marketing opens the campaign page in its own session
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    other = context.new_page()
    other.set_default_timeout(15000)
    _login(other, live_server.url, "mia")
    other.goto(f"{live_server.url}/campaigns/{campaign.pk}/")
    section = other.locator("#rejections")
    other.screenshot(path=str(SCREENSHOTS / "handoff_campaign_rejections.png"), full_page=True)
    text = section.inner_text()
    context.close()
    # then the rejection shows with its reason and comment
    assert "Student / job seeker" in text and "Writing a thesis" in text
