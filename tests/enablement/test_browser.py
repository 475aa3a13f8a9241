"""In chromium: a person page shows persona talking points and suggested assets; a wrong upload is refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from tandem.campaigns.models import Touchpoint
from tandem.enablement.models import Asset
from tandem.users.models import Role
from tandem.users.roles import roles_sync
from tandem.users.services import user_create
from tests.browser_helpers import PASSWORD
from tests.browser_helpers import browser_login as _login
from tests.crm.factories import PersonFactory
from tests.enablement.factories import AssetFactory, ObjectionFactory, PersonaFactory

SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_a_rep_sees_persona_talking_points_and_sends_a_suggested_asset(live_server, page):  # type: ignore[no-untyped-def]
    # given a RevOps persona with talking points and an objection, an asset for it, and a RevOps lead
    roles_sync()
    ray = user_create(username="ray", password=PASSWORD, role=Role.SALES_REP, first_name="Ray", last_name="Rep")
    persona = PersonaFactory(name="RevOps", pains="Routing rules live in someone's head", value_propositions="Routing you can read and audit")
    ObjectionFactory(persona=persona, objection="We built this in our CRM", answer="Keep the CRM; Tandem adds the SLA on top.")
    asset = AssetFactory(title="Case study: Northwind routes in 9 minutes", persona=persona)
    AssetFactory(title="CFO pricing brief", persona=PersonaFactory(name="Economic buyer", rules={}))
    lead = PersonFactory(first_name="Rita", last_name="Ops", job_title="Head of RevOps", owner=ray)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    # when the rep opens the lead's page
    _login(page, live_server.url, "ray")
    page.goto(f"{live_server.url}/people/{lead.pk}/")
    panel = page.locator("[data-testid=enablement-panel]")
    panel.locator("[data-testid=suggested-assets]").wait_for()
    page.screenshot(path=str(SCREENSHOTS / "enablement_person_panel.png"), full_page=True)
    # then the persona, its talking points and objection, and only the fitting asset show
    assert "Persona: RevOps" in panel.locator("[data-testid=persona]").inner_text()
    points = panel.locator("[data-testid=talking-points]").inner_text()
    assert "Routing rules live in someone's head" in points and "Routing you can read and audit" in points
    assert "We built this in our CRM" in points
    suggested = panel.locator("[data-testid=suggested-assets]").inner_text()
    assert "Northwind routes in 9 minutes" in suggested and "CFO pricing brief" not in suggested

    # when the rep sends the asset from the panel
    panel.locator(f"[data-testid=send-{asset.pk}]").click()
    page.wait_for_selector("text=Recorded “Case study: Northwind routes in 9 minutes” as shared with")
    assert "Not e-mailed: no mail server is set up" in panel.inner_text()
    # then the lead has a content_sent touchpoint
    assert Touchpoint.objects.filter(person=lead, kind="content_sent").count() == 1


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_marketing_uploading_a_wrong_type_sees_the_message_and_nothing_is_added(live_server, page, tmp_path):  # type: ignore[no-untyped-def]
    # given a marketer and an executable renamed to .pdf
    roles_sync()
    user_create(username="mia", password=PASSWORD, role=Role.MARKETING, first_name="Mia", last_name="Marketer")
    fake = tmp_path / "brochure.pdf"
    fake.write_bytes(b"MZ\x90\x00 this is a program, not a brochure")

    # when she adds it to the library
    _login(page, live_server.url, "mia")
    page.click("nav >> text=Library")
    page.click("[data-testid=asset-new] summary")
    page.fill("#a-title", "Spring brochure")
    page.select_option("#a-kind", "brochure")
    page.set_input_files("#a-file", str(fake))
    page.click("text=Add to the library")
    error = page.locator("[data-testid=asset-error]")
    error.wait_for()
    page.screenshot(path=str(SCREENSHOTS / "enablement_upload_refused.png"), full_page=True)
    # then the page says why, and the library is still empty
    assert error.inner_text() == "The file 'brochure.pdf' is not a PDF document: its content does not match its .pdf extension."
    assert Asset.objects.count() == 0
