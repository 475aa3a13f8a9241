"""In chromium: a rep drags a deal card to another stage, moves it on with the arrow keys, marks another lost
through the dialog, and the forecast page shows the new weighted figure."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from django.utils import timezone

from tandem.crm.models import Deal, DealStageChange
from tandem.crm.services import deal_create
from tandem.users.models import Role
from tandem.users.roles import roles_sync
from tandem.users.services import user_create
from tests.browser_helpers import PASSWORD
from tests.browser_helpers import browser_login as _login
from tests.crm.factories import AccountFactory, LostReasonFactory
from tests.crm.pipelines.helpers import sales_stages

SCREENSHOTS = Path(__file__).resolve().parents[3] / "var" / "screenshots"


def _in_column(stage_id: int, deal_id: int) -> str:
    return f'section.deal-column[data-stage="{stage_id}"] #deal-{deal_id}'


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_a_rep_moves_deals_by_mouse_and_keyboard_and_the_forecast_follows(live_server, page):  # type: ignore[no-untyped-def]
    # given a rep with a 10,000 deal in New and a 4,000 deal in Qualified, both expected to close this month
    roles_sync()
    rep = user_create(username="ray", password=PASSWORD, role=Role.SALES_REP, first_name="Ray", last_name="Rep")
    stages = sales_stages()
    today = timezone.localdate()
    pilot = deal_create(account=AccountFactory(name="Northwind"), name="Northwind pilot", amount=Decimal("10000"),
                        owner=rep, expected_close_on=today)
    other = deal_create(account=AccountFactory(name="Contoso"), name="Contoso rollout", amount=Decimal("4000"),
                        owner=rep, expected_close_on=today, stage=stages["Qualified"])
    LostReasonFactory(name="Went with a competitor")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    # when the rep opens the pipeline board and drags the pilot onto Proposal
    _login(page, live_server.url, "ray")
    page.click('nav >> text="Pipeline"')
    page.wait_for_selector(_in_column(stages["New"].pk, pilot.pk))
    page.drag_and_drop(f"#deal-{pilot.pk}", f'section.deal-column[data-stage="{stages["Proposal"].pk}"]')
    # then the card is in Proposal, focused, and the column sums say so
    page.wait_for_selector(_in_column(stages["Proposal"].pk, pilot.pk))
    page.wait_for_function(f"() => document.activeElement && document.activeElement.id === 'deal-{pilot.pk}'")
    proposal = page.locator(f'section.deal-column[data-stage="{stages["Proposal"].pk}"]')
    assert proposal.locator("[data-testid=weighted]").inner_text() == "5,000"
    page.screenshot(path=str(SCREENSHOTS / "pipeline_board_dragged.png"), full_page=True)

    # when the rep presses the right arrow on the focused card
    page.keyboard.press("ArrowRight")
    # then it moves on to Negotiation and keeps the focus; the status line announces it
    page.wait_for_selector(_in_column(stages["Negotiation"].pk, pilot.pk))
    page.wait_for_function(f"() => document.activeElement && document.activeElement.id === 'deal-{pilot.pk}'")
    page.wait_for_function("() => document.getElementById('board-announce').textContent.includes('moved to Negotiation')")

    # when the other deal is sent to Lost from its "Move to" menu, the dialog asks why
    page.select_option(f"#move-{other.pk}", str(stages["Lost"].pk))
    page.click(f"button[aria-label='Move {other}']")
    page.wait_for_selector("#lost-dialog[open]")
    page.screenshot(path=str(SCREENSHOTS / "pipeline_lost_dialog.png"))
    page.select_option("#lost-reason", label="Went with a competitor")
    page.click("#lost-dialog button[type=submit]")
    page.wait_for_selector(_in_column(stages["Lost"].pk, other.pk))
    page.screenshot(path=str(SCREENSHOTS / "pipeline_board.png"), full_page=True)
    # then the history has the moves, by the rep
    moves = list(
        DealStageChange.objects.filter(by_user=rep).order_by("id").values_list("deal_id", "to_stage__name")
    )
    assert moves == [(pilot.pk, "Proposal"), (pilot.pk, "Negotiation"), (other.pk, "Lost")]
    assert Deal.objects.get(pk=other.pk).lost_reason.name == "Went with a competitor"  # type: ignore[union-attr]

    # when the rep opens the forecast
    page.click("text=Forecast")
    page.wait_for_selector("[data-testid=forecast-weighted]")
    # then this month weighs the pilot at Negotiation's 75%: 7,500
    assert page.locator("[data-testid=forecast-weighted]").inner_text() == "7,500"
    row = page.locator("[data-testid=forecast-months] tbody tr").first.inner_text()
    assert row.split("\t")[:4] == [f"{today:%b %Y}", "1", "10,000", "7,500"]
    page.screenshot(path=str(SCREENSHOTS / "pipeline_forecast.png"), full_page=True)
