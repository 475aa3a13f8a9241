"""Writes of CSV imports: people, touchpoints and deals from other tools, checked first, written in bulk.

An import reads every row through its mapping and matches each to a stored person (email, then the source
system's external id, then phone for rows without an email) before anything is written; then it writes all
of it in one transaction with a few bulk statements. Each row gets an outcome: created, updated, unchanged,
merged (a later row of the same file naming the same person or deal: its cells are merged into the first)
or refused (with the column and value at fault).
"""

from __future__ import annotations

import datetime as dt
import io
import logging
from collections import defaultdict
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from django.db import DataError, IntegrityError, transaction
from django.utils import timezone
from django.utils.text import slugify

from tandem.campaigns.journeys import Touch
from tandem.campaigns.models import Campaign, Touchpoint
from tandem.capture.bundle import DealRow, account_key, lifecycle_moves
from tandem.capture.csvimport.mapping import (
    OUTCOME_KEPT,
    OUTCOMES_ORDER,
    Mapping,
    Parsed,
    RowError,
    RowReader,
    Table,
    activity_value,
    refused_csv,
    rows_parse,
    table_read,
)
from tandem.capture.csvimport.outcomes import OutcomePlan, created_at_from_order
from tandem.capture.csvimport.selectors import import_file_rows
from tandem.capture.ingest import IngestBatch, NewPerson, NewTouchpoint, Who, ingest
from tandem.capture.models import ImportJob, ImportMapping
from tandem.core import csvsafe
from tandem.core.bulk import ANALYZE_MIN_ROWS, chunked, silent, tables_analyze
from tandem.core.erasure import rows_mentioning, rows_redact
from tandem.core.errors import NotAllowed, TandemError, ValidationFailed
from tandem.core.events import event_record
from tandem.core.outbox import task_enqueue_on_commit
from tandem.core.uploads import upload_delete, upload_local_path, upload_replace, upload_save
from tandem.crm.accounts.services import account_domain_clean
from tandem.crm.activities.services import (
    EXTERNAL_ID_MAX,
    NOTES_MAX,
    activities_update_bulk,
    duration_problem,
    occurred_at_problem,
)
from tandem.crm.identity import (
    MERGED_EMAIL_SYSTEM,
    email_normalize_configured,
    name_key,
    phone_normalize,
    phone_problem,
    phone_tail,
)
from tandem.crm.models import (
    Account,
    Activity,
    ActivityType,
    Deal,
    ExternalId,
    LostReason,
    Person,
    StageChange,
)
from tandem.crm.services import (
    Transition,
    accounts_create_bulk,
    activities_log_bulk,
    deals_create_bulk,
    deals_update_bulk,
    lost_reasons_create_bulk,
)
from tandem.crm.stages import FUNNEL, Stage, rank
from tandem.users.models import User

Progress = Callable[[str, int, int], None]
logger = logging.getLogger(__name__)
OUTCOMES = OUTCOMES_ORDER
REASON = "csv import"
BATCH = 500
# The tables an import of each kind fills, whose planner statistics a large import refreshes (tables_analyze).
_WRITTEN: dict[str, tuple[type[Any], ...]] = {
    "people": (Person, Account, ExternalId, StageChange, Touchpoint),
    "touchpoints": (Touchpoint, Person, Account, StageChange),
    "deals": (Deal, Account, Person, StageChange),
    "activities": (Activity, Person, StageChange),
}


@dataclass
class RowOutcome:
    line: int
    outcome: str
    key: str = ""
    column: str = ""
    value: str = ""
    error: str = ""
    # What an updated row changes, or which row a merged one joined.
    detail: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "line": self.line,
            "outcome": self.outcome,
            "key": self.key,
            "column": self.column,
            "value": self.value,
            "error": self.error,
            "detail": self.detail,
        }


@dataclass
class CsvImportResult:
    """What an import did (or, for a dry run, would do), row by row."""

    kind: str
    mapping: str
    dry_run: bool
    mode: str
    headers: list[str] = field(default_factory=list)
    rows: list[RowOutcome] = field(default_factory=list)
    # The file's encoding and delimiter as detected: "Windows-1252, semicolon-separated".
    detected: str = ""
    touchpoints_created: int = 0
    links_created: int = 0
    accounts_created: int = 0
    stage_changes: int = 0
    # Deals written from a people file's outcome columns: {"won": n, "lost": n, "updated": n} (outcomes.py).
    outcome_deals: dict[str, int] = field(default_factory=dict)
    file_name: str = ""
    refused: list[tuple[list[str], RowError]] = field(default_factory=list)

    @property
    def total_rows(self) -> int:
        return len(self.rows)

    @property
    def counts(self) -> dict[str, int]:
        out = dict.fromkeys(OUTCOMES, 0)
        for row in self.rows:
            out[row.outcome] += 1
        return out

    @property
    def written(self) -> bool:
        """Whether the database holds the good rows (a real run that was not refused as a whole)."""
        return not self.dry_run

    def refused_csv(self) -> str:
        return refused_csv(headers=self.headers, refused=self.refused)

    def summary(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "mapping": self.mapping,
            "dry_run": self.dry_run,
            "mode": self.mode,
            "detected": self.detected,
            "total_rows": self.total_rows,
            "counts": self.counts,
            "touchpoints_created": self.touchpoints_created,
            "external_ids_linked": self.links_created,
            "accounts_created": self.accounts_created,
            "stage_changes": self.stage_changes,
            **({"outcome_deals": dict(self.outcome_deals)} if self.outcome_deals else {}),
        }


# ---------------------------------------------------------------------------------------------------------


def csv_import(
    *,
    data: bytes | Path,
    mapping: Mapping,
    mode: str = "all_or_nothing",
    dry_run: bool = False,
    by_user: Any = None,
    progress: Progress | None = None,
    file_name: str = "the file",
    job_id: int | None = None,
) -> CsvImportResult:
    """Import a CSV file with a mapping. all_or_nothing refuses the whole file on one bad row (raising a
    RowError naming its row, column and value); good_rows writes the rest and reports the refused ones."""
    if mode not in ("all_or_nothing", "good_rows"):
        raise ValidationFailed(
            f"unknown mode {mode!r} (expected all_or_nothing or good_rows)", field="mode", value=mode
        )
    report = progress or silent
    table = table_read(data=data, name=file_name)
    return csv_import_table(
        table=table,
        mapping=mapping,
        mode=mode,
        dry_run=dry_run,
        by_user=by_user,
        progress=report,
        job_id=job_id,
        file_name=file_name,
    )


def csv_import_table(
    *,
    table: Table,
    mapping: Mapping,
    mode: str,
    dry_run: bool,
    by_user: Any,
    progress: Progress,
    job_id: int | None = None,
    file_name: str = "",
) -> CsvImportResult:
    """csv_import for a file already read."""
    reader = RowReader(mapping=mapping, headers=table.headers)
    result = CsvImportResult(kind=mapping.kind, mapping=mapping.name, dry_run=dry_run, mode=mode)
    result.headers = list(table.headers)
    result.detected = table.detected
    parsed: list[Parsed] = []
    outcomes: dict[int, RowOutcome] = {}
    total = len(table.rows)
    for done, item in enumerate(rows_parse(reader=reader, rows=table.rows), 1):
        if isinstance(item, RowError):
            outcomes[item.line] = _refusal(item)
            result.refused.append((table.rows[done - 1][1], item))
        else:
            parsed.append(item)
        if done % 1000 == 0 or done == total:
            progress("check rows", done, total)
    result.file_name = file_name
    for error in created_at_from_order(mapping=mapping, table=table, rows=parsed):
        outcomes[error.line] = _refusal(error)
        result.refused.append((next(c for line, c in table.rows if line == error.line), error))
    planner = {
        "people": _PeoplePlan,
        "touchpoints": _TouchpointPlan,
        "deals": _DealPlan,
        "activities": _ActivityPlan,
    }[mapping.kind]
    plan = planner(mapping=mapping, rows=parsed, by_user=by_user, result=result, progress=progress)
    plan.match()
    for row, error in plan.refused:
        outcomes[row.line] = _refusal(error)
        result.refused.append((row.cells, error))
    outcomes.update(plan.outcomes)
    result.rows = [outcomes[line] for line in sorted(outcomes)]
    result.refused.sort(key=lambda pair: pair[1].line)
    if dry_run:
        return result
    if result.refused and mode == "all_or_nothing":
        first = result.refused[0][1]
        more = len(result.refused) - 1
        raise RowError(
            first.problem + (f" (and {more} more refused rows)" if more else "") + "; nothing was written",
            line=first.line,
            column=first.column,
            value="" if first.value is None else str(first.value),
        )
    try:
        with transaction.atomic():
            plan.write()
            event_record(
                kind="import.completed",
                subject_type="capture.importjob",
                subject_id=job_id,
                actor=by_user,
                reason=REASON,
                data=result.summary(),
            )
    except IntegrityError as exc:
        raise NotAllowed(
            f"the database changed while the file was imported, nothing was written; run it again ({exc})"
        ) from exc
    except DataError as exc:
        raise ValidationFailed(
            f"the database refused a value of the file, nothing was written: {exc}"
        ) from exc
    if len(parsed) >= ANALYZE_MIN_ROWS:
        tables_analyze(models_=_WRITTEN[mapping.kind])
    return result


