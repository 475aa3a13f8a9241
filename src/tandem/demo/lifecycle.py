"""Demo data for the hand-off: the demo teams' business calendars (hours, time zones, public holidays)."""

from __future__ import annotations

from typing import Any

from tandem.lifecycle.services import team_calendar_set
from tandem.users.models import Team

WEEKDAYS_ONLY = ("mon", "tue", "wed", "thu", "fri")
# Team name → (time zone, weekday shifts, holiday country, subdivision). Americas works 08:30–17:30 New York time
# with US federal holidays; EMEA keeps a lunch break in London with the bank holidays of England (GB-ENG).
DEMO_CALENDARS: dict[str, tuple[str, list[list[str]], str, str]] = {
    "Sales Americas": ("America/New_York", [["08:30", "17:30"]], "US", ""),
    "Sales EMEA": ("Europe/London", [["09:00", "12:30"], ["13:30", "17:30"]], "GB", "ENG"),
    "Marketing": ("Europe/London", [["09:00", "17:30"]], "GB", "ENG"),
}


def demo_calendars_set(*, years: range, by_user: Any = None) -> int:
    """Give the demo teams their calendars and public-holiday countries (every year, so `years` is unused); returns how many."""
    done = 0
    for team in Team.objects.filter(name__in=DEMO_CALENDARS).order_by("name"):
        zone, shifts, country, subdivision = DEMO_CALENDARS[team.name]
        hours = {day: shifts for day in WEEKDAYS_ONLY}
        team_calendar_set(
            team=team,
            time_zone=zone,
            hours=hours,
            holidays=[],
            by_user=by_user,
            reason="Demo calendar",
            country=country,
            subdivision=subdivision,
        )
        done += 1
    return done
