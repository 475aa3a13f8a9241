"""In chromium: leadership signs in, sets a goal on the KPI dashboard, sees the tile against it, opens the weekly report."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from tandem.analytics.dashboard.models import Goal
from tandem.crm.models import StageChange
from tandem.users.models import Role
from tandem.users.roles import roles_sync
from tandem.users.services import user_create
from tests.browser_helpers import PASSWORD, browser_login
from tests.crm.factories import PersonFactory


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_leadership_sets_a_goal_sees_the_tile_against_it_and_opens_the_weekly_report(live_server, page):  # type: ignore[no-untyped-def]
    # given a sales manager and two people who became MQLs today
    roles_sync()
    user_create(username="morgan", password=PASSWORD, role=Role.SALES_MANAGER, first_name="Morgan", last_name="Lead")
    people = [PersonFactory(), PersonFactory()]
    StageChange.objects.all().delete()
    now = timezone.now()
    for p in people:
        StageChange.objects.create(person=p, to_stage="lead", changed_at=now - dt.timedelta(minutes=30))
        StageChange.objects.create(person=p, to_stage="mql", changed_at=now - dt.timedelta(minutes=20))
    browser_login(page, live_server.url, "morgan")

    # when she opens the dashboard from the nav and sets this month's MQL goal to 4
    page.click("nav >> text=Dashboard")
    tile = page.locator("[data-testid=tile-mqls]")
    assert tile.locator("[data-testid=actual]").inner_text() == "2"
    assert tile.locator("[data-testid=goal]").inner_text() == "no goal set"
    page.select_option("#goal-metric", "mqls")
    page.fill("#goal-target", "4")
    page.fill("#goal-reason", "agreed at the pipeline review")
    page.click("[data-testid=goal-form] button[type=submit]")
    page.wait_for_selector(".message-success")

    # then the tile shows the actual against the goal, the history has the change, and the charts are drawn
    tile = page.locator("[data-testid=tile-mqls]")
    assert tile.locator("[data-testid=actual]").inner_text() == "2"
    assert tile.locator("[data-testid=goal]").inner_text() == "4"
    assert "50%" in tile.inner_text()
    assert "agreed at the pipeline review" in page.locator("[data-testid=goal-history]").inner_text()
    assert Goal.objects.get(metric="mqls", is_current=True).target == 4
    page.wait_for_selector("[data-chart='bars-mqls'] .main-svg")
    assert page.locator("[data-testid=kpi-mqls] [data-testid=signal-text]").inner_text().strip()

    # when she opens the weekly alignment report
    page.click("text=Weekly alignment report")
    # then its sections are there, and the buttons are hidden when printing
    assert "Week of" in page.locator("[data-testid=weekly-range]").inner_text()
    for section in ("weekly-came-in", "weekly-wins", "weekly-sla", "weekly-changes"):
        assert page.locator(f"[data-testid={section}]").is_visible()
    page.emulate_media(media="print")
    assert page.locator(".weekly-nav").is_hidden()
    assert page.locator("header.topbar").is_hidden()
