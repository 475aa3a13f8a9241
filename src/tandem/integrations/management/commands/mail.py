"""`tandem mail send-weekly [--to USER] [--dry-run]` and `tandem mail digest [--to USER] [--dry-run]`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from tandem.core.errors import NotFound, TandemError
from tandem.core.lazy import deferred

if TYPE_CHECKING:
    from tandem.integrations.mail import selectors, services
else:
    # Imported at first use, not for `--help`: they bring numpy, django-ninja and the CRM's validators.
    selectors = deferred("tandem.integrations.mail.selectors")
    services = deferred("tandem.integrations.mail.services")

# Exit statuses: 1 refused (the message says why), 2 the command line is wrong (argparse), 3 no such user,
# 4 SMTP not configured, 5 a send failed.
REFUSED, NOT_FOUND, NO_SMTP, FAILED = 1, 3, 4, 5


class Command(BaseCommand):
    help = "Scheduled mail now: the weekly alignment report or today's SLA digest, each period sent once."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        for name, what in (
            ("send-weekly", "last complete week's alignment report"),
            ("digest", "today's SLA digest"),
        ):
            cmd = sub.add_parser(name, help=f"e-mail {what} to its subscribers")
            cmd.add_argument(
                "--to",
                default="",
                metavar="USER",
                help="only this user (a username; they must be subscribed)",
            )
            cmd.add_argument(
                "--dry-run", action="store_true", help="say who would get it; send and record nothing"
            )

    def handle(self, *args: Any, **opts: Any) -> None:
        if not opts["dry_run"] and not selectors.mail_configured():
            raise CommandError(
                "No mail server is configured: set TANDEM_SMTP_HOST (docs/integrations.md#e-mail).",
                returncode=NO_SMTP,
            )
        send = services.weekly_reports_send if opts["action"] == "send-weekly" else services.sla_digests_send
        try:
            results = send(username=opts["to"], dry_run=opts["dry_run"])
        except NotFound as exc:
            raise CommandError(exc.message, returncode=NOT_FOUND) from None
        except TandemError as exc:
            raise CommandError(exc.message, returncode=REFUSED) from None
        for r in results:
            self.stdout.write(
                f"{r.status:<10} {r.kind} {r.period} {r.username} <{r.to}>{': ' + r.error if r.error else ''}"
            )
        counts: dict[str, int] = {}
        for r in results:
            counts[r.status] = counts.get(r.status, 0) + 1
        self.stdout.write(", ".join(f"{n} {s}" for s, n in sorted(counts.items())) or "no subscribers")
        if counts.get("failed"):
            raise CommandError(
                f"{counts['failed']} mail(s) failed; they are retried on the next run.", returncode=FAILED
            )
