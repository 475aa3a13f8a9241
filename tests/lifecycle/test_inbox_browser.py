"""In chromium: a sales manager pages through the team's inbox, filters it by SLA state and owner, sorts it, and
answers a lead, all without a full reload, with the address following every change."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from tandem.crm.models import Activity, Person
from tandem.crm.services import person_change_stage
from tandem.lifecycle.services import sla_policy_publish
from tandem.users.models import Role, Team
from tandem.users.roles import roles_sync
from tandem.users.services import user_create
from tests.browser_helpers import PASSWORD
from tests.browser_helpers import browser_login as _login
from tests.crm.factories import PersonFactory

SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"


def _user(username: str, role: str, first: str, team: Team) -> Any:
    user = user_create(username=username, password=PASSWORD, role=role, first_name=first, last_name="Demo")
    user.team = team
    user.save(update_fields=["team"])
    return user


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_a_manager_pages_filters_sorts_and_answers_in_the_inbox(live_server, page, settings) -> None:  # type: ignore[no-untyped-def]
    # given a team of two reps on a 9-to-5 UTC calendar working a 4-hour SLA, with 56 open MQLs of the last
    # days (every fourth one touched) and 2 from two months ago
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # PBKDF2 is slow in tests
    roles_sync()
    team = Team.objects.create(name="Squad", time_zone="UTC")
    manager = _user("morgan", Role.SALES_MANAGER, "Morgan", team)
    Team.objects.filter(pk=team.pk).update(manager=manager)
    ann, bob = _user("ann", Role.SALES_REP, "Ann", team), _user("bob", Role.SALES_REP, "Bob", team)
    sla_policy_publish(spec={"first_touch_hours": 4}, reason="Standard", by_user=None)
    now = dt.datetime.now(dt.UTC)
    for n in range(58):
        owner = ann if n % 2 else bob
        handoff = now - (dt.timedelta(days=60 + n) if n >= 56 else dt.timedelta(hours=3 * n + 1))
        person = PersonFactory(first_name="Lead", last_name=f"No{n:02d}", job_title="Head of Sales")
        person_change_stage(person=person, to_stage="mql", at=handoff)
        Person.objects.filter(pk=person.pk).update(owner=owner)
        if n % 4 == 1:
            Activity.objects.create(person=person, user=owner, kind_id="call", occurred_at=handoff + dt.timedelta(minutes=30))
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    base = live_server.url

    # when the manager opens the inbox
    _login(page, base, "morgan")
    page.click("nav >> text=Inbox")
    page.wait_for_selector("#inbox tbody tr.inbox-row")
    page.evaluate("window.__sameDocument = true")  # gone after a full reload
    # then one page of 50 of the 56 recent ones, the two old ones counted above the list
    assert page.locator("#inbox tbody tr.inbox-row").count() == 50
    assert page.locator("[data-testid=inbox-count]").inner_text() == "50 of 56 shown"
    assert "2 more open MQLs handed off before" in page.locator("[data-testid=inbox-older]").inner_text()
    page.screenshot(path=str(SCREENSHOTS / "inbox_manager_first_page.png"), full_page=True)

    # when the manager goes to the next page
    page.click("nav.pager >> text=Next →")
    page.wait_for_function("() => document.querySelectorAll('#inbox tbody tr.inbox-row').length === 6")
    # then the last six are there, the address carries the cursor, and the page was swapped, not reloaded
    assert "cursor=" in page.url
    assert page.locator("[data-testid=inbox-count]").inner_text() == "6 of 56 shown"
    assert page.evaluate("window.__sameDocument") is True

    # when the manager keeps only the untouched leads that are overdue, then only Ann's, newest hand-off first
    page.click(".inbox-states >> [data-state=overdue]")
    page.wait_for_url("**state=overdue**")
    page.select_option("#f-owner", str(ann.pk))
    page.wait_for_url(f"**owner={ann.pk}**")
    page.select_option("#f-sort", "-handoff")
    page.wait_for_url("**sort=-handoff**")
    page.wait_for_selector("#f-sort option[value='-handoff'][selected]", state="attached")
    rows = page.locator("#inbox tbody tr.inbox-row")
    names = rows.locator("td:first-child a").all_inner_texts()
    states = {rows.nth(i).get_attribute("data-state") for i in range(rows.count())}
    page.screenshot(path=str(SCREENSHOTS / "inbox_manager_filtered.png"), full_page=True)
    # then every row is Ann's and overdue, the newest hand-off first, and the filters are in the address
    ann_overdue = sorted(
        (p for p in Person.objects.filter(owner=ann, lifecycle_stage="mql") if not p.activities.exists()),
        key=lambda p: p.pk,
    )
    assert states == {"overdue"}
    assert set(names) <= {str(p) for p in ann_overdue} and len(names) > 0
    assert names == sorted(names, key=lambda n: int(n[-2:]))  # No01 was handed off last, so newest first
    assert page.evaluate("window.__sameDocument") is True

    # when the address is opened afresh (a bookmark), then the same list comes back
    bookmarked = page.url
    page.goto(bookmarked)
    assert page.locator("#inbox tbody tr.inbox-row td:first-child a").all_inner_texts() == names
    assert page.locator("#f-owner").input_value() == str(ann.pk)

    # when the manager accepts the first lead of the list
    first = page.locator("#inbox tbody tr.inbox-row").first
    person_id = int((first.get_attribute("id") or "").removeprefix("mql-"))
    first.locator("button", has_text="Accept").click()
    page.wait_for_selector(f"#answered-{person_id}")
    # then its row says so in place, and the lead is a SAL
    assert "is now a sales-accepted lead" in page.locator(f"#answered-{person_id}").inner_text()
    assert Person.objects.get(pk=person_id).lifecycle_stage == "sal"
    page.screenshot(path=str(SCREENSHOTS / "inbox_manager_accepted.png"), full_page=True)
