"""In chromium, under the real Content-Security-Policy: the chart pages draw, the API docs render, the behaviour
moved out of inline handlers still works, and the hosted form works inside a customer's iframe."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from django.core.management import call_command

from tandem.capture.models import Form
from tandem.users.roles import roles_sync

DEMO_PASSWORD = "tandem-demo"

SCREENSHOTS = Path(__file__).resolve().parent.parent / "var" / "screenshots"
# Runs before any page script, in every frame: what the browser refused, as the page saw it.
WATCH = """
window.__refused = [];
document.addEventListener("securitypolicyviolation", function (e) {
  window.__refused.push(e.violatedDirective + " " + e.blockedURI + " at " + e.sourceFile + ":" + e.lineNumber);
});
"""
CHART_PAGES = [
    "/reports/dashboard/",
    "/reports/funnel/",
    "/reports/attribution/",
    "/reports/economics/",
    "/statistics/",
    "/statistics/segments/",
    "/feedback/themes/",
]


@pytest.fixture
def demo(settings):  # type: ignore[no-untyped-def]
    # Fourteen demo users with PBKDF2 take seconds; the tests sign in, they do not test hashing.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    # A transactional test flushes the tables the role migration filled; put the groups' permissions back.
    roles_sync()
    call_command("demo", "--people", "150", "--no-serve", stdout=io.StringIO())


def _watched(page):  # type: ignore[no-untyped-def]
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    return errors


def _sign_in(page, base: str, username: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{base}/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", DEMO_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/home/**")


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_charts_and_the_api_docs_work_under_the_policy(live_server, browser, demo):
    # given an admin in chromium, every violation of the policy recorded
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.add_init_script(WATCH)
    page = context.new_page()
    page.set_default_timeout(20000)
    errors = _watched(page)
    _sign_in(page, live_server.url, "admin")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for url in CHART_PAGES:
        # when a page with charts opens
        response = page.goto(live_server.url + url)
        assert response is not None and response.status == 200, url
        assert "'unsafe-inline'" not in response.headers["content-security-policy"]
        # then plotly drew every chart as SVG, and nothing was refused
        page.wait_for_selector("[data-chart] svg.main-svg", state="attached")
        drawn = page.evaluate("document.querySelectorAll('[data-chart] svg.main-svg').length")
        charts = page.evaluate("document.querySelectorAll('[data-chart]').length")
        assert drawn >= charts > 0, url
        assert page.evaluate("window.__refused") == [], url
    page.goto(f"{live_server.url}/reports/dashboard/")
    page.wait_for_selector("[data-chart] svg.main-svg", state="attached")
    page.screenshot(path=str(SCREENSHOTS / "dashboard_under_csp.png"), full_page=True)
    # when the period is changed (data-autosubmit, once an inline onchange)
    page.select_option("select[name=period]", index=1)
    # then the form was sent
    page.wait_for_url("**/reports/dashboard/?*period=*")
    # when the API docs open
    page.goto(f"{live_server.url}/api/docs")
    # then Swagger UI lists the operations from our own static files
    page.wait_for_selector(".swagger-ui .opblock", state="attached")
    assert page.locator(".swagger-ui .opblock").count() > 50
    page.screenshot(path=str(SCREENSHOTS / "api_docs_under_csp.png"))
    assert page.evaluate("window.__refused") == []
    assert [e for e in errors if "Content Security Policy" in e or "Refused" in e] == []
    context.close()


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_keyboard_shortcuts_and_timers_run_from_static_files(live_server, browser, demo):
    # given a rep on a person's page and in the inbox
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.add_init_script(WATCH)
    page = context.new_page()
    page.set_default_timeout(20000)
    _sign_in(page, live_server.url, "rep")
    page.goto(f"{live_server.url}/people/")
    page.click("[data-testid=people-table] tbody tr td:first-child a")
    page.wait_for_selector("#quicklog-text", state="attached")
    page.wait_for_selector("#question-text", state="attached")
    # when "l" and then "q" are pressed outside a text box
    page.locator("h1").click()
    page.keyboard.press("l")
    on_log = page.evaluate("document.activeElement.id")
    page.locator("h1").click()
    page.keyboard.press("q")
    on_question = page.evaluate("document.activeElement.id")
    # then each jumps to its box, and nothing was refused
    assert (on_log, on_question) == ("quicklog-text", "question-text")
    assert page.evaluate("window.__refused") == []
    context.close()


@pytest.fixture
def public_browser(browser, chromium_path):  # type: ignore[no-untyped-def]
    # The customer's page is on the internet and the test server on this machine: chromium's local network
    # access checks would refuse that frame, which in production (both on the internet) does not arise.
    instance = browser.browser_type.launch(
        executable_path=str(chromium_path),
        headless=True,
        args=["--no-sandbox", "--disable-gpu", "--disable-features=LocalNetworkAccessChecks"],
    )
    yield instance
    instance.close()


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_the_hosted_form_works_inside_a_customers_iframe(live_server, public_browser, demo):
    # given a customer's landing page on another origin that frames the hosted form
    form = Form.objects.filter(is_active=True, redirect_url="").order_by("pk").first()
    assert form is not None
    hosted = f"{live_server.url}/f/{form.public_key}/"
    landing = "http://www.customer.example/landing"
    context = public_browser.new_context()
    context.add_init_script(WATCH)
    context.route(
        landing,
        lambda route: route.fulfill(
            content_type="text/html",
            body=f'<!doctype html><h1>Customer</h1><iframe id="lead" src="{hosted}" width="600" height="900"></iframe>',
        ),
    )
    page = context.new_page()
    page.set_default_timeout(20000)
    # when a visitor opens it
    page.goto(landing)
    frame = page.frame_locator("#lead")
    # then the form shows inside the frame, styled from our static file, with nothing refused
    frame.locator("h1").wait_for()
    assert frame.locator("h1").inner_text() == form.name
    inner = page.frames[1]
    assert inner.evaluate("getComputedStyle(document.querySelector('button')).borderRadius") == "6px"
    assert inner.evaluate("window.__refused") == []
    # when the visitor fills it in and sends it
    frame.locator("input[name=email]").fill("visitor@customer.example")
    for name in inner.evaluate(
        "Array.from(document.querySelectorAll('[required]')).map(e => e.name).filter(n => n !== 'email')"
    ):
        field = frame.locator(f"[name={name}]")
        if field.get_attribute("type") == "checkbox":
            field.check()
        elif field.evaluate("e => e.tagName") == "SELECT":
            field.select_option(index=1)
        else:
            field.fill("Visitor")
    frame.locator("button[type=submit]").click()
    # then the frame shows the thank-you page
    frame.locator("#thank-you").wait_for()
    assert page.frames[1].url.endswith(f"/f/{form.public_key}/thanks/")
    assert page.frames[1].evaluate("window.__refused") == []
    context.close()
