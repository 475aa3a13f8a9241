"""A rep's morning, end to end in chromium: my tasks → inbox → accept an MQL → log a call in the quick-log box →
the SLA shows the first touch met → a follow-up task → the deal moves on the board → the forecast follows."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest
from django.utils import timezone

from tandem.crm.models import Activity, Deal, DealStageChange, Task
from tandem.crm.services import deal_create, person_change_stage
from tandem.users.models import Role
from tandem.users.roles import roles_sync
from tandem.users.services import user_create
from tests.browser_helpers import PASSWORD, browser_login
from tests.crm.agenda.factories import TaskFactory
from tests.crm.factories import AccountFactory, PersonFactory
from tests.crm.pipelines.helpers import sales_stages

SCREENSHOTS = Path(__file__).resolve().parent.parent / "var" / "screenshots"


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_a_reps_morning_from_tasks_to_forecast(live_server, page):  # type: ignore[no-untyped-def]
    # given a rep with a task overdue, a fresh MQL at Initech, and Initech's 20,000 deal in New this month
    roles_sync()
    rep = user_create(username="rosa", password=PASSWORD, role=Role.SALES_REP, first_name="Rosa", last_name="Rep")
    now = timezone.now()
    # (overdue by a minute, so it is on the home page at any hour of the day)
    TaskFactory(owner=rep, title="Prepare the Globex renewal call", due_at=now - dt.timedelta(minutes=1))
    initech = AccountFactory(name="Initech", domain="initech.example")
    lead = PersonFactory(owner=rep, first_name="Peter", last_name="Gibbons", account=initech, email="peter@initech.example")
    person_change_stage(person=lead, to_stage="mql", at=now - dt.timedelta(minutes=5))
    stages = sales_stages()
    deal = deal_create(
        account=initech, name="Initech rollout", amount=Decimal("20000"), owner=rep,
        expected_close_on=timezone.localdate(),
    )
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    # when Rosa signs in, her day opens with her tasks
    browser_login(page, live_server.url, "rosa")
    page.screenshot(path=str(SCREENSHOTS / "morning_1_my_day.png"), full_page=True)
    # then the overdue task is there
    assert "Prepare the Globex renewal call" in page.locator("[data-testid=home-tasks]").inner_text()

    # when she opens the inbox and accepts Peter, then takes the offered first-touch task
    page.goto(f"{live_server.url}/inbox/")
    row = page.locator(f"#mql-{lead.pk}")
    assert "Peter Gibbons" in row.inner_text()
    row.locator("button", has_text="Accept").click()
    offer = page.locator("[data-testid=first-touch-task]")
    offer.wait_for()
    offer.click()
    page.wait_for_selector("[data-testid=task-added]")
    page.screenshot(path=str(SCREENSHOTS / "morning_2_inbox_accepted.png"), full_page=True)
    # then Peter is accepted and the first touch is on her list
    assert Task.objects.filter(person=lead, owner=rep, source="sla.first_touch").count() == 1

    # when she opens Peter's page and logs the call in the quick-log box
    page.goto(f"{live_server.url}/people/{lead.pk}/")
    page.fill("#quicklog-text", "call connected 15m wants pricing for 40 seats")
    page.press("#quicklog-text", "Enter")
    page.wait_for_selector("[data-testid=activity-logged]")
    page.screenshot(path=str(SCREENSHOTS / "morning_3_call_logged.png"), full_page=True)
    # then the call is on his record, by her, connected, 15 minutes
    call = Activity.objects.get(person=lead)
    assert (call.kind_id, call.outcome, call.duration_minutes, call.user_id) == ("call", "connected", 15, rep.pk)
    assert "wants pricing for 40 seats" in page.locator("[data-testid=activity-timeline]").inner_text()

    # when she looks at the SLA scorecard
    page.goto(f"{live_server.url}/sla/")
    reps = page.locator("#sla-reps tbody tr", has_text="rosa").first
    page.screenshot(path=str(SCREENSHOTS / "morning_4_sla.png"), full_page=True)
    # then Peter's first touch counts as met: 1 MQL, touched, within the SLA, none breached
    cells = reps.locator("td").all_inner_texts()
    assert (cells[1], cells[2], cells[6]) == ("1", "1", "0")
    assert cells[5].startswith("100 %")

    # when she adds a follow-up task on Peter's page
    page.goto(f"{live_server.url}/people/{lead.pk}/")
    panel = page.locator("[data-testid=task-panel]")
    panel.locator("input[name=title]").fill("Send Peter the 40-seat quote")
    panel.locator("button", has_text="Add task").click()
    page.wait_for_selector("text=Task added: Send Peter the 40-seat quote.")
    # then it is hers, about Peter
    assert Task.objects.filter(title="Send Peter the 40-seat quote", owner=rep, person=lead).count() == 1

    # when she opens the board and moves the Initech deal from New to Proposal
    page.goto(f"{live_server.url}/pipelines/")
    card = f'section.deal-column[data-stage="{stages["New"].pk}"] #deal-{deal.pk}'
    page.wait_for_selector(card)
    page.drag_and_drop(f"#deal-{deal.pk}", f'section.deal-column[data-stage="{stages["Proposal"].pk}"]')
    page.wait_for_selector(f'section.deal-column[data-stage="{stages["Proposal"].pk}"] #deal-{deal.pk}')
    page.screenshot(path=str(SCREENSHOTS / "morning_5_board.png"), full_page=True)
    # then the deal's history has the move, by her
    assert list(DealStageChange.objects.filter(deal=deal, by_user=rep).values_list("to_stage__name", flat=True)) == [
        "Proposal"
    ]
    assert Deal.objects.get(pk=deal.pk).pipeline_stage_id == stages["Proposal"].pk

    # when she opens the forecast
    page.click("text=Forecast")
    page.wait_for_selector("[data-testid=forecast-weighted]")
    page.screenshot(path=str(SCREENSHOTS / "morning_6_forecast.png"), full_page=True)
    # then this month weighs the deal at Proposal's 50 % (it was 10 % in New): 10,000
    assert page.locator("[data-testid=forecast-weighted]").inner_text() == "10,000"
