"""`tandem audience list|show|export`: audiences, their live counts and their members as an import CSV."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from tandem.audiences.exports import EXPORT_FORMATS
from tandem.core import csvsafe
from tandem.core.errors import NotFound, TandemError
from tandem.core.lazy import deferred

if TYPE_CHECKING:
    from tandem.audiences import selectors
else:
    # Imported at first use, not for `--help`: the selectors bring numpy and django-ninja.
    selectors = deferred("tandem.audiences.selectors")

# Exit statuses: 1 the input was refused (the message names the field and value), 2 the command line itself
# is wrong (argparse), 3 no such audience.
REFUSED, NOT_FOUND = 1, 3


class Command(BaseCommand):
    help = "Audiences: list them with live counts, show one in words, export its members for Mailchimp or Mautic."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
        listing = sub.add_parser(
            "list", help="every audience with its members and who was left out for consent"
        )
        show = sub.add_parser("show", help="one audience: its criteria in words, counts and versions")
        show.add_argument("audience", help="id or exact name")
        export = sub.add_parser("export", help="the members as CSV in an e-mail tool's import columns")
        export.add_argument("audience", help="id or exact name")
        export.add_argument(
            "--format", dest="fmt", choices=tuple(EXPORT_FORMATS), default="mailchimp"
        )
        export.add_argument("--output", "-o", default="-", help="file to write (default: standard output)")
        for p in (listing, show):
            p.add_argument("--format", choices=("text", "json"), default="text")

    def handle(self, *args: Any, **opts: Any) -> None:
        try:
            getattr(self, "_" + opts["action"])(opts)
        except NotFound as exc:
            raise CommandError(exc.message, returncode=NOT_FOUND) from exc
        except TandemError as exc:
            where = f" (field {exc.field}, value {str(exc.value)!r})" if exc.field else ""
            raise CommandError(f"{exc.message}{where}", returncode=REFUSED) from exc

    def _list(self, opts: dict[str, Any]) -> None:
        rows = selectors.audience_list()
        if opts["format"] == "json":
            out = [
                {
                    "id": r.audience.pk,
                    "name": r.audience.name,
                    "version": r.audience.version,
                    **r.counts.to_dict(),
                }
                for r in rows
            ]
            self.stdout.write(json.dumps(out, indent=2, ensure_ascii=False))
            return
        self.stdout.write(f"{'id':>5}  {'members':>9}  {'no consent':>10}  {'version':>7}  name")
        for r in rows:
            self.stdout.write(
                f"{r.audience.pk:>5}  {r.counts.members:>9,}  {r.counts.left_out_consent:>10,}  {r.audience.version:>7}  {r.audience.name}"
            )

    def _show(self, opts: dict[str, Any]) -> None:
        audience = selectors.audience_by_ref(ref=opts["audience"])
        spec = selectors.audience_spec(audience)
        counts = selectors.spec_counts(spec=spec)
        sentences = selectors.spec_sentences(spec=spec)
        versions = selectors.audience_versions(audience=audience)
        if opts["format"] == "json":
            data = {
                "id": audience.pk,
                "name": audience.name,
                "description": audience.description,
                "version": audience.version,
                "spec": spec.to_dict(),
                "sentences": sentences,
                "counts": counts.to_dict(),
                "versions": [
                    {
                        "version": v.version,
                        "at": v.created_at.isoformat(),
                        "by": v.created_by.username if v.created_by else None,
                        "reason": v.reason,
                    }
                    for v in versions
                ],
            }
            self.stdout.write(json.dumps(data, indent=2, ensure_ascii=False))
            return
        self.stdout.write(f"Audience {audience.pk}: {audience.name} (version {audience.version})")
        for line in sentences:
            self.stdout.write(f"  {line}")
        self.stdout.write(
            f"Members: {counts.members:,} of {counts.matched:,} meeting the criteria; "
            f"left out for consent: {counts.left_out_consent:,}; without an address: {counts.left_out_no_address:,}"
        )
        for v in versions:
            self.stdout.write(
                f"  v{v.version}  {v.created_at:%Y-%m-%d %H:%M}  {v.created_by.username if v.created_by else '—'}  {v.reason}"
            )

    def _export(self, opts: dict[str, Any]) -> None:
        audience = selectors.audience_by_ref(ref=opts["audience"])
        fmt = selectors.export_format(opts["fmt"])
        columns = list(EXPORT_FORMATS[fmt])
        rows = selectors.audience_export_rows(audience=audience, fmt=fmt, user=None)
        if opts["output"] == "-":
            # Every CSV row ends with its line break, so the command's stdout wrapper adds none.
            self._write(self.stdout, columns, rows)
            return
        with open(opts["output"], "w", newline="", encoding="utf-8") as handle:
            count = self._write(handle, columns, rows)
        self.stderr.write(f"Wrote {count:,} members to {opts['output']}")

    def _write(self, handle: Any, columns: list[str], rows: Any) -> int:
        writer = csvsafe.DictWriter(handle, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        count = 0
        for row in rows:
            writer.writerow(row)
            count += 1
        return count
