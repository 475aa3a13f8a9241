"""Team calendars: stored per team, edited by admins (page, API, CLI), and used by the SLA for the owner's team."""

from __future__ import annotations

import datetime as dt
import io
import json
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.test import Client

from tandem.core.errors import NotAllowed, ValidationFailed
from tandem.core.models import Event
from tandem.crm.models import Person
from tandem.crm.services import person_change_stage
from tandem.demo.lifecycle import demo_calendars_set
from tandem.lifecycle.business_hours import (
    add_business_minutes,
    business_minutes_between,
    holidays_parse,
    shifts_parse,
)
from tandem.lifecycle.selectors import inbox_page
from tandem.lifecycle.services import (
    DEFAULT_CALENDAR,
    calendar_for_team,
    sla_breaches_detect,
    sla_policy_publish,
    team_calendar_add_holidays,
    team_calendar_set,
    team_calendars,
)
from tandem.users.models import Role, Team
from tests.crm.factories import PersonFactory
from tests.users.factories import TeamFactory, UserFactory

pytestmark = pytest.mark.django_db

UTC = dt.UTC
NINE_TO_FIVE = {day: [["09:00", "17:00"]] for day in ("mon", "tue", "wed", "thu", "fri")}


def _new_york(admin: Any) -> Team:
    # New York, 09:00–17:00 Monday to Friday, closed on Thanksgiving (Thursday 2026-11-26) and the day after.
    team = TeamFactory(name="Americas")
    return team_calendar_set(
        team=team,
        time_zone="America/New_York",
        hours=NINE_TO_FIVE,
        holidays=[{"date": "2026-11-26", "name": "Thanksgiving Day"}, "2026-11-27"],
        by_user=admin,
        reason="US office",
    )


def test_business_hours_use_the_teams_calendar_across_weekends_holidays_and_time_zones() -> None:
    # given an admin who sets New York's calendar with the Thanksgiving holidays
    admin = UserFactory(role=Role.ADMIN)
    team = _new_york(admin)
    calendar = calendar_for_team(team_calendars(), team.pk)
    # when 4 business hours are added from Wednesday 2026-11-25 15:00 New York (20:00 UTC, EST = UTC-5)
    due = add_business_minutes(dt.datetime(2026, 11, 25, 20, 0, tzinfo=UTC), 240, calendar)
    # then 2 hours on Wednesday, Thursday and Friday are holidays, the weekend is closed: Monday 11:00 NY
    assert due == dt.datetime(2026, 11, 30, 16, 0, tzinfo=UTC)
    # and from Friday 16:00 NY before a normal weekend, 2 business hours end on Monday at 10:00 NY
    friday = dt.datetime(2026, 11, 20, 21, 0, tzinfo=UTC)
    assert add_business_minutes(friday, 120, calendar) == dt.datetime(2026, 11, 23, 15, 0, tzinfo=UTC)
    # and the business minutes between them count only open hours: Friday 60, Monday 8 h, Tuesday 8 h,
    # Wednesday 8 h up to the holidays, then Monday 2 h = 60 + 1440 + 120
    assert business_minutes_between(friday, due, calendar) == 60 + 3 * 480 + 120
    # and the same instant in a team without a calendar counts in UTC, Monday–Friday 09:00–17:00
    assert calendar_for_team(team_calendars(), None) == DEFAULT_CALENDAR
    assert add_business_minutes(dt.datetime(2026, 11, 25, 16, 0, tzinfo=UTC), 120, DEFAULT_CALENDAR) == dt.datetime(
        2026, 11, 26, 10, 0, tzinfo=UTC
    )


def test_a_team_without_hours_works_nine_to_five_in_its_own_time_zone() -> None:
    # given a Tokyo team whose calendar was never edited
    team = TeamFactory(name="Tokyo", time_zone="Asia/Tokyo")
    # when its calendar is read
    calendar = calendar_for_team(team_calendars(), team.pk)
    # then it is Monday–Friday 09:00–17:00 Tokyo time without holidays: Friday 16:00 JST + 2 h = Monday 10:00 JST
    assert (calendar.time_zone, calendar.holidays) == ("Asia/Tokyo", frozenset())
    friday = dt.datetime(2026, 6, 19, 7, 0, tzinfo=UTC)
    assert add_business_minutes(friday, 120, calendar) == dt.datetime(2026, 6, 22, 1, 0, tzinfo=UTC)


