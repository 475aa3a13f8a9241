"""`tandem capture replay`: process journaled submissions again; `tandem capture journal`: what is waiting;
`tandem capture utm`: the unknown UTM tags waiting for review."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from tandem.capture.models import SubmissionStatus, UnknownUtm


class Command(BaseCommand):
    help = (
        "Lead capture: replay failed journal rows (replay), count the journal by status (journal), or list "
        "unknown UTM tags (utm)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="what", required=True)
        replay = sub.add_parser("replay", help="process failed (or chosen) journal rows again from their raw payload")
        replay.add_argument(
            "--status",
            action="append",
            choices=[SubmissionStatus.FAILED, SubmissionStatus.REJECTED, SubmissionStatus.RECEIVED],
            help="which rows to replay (repeatable; default: failed)",
        )
        replay.add_argument("--id", dest="ids", type=int, action="append", help="replay this row (repeatable)")
        replay.add_argument("--limit", type=int, default=10_000, help="at most this many rows (default 10,000)")
        sub.add_parser("journal", help="how many journal rows have each status")
        utm = sub.add_parser("utm", help="utm_campaign tags that arrived anonymously and name no campaign")
        utm.add_argument(
            "--status",
            choices=[*UnknownUtm.Status.values, "all"],
            default=UnknownUtm.Status.NEW,
            help="which tags (default: new, those to review)",
        )

    def handle(self, *args: Any, **opts: Any) -> None:
        # Imported here, not at the top: they bring django-ninja and the CRM's validators, which `--help` skips.
        from tandem.capture.intake.selectors import submission_status_counts, unknown_utm_list
        from tandem.capture.intake.services import submissions_replay

        if opts["what"] == "journal":
            for status, n in submission_status_counts().items():
                self.stdout.write(f"{status:<10}{n:>10}")
            return
        if opts["what"] == "utm":
            rows = unknown_utm_list(status="" if opts["status"] == "all" else opts["status"])
            self.stdout.write(f"{'id':>6}  {'seen':>7}  {'last seen':<16}  {'status':<8}  utm_campaign (source / medium)")
            for u in rows:
                self.stdout.write(
                    f"{u.pk:>6}  {u.count:>7}  {u.last_seen:%Y-%m-%d %H:%M}  {u.status:<8}  "
                    f"{u.value} ({u.utm_source or '-'} / {u.utm_medium or '-'})"
                )
            return
        if opts["limit"] < 1:
            raise CommandError(f"--limit must be at least 1, not {opts['limit']}")
        statuses = tuple(opts["status"] or [SubmissionStatus.FAILED])
        result = submissions_replay(statuses=statuses, ids=opts["ids"], limit=opts["limit"])
        self.stdout.write(
            f"processed: {result.processed}; rejected: {result.rejected}; still failing: {result.failed}"
        )
        for pk, error in result.errors[:50]:
            self.stdout.write(f"  #{pk}: {error}")
        if result.failed:
            raise CommandError(f"{result.failed} submission(s) still fail; see the journal page")
