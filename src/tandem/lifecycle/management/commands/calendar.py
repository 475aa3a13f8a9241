"""`tandem calendar show|set|holidays`: the teams' business calendars (hours, time zone, public-holiday country, extra days)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from tandem.core.errors import NotFound, TandemError, ValidationFailed
from tandem.core.lazy import deferred
from tandem.lifecycle.holidays import PRESETS
from tandem.lifecycle.management.commands.definition import read_json_object
from tandem.users.models import Team

if TYPE_CHECKING:
    from tandem.lifecycle import selectors, services
    from tandem.lifecycle.selectors import TeamCalendarView
else:
    # Imported at first use, not for `--help`: they bring numpy, django-ninja and the CRM's validators.
    selectors = deferred("tandem.lifecycle.selectors")
    services = deferred("tandem.lifecycle.services")


def _team(name: str) -> TeamCalendarView:
    team = Team.objects.filter(name=name).first() or (Team.objects.filter(pk=int(name)).first() if name.isdigit() else None)
    if team is None:
        raise NotFound(f"no team named {name!r}", field="team", value=name)
    return selectors.team_calendar_view(team_id=team.pk)


def _years(text: str) -> range:
    first, _, last = text.partition("-")
    try:
        start, stop = int(first), int(last or first)
    except ValueError as exc:
        raise ValidationFailed("Years are YYYY or YYYY-YYYY.", field="years", value=text) from exc
    if stop < start:
        raise ValidationFailed("The last year must not be before the first.", field="years", value=text)
    return range(start, stop + 1)


class Command(BaseCommand):
    help = "Team calendars for the SLA: show them, set one from a JSON file, add public holidays."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
        show = sub.add_parser("show", help="every team's calendar (or one team's) in plain words")
        show.add_argument("team", nargs="?", default=None, help="team name or id")
        show.add_argument("--format", choices=("text", "json"), default="text")
        put = sub.add_parser("set", help="replace a team's calendar from FILE (JSON: time_zone, hours, holidays, country, subdivision)")
        put.add_argument("team", help="team name or id")
        put.add_argument("file", type=Path)
        put.add_argument("--reason", default="", help="why it changes (kept in the event)")
        holidays = sub.add_parser("holidays", help="set the country (and subdivision) whose public holidays a team skips")
        holidays.add_argument("team", help="team name or id")
        which = holidays.add_mutually_exclusive_group(required=True)
        which.add_argument("--country", help="ISO 3166-1 code, e.g. GB, US, DE ('' for none)")
        which.add_argument("--preset", choices=tuple(PRESETS), help="old names: us = US, england = GB + ENG")
        holidays.add_argument("--subdivision", default="", help="e.g. ENG for GB, BY for DE, CA for US")
        holidays.add_argument("--years", default=None, help="also list the holidays of YYYY or YYYY-YYYY")

    def handle(self, *args: Any, **opts: Any) -> None:
        try:
            getattr(self, "_" + opts["action"])(opts)
        except TandemError as exc:
            where = f" ({exc.field}={exc.value!r})" if getattr(exc, "field", None) else ""
            raise CommandError(f"{exc}{where}") from exc

    def _print(self, views: list[TeamCalendarView], fmt: str) -> None:
        if fmt == "json":
            self.stdout.write(json.dumps([v.to_dict() for v in views], indent=2))
            return
        for v in views:
            self.stdout.write(f"{v.team.name}{' (default hours)' if v.is_default else ''}")
            for line in v.sentences:
                self.stdout.write(f"  {line}")
            for day, name in v.holidays:
                self.stdout.write(f"  extra holiday {day.isoformat()} {name}".rstrip())

    def _show(self, opts: dict[str, Any]) -> None:
        self._print([_team(opts["team"])] if opts["team"] else selectors.team_calendar_views(), opts["format"])

    def _set(self, opts: dict[str, Any]) -> None:
        view = _team(opts["team"])
        data = read_json_object(opts["file"], what="A calendar")
        # The command line acts as the installation's administrator.
        services.team_calendar_set(
            team=view.team,
            time_zone=str(data.get("time_zone") or view.team.time_zone),
            hours=data.get("hours"),
            holidays=data.get("holidays") or [],
            by_user=None,
            reason=opts["reason"],
            # No "country" key keeps the team's country; "" removes it.
            country=None if "country" not in data else str(data.get("country") or ""),
            subdivision=None if "subdivision" not in data else str(data.get("subdivision") or ""),
        )
        self._print([selectors.team_calendar_view(team_id=view.team.pk)], "text")

    def _holidays(self, opts: dict[str, Any]) -> None:
        view = _team(opts["team"])
        years = _years(opts["years"]) if opts["years"] else None
        if opts["preset"]:
            services.team_calendar_add_holidays(team=view.team, preset=opts["preset"], by_user=None)
        else:
            services.team_calendar_set_country(team=view.team, country=opts["country"], subdivision=opts["subdivision"], by_user=None)
        after = selectors.team_calendar_view(team_id=view.team.pk)
        self._print([after], "text")
        for day, name in after.public_holidays(years) if years else []:
            self.stdout.write(f"  public holiday {day.isoformat()} {name}")