def _refusal(error: RowError) -> RowOutcome:
    return RowOutcome(
        line=error.line,
        outcome="refused",
        column=error.column,
        value="" if error.value is None else str(error.value),
        error=error.message,
    )


# ---------------------------------------------------------------------------------------------------------
# Finding the stored people rows name.


class _People:
    """Stored people by email, by the source system's external id, and by phone digits (loaded in bulk)."""

    def __init__(self, *, system: str) -> None:
        self.system = system
        self.by_email: dict[str, int] = {}
        self.by_external: dict[str, int] = {}
        self.by_phone: dict[str, int] = {}

    def load(self, *, emails: set[str], external_ids: set[str], phones: set[str]) -> None:
        for chunk in chunked(sorted(emails)):
            for email, pk in Person.objects.filter(email_normalized__in=chunk).values_list(
                "email_normalized", "pk"
            ):
                self.by_email[email or ""] = pk
            for email, pk in ExternalId.objects.filter(
                system=MERGED_EMAIL_SYSTEM, external_id__in=chunk
            ).values_list("external_id", "person_id"):
                self.by_email.setdefault(email, pk)
        if self.system:
            for chunk in chunked(sorted(external_ids)):
                for ext, pk in ExternalId.objects.filter(
                    system=self.system, external_id__in=chunk
                ).values_list("external_id", "person_id"):
                    self.by_external[ext] = pk
        if phones:
            # Stored phones keep their formatting: their E.164 keys are compared (oldest person first), parsed
            # only for the stored phones whose last four digits some row's number ends with.
            tails = {phone_tail(p) for p in phones}
            for pk, phone in Person.objects.exclude(phone="").order_by("-pk").values_list("pk", "phone"):
                if phone_tail(phone) in tails and (key := phone_normalize(phone)) in phones:
                    self.by_phone[key] = pk


@dataclass
class _Key:
    email: str | None
    external_id: str | None
    phone: str | None


def _key_of(values: dict[str, Any]) -> _Key:
    return _Key(
        email=email_normalize_configured(values.get("email")),
        external_id=values.get("external_id") or None,
        phone=phone_normalize(values.get("phone")),
    )


def _key_text(key: _Key) -> str:
    return key.email or key.external_id or key.phone or ""


def _column_of(mapping: Mapping, name: str) -> str:
    for header, target in mapping.columns.items():
        if target == name:
            return header
    return name


class _Plan:
    """Matching rows to the database (no writes), then writing what the match decided."""

    def __init__(
        self,
        *,
        mapping: Mapping,
        rows: list[Parsed],
        by_user: Any,
        result: CsvImportResult,
        progress: Progress,
    ) -> None:
        self.mapping = mapping
        self.rows = rows
        self.by_user = by_user
        self.result = result
        self.progress = progress
        self.now = timezone.now()
        self.outcomes: dict[int, RowOutcome] = {}
        self.refused: list[tuple[Parsed, RowError]] = []
        self.people = _People(system=mapping.system)

    def refuse(self, row: Parsed, name: str, problem: str, value: Any) -> None:
        column = _column_of(self.mapping, name)
        self.refused.append((row, RowError(problem, line=row.line, column=column, value=str(value))))

    def load_people(self, keys: Sequence[_Key]) -> None:
        self.people.load(
            emails={k.email for k in keys if k.email},
            external_ids={k.external_id for k in keys if k.external_id},
            phones={k.phone for k in keys if k.phone and not k.email},
        )

    def refuse_phone(self, row: Parsed) -> bool:
        """Refuse a row whose only identifier is a phone number that is no valid number (naming its column);
        beside an e-mail or an external id such a phone is kept as typed, without an identity key."""
        given = str(row.values.get("phone") or "")
        problem = phone_problem(given) if given else None
        if problem:
            self.refuse(row, "phone", f"phone {given!r} cannot identify the person: {problem}", given)
        return bool(problem)

    def person_of(self, row: Parsed, key: _Key) -> int | None:
        """The stored person a touchpoint or deal row names, refusing the row when there is none."""
        if not (key.email or key.external_id or key.phone) and self.refuse_phone(row):
            return None
        pk = None
        if key.email:
            pk = self.people.by_email.get(key.email)
        if pk is None and key.external_id:
            pk = self.people.by_external.get(key.external_id)
        if pk is None and key.phone and not key.email:
            pk = self.people.by_phone.get(key.phone)
        if pk is None:
            name = "email" if key.email else "external_id" if key.external_id else "phone"
            given = row.values.get(name, "")
            if not given:
                self.refuse(row, "email", "the row names no person (no email, external id or phone)", "")
            else:
                self.refuse(row, name, f"no person with {name} {given!r} (import the people first)", given)
        return pk

    def match(self) -> None:
        raise NotImplementedError

    def write(self) -> None:
        raise NotImplementedError

    def stage_moves(self, transitions: list[Transition]) -> None:
        batch = IngestBatch(now=self.now, transitions=lambda: transitions, progress=self.progress)
        self.result.stage_changes = ingest(batch=batch).stage_changes


# ---------------------------------------------------------------------------------------------------------
# People.


@dataclass
class _Group:
    """One person the file names, from one or more rows (later non-empty cells win)."""

    rows: list[Parsed]
    key: _Key
    values: dict[str, Any]
    custom: dict[str, str]
    pk: int | None = None
    person: Person | None = None
    changed: set[str] = field(default_factory=set)
    link: bool = False
    touch: tuple[str, str] | None = None


NEW_PERSON_COLUMNS = (
    "email",
    "email_normalized",
    "first_name",
    "last_name",
    "name_key",
    "job_title",
    "phone",
    "account_id",
    "custom_fields",
    "created_at",
)


def _change_note(group: _Group) -> str:
    """What an import changes in a stored person, in words, for the dry run's report."""
    if group.person is None:
        return ""
    notes = sorted(n.removesuffix("_id") for n in group.changed if n not in ("name_key", "email_normalized"))
    if group.link:
        notes.append("links its external id")
    if group.touch is not None:
        notes.append(f"adds a {group.touch[0]} {group.touch[1]} touchpoint")
    return ("changes " if notes and not notes[0].startswith(("links", "adds")) else "") + ", ".join(notes)


def _pk(group: _Group) -> int:
    assert group.pk is not None  # set for every group once its person is written
    return group.pk


