"""The calendar feed: campaigns, promotions' offer end dates and the user's own open tasks as iCalendar, behind a
revocable secret address that needs no session."""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any
from zoneinfo import ZoneInfo

import icalendar
import pytest
from django.test import Client
from django.utils import timezone

from tandem.core.models import Event
from tandem.crm.models import Task
from tandem.integrations.calendar import services
from tandem.integrations.calendar.models import CalendarFeed
from tandem.users.models import Role
from tests.campaigns.factories import CampaignFactory
from tests.users.factories import UserFactory

pytestmark = pytest.mark.django_db
# The feed is read for the real today, so the records are dated around it.
TODAY = timezone.localdate()
BERLIN = ZoneInfo("Europe/Berlin")


def _day(n: int) -> dt.date:
    return TODAY + dt.timedelta(days=n)


def _at(n: int, hour: int, minute: int = 0, zone: Any = dt.UTC) -> dt.datetime:
    return dt.datetime.combine(_day(n), dt.time(hour, minute), tzinfo=zone)


@pytest.fixture(autouse=True)
def _base_url(settings: Any) -> None:
    settings.BASE_URL = "https://tandem.example.com"


def _events(body: bytes) -> list[tuple[str, str, Any, Any]]:
    cal = icalendar.Calendar.from_ical(body)
    return sorted(
        (str(e["UID"]), str(e["SUMMARY"]), e.decoded("DTSTART"), e.decoded("DTEND"))
        for e in cal.walk("VEVENT")
    )


def _world() -> dict[str, Any]:
    ray = UserFactory(username="ray", role=Role.SALES_REP, time_zone="Europe/Berlin")
    sue = UserFactory(username="sue", role=Role.SALES_REP)
    spring = CampaignFactory(name="Spring launch", kind="launch", started_on=_day(-6), ended_on=_day(13))
    promo = CampaignFactory(
        name="Year-end deal", kind="promotion", started_on=_day(3), ended_on=_day(24),
        offer="20% off the first year", offer_ends_on=_day(17),
    )  # fmt: skip
    CampaignFactory(name="Old", started_on=_day(-400), ended_on=_day(-300))  # outside the window
    CampaignFactory(name="Draft", status="draft", started_on=_day(-6), ended_on=_day(-5))
    made = _at(-6, 9)
    call = Task.objects.create(
        title="Call Ann back", owner=ray, due_at=_at(1, 10, 30, BERLIN), created_at=made
    )
    Task.objects.create(title="Done already", owner=ray, due_at=_at(2, 9), done_at=made, created_at=made)
    Task.objects.create(title="Sue's secret", owner=sue, due_at=_at(1, 9), created_at=made)
    return {"ray": ray, "sue": sue, "spring": spring, "promo": promo, "call": call}


def test_the_feed_holds_campaigns_offer_ends_and_only_the_users_own_open_tasks() -> None:
    # given campaigns, a promotion whose offer ends before it does, and tasks of Ray (one done) and of Sue
    w = _world()
    _, token = services.calendar_feed_create(user=w["ray"], by_user=w["ray"])
    # when a calendar app fetches Ray's feed, without a session
    response = Client().get(f"/calendar/{token}.ics", HTTP_USER_AGENT="Google-Calendar-Importer")
    # then it is iCalendar with exactly these events: all-day campaigns (end exclusive), the offer's last day,
    # and Ray's open task at its time in his zone; not Sue's task, the done one, the draft or the old campaign
    assert response.status_code == 200
    assert response["Content-Type"] == "text/calendar; charset=utf-8"
    spring, promo, call = w["spring"].pk, w["promo"].pk, w["call"].pk
    assert _events(response.content) == sorted([
        (f"campaign-{spring}@tandem.example.com", "Launch: Spring launch", _day(-6), _day(14)),
        (f"campaign-{promo}@tandem.example.com", "Promotion: Year-end deal", _day(3), _day(25)),
        (f"offer-{promo}@tandem.example.com", "Offer ends: 20% off the first year (Year-end deal)", _day(17), _day(18)),
        (f"task-{call}@tandem.example.com", "Task: Call Ann back", _at(1, 10, 30, BERLIN), _at(1, 10, 45, BERLIN)),
    ])  # fmt: skip
    assert b"Sue's secret" not in response.content
    # and all-day events are DATE values, timed ones carry the zone (with its VTIMEZONE), each has a DTSTAMP
    text = response.content.decode()
    assert f"DTSTART;VALUE=DATE:{_day(-6):%Y%m%d}" in text
    assert f"DTSTART;TZID=Europe/Berlin:{_day(1):%Y%m%d}T103000" in text
    cal = icalendar.Calendar.from_ical(response.content)
    assert [str(z["TZID"]) for z in cal.walk("VTIMEZONE")] == ["Europe/Berlin"]
    assert all(isinstance(e.decoded("DTSTAMP"), dt.datetime) for e in cal.walk("VEVENT"))


def test_uids_stay_the_same_when_a_record_changes() -> None:
    # given Ray's feed fetched once
    w = _world()
    _, token = services.calendar_feed_create(user=w["ray"])
    before = _events(Client().get(f"/calendar/{token}.ics").content)
    # when the task moves a day later
    w["call"].due_at += dt.timedelta(days=1)
    w["call"].save()
    after = _events(Client().get(f"/calendar/{token}.ics").content)
    # then the same UID carries the new time, so calendar apps update it rather than add a second one
    assert [u for u, *_ in before] == [u for u, *_ in after]
    task_uid = f"task-{w['call'].pk}@tandem.example.com"
    assert next(e for e in after if e[0] == task_uid)[2] == _at(2, 10, 30, BERLIN)


