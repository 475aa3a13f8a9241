"""In chromium: marketing builds a form, pastes its snippet into a page on another port, visitors submit it."""

from __future__ import annotations

import functools
import http.server
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tandem.campaigns.models import Campaign, Touchpoint
from tandem.capture.models import Form, Submission
from tandem.crm.models import Person
from tandem.users.models import Role
from tandem.users.roles import roles_sync
from tandem.users.services import user_create

SCREENSHOTS = Path(__file__).resolve().parents[3] / "var" / "screenshots"
PASSWORD = "browser-test-pass-1"


@pytest.fixture
def other_site(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A plain static web server on another port: the company's own website."""
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", tmp_path
    server.shutdown()
    server.server_close()


def _submit(page, url: str, email: str, first_name: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(url)
    page.fill("input[name=email]", email)
    page.fill("input[name=first_name]", first_name)
    page.fill("input[name=company]", "Northwind")
    page.check("input[name=consent_email]")
    page.click("button[type=submit]")
    page.wait_for_selector("#thank-you")


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_a_form_built_in_the_ui_and_pasted_into_another_site_captures_the_lead_once(live_server, page, other_site):
    # given a marketer and a campaign its ads tag "spring-launch"
    roles_sync()
    user_create(username="mia", password=PASSWORD, role=Role.MARKETING, first_name="Mia", last_name="Demo")
    campaign = Campaign.objects.create(
        name="Spring launch", channel="paid_social", utm_source="linkedin", utm_campaign="spring-launch"
    )
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.goto(f"{live_server.url}/login/")
    page.fill("#id_username", "mia")
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/home/marketing/")
    # when she builds a form in the builder (keeping the standard fields) and copies its snippet
    page.click("nav.nav >> text=Forms")
    page.click("text=New form")
    page.fill("#id_name", "Spring demo request")
    page.fill("#id_thank_you_message", "Thanks! A specialist will call you.")
    page.click("button:has-text('Create form')")
    page.wait_for_selector("#snippet")
    page.screenshot(path=str(SCREENSHOTS / "form_detail.png"), full_page=True)
    snippet = page.input_value("#snippet")
    site, folder = other_site
    (folder / "landing.html").write_text(
        "<!doctype html><html><head><meta charset='utf-8'><title>Northwind spring</title></head><body>"
        f"<h1>Spring offer</h1>{snippet}</body></html>",
        encoding="utf-8",
    )
    landing = f"{site}/landing.html?utm_source=linkedin&utm_medium=paid_social&utm_campaign=spring-launch"
    # and a visitor from the LinkedIn ad fills it in on the company's site
    _submit(page, landing, "Ann.Lee@Northwind.example", "Ann")
    page.screenshot(path=str(SCREENSHOTS / "form_thanks.png"), full_page=True)
    # then the person exists on the spring campaign with a form_submit touchpoint carrying the tags
    assert page.inner_text("#thank-you") == "Thanks! A specialist will call you."
    form = Form.objects.get()
    person = Person.objects.get()
    assert (person.email_normalized, person.first_name, person.account.name) == ("ann.lee@northwind.example", "Ann", "Northwind")
    assert person.consent_email is True
    assert (person.original_channel, person.original_campaign_id) == ("paid_social", campaign.pk)
    touchpoint = Touchpoint.objects.get()
    assert (touchpoint.kind, touchpoint.campaign_id, touchpoint.utm_campaign, touchpoint.utm_source) == (
        "form_submit", campaign.pk, "spring-launch", "linkedin",
    )
    assert touchpoint.url == landing
    assert Submission.objects.get().form_id == form.pk
    # when the same person comes back another day and submits again
    _submit(page, landing, "ann.lee@northwind.example", "Ann")
    # then there is still one person, now with two touchpoints
    assert Person.objects.count() == 1
    assert Touchpoint.objects.filter(person=person).count() == 2
    assert Submission.objects.filter(status="processed").count() == 2
