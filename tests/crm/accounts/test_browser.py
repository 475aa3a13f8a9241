"""In chromium: a sales manager finds an account by part of its domain, opens its page (people, deals on their
stages, activities, tasks, touchpoints), edits a custom field and sees it there."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest

from tandem.campaigns.models import Campaign, Touchpoint
from tandem.crm.accounts.services import account_create
from tandem.crm.models import Activity, Task
from tandem.crm.services import deal_close, deal_create, person_create
from tandem.users.models import Role
from tandem.users.roles import roles_sync
from tandem.users.services import user_create
from tests.browser_helpers import PASSWORD, browser_login

SCREENSHOTS = Path(__file__).resolve().parents[3] / "var" / "screenshots"
T0 = dt.datetime(2025, 3, 3, 9, 0, tzinfo=dt.UTC)


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_a_manager_finds_an_account_reads_its_page_and_edits_it(live_server, page):  # type: ignore[no-untyped-def]
    # given an account with people, deals, an activity, a task and touchpoints
    roles_sync()
    user_create(
        username="max", password=PASSWORD, role=Role.SALES_MANAGER, first_name="Max", last_name="Lead"
    )
    rex = user_create(
        username="rex", password=PASSWORD, role=Role.SALES_REP, first_name="Rex", last_name="Rep"
    )
    account = account_create(
        name="Northwind Traders",
        domain="northwind.example",
        industry="retail",
        size_band="201-1000",
        country="Germany",
        owner=rex,
        custom_fields={"Revenue (M USD)": 1100.04, "Subsidiary of": "Globex"},
    )
    account_create(name="Globex", domain="globex.example", industry="software", country="US")
    maria = person_create(
        email="maria@northwind.example",
        first_name="Maria",
        last_name="Weber",
        account=account,
        job_title="Head of Operations",
        owner=rex,
        created_at=T0,
    )
    jonas = person_create(
        email="jonas@northwind.example",
        first_name="Jonas",
        last_name="Fischer",
        account=account,
        job_title="CFO",
        created_at=T0,
    )
    deal_create(person=maria, amount=Decimal("24000"), name="Platform rollout", owner=rex, created_at=T0)
    won = deal_create(person=jonas, amount=Decimal("1800"), name="Pilot", owner=rex, created_at=T0)
    deal_close(deal=won, won=True, at=T0 + dt.timedelta(days=12))
    Activity.objects.create(
        person=maria,
        account=account,
        kind_id="call",
        user=rex,
        outcome="connected",
        duration_minutes=25,
        notes="Wants a pilot for the Hamburg team.",
        occurred_at=T0 + dt.timedelta(days=2),
    )
    Task.objects.create(
        title="Send the rollout proposal",
        due_at=T0 + dt.timedelta(days=30),
        owner=rex,
        person=maria,
        created_at=T0,
    )
    campaign = Campaign.objects.create(name="Spring webinar", channel="webinar", created_at=T0)
    Touchpoint.objects.create(
        person=maria,
        occurred_at=T0 - dt.timedelta(days=4),
        channel="webinar",
        kind="webinar",
        campaign=campaign,
    )
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    browser_login(page, live_server.url, "max")

    # when the manager searches the list for part of the domain
    page.goto(f"{live_server.url}/accounts/")
    page.fill("#f-q", "northw")
    page.wait_for_function(
        "() => document.querySelectorAll('[data-testid=accounts-table] tbody tr').length === 1"
    )
    # then only that account is listed, and its page opens from it
    assert (
        page.locator("[data-testid=accounts-table] tbody tr td")
        .first.inner_text()
        .startswith("Northwind Traders")
    )
    page.screenshot(path=str(SCREENSHOTS / "accounts_list.png"), full_page=True)
    page.click("text=Northwind Traders")
    page.wait_for_url(f"{live_server.url}/accounts/{account.pk}/")
    page.screenshot(path=str(SCREENSHOTS / "account_page.png"), full_page=True)
    deals = page.locator("[data-testid=account-deals] tbody tr").all_inner_texts()
    assert [" ".join(d.split()) for d in deals] == [
        "Pilot Jonas Fischer · Rex Rep Won 1,800 USD 3 Mar 2025 15 Mar 2025",
        "Platform rollout Maria Weber · Rex Rep New 24,000 USD 3 Mar 2025 —",
    ]
    assert "Send the rollout proposal" in page.inner_text("[data-testid=account-tasks]")
    assert "Wants a pilot" in page.inner_text("[data-testid=account-activities]")
    assert "Spring webinar" in page.inner_text("[data-testid=account-touchpoints]")

    # when the manager edits a custom field
    page.click("a.btn:has-text('Edit')")
    page.fill("[aria-label='Field value 1']", "1250")
    page.click("button.btn-primary:has-text('Save')")
    page.wait_for_url(f"{live_server.url}/accounts/{account.pk}/")
    # then the page shows it
    facts = page.inner_text("[data-testid=account-custom-fields]")
    assert "1250" in facts and "Globex" in facts
