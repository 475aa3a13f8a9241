"""Public holidays from the `holidays` package: pinned official dates, subdivisions, validation, SLA clock, CLI, API, migration."""

from __future__ import annotations

import datetime as dt
import importlib
import io
import json
import subprocess
import sys
from typing import Any

import numpy as np
import pytest
from django.apps import apps
from django.core.management import CommandError, call_command
from django.test import Client

from tandem.core.errors import ValidationFailed
from tandem.core.models import Event
from tandem.lifecycle.business_hours import (
    BusinessCalendar,
    BusinessTimeline,
    add_business_minutes,
    business_minutes_between,
)
from tandem.lifecycle.holidays import country_validate, public_holidays
from tandem.lifecycle.services import team_calendar_set, team_calendar_set_country, team_calendars
from tandem.users.models import Role, Team
from tests.users.factories import TeamFactory, UserFactory

UTC = dt.UTC


def _days(country: str, subdivision: str, year: int) -> list[str]:
    return [d.isoformat() for d, _ in public_holidays(country, subdivision, range(year, year + 1))]


def test_england_bank_holidays_2020_have_ve_day_on_8_may() -> None:
    # given England (GB-ENG) in 2020, when the early May bank holiday moved to Friday 8 May for VE Day
    # when its bank holidays are asked for
    days = _days("GB", "ENG", 2020)
    # then they are gov.uk's list (Boxing Day on a Saturday observed on Monday 28 December), without 4 May
    assert days == [
        "2020-01-01", "2020-04-10", "2020-04-13", "2020-05-08", "2020-05-25", "2020-08-31", "2020-12-25",
        "2020-12-26", "2020-12-28",
    ]
    assert "2020-05-04" not in days


def test_england_bank_holidays_2022_have_the_jubilee_and_the_state_funeral() -> None:
    # given England in 2022: spring bank holiday on 2 June, the Platinum Jubilee on 3 June, the state funeral on 19 September
    # when its bank holidays are asked for
    found = public_holidays("GB", "ENG", range(2022, 2023))
    days = [d.isoformat() for d, _ in found]
    # then they are gov.uk's list (weekend New Year's Day and Christmas observed on 3 January and 27 December), not 30 May
    assert days == [
        "2022-01-01", "2022-01-03", "2022-04-15", "2022-04-18", "2022-05-02", "2022-06-02", "2022-06-03", "2022-08-29",
        "2022-09-19", "2022-12-25", "2022-12-26", "2022-12-27",
    ]
    assert "2022-05-30" not in days
    assert dict(found)[dt.date(2022, 9, 19)] == "State Funeral of Queen Elizabeth II"


def test_juneteenth_is_a_us_holiday_from_2021_only() -> None:
    # given the US, where Juneteenth became a federal holiday on 17 June 2021
    # when the June holidays of 2020 and 2021 are asked for
    june = [(d.isoformat(), n) for d, n in public_holidays("US", "", range(2020, 2022)) if d.month == 6]
    # then 2020 has none and 2021 has Saturday 19 June, observed on Friday 18 June
    assert june == [
        ("2021-06-18", "Juneteenth National Independence Day (observed)"),
        ("2021-06-19", "Juneteenth National Independence Day"),
    ]


def test_a_subdivision_adds_its_own_holidays() -> None:
    # given Germany as a whole and Bavaria (DE-BY)
    # when the 2024 holidays are asked for
    germany, bavaria = _days("DE", "", 2024), _days("DE", "BY", 2024)
    # then Bavaria adds Epiphany, Corpus Christi and All Saints' Day to the national nine
    assert sorted(set(bavaria) - set(germany)) == ["2024-01-06", "2024-05-30", "2024-11-01"]
    assert len(germany) == 9


