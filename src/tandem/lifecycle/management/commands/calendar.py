"""`tandem calendar show|set|holidays`: the teams' business calendars (hours, time zone, holidays) the SLA counts in."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from tandem.core.errors import NotFound, TandemError, ValidationFailed
from tandem.lifecycle.holidays import PRESETS
from tandem.lifecycle.management.commands.definition import read_json_object
from tandem.lifecycle.selectors import TeamCalendarView, team_calendar_view, team_calendar_views
from tandem.lifecycle.services import team_calendar_add_holidays, team_calendar_set
from tandem.users.models import Team


def _team(name: str) -> TeamCalendarView:
    team = Team.objects.filter(name=name).first() or (Team.objects.filter(pk=int(name)).first() if name.isdigit() else None)
    if team is None:
        raise NotFound(f"no team named {name!r}", field="team", value=name)
    return team_calendar_view(team_id=team.pk)


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
        put = sub.add_parser("set", help="replace a team's calendar from FILE (JSON: time_zone, hours, holidays)")
        put.add_argument("team", help="team name or id")
        put.add_argument("file", type=Path)
        put.add_argument("--reason", default="", help="why it changes (kept in the event)")
        holidays = sub.add_parser("holidays", help="add public holidays of a preset to a team's calendar")
        holidays.add_argument("team", help="team name or id")
        holidays.add_argument("--preset", choices=tuple(PRESETS), required=True)
        holidays.add_argument("--years", required=True, help="YYYY or YYYY-YYYY")

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
                self.stdout.write(f"  holiday {day.isoformat()} {name}".rstrip())

    def _show(self, opts: dict[str, Any]) -> None:
        self._print([_team(opts["team"])] if opts["team"] else team_calendar_views(), opts["format"])

    def _set(self, opts: dict[str, Any]) -> None:
        view = _team(opts["team"])
        data = read_json_object(opts["file"], what="A calendar")
        # The command line acts as the installation's administrator.
        team_calendar_set(
            team=view.team,
            time_zone=str(data.get("time_zone") or view.team.time_zone),
            hours=data.get("hours"),
            holidays=data.get("holidays") or [],
            by_user=None,
            reason=opts["reason"],
        )
        self._print([team_calendar_view(team_id=view.team.pk)], "text")

    def _holidays(self, opts: dict[str, Any]) -> None:
        view = _team(opts["team"])
        team_calendar_add_holidays(team=view.team, preset=opts["preset"], years=_years(opts["years"]), by_user=None)
        self._print([team_calendar_view(team_id=view.team.pk)], "text")
