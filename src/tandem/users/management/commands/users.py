"""`tandem users ...`: create users with a role, change roles, list them, and manage API tokens."""

from __future__ import annotations

import getpass
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from tandem.core.errors import TandemError
from tandem.users.models import ApiToken, Role, Team, User
from tandem.users.services import (
    api_token_create,
    api_token_revoke,
    signin_unlock,
    team_set_rep_access,
    totp_device_remove,
    user_create,
    user_force_password_reset,
    user_set_role,
)


class Command(BaseCommand):
    help = (
        "Manage users, roles and API tokens (create, role, list, token, revoke-token) and sign-in "
        "(unlock, force-reset, two-factor-remove), and each team's record access (team-access)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        create = sub.add_parser("create", help="create a user with a role")
        create.add_argument("username")
        create.add_argument("--role", required=True, choices=Role.values)
        create.add_argument("--email", default="")
        create.add_argument("--first-name", default="")
        create.add_argument("--last-name", default="")
        create.add_argument("--password", help="read from the terminal when omitted")
        role = sub.add_parser("role", help="change a user's role")
        role.add_argument("username")
        role.add_argument("role", choices=Role.values)
        sub.add_parser("list", help="list users and their roles")
        token = sub.add_parser("token", help="create a personal API token (printed once)")
        token.add_argument("username")
        token.add_argument("--name", default="cli")
        revoke = sub.add_parser("revoke-token", help="revoke an API token by its prefix")
        revoke.add_argument("prefix")
        unlock = sub.add_parser("unlock", help="let a locked account (USERNAME) or address (--ip ADDR) sign in again")
        unlock.add_argument("username", nargs="?", default="")
        unlock.add_argument("--ip", default="", help="unlock this client address instead of an account")
        unlock.add_argument("--reason", default="", help="why, for the audit log")
        force = sub.add_parser("force-reset", help="make a user change their password before using Tandem again")
        force.add_argument("username")
        access = sub.add_parser(
            "team-access", help="how far a team's reps reach: own, team_view (see the team's), team_change"
        )
        access.add_argument("team", help="the team's name")
        access.add_argument("setting", choices=["own", "team_view", "team_change"])
        two_factor = sub.add_parser("two-factor-remove", help="remove a user's TOTP device (a lost phone)")
        two_factor.add_argument("username")

    def _user(self, username: str) -> User:
        try:
            return User.objects.get(username=username)
        except User.DoesNotExist:
            raise CommandError(f"no user named {username!r}") from None

    def handle(self, *args: Any, **opts: Any) -> None:
        try:
            getattr(self, "_" + opts["action"].replace("-", "_"))(opts)
        except TandemError as exc:
            raise CommandError(exc.message) from exc

    def _create(self, opts: dict[str, Any]) -> None:
        password = opts["password"] or getpass.getpass(f"Password for {opts['username']}: ")
        user = user_create(
            username=opts["username"],
            password=password,
            role=opts["role"],
            email=opts["email"],
            first_name=opts["first_name"],
            last_name=opts["last_name"],
        )
        self.stdout.write(f"created {user.username} ({user.get_role_display()})")

    def _role(self, opts: dict[str, Any]) -> None:
        user = user_set_role(user=self._user(opts["username"]), role=opts["role"])
        self.stdout.write(f"{user.username} is now {user.get_role_display()}")

    def _list(self, opts: dict[str, Any]) -> None:
        for user in User.objects.select_related("team").order_by("username"):
            team = user.team.name if user.team else "-"
            active = "" if user.is_active else " (inactive)"
            self.stdout.write(f"{user.username:<20} {user.get_role_display():<14} {team}{active}")

    def _token(self, opts: dict[str, Any]) -> None:
        _, token = api_token_create(user=self._user(opts["username"]), name=opts["name"])
        self.stdout.write(token)
        self.stderr.write(
            "Keep this token: it is shown only once. Send it as 'Authorization: Bearer <token>'."
        )

    def _revoke_token(self, opts: dict[str, Any]) -> None:
        row = ApiToken.objects.filter(prefix=opts["prefix"], revoked_at__isnull=True).first()
        if row is None:
            raise CommandError(f"no active token with prefix {opts['prefix']!r}")
        api_token_revoke(token=row)
        self.stdout.write(f"revoked {row}")

    def _unlock(self, opts: dict[str, Any]) -> None:
        if bool(opts["username"]) == bool(opts["ip"]):
            raise CommandError("name an account (USERNAME) or an address (--ip ADDR), one of the two")
        cleared = signin_unlock(
            username=opts["username"], address=opts["ip"], reason=opts["reason"] or "unlocked with the tandem command"
        )
        what = f"address {opts['ip']}" if opts["ip"] else f"account {opts['username']}"
        self.stdout.write(f"unlocked {what} ({cleared} failed sign-ins cleared)")

    def _force_reset(self, opts: dict[str, Any]) -> None:
        user = user_force_password_reset(user=self._user(opts["username"]))
        self.stdout.write(f"{user.username} must change their password at their next page")

    def _team_access(self, opts: dict[str, Any]) -> None:
        team = Team.objects.filter(name=opts["team"]).first()
        if team is None:
            raise CommandError(f"no team named {opts['team']!r}")
        team = team_set_rep_access(team=team, rep_access=opts["setting"], reason="set with the tandem command")
        self.stdout.write(f"{team.name}: reps reach {team.get_rep_access_display().lower()}")

    def _two_factor_remove(self, opts: dict[str, Any]) -> None:
        user = self._user(opts["username"])
        totp_device_remove(user=user)
        self.stdout.write(f"removed the two-factor device of {user.username}")