def test_codes_are_normalised_and_unknown_ones_named_by_field() -> None:
    # given codes in lower case, an unknown country, an unknown subdivision and a subdivision without a country
    # when they are validated
    ok = country_validate(" gb ", "eng")
    refused = []
    for country, sub in (("XX", ""), ("GB", "BY"), ("", "ENG")):
        with pytest.raises(ValidationFailed) as caught:
            country_validate(country, sub)
        refused.append((caught.value.field, caught.value.value))
    # then the good ones are upper-cased and each refusal names its field and value
    assert ok == ("GB", "ENG")
    assert refused == [("country", "XX"), ("subdivision", "BY"), ("subdivision", "ENG")]


def test_the_sla_clock_skips_the_jubilee_weekend() -> None:
    # given a London 09:00–17:00 calendar with England's holidays and one extra day of the team's own (Monday 6 June 2022)
    calendar = BusinessCalendar(time_zone="Europe/London", holidays=frozenset({dt.date(2022, 6, 6)}), country="GB", subdivision="ENG")
    start = dt.datetime(2022, 6, 1, 15, 0, tzinfo=UTC)  # Wednesday 16:00 in London (BST)
    # when 2 business hours are added, scalar and vectorised
    deadline = add_business_minutes(start, 120, calendar)
    timeline = BusinessTimeline.build(calendar, start, dt.datetime(2022, 6, 30, tzinfo=UTC))
    vectorised = timeline.add_minutes(np.array([start.timestamp()]), 120.0)
    # then Thursday 2 and Friday 3 June, the weekend and the extra Monday are skipped: Tuesday 7 June 10:00 London
    assert deadline == dt.datetime(2022, 6, 7, 9, 0, tzinfo=UTC)
    assert vectorised.tolist() == [deadline.timestamp()]
    assert business_minutes_between(start, deadline, calendar) == 120.0


@pytest.mark.django_db
def test_a_team_sets_its_country_and_bad_codes_change_nothing(django_assert_num_queries: Any) -> None:
    # given a team in Munich with a day of its own
    admin = UserFactory(role=Role.ADMIN)
    team = TeamFactory(name="Munich", time_zone="Europe/Berlin")
    team_calendar_set(team=team, time_zone="Europe/Berlin", hours=None, holidays=["2024-07-01 Summer party"], by_user=admin)
    events = Event.objects.filter(kind="team.calendar_changed").count()
    # when an unknown country and an unknown subdivision are tried, then Bavaria is set
    refused = []
    for country, sub in (("ZZ", ""), ("DE", "ENG")):
        with pytest.raises(ValidationFailed) as caught:
            team_calendar_set_country(team=Team.objects.get(pk=team.pk), country=country, subdivision=sub, by_user=admin)
        refused.append((caught.value.field, caught.value.value))
    unchanged = (Team.objects.get(pk=team.pk).calendar, Event.objects.filter(kind="team.calendar_changed").count())
    team_calendar_set_country(team=Team.objects.get(pk=team.pk), country="de", subdivision="by", by_user=admin)
    with django_assert_num_queries(1):
        calendar = team_calendars()[team.pk]
    # then the refusals name field and value and changed nothing; the calendar skips Bavaria's days and the party
    assert refused == [("country", "ZZ"), ("subdivision", "ENG")]
    assert unchanged == ({"holidays": [{"date": "2024-07-01", "name": "Summer party"}]}, events)
    assert (calendar.country, calendar.subdivision) == ("DE", "BY")
    assert [calendar.is_holiday(dt.date(2024, m, d)) for m, d in ((1, 6), (7, 1), (7, 2))] == [True, True, False]
    last = Event.objects.filter(kind="team.calendar_changed").order_by("-id").first()
    assert last is not None and last.data["to"]["calendar"]["country"] == "DE"