def test_the_breach_is_detected_at_the_exact_minute_in_the_owners_team_calendar() -> None:
    # given a 4-hour SLA, a New York rep and an MQL handed over Wednesday 2026-11-25 at 15:00 New York
    admin = UserFactory(role=Role.ADMIN)
    rep = UserFactory(role=Role.SALES_REP, team=_new_york(admin))
    sla_policy_publish(spec={"first_touch_hours": 4}, reason="Standard", by_user=admin)
    person = PersonFactory(first_name="Lee", last_name="Buyer")
    person_change_stage(person=person, to_stage="mql", at=dt.datetime(2026, 11, 25, 20, 0, tzinfo=UTC))
    Person.objects.filter(pk=person.pk).update(owner=rep)
    deadline = dt.datetime(2026, 11, 30, 16, 0, tzinfo=UTC)  # Monday 11:00 New York, past the holidays
    # when the check runs over the holidays, a minute before the deadline and at it
    holiday = sla_breaches_detect(now=dt.datetime(2026, 11, 27, 20, 0, tzinfo=UTC))
    early = sla_breaches_detect(now=deadline - dt.timedelta(minutes=1))
    on_time = sla_breaches_detect(now=deadline)
    # then only the check at the deadline records the breach, dated at the deadline
    assert (holiday, early, on_time) == ([], [], [person.pk])
    assert Event.objects.get(kind="sla.first_touch_breached").occurred_at == deadline
    # and the rep's inbox shows the same deadline
    assert [i.deadline for i in inbox_page(user=rep, now=deadline).items] == [deadline]


def test_setting_a_calendar_is_recorded_and_bad_input_or_non_admins_change_nothing() -> None:
    # given a team with a calendar set by an admin
    admin, rep = UserFactory(role=Role.ADMIN), UserFactory(role=Role.SALES_REP)
    team = _new_york(admin)
    stored = Team.objects.get(pk=team.pk).calendar
    # when a bad time zone, an overlapping shift, a bad holiday and a rep's change are tried
    attempts = [
        dict(time_zone="Mars/Olympus", hours=None, holidays=[], by_user=admin),
        dict(time_zone="UTC", hours={"mon": [["09:00", "13:00"], ["12:00", "17:00"]]}, holidays=[], by_user=admin),
        dict(time_zone="UTC", hours=None, holidays=["2026-13-01"], by_user=admin),
    ]
    fields = []
    for attempt in attempts:
        with pytest.raises(ValidationFailed) as caught:
            team_calendar_set(team=Team.objects.get(pk=team.pk), **attempt)
        fields.append(caught.value.field)
    with pytest.raises(NotAllowed):
        team_calendar_set(team=Team.objects.get(pk=team.pk), time_zone="UTC", hours=None, holidays=[], by_user=rep)
    # then each names its field and the calendar is unchanged; the one good change is an event with who and why
    assert fields == ["time_zone", "hours.mon", "holidays"]
    after = Team.objects.get(pk=team.pk)
    assert (after.time_zone, after.calendar) == ("America/New_York", stored)
    assert stored == {
        "hours": {**NINE_TO_FIVE, "sat": [], "sun": []},
        "holidays": [{"date": "2026-11-26", "name": "Thanksgiving Day"}, {"date": "2026-11-27", "name": ""}],
    }
    event = Event.objects.get(kind="team.calendar_changed")
    assert (event.actor_id, event.reason, event.data["to"]["time_zone"]) == (admin.pk, "US office", "America/New_York")


def test_an_old_preset_sets_the_holiday_country_and_keeps_the_teams_own_days() -> None:
    # given a London team with one holiday of its own
    admin = UserFactory(role=Role.ADMIN)
    team = TeamFactory(name="London", time_zone="Europe/London")
    team_calendar_set(team=team, time_zone="Europe/London", hours=None, holidays=["2026-07-10 Office party"], by_user=admin)
    # when the old 'england' preset is applied twice
    team_calendar_add_holidays(team=team, preset="england", years=range(2026, 2027), by_user=admin)
    team_calendar_add_holidays(team=team, preset="england", by_user=admin)
    # then the team skips GB-ENG's bank holidays, keeps its party as its one extra day and the default hours
    stored = Team.objects.get(pk=team.pk).calendar
    assert stored == {"holidays": [{"date": "2026-07-10", "name": "Office party"}], "country": "GB", "subdivision": "ENG"}
    calendar = team_calendars()[team.pk]
    assert [calendar.is_holiday(dt.date(2026, m, d)) for m, d in ((4, 3), (5, 4), (7, 10), (7, 9))] == [True, True, True, False]


