"""`tandem audit`: the audit log in a shell, as a table or CSV (the reads are tandem.crm.audit.selectors)."""

from __future__ import annotations

import datetime as dt
import io
import json
import sys
from typing import TYPE_CHECKING, Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from tandem.core import csvsafe
from tandem.core.errors import TandemError, ValidationFailed
from tandem.core.lazy import deferred
from tandem.crm.audit.limits import MAX_PAGE_SIZE, PAGE_SIZE

if TYPE_CHECKING:
    from tandem.crm.audit import selectors
else:
    # Imported at first use, not for `--help`: the selectors bring the e-mail and phone validators.
    selectors = deferred("tandem.crm.audit.selectors")

# Exit statuses: 1 a filter was refused (the message names the field and value), 2 the command line is wrong.
REFUSED = 1
CSV_COLUMNS = (
    "occurred_at", "source", "id", "kind", "actor", "subject_type", "subject_id", "record",
    "rule", "rule_version", "reason", "changes", "data",
)  # fmt: skip


def _moment(text: str, *, field: str, day_end: bool) -> dt.datetime | None:
    """A day (YYYY-MM-DD, in the installation's time zone; `day_end` takes the whole day) or a date and time."""
    text = text.strip()
    if not text:
        return None
    zone = timezone.get_current_timezone()
    try:
        if len(text) == 10:
            day = dt.date.fromisoformat(text) + dt.timedelta(days=1 if day_end else 0)
            return dt.datetime.combine(day, dt.time(), tzinfo=zone)
        moment = dt.datetime.fromisoformat(text)
    except (ValueError, OverflowError):
        raise ValidationFailed(
            f"{field} must be a day (YYYY-MM-DD) or a date and time, got {text!r}", field=field, value=text
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=zone)


def _changes_text(entry: selectors.AuditEntry) -> str:
    parts = [f"{c.field}: {c.old_text} → {c.new_text}" for c in entry.changes]
    return "; ".join([*parts, *entry.notes])


def _why(entry: selectors.AuditEntry) -> str:
    rule = (
        f"rule {entry.rule}" + (f" v{entry.rule_version}" if entry.rule_version is not None else "")
        if entry.rule
        else ""
    )
    return " · ".join(p for p in (entry.reason.replace("\n", " "), rule) if p)


class Command(BaseCommand):
    help = "The audit log: who changed what, when and why, with old and new values; as a table or CSV."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--person", default="", metavar="EMAIL", help="a person's e-mail or id")
        parser.add_argument("--user", default="", metavar="USERNAME", help="who acted: a username or user id")
        parser.add_argument(
            "--record", default="", metavar="TYPE[:ID]", help="one record (crm.deal:12) or a type (crm.deal)"
        )
        parser.add_argument("--kind", default="", help="one kind (deal.won) or a family (signin.*)")
        parser.add_argument("--since", default="", metavar="DATE", help="from this day (or date and time) on")
        parser.add_argument(
            "--until", default="", metavar="DATE", help="up to this day, included (or before a date and time)"
        )
        parser.add_argument(
            "--limit",
            type=int,
            default=PAGE_SIZE,
            help=f"rows per page (1–{MAX_PAGE_SIZE})",
        )
        parser.add_argument("--cursor", default="", help="the cursor a previous page printed")
        parser.add_argument("--all", action="store_true", help="every page, not only the newest")
        parser.add_argument("--csv", action="store_true", help="CSV on standard output instead of a table")

    def handle(self, *args: Any, **opts: Any) -> None:
        try:
            self._run(opts)
        except TandemError as exc:
            where = f" (field {exc.field}, value {str(exc.value)!r})" if exc.field else ""
            raise CommandError(f"{exc.message}{where}", returncode=REFUSED) from exc

    def _run(self, opts: dict[str, Any]) -> None:
        record_type, _, record_id = opts["record"].strip().partition(":")
        if record_id and not record_id.isdigit():
            raise ValidationFailed(
                f"record must be TYPE or TYPE:ID, got {opts['record']!r}",
                field="record",
                value=opts["record"],
            )
        filters: dict[str, Any] = {
            "person": opts["person"],
            "user": opts["user"],
            "record_type": record_type,
            "record_id": int(record_id) if record_id else None,
            "kind": opts["kind"],
            "since": _moment(opts["since"], field="since", day_end=False),
            "until": _moment(opts["until"], field="until", day_end=True),
            "limit": opts["limit"],
        }
        cursor = opts["cursor"]
        first = True
        while True:
            page = selectors.audit_page(**filters, cursor=cursor)
            selectors.audit_entries_describe(entries=page.items)
            if opts["csv"]:
                self._csv(page.items, header=first)
            else:
                self._table(page.items, header=first)
            first = False
            if not (opts["all"] and page.next_cursor):
                break
            cursor = page.next_cursor
        if page.next_cursor and not opts["all"]:
            # On standard error, so a CSV on standard output stays one clean file.
            sys.stderr.write(f"more: --cursor {page.next_cursor}\n")

    def _csv(self, entries: list[selectors.AuditEntry], *, header: bool) -> None:
        out = io.StringIO()
        writer = csvsafe.writer(out, lineterminator="\n")
        if header:
            writer.writerow(CSV_COLUMNS)
        for e in entries:
            writer.writerow([
                e.occurred_at.isoformat(), e.source, e.id, e.kind, e.actor_username or "", e.subject_type,
                e.subject_id if e.subject_id is not None else "", e.record_label, e.rule,
                e.rule_version if e.rule_version is not None else "", e.reason, _changes_text(e),
                json.dumps(e.data, ensure_ascii=False, sort_keys=True, default=str),
            ])  # fmt: skip
        self.stdout.write(out.getvalue(), ending="")

    def _table(self, entries: list[selectors.AuditEntry], *, header: bool) -> None:
        zone = timezone.get_current_timezone()
        rows = [
            (
                timezone.localtime(e.occurred_at, zone).strftime("%Y-%m-%d %H:%M:%S"),
                e.actor_username or ("rule" if e.rule else "system"),
                e.kind,
                e.record_label,
                _changes_text(e),
                _why(e),
            )
            for e in entries
        ]
        if header:
            if not rows:
                self.stdout.write("nothing recorded matches")
                return
            self.stdout.write(f"{'when':<19}  {'who':<16}  {'kind':<28}  {'record':<28}  changes  [why]")
        for when, who, kind, record, changes, why in rows:
            line = f"{when:<19}  {who[:16]:<16}  {kind[:28]:<28}  {record[:28]:<28}  {changes or '—'}"
            self.stdout.write(line + (f"  [{why}]" if why else ""))
