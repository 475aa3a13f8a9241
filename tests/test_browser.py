"""Each role signs in through the real login form in chromium, sees its home page and the people list."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest
from django.utils import timezone

from tandem.campaigns.models import Campaign, Touchpoint
from tandem.crm.services import (
    account_for_email,
    activity_log,
    deal_close,
    deal_create,
    lost_reason_get_or_create,
    person_change_stage,
    person_create,
)
from tandem.feedback.models import Question
from tandem.users.roles import roles_sync
from tandem.users.services import user_create

SCREENSHOTS = Path(__file__).resolve().parent.parent / "var" / "screenshots"
PASSWORD = "browser-test-pass-1"

# role, username, its home page, the heading there
ROLES = [
    ("admin", "ada", "/home/admin/", "System overview"),
    ("marketing", "mia", "/home/marketing/", "Marketing overview"),
    ("sales_rep", "rex", "/home/rep/", "My day"),
    ("sales_manager", "max", "/home/manager/", "Team pipeline"),
    ("viewer", "vic", "/home/viewer/", "Company funnel"),
]

PEOPLE = [
    ("Maria", "Weber", "maria.weber@northwind.example", "Northwind", "webinar", "mql"),
    ("Jonas", "Fischer", "jonas.fischer@globex.example", "Globex", "paid_search", "lead"),
    ("Sara", "Lopez", "sara.lopez@initech.example", "Initech", "referral", "sql"),
    ("Tom", "Becker", "tom.becker@umbrella.example", "Umbrella", "organic_search", "lead"),
    ("Nina", "Olsen", "nina.olsen@hooli.example", "Hooli", "events", "sal"),
    ("Paul", "Richter", "paul.richter@stark.example", "Stark Industries", "partner", "lead"),
]


def _company() -> dict[str, object]:
    # A transactional test flushes the tables the role migration filled; put the groups' permissions back.
    roles_sync()
    users = {
        role: user_create(
            username=name, password=PASSWORD, role=role, first_name=name.capitalize(), last_name="Demo"
        )
        for role, name, _, _ in ROLES
    }
    rep = users["sales_rep"]
    now = timezone.now()
    Campaign.objects.create(
        name="Spring webinar series",
        channel="webinar",
        started_on=now.date() - dt.timedelta(days=10),
        ended_on=now.date() + dt.timedelta(days=20),
        created_at=now,
    )
    people = []
    for i, (first, last, email, company, channel, stage) in enumerate(PEOPLE):
        person = person_create(
            email=email,
            first_name=first,
            last_name=last,
            job_title="Head of Operations",
            account=account_for_email(email=email, company=company),
            owner=rep if i % 2 == 0 else None,
            stage="lead",
            original_channel=channel,
            created_at=now - dt.timedelta(hours=i * 20),
        )
        if stage != "lead":
            person_change_stage(person=person, to_stage=stage, reason="browser test")
        people.append(person)
    maria = people[0]
    campaign = Campaign.objects.get()
    for days, channel, kind in (
        (9, "paid_search", "ad_click"),
        (6, "webinar", "webinar"),
        (2, "direct", "demo_request"),
    ):
        Touchpoint.objects.create(
            person=maria,
            occurred_at=now - dt.timedelta(days=days),
            channel=channel,
            kind=kind,
            campaign=campaign if channel == "webinar" else None,
        )
    activity_log(
        person=maria, kind="call", user=rep, outcome="connected", duration_minutes=25, notes="Wants a pilot."
    )
    Question.objects.create(person=maria, asked_at=now, text="Does it integrate with our CRM?", heard_by=rep)
    deal_create(person=maria, amount=Decimal("24000"), name="Northwind platform", owner=rep)
    won = deal_create(person=people[2], amount=Decimal("18000"), name="Initech pilot", owner=rep)
    deal_close(deal=won, won=True)
    lost = deal_create(person=people[4], amount=Decimal("9000"), name="Hooli trial", owner=rep)
    deal_close(deal=lost, won=False, lost_reason=lost_reason_get_or_create(name="No budget"))
    return {"users": users, "people": people}


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_each_role_signs_in_sees_its_home_and_the_people_list(live_server, page):
    # given one user per role and a few people
    _company()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for role, username, home, heading in ROLES:
        # when the user signs in through the form
        page.goto(f"{live_server.url}/login/")
        page.fill("#id_username", username)
        page.fill("#id_password", PASSWORD)
        page.click("button[type=submit]")
        # then their own home page greets them (the login page has an h1 too: wait for the URL first)
        page.wait_for_url(f"{live_server.url}{home}")
        assert page.inner_text("h1") == heading
        if page.locator("[data-chart]").count():
            page.wait_for_selector("[data-chart] .main-svg")
        page.screenshot(path=str(SCREENSHOTS / f"home_{role}.png"), full_page=True)
        # and the people list shows, newest first, everyone (a rep: only their own, tandem.users.access)
        page.click("nav.nav >> text=People")
        page.wait_for_selector("[data-testid=people-table] tbody tr")
        names = page.locator("[data-testid=people-table] tbody tr td:first-child").all_inner_texts()
        theirs = PEOPLE[::2] if role == "sales_rep" else PEOPLE
        assert names == [f"{first} {last}" for first, last, *_ in theirs]
        # and signing out returns to the login page
        page.click("text=Sign out")
        page.wait_for_url(f"{live_server.url}/login/")
        assert page.locator("#id_username").is_visible()


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_filters_swap_the_table_and_the_stage_moves_on_the_person_page(live_server, page):
    # given
    # (the head of sales, who sees every person: a rep sees only their own)
    data = _company()
    page.goto(f"{live_server.url}/login/")
    page.fill("#id_username", "max")
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/home/manager/")
    page.goto(f"{live_server.url}/people/")
    page.screenshot(path=str(SCREENSHOTS / "people_list.png"), full_page=True)
    # when a filter changes, HTMX swaps only the table and pushes the URL
    marker = page.evaluate("() => { window.__kept = 1; return window.__kept }")
    page.select_option("#f-stage", "lead")
    page.wait_for_url("**/people/?*stage=lead*")
    page.wait_for_function(
        "() => document.querySelectorAll('[data-testid=people-table] tbody tr').length === 3"
    )
    # then the page was not reloaded (the script variable survived)
    assert page.evaluate("() => window.__kept") == marker
    names = page.locator("[data-testid=people-table] tbody tr td:first-child").all_inner_texts()
    assert names == ["Jonas Fischer", "Tom Becker", "Paul Richter"]
    # when the manager moves a person on the person page
    maria = data["people"][0]
    page.goto(f"{live_server.url}/people/{maria.pk}/")
    page.screenshot(path=str(SCREENSHOTS / "person_page.png"), full_page=True)
    page.select_option("#to-stage", "customer")
    page.fill("#stage-reason", "signed the contract")
    page.click("#stage-panel button[type=submit]")
    # then the panel is swapped in place with the new history row
    page.wait_for_selector("#stage-panel >> text=Moved to Customer.")
    assert "signed the contract" in page.inner_text("[data-testid=stage-history]")