class _PeoplePlan(_Plan):
    def match(self) -> None:
        groups = self._groups()
        self.load_people([g.key for g in groups])
        found: list[_Group] = []
        for group in groups:
            if self._find(group):
                found.append(group)
        stored_pks = sorted({g.pk for g in found if g.pk is not None})
        stored: dict[int, Person] = {}
        for chunk in chunked(stored_pks):
            stored.update(Person.objects.in_bulk(list(chunk)))
        claimed: dict[int, _Group] = {}
        kept: list[_Group] = []
        for group in found:
            if group.pk is not None:
                other = claimed.get(group.pk)
                if other is not None:
                    # Two keys of the file (an email here, an id there) turned out to be one stored person.
                    self._merge_into(other, group)
                    continue
                claimed[group.pk] = group
                group.person = stored[group.pk]
            kept.append(group)
        self.outcome_plan = OutcomePlan(
            mapping=self.mapping,
            now=self.now,
            file_name=self.result.file_name,
            by_user_id=getattr(self.by_user, "pk", None),
            progress=self.progress,
        )
        # Outcome columns (a converted flag, a won date, an amount...): deals and stage moves (outcomes.py).
        self.groups = self.outcome_plan.match(
            kept, refuse=self.refuse, dated=lambda g: "created_at" in g.values
        )
        self._accounts()
        self._touches()
        for group in self.groups:
            self._changes(group)
            first = group.rows[0]
            deal_note = self.outcome_plan.change(group)
            outcome = (
                "created"
                if group.person is None
                else "updated"
                if group.changed or group.link or group.touch or deal_note
                else "unchanged"
            )
            self.outcomes[first.line] = RowOutcome(
                line=first.line,
                outcome=outcome,
                key=_key_text(group.key),
                detail="; ".join(n for n in (_change_note(group), deal_note) if n),
            )
            for row in group.rows[1:]:
                self.outcomes[row.line] = RowOutcome(
                    line=row.line,
                    outcome="merged",
                    key=_key_text(group.key),
                    detail=f"merged into row {first.line}",
                )
        self.progress("match people", len(self.rows), len(self.rows))

    def _groups(self) -> list[_Group]:
        groups: list[_Group] = []
        by_email: dict[str, _Group] = {}
        by_ext: dict[str, _Group] = {}
        by_phone: dict[str, _Group] = {}
        for row in self.rows:
            key = _key_of(row.values)
            if not (key.email or key.external_id or key.phone) and self.refuse_phone(row):
                continue
            if not (key.email or key.external_id or key.phone):
                self.refuse(
                    row, "email", "the row has no email, external id or phone to identify the person", ""
                )
                continue
            hits = {
                id(g): g
                for g in (
                    by_email.get(key.email or ""),
                    by_ext.get(key.external_id or ""),
                    None if key.email else by_phone.get(key.phone or ""),
                )
                if g is not None
            }
            if len(hits) > 1:
                self.refuse(
                    row,
                    "external_id",
                    f"email {key.email!r} and external id {key.external_id!r} name different rows above",
                    key.external_id,
                )
                continue
            if hits:
                group = next(iter(hits.values()))
                if key.email and group.key.email and key.email != group.key.email:
                    self.refuse(
                        row,
                        "email",
                        f"external id {key.external_id!r} is on row {group.rows[0].line} with email "
                        f"{group.key.email!r}, not {key.email!r}",
                        row.values.get("email", ""),
                    )
                    continue
                if key.external_id and group.key.external_id and key.external_id != group.key.external_id:
                    self.refuse(
                        row,
                        "external_id",
                        f"email {key.email!r} is on row {group.rows[0].line} with external id "
                        f"{group.key.external_id!r}, not {key.external_id!r}",
                        key.external_id,
                    )
                    continue
                group.rows.append(row)
                group.values.update(row.values)
                group.custom.update(row.custom)
                group.key = _Key(
                    email=group.key.email or key.email,
                    external_id=group.key.external_id or key.external_id,
                    phone=group.key.phone or key.phone,
                )
            else:
                group = _Group(rows=[row], key=key, values=dict(row.values), custom=dict(row.custom))
                groups.append(group)
            if key.email:
                by_email.setdefault(key.email, group)
            if key.external_id:
                by_ext.setdefault(key.external_id, group)
            if key.phone:
                by_phone.setdefault(key.phone, group)
        return groups

    def _find(self, group: _Group) -> bool:
        key = group.key
        by_email = self.people.by_email.get(key.email) if key.email else None
        by_ext = self.people.by_external.get(key.external_id) if key.external_id else None
        if by_email is not None and by_ext is not None and by_email != by_ext:
            for row in group.rows:
                self.refuse(
                    row,
                    "external_id",
                    f"email {key.email!r} belongs to person #{by_email} but {self.mapping.system} id "
                    f"{key.external_id!r} to person #{by_ext}",
                    key.external_id,
                )
            return False
        pk = by_email if by_email is not None else by_ext
        if pk is None and key.phone and not key.email:
            pk = self.people.by_phone.get(key.phone)
        group.pk = pk
        group.link = bool(key.external_id and self.mapping.system and by_ext is None)
        return True

    def _merge_into(self, into: _Group, other: _Group) -> None:
        into.rows.extend(other.rows)
        into.values.update(other.values)
        into.custom.update(other.custom)
        into.link = into.link or other.link
        into.key = _Key(
            email=into.key.email or other.key.email,
            external_id=into.key.external_id or other.key.external_id,
            phone=into.key.phone or other.key.phone,
        )

    def _accounts(self) -> None:
        wanted: dict[tuple[str, str], dict[str, str]] = {}
        for group in self.groups:
            key = account_key(email=group.key.email or "", company=group.values.get("company", ""))
            if key is None:
                continue
            fields = wanted.setdefault(key, {"name": "", "industry": "", "country": ""})
            fields["name"] = fields["name"] or group.values.get("company", "")
            fields["industry"] = fields["industry"] or group.values.get("industry", "")
            fields["country"] = fields["country"] or group.values.get("country", "")
        self.account_pks: dict[tuple[str, str], int] = {}
        domains = sorted(k[1] for k in wanted if k[0] == "domain")
        names = sorted(k[1] for k in wanted if k[0] == "name")
        for chunk in chunked(domains):
            for domain, pk in Account.objects.filter(domain__in=chunk).values_list("domain", "pk"):
                self.account_pks[("domain", domain or "")] = pk
        for chunk in chunked(names):
            # The oldest account of a name is "the" account, as in crm.services.
            for name, pk in (
                Account.objects.filter(domain__isnull=True, name__in=chunk)
                .order_by("-pk")
                .values_list("name", "pk")
            ):
                self.account_pks[("name", name)] = pk
        self.new_accounts = [
            Account(
                name=fields["name"] or key[1],
                domain=key[1] if key[0] == "domain" else None,
                industry=fields["industry"],
                country=fields["country"],
                created_at=self.now,
            )
            for key, fields in wanted.items()
            if key not in self.account_pks
        ]
        self.new_account_keys = [key for key in wanted if key not in self.account_pks]

    def _touches(self) -> None:
        names = set(self.mapping.columns.values()) | set(self.mapping.options.get("defaults", {}))
        self.with_touch = bool(names & {"original_channel", "touchpoint_kind"})
        self.stored_touches: set[tuple[int, str, str]] = set()
        if not self.with_touch:
            return
        pks = sorted(g.pk for g in self.groups if g.pk is not None)
        for chunk in chunked(pks):
            self.stored_touches.update(
                Touchpoint.objects.filter(person_id__in=chunk).values_list("person_id", "channel", "kind")
            )

    def _changes(self, group: _Group) -> None:
        values = group.values
        wish: dict[str, Any] = {}
        first, last = values.get("first_name", ""), values.get("last_name", "")
        if "full_name" in values and not (first or last):
            first, _, last = str(values["full_name"]).partition(" ")
        if first:
            wish["first_name"] = first
        if last:
            wish["last_name"] = last
        for name in ("job_title", "phone", "created_at"):
            if name in values:
                wish[name] = values[name]
        if "email" in values:
            wish["email"] = values["email"]
            wish["email_normalized"] = group.key.email
        custom = dict(group.custom)
        key = account_key(email=group.key.email or "", company=values.get("company", ""))
        if key is not None:
            wish["account_id"] = key
        for name in ("country", "industry"):
            # Without a company these describe the person, and are kept with them.
            if name in values and key is None:
                custom[name] = values[name]
        # A first touchpoint without a source is on the `other` channel; the person says the same.
        channel = values.get("original_channel", "") or ("other" if self.with_touch else "")
        group.values["_channel"] = channel
        person = group.person
        if person is None:
            group.changed = set(wish)
            group.values["_custom"] = custom
            created = values.get("created_at") or self.now
            group.values["created_at"] = created
        else:
            if (
                person.email_normalized
                and "email_normalized" in wish
                and person.email_normalized != wish["email_normalized"]
            ):
                # Found by its external id under another email: the stored email stays.
                wish.pop("email")
                wish.pop("email_normalized")
            elif "email_normalized" in wish and person.email_normalized == wish["email_normalized"]:
                # The same address written another way (case, punycode): the spelling stored stays.
                wish.pop("email")
            stored_phone = phone_normalize(person.phone)
            if "phone" in wish and stored_phone is not None and stored_phone == phone_normalize(wish["phone"]):
                wish.pop("phone")  # the same number written another way: the spelling stored stays
            if channel and not person.original_channel:
                wish["original_channel"] = channel
            if channel and not person.latest_channel:
                wish["latest_channel"] = channel
            merged = dict(person.custom_fields or {})
            merged.update(custom)
            wish["custom_fields"] = merged
            changed = set()
            for name, value in wish.items():
                current = person.account_id if name == "account_id" else getattr(person, name)
                if name == "account_id":
                    if current != self.account_pks.get(value):
                        changed.add(name)
                elif current != value:
                    changed.add(name)
            if changed & {"first_name", "last_name"}:
                changed.add("name_key")
            group.changed = changed
            group.values["_wish"] = wish
            created = values.get("created_at", person.created_at)
        if self.with_touch:
            kind = values.get("touchpoint_kind") or "other"
            touch = (channel or "other", kind)
            if group.pk is None or (group.pk, *touch) not in self.stored_touches:
                group.touch = touch
                group.values["_touch_at"] = created

    def write(self) -> None:
        accounts_create_bulk(accounts=self.new_accounts, batch_size=BATCH)
        self.account_pks.update(
            {key: a.pk for key, a in zip(self.new_account_keys, self.new_accounts, strict=True)}
        )
        self.result.accounts_created = len(self.new_accounts)
        made: dict[int, NewPerson] = {}  # by id() of the group
        new_groups: list[_Group] = []
        changes: dict[Person, Collection[str]] = {}
        for group in self.groups:
            values = group.values
            if group.person is None:
                first, last = values.get("first_name", ""), values.get("last_name", "")
                if "full_name" in values and not (first or last):
                    first, _, last = str(values["full_name"]).partition(" ")
                key = account_key(email=group.key.email or "", company=values.get("company", ""))
                # The channels come from the person's touchpoint (the file's channel, or none).
                made[id(group)] = NewPerson(
                    values=(
                        values.get("email", ""),
                        group.key.email,
                        first,
                        last,
                        name_key(first, last),
                        values.get("job_title", ""),
                        values.get("phone", ""),
                        self.account_pks[key] if key is not None else None,
                        values["_custom"],
                        values["created_at"],
                    )
                )
                new_groups.append(group)
                continue
            person = group.person
            if not group.changed:
                continue
            wish = values["_wish"]
            for name in group.changed:
                if name == "account_id":
                    person.account_id = self.account_pks[wish["account_id"]]
                elif name == "name_key":
                    continue
                else:
                    setattr(person, name, wish[name])
            if "name_key" in group.changed:
                person.name_key = name_key(person.first_name, person.last_name)
            changes[person] = group.changed

        def who(group: _Group) -> Who:
            return made[id(group)] if group.person is None else _pk(group)

        links = [(who(g), self.mapping.system, g.key.external_id or "") for g in self.groups if g.link and g.key.external_id]
        mark = {"import": self.mapping.name} if self.mapping.name else {}
        touches = [
            NewTouchpoint(who(g), (g.values["_touch_at"], g.touch[0], g.touch[1], mark))
            for g in self.groups
            if g.touch is not None
        ]

        def transitions() -> list[Transition]:
            for group in new_groups:
                group.pk = made[id(group)].pk
            return self._transitions(new_groups)

        done = ingest(
            batch=IngestBatch(
                now=self.now,
                person_columns=NEW_PERSON_COLUMNS,
                people=list(made.values()),
                person_keys="range",
                changes=changes,
                external_ids=links,
                touchpoint_columns=("occurred_at", "channel", "kind", "custom_fields"),
                touchpoints=touches,
                transitions=transitions,
                progress=self.progress,
            )
        )
        self.result.links_created = len(links)
        self.result.touchpoints_created = len(touches)
        self.result.stage_changes = done.stage_changes
        if self.outcome_plan.enabled:
            self.result.outcome_deals = self.outcome_plan.write(self.groups, account_of=self._account_of)

    def _account_of(self, group: _Group) -> int | None:
        if group.person is not None:
            return group.person.account_id
        key = account_key(email=group.key.email or "", company=group.values.get("company", ""))
        return self.account_pks[key] if key is not None else None

    def _transitions(self, new_groups: list[_Group]) -> list[Transition]:
        target = str(self.mapping.options.get("stage") or Stage.LEAD)
        by_user_id = getattr(self.by_user, "pk", None)
        out: list[Transition] = []
        for group in new_groups:
            at = group.values["created_at"]
            assert group.pk is not None
            out.append(
                Transition(
                    person_id=group.pk, to_stage=Stage.LEAD, at=at, by_user_id=by_user_id, reason=REASON
                )
            )
            if target != Stage.LEAD:
                out.append(
                    Transition(
                        person_id=group.pk, to_stage=target, at=at, by_user_id=by_user_id, reason=REASON
                    )
                )
        if target in FUNNEL:
            # Stored people move forward to the mapping's stage when they never reached it.
            for group in self.groups:
                person = group.person
                if (
                    person is not None
                    and person.lifecycle_stage in FUNNEL
                    and rank(person.lifecycle_stage) < rank(target)
                ):
                    out.append(
                        Transition(
                            person_id=person.pk,
                            to_stage=target,
                            at=self.now,
                            by_user_id=by_user_id,
                            reason=REASON,
                        )
                    )
        return self.outcome_plan.transitions(self.groups, out)


