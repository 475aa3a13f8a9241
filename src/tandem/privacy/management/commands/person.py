"""`tandem person export|erase EMAIL`: one person's data as a ZIP, or their erasure, from a shell."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from tandem.core.errors import NotFound, TandemError
from tandem.core.lazy import deferred

if TYPE_CHECKING:
    from tandem.privacy import services
else:
    # Imported at first use, not for `--help`: the erasure touches every app, numpy and django-ninja included.
    services = deferred("tandem.privacy.services")

# Exit statuses: 1 the input was refused (the message names the field), 2 the command line itself is wrong
# (argparse), 3 no such person or user.
REFUSED, NOT_FOUND = 1, 3


def _user(username: str | None) -> Any:
    if not username:
        return None
    from tandem.users.models import User

    found = User.objects.filter(username=username).first()
    if found is None:
        raise NotFound(f"no user named {username!r}", field="by", value=username)
    return found


class Command(BaseCommand):
    help = "Personal data: export everything about a person (ZIP of JSON and CSV), or erase them everywhere."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        export = sub.add_parser("export", help="write everything about the person to a ZIP file")
        export.add_argument("email", help="the person's e-mail")
        export.add_argument(
            "-o", "--output", type=Path, default=None, help="file to write (default tandem-person-ID.zip)"
        )
        export.add_argument("--by", default=None, help="username of who asks (for the audit event)")
        erase = sub.add_parser("erase", help="erase the person from every table (cannot be undone)")
        erase.add_argument("email", help="the person's e-mail")
        erase.add_argument(
            "--reason", required=True, help="why; kept in the audit log, so it must not name them"
        )
        erase.add_argument("--by", default=None, help="username of the admin who asks (for the audit event)")

    def handle(self, *args: Any, **opts: Any) -> None:
        from tandem.crm.privacy.selectors import person_by_email

        try:
            person = person_by_email(email=opts["email"])
            by = _user(opts["by"])
            if opts["action"] == "export":
                data = services.person_export(person=person, by_user=by, via="cli")
                target: Path = opts["output"] or Path(f"tandem-person-{person.pk}.zip")
                target.write_bytes(data)
                self.stdout.write(f"person #{person.pk}: {len(data)} bytes written to {target}")
                return
            result = services.person_erase(person=person, reason=opts["reason"], by_user=by, via="cli")
        except NotFound as exc:
            raise CommandError(exc.message, returncode=NOT_FOUND) from None
        except TandemError as exc:
            raise CommandError(exc.message, returncode=REFUSED) from None
        self.stdout.write(f"person #{result.person_id} erased at {result.erased_at:%Y-%m-%d %H:%M:%S} UTC")
        for name, count in sorted(result.counts.items()):
            if count:
                self.stdout.write(f"  {name:<24}{count:>8}")