def test_form_text_is_parsed_into_shifts_and_holidays_naming_bad_lines() -> None:
    # given form text for a split day, a closed day, holidays and mistakes
    # when parsed
    split, closed = shifts_parse("09:00-12:00, 13:00 – 17:30", day="mon"), shifts_parse("  ", day="sat")
    holidays = holidays_parse("2026-12-25 Christmas Day\n\n2026-12-26")
    with pytest.raises(ValidationFailed) as bad_shift:
        shifts_parse("9 to 5", day="tue")
    with pytest.raises(ValidationFailed) as bad_day:
        holidays_parse("2026-12-24\nChristmas 2026-12-25")
    # then the shifts and holidays are read and the mistakes are named with their field (and line)
    assert (split, closed) == ([["09:00", "12:00"], ["13:00", "17:30"]], [])
    assert holidays == [{"date": "2026-12-25", "name": "Christmas Day"}, {"date": "2026-12-26", "name": ""}]
    assert (bad_shift.value.field, bad_shift.value.value) == ("hours.tue", "9 to 5")
    assert bad_day.value.field == "holidays" and "Line 2" in bad_day.value.message


def test_an_admin_edits_a_calendar_on_the_page_and_others_only_read() -> None:
    # given a team, an admin and a rep
    team = TeamFactory(name="EMEA", time_zone="Europe/Berlin")
    admin, rep = Client(), Client()
    admin.force_login(UserFactory(role=Role.ADMIN))
    rep.force_login(UserFactory(role=Role.SALES_REP))
    form = {
        "action": "save", "time_zone": "Europe/London", "hours_mon": "09:00-12:30, 13:30-17:30",
        "hours_tue": "09:00-17:00", "hours_wed": "", "hours_thu": "", "hours_fri": "09:00-16:00", "hours_sat": "",
        "hours_sun": "", "holidays": "2026-12-25 Christmas Day", "reason": "London office",
    }
    # when the admin saves a bad shift, then the good form; the rep opens the list and tries to edit
    bad = admin.post(f"/sla/calendars/{team.pk}/", {**form, "hours_tue": "9-5"})
    unchanged = Team.objects.get(pk=team.pk).calendar
    good = admin.post(f"/sla/calendars/{team.pk}/", form)
    listing = rep.get("/sla/calendars/")
    refused = rep.post(f"/sla/calendars/{team.pk}/", form)
    missing = admin.get("/sla/calendars/999999/")
    # then the bad shift is refused naming the field and nothing changed; the good one is stored
    assert bad.status_code == 422 and "hours.tue" in bad.content.decode() and unchanged == {}
    assert good.status_code == 302
    saved = Team.objects.get(pk=team.pk)
    assert saved.time_zone == "Europe/London"
    assert saved.calendar["hours"]["mon"] == [["09:00", "12:30"], ["13:30", "17:30"]]
    assert saved.calendar["hours"]["wed"] == []
    # and everyone reads it in plain words; only admins edit
    body = listing.content.decode()
    assert listing.status_code == 200 and "Monday: 09:00–12:30 and 13:30–17:30" in body and "Wednesday: closed" in body
    assert "2026-12-25 Christmas Day" in body or "Christmas Day" in body
    assert f"/sla/calendars/{team.pk}/" not in body
    assert (refused.status_code, missing.status_code) == (403, 404)