def test_a_revoked_or_replaced_address_answers_404_and_only_its_hash_is_kept() -> None:
    # given Ray's feed address
    w = _world()
    feed, token = services.calendar_feed_create(user=w["ray"], by_user=w["ray"])
    assert feed.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert not CalendarFeed.objects.filter(token_hash=token).exists()
    # when he makes a new one
    _, new_token = services.calendar_feed_create(user=w["ray"], by_user=w["ray"])
    # then the old one is gone and the new one works
    assert Client().get(f"/calendar/{token}.ics").status_code == 404
    assert Client().get(f"/calendar/{new_token}.ics").status_code == 200
    # when he revokes it
    assert services.calendar_feed_revoke(user=w["ray"], by_user=w["ray"]) == 1
    # then it answers 404 too, as does a made-up one
    assert Client().get(f"/calendar/{new_token}.ics").status_code == 404
    assert Client().get("/calendar/not-a-token.ics").status_code == 404
    assert [e.kind for e in Event.objects.filter(kind__startswith="calendar.").order_by("pk")] == [
        "calendar.feed_created",
        "calendar.feed_regenerated",
        "calendar.feed_revoked",
    ]
    # and an inactive user's feed answers 404
    _, token3 = services.calendar_feed_create(user=w["ray"])
    w["ray"].is_active = False
    w["ray"].save()
    assert Client().get(f"/calendar/{token3}.ics").status_code == 404


def test_the_page_shows_a_new_address_once_and_revokes_it(client: Any) -> None:
    # given a signed-in rep with no feed
    w = _world()
    client.force_login(w["ray"])
    assert b"Make my feed address" in client.get("/account/calendar/").content
    # when they make one
    made = client.post("/account/calendar/")
    # then the address is shown once, and works
    html = made.content.decode()
    start = html.index("https://tandem.example.com/calendar/")
    url = html[start : html.index('"', start)]
    assert made["Cache-Control"] == "private, no-store"
    assert url.startswith("https://tandem.example.com/calendar/") and url.endswith(".ics")
    path = url.removeprefix("https://tandem.example.com")
    assert Client().get(path).status_code == 200
    assert url not in client.get("/account/calendar/").content.decode()
    # when they revoke it, then the address answers 404
    assert client.post("/account/calendar/revoke/").status_code == 302
    assert Client().get(path).status_code == 404


def test_the_api_makes_reads_and_revokes_the_users_feed(client: Any) -> None:
    # given a signed-in rep with no feed
    w = _world()
    client.force_login(w["ray"])
    assert client.get("/api/calendar/feed").status_code == 404
    # when they make one
    made = client.post("/api/calendar/feed")
    # then the answer holds the address, the read does not
    assert made.status_code == 201
    url = made.json()["url"]
    read = client.get("/api/calendar/feed").json()
    assert read["prefix"] == made.json()["prefix"] and "url" not in read
    assert Client().get(url.removeprefix("https://tandem.example.com")).status_code == 200
    # when they revoke it, then it is gone; a second revoke is a 404
    assert client.delete("/api/calendar/feed").status_code == 204
    assert client.delete("/api/calendar/feed").status_code == 404
    assert Client().get(url.removeprefix("https://tandem.example.com")).status_code == 404


def test_the_sign_in_gate_lets_a_feed_through_for_a_user_who_owes_a_password_change(client: Any) -> None:
    # given a user whose admin forced a password change, signed in in this browser
    w = _world()
    _, token = services.calendar_feed_create(user=w["ray"])
    w["ray"].must_change_password = True
    w["ray"].save()
    client.force_login(w["ray"])
    # when the browser opens the feed address, and a page
    feed = client.get(f"/calendar/{token}.ics")
    page = client.get("/account/calendar/")
    # then the feed answers (the token is the authority), the page sends them to change the password
    assert feed.status_code == 200
    assert page.status_code == 302 and page["Location"].startswith("/account/password/")


def test_the_feed_costs_the_same_queries_whatever_the_number_of_events(
    django_assert_num_queries: Any,
) -> None:
    # given Ray's feed with a campaign, a promotion and one task, then twenty more tasks and campaigns
    w = _world()
    feed, token = services.calendar_feed_create(user=w["ray"])
    feed.last_fetched_at = timezone.now()  # fetched a moment ago: this fetch writes nothing
    feed.save()
    client = Client()
    # when it is fetched, then: the feed and its user, campaigns, their assets, the tasks
    with django_assert_num_queries(4):
        small = client.get(f"/calendar/{token}.ics")
    for i in range(20):
        Task.objects.create(title=f"Task {i}", owner=w["ray"], due_at=_at(3, 9), created_at=_at(-1, 9))
        CampaignFactory(name=f"Campaign {i}", started_on=_day(i), ended_on=_day(i + 1))
    with django_assert_num_queries(4):
        big = client.get(f"/calendar/{token}.ics")
    assert len(_events(big.content)) == len(_events(small.content)) + 40