# ---------------------------------------------------------------------------------------------------------
# Touchpoints.


class _TouchpointPlan(_Plan):
    def match(self) -> None:
        keys = [_key_of(r.values) for r in self.rows]
        self.load_people(keys)
        campaign_names = {r.values["campaign_id"] for r in self.rows if r.values.get("campaign_id")}
        self.campaigns: dict[str, int] = {}
        for chunk in chunked(sorted(campaign_names)):
            for name, pk in Campaign.objects.filter(name__in=chunk).values_list("name", "pk"):
                self.campaigns.setdefault(name, pk)
            for ext, pk in Campaign.objects.filter(external_id__in=chunk).values_list("external_id", "pk"):
                self.campaigns[ext or ""] = pk
        good: list[tuple[Parsed, tuple[Any, ...]]] = []
        for row, key in zip(self.rows, keys, strict=True):
            person_pk = self.person_of(row, key)
            if person_pk is None:
                continue
            if "occurred_at" not in row.values:
                self.refuse(row, "occurred_at", "value is missing", "")
                continue
            campaign = row.values.get("campaign_id")
            campaign_pk = self.campaigns.get(campaign) if campaign else None
            if campaign and campaign_pk is None:
                self.refuse(row, "campaign_id", f"no campaign with id or name {campaign!r}", campaign)
                continue
            ident = (
                person_pk,
                row.values["occurred_at"],
                row.values.get("channel") or "other",
                row.values.get("kind") or "other",
                campaign_pk,
            )
            good.append((row, ident))
        # Every stored touchpoint of these people: to tell new rows from known ones, and for their journeys.
        self.stored: set[tuple[Any, ...]] = set()
        stored = self.stored
        for chunk in chunked(sorted({ident[0] for _, ident in good})):
            stored.update(
                Touchpoint.objects.filter(person_id__in=chunk).values_list(
                    "person_id", "occurred_at", "channel", "kind", "campaign_id"
                )
            )
        first: dict[tuple[Any, ...], int] = {}
        self.new: list[tuple[Parsed, tuple[Any, ...]]] = []
        for row, ident in good:
            if ident in first:
                outcome = RowOutcome(
                    row.line, "merged", key=_key_text(keys[0]), detail=f"same as row {first[ident]}"
                )
            elif ident in stored:
                outcome = RowOutcome(row.line, "unchanged")
            else:
                outcome = RowOutcome(row.line, "created")
                self.new.append((row, ident))
            first.setdefault(ident, row.line)
            outcome.key = (
                row.values.get("email") or row.values.get("external_id") or row.values.get("phone", "")
            )
            self.outcomes[row.line] = outcome

    def write(self) -> None:
        fields = ("utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content", "url", "referrer")
        # Touches of the same moment are ordered by channel, then campaign.
        touches = [
            NewTouchpoint(
                ident[0],
                (*ident[1:], row.custom, *(row.values.get(name, "") for name in fields)),
                (ident[2], ident[4] or 0),
            )
            for row, ident in self.new
        ]
        known: dict[int, list[Touch]] = defaultdict(list)
        touched = {ident[0] for _, ident in self.new}
        for pid, at, channel, _kind, campaign in self.stored:
            if pid in touched:
                known[pid].append(Touch(at, channel, campaign, (channel, campaign or 0)))
        ingest(
            batch=IngestBatch(
                now=self.now,
                touchpoint_columns=("occurred_at", "channel", "kind", "campaign_id", "custom_fields", *fields),
                touchpoints=touches,
                stored_journeys="all",
                stored_touches=known,
                progress=self.progress,
            )
        )
        self.result.touchpoints_created = len(touches)


