"""`tandem capture replay`: process journaled submissions again; `tandem capture journal`: what is waiting."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from tandem.capture.intake.selectors import submission_status_counts
from tandem.capture.intake.services import submissions_replay
from tandem.capture.models import SubmissionStatus


class Command(BaseCommand):
    help = "Lead capture: replay failed journal rows (replay), or count the journal by status (journal)."

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

    def handle(self, *args: Any, **opts: Any) -> None:
        if opts["what"] == "journal":
            for status, n in submission_status_counts().items():
                self.stdout.write(f"{status:<10}{n:>10}")
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
