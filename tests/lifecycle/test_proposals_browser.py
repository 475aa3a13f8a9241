"""In chromium: marketing edits the MQL definition in words, sees the dry run beside v1 with the promotion count,
proposes it; an admin opens the proposal, sees the same count and publishes it."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from django.utils import timezone

from tandem.campaigns.models import Touchpoint
from tandem.crm.models import Person
from tandem.lifecycle.models import ChangeProposal, DefinitionVersion
from tandem.lifecycle.services import definition_publish
from tandem.users.models import Role
from tandem.users.roles import roles_sync
from tandem.users.services import user_create
from tests.browser_helpers import PASSWORD
from tests.browser_helpers import browser_login as _login
from tests.crm.factories import PersonFactory

# The seeded MQL v1 (migration 0004): a demo request in 30 days, or 3 touchpoints in 30 days.
MQL_V1 = {
    "any": [
        {"id": "demo", "type": "touchpoint", "kinds": ["demo_request"], "days": 30},
        {"id": "engaged", "type": "touchpoint_count", "min_count": 3, "days": 30},
    ]
}
SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_marketing_proposes_a_definition_in_words_and_an_admin_publishes_it(live_server, page, browser):  # type: ignore[no-untyped-def]
    # given a marketer, an admin, a lead with a demo request 20 days ago (v1 yes, the proposal no) and one with two webinars
    roles_sync()
    if not DefinitionVersion.objects.filter(stage="mql").exists():  # an earlier transactional test flushed the seeded v1
        definition_publish(stage="mql", spec=MQL_V1, reason="Initial definition installed with Tandem.", by_user=None)
    user_create(username="mia", password=PASSWORD, role=Role.MARKETING, first_name="Mia", last_name="Marketing")
    user_create(username="ada", password=PASSWORD, role=Role.ADMIN, first_name="Ada", last_name="Admin")
    now = timezone.now()
    old_demo, webinars = PersonFactory(first_name="Olga"), PersonFactory(first_name="Wes")
    Touchpoint.objects.create(person=old_demo, occurred_at=now - dt.timedelta(days=20), kind="demo_request", channel="email")
    for days in (3, 40):
        Touchpoint.objects.create(person=webinars, occurred_at=now - dt.timedelta(days=days), kind="webinar", channel="webinar")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    # when marketing shortens the demo window to 14 days and swaps "3 touchpoints in 30 days" for "2 webinars in 60 days"
    _login(page, live_server.url, "mia")
    page.goto(f"{live_server.url}/definitions/")
    editor = page.locator("#definition-editor")
    editor.locator(".clause[data-type=touchpoint] input[aria-label=Days]").fill("14")
    editor.locator(".clause[data-type=touchpoint_count] button", has_text="Remove").click()
    page.wait_for_selector("#definition-editor .clause[data-type=touchpoint_count]", state="detached")
    page.select_option("select[name=add_type_any]", "touchpoint_count")
    page.locator("button", has_text='Add to "at least one of these"').click()
    added = page.locator("#definition-editor .clause[data-type=touchpoint_count]")
    added.wait_for()
    added.locator("input[aria-label='How many touchpoints']").fill("2")
    added.locator("input[aria-label='Touchpoint kinds']").fill("webinar")
    added.locator("input[aria-label=Days]").fill("60")
    kept = page.locator("#definition-editor .clause[data-type=touchpoint] input[aria-label=Days]").input_value()
    page.locator("button", has_text="Dry run").click()
    page.wait_for_selector("#dry-run")
    warning = page.locator("#promote-now").inner_text()
    page.screenshot(path=str(SCREENSHOTS / "proposal_dry_run_marketing.png"), full_page=True)
    # then the typed window survived the HTMX edits, and the dry run shows both definitions and who would be promoted
    assert kept == "14"
    assert "Publishing promotes 1 person to MQL at once" in warning
    sides = page.locator("#dry-run .side-by-side").inner_text()
    assert "in the last 30 days" in sides and "At least 2 touchpoints of kind 'webinar' in the last 60 days" in sides

    # when she says why and proposes it
    page.fill("#id_reason", "Fresher demo requests; webinars show intent")
    page.locator("button", has_text="Propose").click()
    page.wait_for_selector("text=an approver publishes or rejects it")
    page.screenshot(path=str(SCREENSHOTS / "proposal_proposed.png"), full_page=True)
    proposal = ChangeProposal.objects.get()
    # then it waits, unpublished, and she cannot approve it
    assert (proposal.status, DefinitionVersion.objects.filter(stage="mql").count()) == ("open", 1)
    assert page.locator("#approve").count() == 0

    # when the admin opens the proposals, then the proposal, and approves it from its dry run
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    admin = context.new_page()
    admin.set_default_timeout(15000)
    _login(admin, live_server.url, "ada")
    admin.goto(f"{live_server.url}/proposals/")
    admin.locator(f"#proposal-{proposal.pk} a", has_text="MQL definition").click()
    button = admin.locator("#approve")
    button.wait_for()
    label = button.inner_text()
    admin.screenshot(path=str(SCREENSHOTS / "proposal_admin_review.png"), full_page=True)
    button.click()
    admin.wait_for_selector("text=Published proposal")
    admin.screenshot(path=str(SCREENSHOTS / "proposal_published.png"), full_page=True)
    context.close()
    # then the admin saw the count before publishing, v2 is in force, and exactly the webinar lead became an MQL
    assert "promote 1 person" in label
    assert DefinitionVersion.objects.filter(stage="mql").order_by("-version").values_list("version", flat=True).first() == 2
    assert list(Person.objects.filter(lifecycle_stage="mql").values_list("first_name", flat=True)) == ["Wes"]