# ---------------------------------------------------------------------------------------------------------
# Deals.


class _AccountRefs:
    """The accounts a deals file names: by domain (which decides), else by exact name; the missing ones are
    created when the import is written (named by the file's name, else by the domain)."""

    def __init__(self, *, rows: Sequence[Parsed]) -> None:
        self.keys: dict[int, tuple[str, str] | None] = {}
        self.problems: dict[int, tuple[str, str]] = {}
        self.names: dict[tuple[str, str], str] = {}
        for row in rows:
            name = str(row.values.get("account", "")).strip()
            given = row.values.get("account_domain", "")
            try:
                domain = account_domain_clean(given) if given else None
            except ValidationFailed as exc:
                self.problems[row.line] = (exc.message, str(given))
                continue
            key = ("domain", domain) if domain else ("name", name) if name else None
            self.keys[row.line] = key
            if key is not None:
                self.names.setdefault(key, name or key[1])
        domains = sorted(k[1] for k in self.names if k[0] == "domain")
        names = sorted(k[1] for k in self.names if k[0] == "name")
        self.stored: dict[tuple[str, str], int] = {}
        for chunk in chunked(domains):
            for pk, domain in Account.objects.filter(domain__in=chunk).values_list("pk", "domain"):
                self.stored[("domain", domain or "")] = pk
        for chunk in chunked(names):
            # The oldest account of that name, whether or not it has a domain.
            for pk, name in Account.objects.filter(name__in=chunk).order_by("-pk").values_list("pk", "name"):
                self.stored[("name", name)] = pk

    def key(self, row: Parsed) -> tuple[str, str] | None:
        """The row's account key, None when it names no account."""
        return self.keys.get(row.line)

    def problem(self, row: Parsed) -> tuple[str, str] | None:
        """Why the row's account domain is refused (message, value), None when it is not."""
        return self.problems.get(row.line)

    def create(self, *, keys: Collection[tuple[str, str]], now: dt.datetime) -> int:
        """Write the accounts of these keys that are not stored (those the written deals need); returns how many."""
        missing = [k for k in self.names if k in keys and k not in self.stored]
        made = [
            Account(name=self.names[k], domain=k[1] if k[0] == "domain" else None, created_at=now, updated_at=now)
            for k in missing
        ]
        accounts_create_bulk(accounts=made)
        self.stored.update((k, a.pk) for k, a in zip(missing, made, strict=True))
        return len(made)


class _DealPlan(_Plan):
    def match(self) -> None:
        prefix = str(self.mapping.options.get("deal_id_prefix") or "")
        keys = [_key_of(r.values) for r in self.rows]
        self.load_people(keys)
        ids = sorted({prefix + r.values["deal_id"] for r in self.rows if r.values.get("deal_id")})
        stored: dict[str, Deal] = {}
        for chunk in chunked(ids):
            stored.update((d.external_id or "", d) for d in Deal.objects.filter(external_id__in=chunk))
        accounts: dict[int, int | None] = {}
        named = {
            *self.people.by_email.values(),
            *self.people.by_external.values(),
            *self.people.by_phone.values(),
        }
        for pk_chunk in chunked(sorted(named)):
            accounts.update(Person.objects.filter(pk__in=pk_chunk).values_list("pk", "account_id"))
        reasons = sorted({r.values["lost_reason"] for r in self.rows if r.values.get("lost_reason")})
        self.reasons = dict(LostReason.objects.filter(name__in=reasons).values_list("name", "pk"))
        self.new_reasons = [name for name in reasons if name not in self.reasons]
        self.account_refs = _AccountRefs(rows=self.rows)
        users = _Users() if any(r.values.get("owner") for r in self.rows) else None
        self.new: list[tuple[str, dict[str, Any], Parsed]] = []
        self.changes: dict[Deal, list[str]] = {}
        self.reason_of: dict[Deal, str] = {}
        # Deals whose account the import creates: the account's key, resolved to its row when written.
        self.new_account_of: dict[int, tuple[str, str]] = {}
        self.moves: dict[int, list[DealRow]] = defaultdict(list)
        first: dict[str, int] = {}
        for row, key in zip(self.rows, keys, strict=True):
            if "deal_id" not in row.values:
                self.refuse(row, "deal_id", "value is missing", "")
                continue
            deal_id = prefix + row.values["deal_id"]
            if deal_id in first:
                self.refuse(
                    row,
                    "deal_id",
                    f"duplicate deal_id {deal_id!r} (also on row {first[deal_id]})",
                    row.values["deal_id"],
                )
                continue
            problem = self.account_refs.problem(row)
            if problem is not None:
                self.refuse(row, "account_domain", *problem)
                continue
            account_key = self.account_refs.key(row)
            # An account-level deal names no person; a row naming one must name someone stored.
            pk = None
            if key.email or key.external_id or key.phone or account_key is None:
                pk = self.person_of(row, key)
                if pk is None:
                    continue
            owner_id = None
            if row.values.get("owner"):
                assert users is not None  # loaded whenever a row names an owner
                owner_id = users.find(row.values["owner"])
                if owner_id is None:
                    self.refuse(
                        row,
                        "owner",
                        f"no Tandem user {row.values['owner']!r} (a username, email or full name)",
                        row.values["owner"],
                    )
                    continue
            values = self._values(row, stored.get(deal_id))
            if values is None:
                continue
            first[deal_id] = row.line
            values["person_id"] = pk
            if account_key is None:
                values["account_id"] = accounts.get(pk) if pk is not None else None
            else:
                values["account_id"] = self.account_refs.stored.get(account_key)
            if owner_id is not None:
                values["owner_id"] = owner_id
            deal = stored.get(deal_id)
            if deal is None:
                if account_key is not None and values["account_id"] is None:
                    self.new_account_of[row.line] = account_key
                self.new.append((deal_id, values, row))
                outcome = "created"
            else:
                merged = dict(deal.custom_fields or {})
                merged.update(row.custom)
                values["custom_fields"] = merged
                reason = values.pop("_reason")
                changed = [n for n, v in values.items() if getattr(deal, n) != v]
                for n in changed:
                    setattr(deal, n, values[n])
                if account_key is not None and values["account_id"] is None:
                    # The account is new: the deal moves to it once it is written.
                    self.new_account_of[-deal.pk] = account_key
                    changed += [] if "account_id" in changed else ["account_id"]
                # A reason named for the first time gets its row (and primary key) when written.
                wanted_reason = self.reasons.get(reason, -1) if reason else None
                if deal.lost_reason_id != wanted_reason:
                    changed.append("lost_reason_id")
                    self.reason_of[deal] = reason
                if changed:
                    self.changes[deal] = changed
                outcome = "updated" if changed else "unchanged"
            self.outcomes[row.line] = RowOutcome(row.line, outcome, key=deal_id)
            if pk is None:
                continue
            self.moves[pk].append(
                DealRow(
                    deal_id=deal_id,
                    email="",
                    email_key="",
                    amount=values["amount"],
                    stage=values["stage"],
                    created_at=values["created_at"],
                    closed_at=values["closed_at"],
                    lost_reason=row.values.get("lost_reason", ""),
                )
            )

    def _values(self, row: Parsed, deal: Deal | None) -> dict[str, Any] | None:
        stage = row.values.get("stage", "open")
        closed = row.values.get("closed_at")
        created = (
            row.values.get("created_at")
            or (deal.created_at if deal is not None else None)
            or closed
            or self.now
        )
        if stage == "open" and closed is not None:
            self.refuse(row, "closed_at", "an open deal has no close date", closed.isoformat())
            return None
        if stage != "open" and closed is None:
            self.refuse(row, "closed_at", f"a {stage} deal needs a close date", "")
            return None
        if closed is not None and closed < created:
            self.refuse(
                row,
                "closed_at",
                f"closed at {closed.isoformat()} is before created at {created.isoformat()}",
                closed.isoformat(),
            )
            return None
        reason = row.values.get("lost_reason", "")
        if reason and stage != "lost":
            self.refuse(
                row, "lost_reason", f"only a lost deal has a lost reason, this one is {stage}", reason
            )
            return None
        return {
            "name": row.values.get("name", deal.name if deal is not None else ""),
            "amount": row.values.get("amount", deal.amount if deal is not None else Decimal("0.00")),
            "stage": stage,
            "created_at": created,
            "closed_at": closed,
            "custom_fields": dict(row.custom),
            "_reason": reason,
        }

    def write(self) -> None:
        made = [LostReason(name=name) for name in self.new_reasons]
        lost_reasons_create_bulk(reasons=made)
        self.reasons.update((r.name, r.pk) for r in made)
        self.result.accounts_created += self.account_refs.create(keys=set(self.new_account_of.values()), now=self.now)
        new_account = {line: self.account_refs.stored[k] for line, k in self.new_account_of.items()}
        objs = []
        for deal_id, values, row in self.new:
            reason = values.pop("_reason")
            if row.line in new_account:
                values["account_id"] = new_account[row.line]
            objs.append(
                Deal(
                    external_id=deal_id,
                    lost_reason_id=self.reasons.get(reason),
                    updated_at=self.now,
                    **values,
                )
            )
        for deal in self.changes:
            if -deal.pk in new_account:
                deal.account_id = new_account[-deal.pk]
        for done, chunk in enumerate(chunked(objs, BATCH), 1):
            deals_create_bulk(deals=chunk)
            self.progress("write deals", min(done * BATCH, len(objs)), len(objs))
        fields: set[str] = set()
        for deal, names in self.changes.items():
            if deal in self.reason_of:
                reason = self.reason_of[deal]
                deal.lost_reason_id = self.reasons[reason] if reason else None
            fields.update(names)
            deal.updated_at = self.now
        if self.changes:
            deals_update_bulk(deals=list(self.changes), fields=sorted(fields | {"updated_at"}), batch_size=BATCH)
        self.stage_moves(self._transitions())

    def _transitions(self) -> list[Transition]:
        pids = sorted(self.moves)
        people: dict[int, tuple[str, dt.datetime]] = {}
        reached: dict[int, int] = {}
        for chunk in chunked(pids):
            for pid, stage, created in Person.objects.filter(pk__in=chunk).values_list(
                "pk", "lifecycle_stage", "created_at"
            ):
                people[pid] = (stage, created)
            for pid, stage in (
                StageChange.objects.filter(person_id__in=chunk)
                .values_list("person_id", "to_stage")
                .distinct()
            ):
                reached[pid] = max(reached.get(pid, -1), rank(stage))
        by_user_id = getattr(self.by_user, "pk", None)
        out: list[Transition] = []
        for pid in pids:
            stage, created = people[pid]
            if stage and stage not in FUNNEL:
                # Recycled and disqualified people are sales' call: an import does not move them.
                continue
            ceiling = max(rank(stage) if stage else -1, reached.get(pid, -1))
            for move in lifecycle_moves(created_at=created, deals=self.moves[pid], reached=ceiling):
                out.append(
                    Transition(
                        person_id=pid,
                        to_stage=move.to_stage,
                        at=move.at,
                        by_user_id=by_user_id,
                        reason=REASON,
                    )
                )
        return out


