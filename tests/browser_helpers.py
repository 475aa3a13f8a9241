"""What the browser tests share: the test users' password and signing in through the login page."""

from __future__ import annotations

PASSWORD = "browser-test-pass-1"


def browser_login(page, base: str, username: str) -> None:  # type: ignore[no-untyped-def]
    """Sign in as a user created with PASSWORD and wait for their home page."""
    page.goto(f"{base}/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/home/**")