def test_the_api_reads_and_replaces_calendars_for_admins_only() -> None:
    # given a team, an admin and a rep, each signed in
    team = TeamFactory(name="Americas", time_zone="UTC")
    admin, rep = Client(), Client()
    admin.force_login(UserFactory(role=Role.ADMIN))
    rep.force_login(UserFactory(role=Role.SALES_REP))
    body = {"time_zone": "America/Chicago", "hours": NINE_TO_FIVE, "holidays": [{"date": "2026-07-03", "name": "Independence Day (observed)"}], "reason": "Chicago"}
    url = f"/api/teams/{team.pk}/calendar"
    # when the rep tries, the admin sends a bad zone, then a good calendar, then adds US holidays
    refused = rep.put(url, json.dumps(body), content_type="application/json")
    bad = admin.put(url, json.dumps({**body, "time_zone": "Chicago"}), content_type="application/json")
    good = admin.put(url, json.dumps(body), content_type="application/json")
    presets = admin.post(f"{url}/holidays", json.dumps({"preset": "us", "year_from": 2026, "year_to": 2026}), content_type="application/json")
    closed = rep.get(f"{url}/holidays?year_from=2026&year_to=2026")
    listing = rep.get("/api/teams/calendars")
    # then the rep is refused and the bad zone named, with nothing changed in between
    assert refused.status_code == 403
    assert bad.status_code == 422 and bad.json()["field"] == "time_zone"
    # and the good one is stored and read back; the old preset sets country US and keeps 3 July as an extra day
    assert good.status_code == 200 and good.json()["time_zone"] == "America/Chicago"
    assert good.json()["hours"]["sat"] == [] and good.json()["default_hours"] is False
    assert presets.status_code == 200 and (presets.json()["country"], len(presets.json()["holidays"])) == ("US", 1)
    # (the package lists Saturday 4 July and Friday 3 July observed: 12 entries for 11 holidays)
    assert closed.status_code == 200 and len(closed.json()["public"]) == 12
    assert closed.json()["extra"] == [{"date": "2026-07-03", "name": "Independence Day (observed)"}]
    assert listing.json()["calendars"][0]["team"] == "Americas"


def test_the_command_line_shows_sets_and_fills_calendars(tmp_path: Path) -> None:
    # given a team and a calendar file
    TeamFactory(name="EMEA", time_zone="UTC")
    file = tmp_path / "emea.json"
    file.write_text(json.dumps({"time_zone": "Europe/Paris", "hours": {"mon": [["08:00", "16:00"]]}, "holidays": ["2026-07-14"]}))
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"time_zone": "Europe/Paris", "hours": {"monday": [["08:00", "16:00"]]}}))
    out = io.StringIO()
    # when it is set, filled with bank holidays and shown; a bad file is refused
    call_command("calendar", "set", "EMEA", str(file), "--reason", "Paris office", stdout=io.StringIO())
    call_command("calendar", "holidays", "EMEA", "--preset", "england", "--years", "2026", stdout=io.StringIO())
    call_command("calendar", "show", "EMEA", stdout=out)
    with pytest.raises(CommandError) as caught:
        call_command("calendar", "set", "EMEA", str(bad))
    # then the calendar reads in plain words with its holidays; the refusal names the field
    text = out.getvalue()
    assert "Times are in Europe/Paris." in text and "Monday: 08:00–16:00" in text and "Tuesday: closed" in text
    assert "extra holiday 2026-07-14" in text and "Public holidays of GB-ENG are closed all day." in text
    assert "hours" in str(caught.value) and "monday" in str(caught.value)


def test_the_demo_teams_get_their_calendars() -> None:
    # given the demo's teams
    for name, zone in (("Sales Americas", "America/New_York"), ("Sales EMEA", "Europe/Berlin"), ("Marketing", "Europe/London")):
        TeamFactory(name=name, time_zone=zone)
    # when the demo calendars are set for 2026
    count = demo_calendars_set(years=range(2026, 2027), by_user=UserFactory(role=Role.ADMIN))
    # then Americas works 08:30–17:30 New York time with the US holidays and EMEA has a London lunch break
    calendars = {t.name: t for t in Team.objects.all()}
    americas, emea = calendars["Sales Americas"], calendars["Sales EMEA"]
    assert count == 3
    assert (americas.time_zone, americas.calendar["hours"]["fri"], americas.calendar["country"], americas.calendar["holidays"]) == (
        "America/New_York", [["08:30", "17:30"]], "US", [],
    )
    assert (emea.time_zone, emea.calendar["hours"]["mon"], emea.calendar["country"], emea.calendar["subdivision"]) == (
        "Europe/London", [["09:00", "12:30"], ["13:30", "17:30"]], "GB", "ENG",
    )