# ---------------------------------------------------------------------------------------------------------
# Activities.

# Fields a stored activity takes from a row; a column the file lacks (or an empty cell) keeps the stored value.
_ACTIVITY_FIELDS = ("kind_id", "occurred_at", "outcome", "direction", "duration_minutes", "subject", "notes")


class _Users:
    """Tandem's users by email, username and full name (one query: a sales team is small)."""

    def __init__(self) -> None:
        self.by_email: dict[str, int] = {}
        self.by_username: dict[str, int] = {}
        names: dict[str, list[int]] = defaultdict(list)
        for pk, username, email, first, last in User.objects.values_list(
            "pk", "username", "email", "first_name", "last_name"
        ):
            if email:
                self.by_email.setdefault(email.strip().lower(), pk)
            self.by_username[username.lower()] = pk
            full = " ".join(f"{first} {last}".lower().split())
            if full:
                names[full].append(pk)
        # A name two users share names neither.
        self.by_name = {name: pks[0] for name, pks in names.items() if len(pks) == 1}

    def find(self, text: str) -> int | None:
        """The user a cell names: an email in it ("Ann Lee (ann@x.com)"), a username, or a unique full name."""
        found = activity_value("email_in_text", text, line=0, column="user")
        if found and found.lower() in self.by_email:
            return self.by_email[found.lower()]
        words = " ".join(text.lower().split())
        return self.by_username.get(words) or self.by_name.get(words)


