"""In chromium: a rep files a collateral request; marketing moves it across the board to delivered
(by mouse and by keyboard), and the rep sees it delivered."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from django.utils import timezone

from tandem.core.models import Event
from tandem.enablement.requests.models import CollateralRequest
from tandem.users.models import Role
from tandem.users.roles import roles_sync
from tandem.users.services import user_create
from tests.browser_helpers import PASSWORD
from tests.browser_helpers import browser_login as _login

SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"
LONG_URL = "https://drive.example/marketing/collateral/2026/austin-partner-day/flyers/final-v3-print-ready-cmyk.pdf"


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_a_rep_files_a_request_and_marketing_moves_it_to_delivered(live_server, page, browser):  # type: ignore[no-untyped-def]
    # given a rep and a marketer
    roles_sync()
    user_create(username="ray", password=PASSWORD, role=Role.SALES_REP, first_name="Ray", last_name="Rep")
    user_create(username="mia", password=PASSWORD, role=Role.MARKETING, first_name="Mia", last_name="Marketer")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    due = timezone.localdate() + dt.timedelta(days=2)

    # when the rep opens Requests and asks for 200 flyers due in two days
    _login(page, live_server.url, "ray")
    page.click('nav >> text="Requests"')
    page.select_option("#id_kind", "flyer")
    page.fill("#id_purpose", "Flyers for the Austin partner day")
    page.fill("#id_quantity", "200")
    page.fill("#id_due_on", due.isoformat())
    page.click("button:has-text('Send to marketing')")
    page.wait_for_selector("text=sent to marketing")
    request = CollateralRequest.objects.get()
    # then it is listed as new on the rep's page
    assert "New" in page.locator(f"#mine-{request.pk}").inner_text()

    # when marketing opens the board in its own session
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    board = context.new_page()
    board.set_default_timeout(15000)
    _login(board, live_server.url, "mia")
    board.click('nav >> text="Board"')
    board.wait_for_selector(f"#request-{request.pk}")
    card = board.locator(f"#request-{request.pk}")
    # then the card is in "new", warned as due soon
    assert board.locator("[data-column=new]").locator(f"#request-{request.pk}").count() == 1
    assert "due soon" in card.inner_text()

    # when marketing accepts it with the mouse
    board.click(f"button[aria-label='Accept request {request.pk}']")
    board.wait_for_selector(f"[data-column=accepted] #request-{request.pk}")
    # and starts it with the keyboard: the moved card has the focus, Tab reaches its first button, Enter presses it
    board.wait_for_function(f"() => document.activeElement && document.activeElement.id === 'request-{request.pk}'")
    board.keyboard.press("Tab")
    assert board.evaluate("document.activeElement.getAttribute('aria-label')") == f"Start request {request.pk}"
    board.keyboard.press("Enter")
    board.wait_for_selector(f"[data-column=in_progress] #request-{request.pk}")
    # and delivers it with a link
    board.fill(f"input[aria-label='Delivery note for request {request.pk}']", LONG_URL)
    board.click(f"button[aria-label='Deliver request {request.pk}']")
    board.wait_for_selector(f"[data-column=delivered] #request-{request.pk}")
    # and the long delivered link wraps inside its card (it once spilled over the next column)
    overflow = board.evaluate(
        "id => { const c = document.getElementById(id); return c.scrollWidth - c.clientWidth; }", f"request-{request.pk}"
    )
    assert overflow <= 0
    board.screenshot(path=str(SCREENSHOTS / "collateral_board.png"), full_page=True)
    context.close()
    # then it is delivered, with one event per move
    request.refresh_from_db()
    assert (request.status, request.delivery_note) == ("delivered", LONG_URL)
    moves = [e.data["to"] for e in Event.objects.filter(kind="collateral.moved").order_by("occurred_at", "id")]
    assert moves == ["accepted", "in_progress", "delivered"]

    # when the rep looks again, then the request shows delivered with its link
    page.reload()
    row = page.locator(f"#mine-{request.pk}").inner_text()
    assert "Delivered" in row and LONG_URL in row


def _two_reps_ask_for_a_hospital_case_study() -> None:
    """Two reps file the same case study in other words: the board suggests it for the library."""
    from tandem.enablement.requests import services

    roles_sync()
    due = timezone.localdate() + dt.timedelta(days=20)
    for username, purpose in (("ray", "Healthcare hospital case study"), ("rita", "Case study from a hospital, healthcare")):
        rep = user_create(username=username, password=PASSWORD, role=Role.SALES_REP)
        services.collateral_request_file(by_user=rep, kind="case_study", purpose=purpose, due_on=due)


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_marketing_marks_a_library_suggestion_handled_naming_the_asset(live_server, page):  # type: ignore[no-untyped-def]
    # given a case study asked for by two reps, the library asset that answers it, and a marketer
    from tests.enablement.factories import AssetFactory

    _two_reps_ask_for_a_hospital_case_study()
    asset = AssetFactory(title="Mercy Hospital case study")
    user_create(username="mia", password=PASSWORD, role=Role.MARKETING)
    # when marketing opens the control on the board's suggestion, picks the asset and marks it handled
    _login(page, live_server.url, "mia")
    page.goto(f"{live_server.url}/requests/board/")
    suggestions = page.locator("[data-testid=suggestions]")
    suggestions.locator("summary", has_text="Mark handled").click()
    page.wait_for_selector(f"#suggestions select option[value='{asset.pk}']", state="attached")
    suggestions.locator("select").select_option(str(asset.pk))
    suggestions.locator("button", has_text="Mark handled").click()
    page.wait_for_selector("text=Suggestion marked handled (2 requests).")
    # then the card is redrawn without it, with the focus on it, and both requests name the asset
    assert "No request has come back from several reps yet." in page.locator("#suggestions").inner_text()
    page.wait_for_function("() => document.activeElement && document.activeElement.closest('#suggestions') !== null")
    assert list(CollateralRequest.objects.values_list("suggestion_asset_id", flat=True)) == [asset.pk, asset.pk]
    assert Event.objects.filter(kind="collateral.suggestion_handled").count() == 2


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_marketing_adds_a_suggestion_to_the_library_from_the_board(live_server, page):  # type: ignore[no-untyped-def]
    # given a case study asked for by two reps (the board's "Add it to the library" link once answered 405)
    from tandem.enablement.models import Asset

    _two_reps_ask_for_a_hospital_case_study()
    user_create(username="mia", password=PASSWORD, role=Role.MARKETING)
    # when marketing follows the link from the board
    _login(page, live_server.url, "mia")
    page.goto(f"{live_server.url}/requests/board/")
    with page.expect_navigation():
        page.click("[data-testid=suggestion-add]")
    # then the library's add form is open, filled from the suggestion
    assert page.locator("#asset-new").get_attribute("open") is not None
    assert page.input_value("#a-title") == "case healthcare hospital study"
    assert page.locator("#a-kind").input_value() == "case_study"
    # when the title is improved, a link given and the form sent
    page.fill("#a-title", "Mercy Hospital case study")
    page.fill("#a-url", "https://cdn.example/mercy.pdf")
    page.click("button:has-text('Add to the library')")
    page.wait_for_selector("text=Added “Mercy Hospital case study” to the library.")
    # then the asset exists
    assert list(Asset.objects.values_list("title", "kind")) == [("Mercy Hospital case study", "case_study")]


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_a_missing_page_says_so_in_words_not_an_exception_name(live_server, page):  # type: ignore[no-untyped-def]
    # given a signed-in user
    roles_sync()
    user_create(username="mia", password=PASSWORD, role=Role.MARKETING)
    _login(page, live_server.url, "mia")
    # when they open an address that does not exist
    response = page.goto(f"{live_server.url}/no-such-page/")
    # then the 404 page says so in a sentence, without Django's exception class name
    assert response is not None and response.status == 404
    text = page.locator("main").inner_text()
    assert "Nothing here" in text and "The page or record you asked for does not exist." in text
    assert "Resolver404" not in page.content()