@pytest.mark.django_db
def test_the_command_line_sets_a_country_and_lists_its_holidays() -> None:
    # given a team
    TeamFactory(name="Munich", time_zone="Europe/Berlin")
    out = io.StringIO()
    # when Bavaria is set with the 2024 list; then an unknown subdivision is tried
    call_command("calendar", "holidays", "Munich", "--country", "DE", "--subdivision", "BY", "--years", "2024", stdout=out)
    with pytest.raises(CommandError) as caught:
        call_command("calendar", "holidays", "Munich", "--country", "DE", "--subdivision", "XX", stdout=io.StringIO())
    # then the list shows Bavaria's days and the refusal names the field and value, leaving Bavaria in place
    text = out.getvalue()
    assert "Public holidays of DE-BY are closed all day." in text and "public holiday 2024-01-06 Epiphany" in text
    assert "subdivision='XX'" in str(caught.value)
    assert Team.objects.get(name="Munich").calendar["subdivision"] == "BY"


@pytest.mark.django_db
def test_the_api_sets_a_country_and_refuses_unknown_codes_with_422() -> None:
    # given a team and an admin
    team = TeamFactory(name="Bay Area", time_zone="America/Los_Angeles")
    admin = Client()
    admin.force_login(UserFactory(role=Role.ADMIN))
    url = f"/api/teams/{team.pk}/calendar"
    # when an unknown country, then an unknown subdivision, then California are sent, and 2024's days are read
    bad_country = admin.post(f"{url}/holidays", json.dumps({"country": "XY"}), content_type="application/json")
    bad_put = admin.put(url, json.dumps({"time_zone": "America/Los_Angeles", "country": "US", "subdivision": "ZZ"}), content_type="application/json")
    unchanged = Team.objects.get(pk=team.pk).calendar
    good = admin.post(f"{url}/holidays", json.dumps({"country": "US", "subdivision": "CA"}), content_type="application/json")
    listed = admin.get(f"{url}/holidays?year_from=2024&year_to=2024")
    # then the refusals are 422 naming field and value with nothing stored; California adds Cesar Chavez Day (31 March)
    assert (bad_country.status_code, bad_country.json()["field"], bad_country.json()["value"]) == (422, "country", "XY")
    assert (bad_put.status_code, bad_put.json()["field"], bad_put.json()["value"]) == (422, "subdivision", "ZZ")
    assert unchanged == {}
    assert good.status_code == 200 and (good.json()["country"], good.json()["subdivision"]) == ("US", "CA")
    public = {h["date"]: h["name"] for h in listed.json()["public"]}
    assert public["2024-04-01"] == "Cesar Chavez Day (observed)" and "2024-06-19" in public


@pytest.mark.django_db
def test_the_migration_turns_old_preset_dates_into_a_country() -> None:
    # given teams filled by the old presets (names only they wrote) and one with hand-made days only
    england = TeamFactory(name="London", calendar={"holidays": [
        {"date": "2026-05-04", "name": "Early May bank holiday"}, {"date": "2026-07-10", "name": "Office party"},
    ]})
    us = TeamFactory(name="NY", calendar={"holidays": [{"date": "2026-01-19", "name": "Martin Luther King Jr. Day"}], "hours": {}})
    own = TeamFactory(name="Own", calendar={"holidays": [{"date": "2026-12-24", "name": "Christmas Eve"}]})
    migration = importlib.import_module("tandem.lifecycle.migrations.0010_holiday_country")
    # when the data migration runs
    migration.country_from_presets(apps, None)
    # then preset teams get their country and keep only their own days; the other team is untouched
    assert Team.objects.get(pk=england.pk).calendar == {
        "holidays": [{"date": "2026-07-10", "name": "Office party"}], "country": "GB", "subdivision": "ENG",
    }
    assert Team.objects.get(pk=us.pk).calendar == {"holidays": [], "hours": {}, "country": "US", "subdivision": ""}
    assert Team.objects.get(pk=own.pk).calendar == {"holidays": [{"date": "2026-12-24", "name": "Christmas Eve"}]}


def test_the_holidays_package_is_not_imported_until_used() -> None:
    # given a fresh interpreter
    # when the business-hours and holiday modules are imported
    code = "import sys, tandem.lifecycle.business_hours, tandem.lifecycle.holidays; print('holidays' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    # then the slow `holidays` package is not loaded yet
    assert result.stdout.strip() == "False"