def _minutes_between(start: dt.datetime, end: dt.datetime) -> int:
    seconds = (end - start).total_seconds()
    minutes = int((seconds + 30) // 60)
    return 1 if seconds > 0 and minutes == 0 else minutes


class _ActivityPlan(_Plan):
    """Calls, e-mails, meetings and notes, matched by their id in the source system: a second import of the
    same file changes nothing."""

    def match(self) -> None:
        prefix = str(self.mapping.options.get("activity_id_prefix") or "")
        deal_prefix = str(self.mapping.options.get("deal_id_prefix") or "")
        keys = [_key_of(r.values) for r in self.rows]
        self.load_people(keys)
        ids = sorted({prefix + r.values["activity_id"] for r in self.rows if r.values.get("activity_id")})
        stored: dict[str, Activity] = {}
        for chunk in chunked(ids):
            stored.update((a.external_id or "", a) for a in Activity.objects.filter(external_id__in=chunk))
        self.kinds = dict(ActivityType.objects.values_list("key", "label"))
        deal_ids = sorted({deal_prefix + r.values["deal_id"] for r in self.rows if r.values.get("deal_id")})
        deals: dict[str, tuple[int, int | None, int | None]] = {}
        for chunk in chunked(deal_ids):
            for ext, deal_pk, person_id, account_id in Deal.objects.filter(external_id__in=chunk).values_list(
                "external_id", "pk", "person_id", "account_id"
            ):
                deals[ext or ""] = (deal_pk, person_id, account_id)
        users = _Users() if any(r.values.get("user") for r in self.rows) else None
        found: list[tuple[Parsed, str, int]] = []
        first: dict[str, int] = {}
        for row, key in zip(self.rows, keys, strict=True):
            if not row.values.get("activity_id"):
                self.refuse(row, "activity_id", "value is missing", "")
                continue
            ext = prefix + row.values["activity_id"]
            if len(ext) > EXTERNAL_ID_MAX:
                self.refuse(row, "activity_id", f"the id is longer than {EXTERNAL_ID_MAX} characters", ext)
                continue
            if ext in first:
                self.refuse(
                    row, "activity_id", f"duplicate activity_id {ext!r} (also on row {first[ext]})", ext
                )
                continue
            pk = self.person_of(row, key)
            if pk is None:
                continue
            first[ext] = row.line
            found.append((row, ext, pk))
        accounts: dict[int, int | None] = {}
        for pk_chunk in chunked(sorted({pk for _, _, pk in found})):
            accounts.update(Person.objects.filter(pk__in=pk_chunk).values_list("pk", "account_id"))
        self.new: list[Activity] = []
        self.changes: dict[Activity, list[str]] = {}
        for row, ext, pk in found:
            activity = stored.get(ext)
            values = self._values(
                row, activity, deals=deals, deal_prefix=deal_prefix, person_id=pk, account_id=accounts.get(pk)
            )
            if values is None:
                continue
            # The activity belongs to the person's account, else the deal's (as activity_record decides); a
            # stored one keeps its own unless it moves to another person or deal.
            account = values.pop("_account_id")
            values["person_id"] = pk
            detail = ""
            if row.values.get("user"):
                assert users is not None  # loaded whenever a row names a user
                user_id = users.find(row.values["user"])
                if user_id is None:
                    detail = f"who did it: {row.values['user']!r} is not a Tandem user, left empty"
                values["user_id"] = user_id
            elif activity is not None:
                values["user_id"] = activity.user_id
            if activity is None:
                self.new.append(Activity(external_id=ext, account_id=account, **values))
                outcome = "created"
            else:
                if activity.person_id != pk or activity.deal_id != values["deal_id"]:
                    values["account_id"] = account
                changed = [n for n, v in values.items() if getattr(activity, n) != v]
                for n in changed:
                    setattr(activity, n, values[n])
                if changed:
                    self.changes[activity] = changed
                    detail = (
                        "changes "
                        + ", ".join(sorted(n.removesuffix("_id") for n in changed))
                        + (f"; {detail}" if detail else "")
                    )
                outcome = "updated" if changed else "unchanged"
            self.outcomes[row.line] = RowOutcome(row.line, outcome, key=ext, detail=detail)
        self.progress("match activities", len(self.rows), len(self.rows))

    def _values(
        self,
        row: Parsed,
        activity: Activity | None,
        *,
        deals: dict[str, tuple[int, int | None, int | None]],
        deal_prefix: str,
        person_id: int,
        account_id: int | None,
    ) -> dict[str, Any] | None:
        """The row's activity fields (a stored activity's own where the row says nothing), or None if refused."""
        v = row.values
        kind = v.get("kind") or (activity.kind_id if activity is not None else "")
        if not kind:
            self.refuse(row, "kind", "value is missing", "")
            return None
        if kind not in self.kinds:
            known = ", ".join(self.kinds)
            self.refuse(
                row,
                "kind",
                f"unknown activity kind {kind!r} (one of {known}; admins add kinds, or map the value)",
                kind,
            )
            return None
        at = v.get("occurred_at") or (activity.occurred_at if activity is not None else None)
        if at is None:
            self.refuse(row, "occurred_at", "value is missing", "")
            return None
        problem = occurred_at_problem(at=at, now=self.now)
        if problem:
            self.refuse(row, "occurred_at", problem, at.isoformat())
            return None
        minutes = v.get("duration")
        if minutes is None and v.get("ended_at") is not None:
            if v["ended_at"] < at:
                self.refuse(
                    row, "ended_at", f"ends before it starts ({at.isoformat()})", v["ended_at"].isoformat()
                )
                return None
            minutes = _minutes_between(at, v["ended_at"])
            problem = duration_problem(minutes=minutes)
            if problem:
                self.refuse(row, "ended_at", f"the duration {problem}", v["ended_at"].isoformat())
                return None
        notes = v.get("notes", activity.notes if activity is not None else "")
        kept = row.custom.get(OUTCOME_KEPT)
        if kept and not notes.startswith(f"Outcome: {kept}"):
            # A team's own outcome words are kept in the notes rather than lost.
            notes = f"Outcome: {kept}\n{notes}".strip()
        if len(notes) > NOTES_MAX:
            self.refuse(row, "notes", f"value is longer than {NOTES_MAX} characters", notes[:80])
            return None
        deal_pk, deal_account = None, None
        if v.get("deal_id"):
            deal = deals.get(deal_prefix + v["deal_id"])
            if deal is None:
                self.refuse(
                    row, "deal_id", f"no deal with id {v['deal_id']!r} (import the deals first)", v["deal_id"]
                )
                return None
            deal_pk, deal_person, deal_account = deal
            if deal_person != person_id and (deal_account is None or deal_account != account_id):
                self.refuse(
                    row,
                    "deal_id",
                    f"deal {v['deal_id']!r} belongs neither to this person nor to their account",
                    v["deal_id"],
                )
                return None
        elif activity is not None:
            deal_pk = activity.deal_id

        def keep(name: str, default: Any) -> Any:
            return getattr(activity, name) if activity is not None else default

        return {
            "kind_id": kind,
            "occurred_at": at,
            "outcome": v.get("outcome", keep("outcome", "")),
            "direction": v.get("direction", keep("direction", "")),
            "duration_minutes": minutes if minutes is not None else keep("duration_minutes", None),
            "subject": v.get("subject", keep("subject", "")),
            "notes": notes,
            "deal_id": deal_pk,
            "_account_id": account_id or deal_account,
        }

    def write(self) -> None:
        for done, chunk in enumerate(chunked(self.new, BATCH), 1):
            activities_log_bulk(activities=chunk)
            self.progress("write activities", min(done * BATCH, len(self.new)), len(self.new))
        if self.changes:
            fields = sorted({name for names in self.changes.values() for name in names})
            activities_update_bulk(activities=list(self.changes), fields=fields, batch_size=BATCH)
            self.progress("update activities", len(self.changes), len(self.changes))


# ---------------------------------------------------------------------------------------------------------
# Saved mappings and import jobs (the web page and the API run imports as jobs).

# Files with more rows than this are imported by a background task, the job page showing its progress.
BACKGROUND_ROWS = 2000
# How many row outcomes a job keeps for its page (refused rows first); the counts cover every row.
REPORT_LIMIT = 2000


def mapping_save(*, name: str, mapping: Mapping, by_user: Any = None) -> ImportMapping:
    """Save (or replace) a mapping under a name, for `--mapping NAME` and the upload page."""
    slug = slugify(name)
    if not slug or slug != name.strip().lower() or slug == "auto" or len(slug) > 80:
        raise ValidationFailed(
            f"a mapping name is up to 80 lower-case letters, digits and hyphens (not 'auto'), got {name!r}",
            field="name",
            value=name,
        )
    row, _ = ImportMapping.objects.update_or_create(
        name=slug,
        defaults={
            "kind": mapping.kind,
            "columns": dict(mapping.columns),
            "options": dict(mapping.options),
            "description": mapping.description,
            "created_by": by_user if getattr(by_user, "pk", None) else None,
        },
    )
    event_record(
        kind="import.mapping_saved", subject=row, actor=by_user, data={"name": slug, "kind": mapping.kind}
    )
    return row


# The storage folder of uploaded files and refused-rows files (tandem.core.uploads: a worker on another host
# reads them from the same storage).
IMPORTS_FOLDER = "imports"


def import_job_create(
    *,
    data: bytes,
    file_name: str,
    mapping: Mapping,
    mode: str = "all_or_nothing",
    dry_run: bool = False,
    by_user: Any = None,
    check: bool = True,
) -> ImportJob:
    """Store an uploaded file and queue its import (run by import_job_start). Without `check` the mapping
    is not checked yet: the upload page stores the file first and lets the user correct the mapping."""
    if mode not in ImportJob.Mode.values:
        raise ValidationFailed(
            f"unknown mode {mode!r} (expected all_or_nothing or good_rows)", field="mode", value=mode
        )
    table = table_read(data=data, name=file_name)
    if check:
        RowReader(mapping=mapping, headers=table.headers)
    stored = upload_save(folder=IMPORTS_FOLDER, data=data, suffix=".csv")
    return ImportJob.objects.create(
        kind=mapping.kind,
        file_name=file_name[:300],
        stored_path=stored,
        mapping_name=mapping.name,
        # The headers in file order: a JSON object's keys lose their order in PostgreSQL's jsonb.
        mapping={**mapping.as_dict(), "headers": table.headers, "detected": table.detected},
        mode=mode,
        dry_run=dry_run,
        total_rows=len(table.rows),
        created_by=by_user if getattr(by_user, "pk", None) else None,
        created_at=timezone.now(),
    )


def import_job_start(*, job: ImportJob) -> bool:
    """Run a small job now; queue a large one for the background worker once the job row is committed.
    Returns whether it went to the background."""
    if job.total_rows <= BACKGROUND_ROWS:
        import_job_run(job_id=job.pk)
        return False
    from tandem.capture.csvimport.tasks import import_job_task

    # Through the outbox: a queue that is down delays the import instead of failing the committed upload.
    task_enqueue_on_commit(task=import_job_task, args=[job.pk])
    return True


def import_job_run(*, job_id: int) -> ImportJob:
    """Run a queued job: its counts, row report and refused-rows file land on the job; errors fail it."""
    job = ImportJob.objects.get(pk=job_id)
    started = timezone.now()
    claimed = ImportJob.objects.filter(pk=job.pk, status=ImportJob.Status.QUEUED).update(
        status=ImportJob.Status.RUNNING, started_at=started, processed_rows=0
    )
    if not claimed:
        return job  # handed over twice (the outbox delivers at least once): it already ran or is running

    def progress(label: str, done: int, total: int) -> None:
        if label == "check rows":
            ImportJob.objects.filter(pk=job.pk).update(processed_rows=done)

    mapping = Mapping.from_dict(job.mapping)
    try:
        # A path, not bytes: the file is streamed (tandem.core.textfiles); from a remote storage through a
        # temporary copy on this host, removed when the import ends.
        with upload_local_path(name=job.stored_path) as path:
            result = csv_import(
                data=path,
                mapping=mapping,
                mode=job.mode,
                dry_run=job.dry_run,
                by_user=job.created_by,
                progress=progress,
                file_name=job.file_name,
                job_id=job.pk,
            )
    except TandemError as exc:
        job.refresh_from_db()
        job.status = ImportJob.Status.FAILED
        job.error = exc.message
        job.report = [{"error": exc.as_dict()}]
        job.processed_rows = job.total_rows
        job.finished_at = timezone.now()
        job.save()
        return _upload_release(job=job)
    except OSError as exc:
        job.status = ImportJob.Status.FAILED
        job.error = f"cannot read the stored file: {exc}"
        job.finished_at = timezone.now()
        job.save()
        return _upload_release(job=job)
    except Exception as exc:
        # A job must never stay "running" forever: the page polls it. The trace goes to the log.
        logger.exception("import job %s failed", job.pk)
        ImportJob.objects.filter(pk=job.pk).update(
            status=ImportJob.Status.FAILED,
            error=f"the import stopped on an unexpected error, nothing was written: {exc}",
            finished_at=timezone.now(),
        )
        job.refresh_from_db()
        return _upload_release(job=job)
    job.refresh_from_db()
    if result.refused:
        # The refused rows are the import's answer, downloaded later from any web node: kept in the storage.
        job.refused_path = upload_save(
            folder=IMPORTS_FOLDER, data=result.refused_csv().encode("utf-8"), suffix=f"-job{job.pk}.refused.csv"
        )
    job.counts = {
        **result.counts,
        **{k: v for k, v in result.summary().items() if isinstance(v, int) and not isinstance(v, bool)},
    }
    rows = sorted(result.rows, key=lambda r: (r.outcome != "refused", r.line))[:REPORT_LIMIT]
    job.report = [r.as_dict() for r in sorted(rows, key=lambda r: r.line)]
    job.total_rows = result.total_rows
    job.processed_rows = result.total_rows
    job.status = ImportJob.Status.DONE
    job.finished_at = timezone.now()
    job.save()
    return _upload_release(job=job)


def _upload_release(*, job: ImportJob) -> ImportJob:
    """Remove a finished job's uploaded file from the storage, unless a dry run that succeeded keeps it for
    "run for real" or another queued or running job still reads it."""
    name = job.stored_path
    if not name or (job.dry_run and job.status == ImportJob.Status.DONE):
        return job
    active = (ImportJob.Status.QUEUED, ImportJob.Status.RUNNING)
    if ImportJob.objects.filter(stored_path=name, status__in=active).exclude(pk=job.pk).exists():
        return job  # that job releases it when it ends
    # Every finished job naming the file forgets it first: a dry run of it can no longer be run for real.
    ImportJob.objects.filter(stored_path=name).update(stored_path="")
    upload_delete(name=name)
    job.stored_path = ""
    return job


def import_job_configure(
    *,
    job: ImportJob,
    columns: dict[str, str],
    mode: str,
    dry_run: bool,
    save_as: str = "",
    by_user: Any = None,
) -> ImportJob:
    """Set a queued job's columns (as corrected on the upload page), mode and dry run; check the mapping
    against the file's headers, and save it under `save_as` when given."""
    if job.status != ImportJob.Status.QUEUED:
        raise NotAllowed(f"import job {job.pk} has already run", field="job", value=job.pk)
    if mode not in ImportJob.Mode.values:
        raise ValidationFailed(
            f"unknown mode {mode!r} (expected all_or_nothing or good_rows)", field="mode", value=mode
        )
    mapping = Mapping.from_dict(job.mapping)
    if save_as:
        mapping.name = slugify(save_as)
    mapping.columns = {header: target for header, target in columns.items() if target}
    with upload_local_path(name=job.stored_path) as path:
        table = table_read(data=path, name=job.file_name)
    if mapping.system == "" and "external_id" in mapping.columns.values():
        mapping.options["external_id_system"] = "csv"
    RowReader(mapping=mapping, headers=table.headers)
    if save_as:
        mapping_save(name=save_as, mapping=mapping, by_user=by_user)
    job.mapping = {**mapping.as_dict(), "headers": table.headers, "detected": table.detected}
    job.mapping_name = mapping.name
    job.mode = mode
    job.dry_run = dry_run
    job.save(update_fields=["mapping", "mapping_name", "mode", "dry_run", "updated_at"])
    return job


def import_job_confirm(*, job: ImportJob, by_user: Any = None) -> ImportJob:
    """After a dry run: a new job importing the same file with the same mapping and mode, for real."""
    if not job.dry_run or job.status != ImportJob.Status.DONE:
        raise NotAllowed(f"import job {job.pk} is not a finished dry run", field="job", value=job.pk)
    if not job.stored_path:
        raise NotAllowed(
            f"the file of import job {job.pk} was imported already and removed; upload it again",
            field="job",
            value=job.pk,
        )
    return ImportJob.objects.create(
        kind=job.kind,
        file_name=job.file_name,
        stored_path=job.stored_path,
        mapping_name=job.mapping_name,
        mapping=job.mapping,
        mode=job.mode,
        dry_run=False,
        total_rows=job.total_rows,
        created_by=by_user if getattr(by_user, "pk", None) else None,
        created_at=timezone.now(),
    )


# ---- personal data (tandem.privacy): erasing one person from stored import files ----


def import_files_erase_person(*, needles: Sequence[str]) -> dict[str, int]:
    """Drop the rows naming a person from every stored import file and refused-rows file, and redact them in
    the jobs' row reports; returns how many rows and jobs changed."""
    rows_dropped = 0
    if not needles:
        return {"import_file_rows": 0, "import_jobs": 0}
    for job in ImportJob.objects.order_by("id").only("pk", "stored_path", "refused_path"):
        for column, path in (("stored_path", job.stored_path), ("refused_path", job.refused_path)):
            if not path:
                continue
            header, naming, others, delimiter = import_file_rows(path=path, needles=needles)
            if not naming:
                continue
            out = io.StringIO(newline="")
            # The file's own cells are written back as they were read (a stored upload is the user's data; a
            # refused-rows file was neutralised when written); verbatim still quotes cells holding a line break.
            writer = csvsafe.writer(out, delimiter=delimiter, lineterminator="\n", verbatim=True)
            writer.writerow(header)
            writer.writerows(others)
            renamed = upload_replace(name=path, data=out.getvalue().encode("utf-8"))
            if renamed != path:  # every job naming the file (a dry run and its real run) follows it
                ImportJob.objects.filter(**{column: path}).update(**{column: renamed})
            rows_dropped += len(naming)
    jobs = rows_redact(
        rows=rows_mentioning(rows=ImportJob.objects.all(), needles=needles, text=["error"], json=["report"]),
        needles=needles,
        text=["error"],
        json=["report"],
    )
    return {"import_file_rows": rows_dropped, "import_jobs": jobs}
