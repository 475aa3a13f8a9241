"""CSV column mappings without the ORM: header matching, value translation and cell parsing.

A mapping says which CSV header feeds which Tandem field, and how cells are read: value maps (a tool's
'Direct Traffic' is Tandem's `direct` channel), empty markers (X Education's `Select`), the system whose
ids a file carries, and fixed values for fields the file lacks. Every cell that cannot be read raises a
RowError naming the row (the file's line number), the column and the value.
"""

from __future__ import annotations

import csv
import datetime as dt
import difflib
import html
import io
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from tandem.capture.control_chars import control_char_cell, control_char_problem, control_chars_shown
from tandem.capture.csvimport.kinds import KINDS  # re-exported: `tandem import --help` reads it there
from tandem.core import csvsafe
from tandem.core.errors import ValidationFailed
from tandem.core.textfiles import TextUnreadable, text_format_detect, text_open
from tandem.crm.activities.quicklog import OUTCOME_WORDS
from tandem.crm.activities.services import DURATION_MAX_MINUTES, NOTES_MAX
from tandem.crm.channels import CHANNELS, TOUCHPOINT_KINDS
from tandem.crm.identity import email_check, email_is_valid

CUSTOM = "custom:"
CHANNEL_SLUGS = frozenset(slug for slug, _ in CHANNELS)
KIND_SLUGS = frozenset(slug for slug, _ in TOUCHPOINT_KINDS)
DEAL_STAGES = ("open", "won", "lost")
_AMOUNT_LIMIT = Decimal(10) ** 12
_CENT = Decimal("0.01")


@dataclass(frozen=True)
class FieldSpec:
    name: str
    label: str
    type: str  # text, email, datetime, amount, channel, kind, stage
    max_length: int = 0


def _spec(name: str, label: str, type_: str = "text", max_length: int = 0) -> FieldSpec:
    return FieldSpec(name, label, type_, max_length)


# A lead export's outcome columns (people files only); `converted` and `lost` are yes/no flags, `outcome` a deal
# stage word (won, lost, open, or a value map's).
OUTCOME_SPECS = (
    FieldSpec("converted", "Outcome: converted (a yes/no flag: won)", "flag"),
    FieldSpec("outcome", "Outcome: won, lost or open", "stage"),
    FieldSpec("lost", "Outcome: lost (a yes/no flag)", "flag"),
    FieldSpec("won_at", "Outcome: won date (a lost row's lost date)", "datetime"),
    FieldSpec("amount", "Outcome: deal amount", "amount"),
    FieldSpec("lost_reason", "Outcome: lost reason", "text", 120),
)
OUTCOME_FIELDS = frozenset(s.name for s in OUTCOME_SPECS)
# Flag cells as lead exports write them (compared case-insensitively); a mapping's options.outcomes
# true_values / false_values replace them.
TRUE_VALUES = ("1", "yes", "true", "y")
FALSE_VALUES = ("0", "no", "false", "n")

# The person a touchpoint or deal row belongs to is named by one of these (email first).
_PERSON_KEYS = (
    _spec("email", "Email", "email", 254),
    _spec("external_id", "External id (of the source system)", "text", 200),
    _spec("phone", "Phone", "text", 40),
)

FIELDS: dict[str, tuple[FieldSpec, ...]] = {
    "people": (
        *_PERSON_KEYS,
        _spec("first_name", "First name", "text", 100),
        _spec("last_name", "Last name", "text", 100),
        _spec("full_name", "Full name (split at the first space)", "text", 201),
        _spec("company", "Company", "text", 200),
        _spec("job_title", "Job title", "text", 200),
        _spec("industry", "Industry", "text", 80),
        _spec("country", "Country", "text", 80),
        _spec("created_at", "Created at", "datetime"),
        _spec("original_channel", "Original channel", "channel", 40),
        _spec("touchpoint_kind", "First touchpoint kind", "kind", 24),
        # Outcome columns of a flat lead export (capture/csvimport/outcomes.py): a won or lost deal and the stage
        # it brings, keyed by the row's external id so that a second import adds nothing.
        *OUTCOME_SPECS,
    ),
    "touchpoints": (
        *_PERSON_KEYS,
        _spec("occurred_at", "Occurred at", "datetime"),
        _spec("channel", "Channel", "channel", 40),
        _spec("kind", "Kind", "kind", 24),
        _spec("campaign_id", "Campaign (external id or name)", "text", 200),
        _spec("utm_source", "utm_source", "text", 120),
        _spec("utm_medium", "utm_medium", "text", 120),
        _spec("utm_campaign", "utm_campaign", "text", 200),
        _spec("utm_term", "utm_term", "text", 200),
        _spec("utm_content", "utm_content", "text", 200),
        _spec("url", "URL", "text", 2000),
        _spec("referrer", "Referrer", "text", 2000),
    ),
    "deals": (
        _spec("deal_id", "Deal id", "text", 120),
        *_PERSON_KEYS,
        # An account-level deal names its account (by domain, else by name) and perhaps no person at all.
        _spec("account", "Account (company name)", "text", 200),
        _spec("account_domain", "Account domain", "text", 200),
        _spec("name", "Deal name", "text", 200),
        _spec("amount", "Amount", "amount"),
        _spec("stage", "Stage (open, won, lost)", "stage"),
        _spec("created_at", "Created at", "datetime"),
        _spec("closed_at", "Closed at", "datetime"),
        _spec("lost_reason", "Lost reason", "text", 120),
        _spec("owner", "Owner (username, email or name of a Tandem user)", "text", 254),
    ),
    # One call, e-mail, meeting or note; the person is found by email (an address anywhere in the cell, as in
    # HubSpot's "Associated Contact"), else by the source system's id, else by phone.
    "activities": (
        _spec("activity_id", "Activity id (of the source system)", "text", 120),
        _spec("email", "Email of the person (an address in the cell)", "email_in_text", 254),
        _spec("external_id", "Person's external id (of the source system)", "text", 200),
        _spec("phone", "Phone", "text", 40),
        _spec("kind", "Kind (call, email, meeting, note or an admin's kind)", "activity_kind", 24),
        _spec("occurred_at", "Occurred at", "datetime"),
        _spec("ended_at", "Ended at (gives the duration)", "datetime"),
        _spec("outcome", "Outcome", "outcome"),
        _spec("direction", "Direction (inbound, outbound)", "direction"),
        _spec("duration", "Duration (minutes, seconds or HH:MM:SS)", "duration"),
        _spec("subject", "Subject", "text", 200),
        _spec("notes", "Notes", "rich_text", NOTES_MAX),
        _spec("deal_id", "Deal id", "text", 120),
        _spec("user", "Who did it (username, email or name of a Tandem user)", "text", 254),
    ),
}
SPECS: dict[str, dict[str, FieldSpec]] = {kind: {s.name: s for s in specs} for kind, specs in FIELDS.items()}

# Header spellings of the common tools (normalised: lower case, words separated by one space).
SYNONYMS: dict[str, dict[str, str]] = {
    "people": {
        "email": "email",
        "email address": "email",
        "e mail": "email",
        "work email": "email",
        "first name": "first_name",
        "firstname": "first_name",
        "given name": "first_name",
        "last name": "last_name",
        "lastname": "last_name",
        "surname": "last_name",
        "family name": "last_name",
        "name": "full_name",
        "full name": "full_name",
        "phone": "phone",
        "phone number": "phone",
        "mobile": "phone",
        "mobile phone": "phone",
        "mobile phone number": "phone",
        "company": "company",
        "company name": "company",
        "account name": "company",
        "organization": "company",
        "organisation": "company",
        "job title": "job_title",
        "title": "job_title",
        "industry": "industry",
        "country": "country",
        "country region": "country",
        "create date": "created_at",
        "created date": "created_at",
        "created at": "created_at",
        "created": "created_at",
        "first contact date": "created_at",
        "original source": "original_channel",
        "lead source": "original_channel",
        "source": "original_channel",
        "channel": "original_channel",
        "origin": "original_channel",
        "lead origin": "touchpoint_kind",
        "record id": "external_id",
        "contact id": "external_id",
        "lead id": "external_id",
        "prospect id": "external_id",
        "mql id": "external_id",
        "id": "external_id",
    },
    "touchpoints": {
        "email": "email",
        "email address": "email",
        "contact id": "external_id",
        "record id": "external_id",
        "lead id": "external_id",
        "mql id": "external_id",
        "phone": "phone",
        "occurred at": "occurred_at",
        "date": "occurred_at",
        "timestamp": "occurred_at",
        "activity date": "occurred_at",
        "channel": "channel",
        "source": "channel",
        "kind": "kind",
        "type": "kind",
        "activity type": "kind",
        "campaign": "campaign_id",
        "campaign id": "campaign_id",
        "campaign name": "campaign_id",
        "utm source": "utm_source",
        "utm medium": "utm_medium",
        "utm campaign": "utm_campaign",
        "utm term": "utm_term",
        "utm content": "utm_content",
        "url": "url",
        "page url": "url",
        "referrer": "referrer",
    },
    "deals": {
        "deal id": "deal_id",
        "opportunity id": "deal_id",
        "record id": "deal_id",
        "id": "deal_id",
        "email": "email",
        "contact email": "email",
        "contact id": "external_id",
        "lead id": "external_id",
        "mql id": "external_id",
        "deal name": "name",
        "opportunity name": "name",
        "name": "name",
        "amount": "amount",
        "deal amount": "amount",
        "value": "amount",
        "stage": "stage",
        "deal stage": "stage",
        "create date": "created_at",
        "created date": "created_at",
        "created at": "created_at",
        "close date": "closed_at",
        "closed at": "closed_at",
        "closed date": "closed_at",
        "won date": "closed_at",
        "lost reason": "lost_reason",
        "closed lost reason": "lost_reason",
        "account": "account",
        "account name": "account",
        "company": "account",
        "company name": "account",
        "organization": "account",
        "organisation": "account",
        "account domain": "account_domain",
        "company domain": "account_domain",
        "company domain name": "account_domain",
        "domain": "account_domain",
        "website": "account_domain",
        "owner": "owner",
        "deal owner": "owner",
        "opportunity owner": "owner",
        "sales agent": "owner",
    },
    "activities": {
        "activity id": "activity_id",
        "record id": "activity_id",
        "engagement id": "activity_id",
        "task id": "activity_id",
        "event id": "activity_id",
        "id": "activity_id",
        "email": "email",
        "email address": "email",
        "contact email": "email",
        "associated contact": "email",
        "contact id": "external_id",
        "lead id": "external_id",
        "associated contact ids": "external_id",
        "phone": "phone",
        "kind": "kind",
        "type": "kind",
        "activity type": "kind",
        "task subtype": "kind",
        "engagement type": "kind",
        "activity date": "occurred_at",
        "occurred at": "occurred_at",
        "date": "occurred_at",
        "timestamp": "occurred_at",
        "start": "occurred_at",
        "start date time": "occurred_at",
        "meeting start time": "occurred_at",
        "end": "ended_at",
        "end date time": "ended_at",
        "meeting end time": "ended_at",
        "outcome": "outcome",
        "call outcome": "outcome",
        "call result": "outcome",
        "meeting outcome": "outcome",
        "disposition": "outcome",
        "direction": "direction",
        "call direction": "direction",
        "call type": "direction",
        "duration": "duration",
        "call duration": "duration",
        "call duration hh mm ss": "duration",
        "call duration in seconds": "duration",
        "duration in minutes": "duration",
        "subject": "subject",
        "title": "subject",
        "call title": "subject",
        "email subject": "subject",
        "meeting name": "subject",
        "notes": "notes",
        "call notes": "notes",
        "comments": "notes",
        "description": "notes",
        "meeting description": "notes",
        "email body": "notes",
        "deal id": "deal_id",
        "opportunity id": "deal_id",
        "user": "user",
        "owner": "user",
        "assigned": "user",
        "assigned to": "user",
        "activity assigned to": "user",
    },
}

# Deal stages as the common tools write them (compared in lower case).
DEAL_STAGE_WORDS: dict[str, str] = {
    "open": "open",
    "won": "won",
    "lost": "lost",
    "closed won": "won",
    "closedwon": "won",
    "closed/won": "won",
    "closed lost": "lost",
    "closedlost": "lost",
    "closed/lost": "lost",
}

_DATE_FORMATS = (
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%d %H:%M",
    "%m/%d/%Y %H:%M:%S",
    "%m/%d/%Y %H:%M",
    "%m/%d/%Y %I:%M %p",
    "%m/%d/%Y",
    "%d.%m.%Y %H:%M",
    "%d.%m.%Y",
)


class RowError(ValidationFailed):
    """A row that cannot be imported, naming its line, column and value."""

    def __init__(self, problem: str, *, line: int, column: str = "", value: str = "") -> None:
        where = f"row {line}" + (f", column {column!r}" if column else "")
        super().__init__(f"{where}: {problem}", field=column or None, value=value)
        self.line = line
        self.column = column
        self.problem = problem

    def as_dict(self) -> dict[str, Any]:
        return {
            "detail": self.message,
            "line": self.line,
            "column": self.column,
            "field": self.column,
            "value": "" if self.value is None else str(self.value),
        }


@dataclass
class Mapping:
    """Which header feeds which field (or `custom:<key>`), plus the options that translate values.

    options: `empty` (cells meaning "no value", compared case-insensitively), `values` ({field: {source
    value: Tandem value}}, case-insensitive), `external_id_system` (whose ids the external_id column holds),
    `defaults` ({field: value} for fields the file lacks), `keep_raw` (keep a translated channel or kind's
    original text in the custom fields, under the header's slug), `stage` (the lifecycle stage new people
    reach), `deal_id_prefix`, `activity_id_prefix`, `duration_unit` (seconds, minutes, hours or milliseconds:
    what a duration column's plain numbers count; by default what its header says, else minutes),
    `created_at_from_order` and `outcomes` (a people file's outcome columns: outcomes.py). As a JSON file:
    mappingfile.py.
    """

    name: str
    kind: str
    columns: dict[str, str]
    options: dict[str, Any] = field(default_factory=dict)
    description: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "columns": dict(self.columns),
            "options": dict(self.options),
            "description": self.description,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Mapping:
        return cls(
            name=str(data.get("name", "")),
            kind=str(data.get("kind", "")),
            columns=dict(data.get("columns") or {}),
            options=dict(data.get("options") or {}),
            description=str(data.get("description", "")),
        )

    @property
    def system(self) -> str:
        return str(self.options.get("external_id_system") or "")


def header_normalize(header: str) -> str:
    """'Lead Source', 'lead_source' and ' LEAD-SOURCE ' all become 'lead source'."""
    return " ".join(re.sub(r"[^0-9a-z]+", " ", header.lower()).split())


def custom_key(header: str) -> str:
    """The custom-field key an unmapped header is kept under: 'What is your current occupation' ->
    'what_is_your_current_occupation'."""
    return header_normalize(header).replace(" ", "_")[:60] or "column"


def field_choices(kind: str) -> list[tuple[str, str]]:
    """The fields a column of this kind of file may feed, for a dropdown (plus custom and ignore)."""
    return [(s.name, s.label) for s in FIELDS[kind]]


def auto_map(*, headers: Sequence[str], kind: str) -> dict[str, str]:
    """Guess each header's field: a known spelling, else the closest known spelling (difflib ratio >= 0.8),
    else a custom field named after the header. A field is taken by its first header only."""
    if kind not in FIELDS:
        raise ValidationFailed(
            f"unknown kind {kind!r} (expected {', '.join(KINDS)})", field="kind", value=kind
        )
    synonyms = SYNONYMS[kind]
    names = {header_normalize(s.name): s.name for s in FIELDS[kind]}
    out: dict[str, str] = {}
    taken: set[str] = set()
    for header in headers:
        key = header_normalize(header)
        guess = synonyms.get(key) or names.get(key)
        if guess is None:
            close = difflib.get_close_matches(key, [*synonyms, *names], n=1, cutoff=0.8)
            if close:
                guess = synonyms.get(close[0]) or names[close[0]]
        if guess is None or guess in taken:
            out[header] = CUSTOM + custom_key(header) if key else ""
        else:
            out[header] = guess
            taken.add(guess)
    return out


def mapping_check(*, mapping: Mapping, headers: Sequence[str]) -> None:
    """Refuse a mapping that names unknown fields, maps a field twice, lacks a key or a header."""
    if mapping.kind not in FIELDS:
        raise ValidationFailed(
            f"unknown kind {mapping.kind!r} (expected {', '.join(KINDS)})", field="kind", value=mapping.kind
        )
    specs = SPECS[mapping.kind]
    seen: dict[str, str] = {}
    present = set(headers)
    for header, target in mapping.columns.items():
        if not target:
            continue
        if header not in present:
            raise ValidationFailed(
                f"mapping {mapping.name!r} names column {header!r}, which the file does not have",
                field="columns",
                value=header,
            )
        if target.startswith(CUSTOM):
            if not target[len(CUSTOM) :].strip():
                raise ValidationFailed(
                    f"column {header!r}: a custom field needs a name", field=header, value=target
                )
            continue
        if target not in specs:
            raise ValidationFailed(
                f"column {header!r}: unknown field {target!r} for {mapping.kind}", field=header, value=target
            )
        if target in seen:
            raise ValidationFailed(
                f"field {target!r} is fed by both {seen[target]!r} and {header!r}", field=header, value=target
            )
        seen[target] = header
    mapped = set(seen) | set(mapping.options.get("defaults", {}))
    # A deal may belong to an account alone; every other row belongs to a person.
    accounts = {"account", "account_domain"} if mapping.kind == "deals" else set()
    if not mapped & {"email", "external_id", "phone", *accounts}:
        raise ValidationFailed(
            "the mapping names no column for email, external_id or phone"
            + (", account or account_domain" if accounts else "")
            + ": rows could not be matched to people",
            field="columns",
            value=", ".join(headers[:10]),
        )
    if "external_id" in mapped and not mapping.system:
        raise ValidationFailed(
            "an external_id column needs options.external_id_system (whose ids these are)",
            field="external_id_system",
            value="",
        )
    if mapping.kind == "deals" and "deal_id" not in seen:
        raise ValidationFailed("a deals file needs a deal_id column", field="deal_id", value="")
    outcome_columns = sorted(OUTCOME_FIELDS & set(seen)) if mapping.kind == "people" else []
    if outcome_columns and "external_id" not in seen:
        # The row's own id names its won or lost deal: what makes a second import of the file add nothing.
        raise ValidationFailed(
            f"outcome column {seen[outcome_columns[0]]!r} needs an external_id column (the row's id keys its deal)",
            field="columns",
            value=seen[outcome_columns[0]],
        )
    if mapping.kind == "activities" and "activity_id" not in seen:
        # The activity's own id is what makes a second import of the same file change nothing.
        raise ValidationFailed("an activities file needs an activity_id column", field="activity_id", value="")


# ---------------------------------------------------------------------------------------------------------
# Reading a CSV file.


@dataclass
class Table:
    headers: list[str]
    rows: list[tuple[int, list[str]]]  # (line number in the file, cells)
    # What the file was found to be, e.g. "Windows-1252, semicolon-separated" (tandem.core.textfiles).
    detected: str = ""


# The columns `refused_csv` adds after a file's own: a file whose header ends with them is a refused-rows file
# Tandem wrote, which a user fixes and imports again.
REFUSED_COLUMNS = ("error_field", "error_value", "error")


def is_refused_file(headers: Sequence[str]) -> bool:
    """Whether a header is that of a refused-rows file Tandem wrote (its own columns, then REFUSED_COLUMNS)."""
    return len(headers) > len(REFUSED_COLUMNS) and tuple(h.strip() for h in headers[-len(REFUSED_COLUMNS) :]) == REFUSED_COLUMNS


def table_read(*, data: bytes | Path, name: str = "the file") -> Table:
    """The header and rows of a CSV file (encoding and comma, semicolon or tab detected: tandem.core.textfiles;
    bytes or a path, streamed); a row's line is its physical line number, counting the header as line 1."""
    try:
        fmt = text_format_detect(source=data)
    except TextUnreadable as exc:
        raise RowError(exc.message, line=exc.line, value=exc.byte) from None
    with text_open(source=data, fmt=fmt) as handle:
        table = _table_of(csv.reader(handle, delimiter=fmt.delimiter), name=name)
    table.detected = fmt.describe()
    return table


def _table_of(reader: Any, *, name: str) -> Table:
    try:
        headers = [h.strip() for h in next(reader)]
    except StopIteration:
        raise RowError(f"{name} is empty: it has no header row", line=1) from None
    except csv.Error as exc:
        raise RowError(f"cannot read the header: {exc}", line=1) from None
    if not any(headers):
        raise RowError("the header row is empty", line=1)
    # Other tools' files are read as they are: a leading quote there is the user's data. A refused-rows file is
    # ours: its cells were neutralised by csvsafe (`'=x` is the text `=x`), and its error columns describe the
    # last attempt, not the data, so they are dropped.
    refused = is_refused_file(headers)
    read_cell = csvsafe.cell_restore_strip if refused else str.strip
    if refused:
        headers = [read_cell(h) for h in headers[: -len(REFUSED_COLUMNS)]]
    dupes = sorted({h for h in headers if h and headers.count(h) > 1})
    if dupes:
        raise RowError(f"the header names column {dupes[0]!r} twice", line=1, column=dupes[0], value=dupes[0])
    bad = control_char_cell(headers)
    if bad is not None:
        raise RowError(
            control_char_problem(headers[bad]) or "", line=1, column=f"#{bad + 1}", value=control_chars_shown(headers[bad])
        )
    rows: list[tuple[int, list[str]]] = []
    line = 1
    while True:
        start = reader.line_num
        try:
            values = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            raise RowError(f"cannot read the CSV: {exc}", line=start + 1) from None
        line = start + 1
        if refused:
            values = values[: len(headers)]
        if not values or not any(v.strip() for v in values):
            continue
        rows.append((line, [read_cell(v) for v in values]))
    return Table(headers=headers, rows=rows)


def table_sample(*, data: bytes | Path, headers: Sequence[str], rows: int = 5) -> dict[str, list[str]]:
    """Up to `rows` non-empty example values per header from the top of a file (for the mapping page)."""
    try:
        fmt = text_format_detect(source=data)
    except ValidationFailed:
        return {h: [] for h in headers}
    with text_open(source=data, fmt=fmt) as handle:
        return _sample_of(csv.reader(handle, delimiter=fmt.delimiter), headers=headers, rows=rows)


def _sample_of(reader: Any, *, headers: Sequence[str], rows: int) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {h: [] for h in headers}
    try:
        # Cells read as table_read reads them (restored in a refused-rows file, whose headers it passed).
        read_cell = csvsafe.cell_restore_strip if is_refused_file(next(reader)) else str.strip
        for count, values in enumerate(reader):
            if count >= 50:
                break
            for header, value in zip(headers, values, strict=False):
                value = read_cell(value)
                if value and len(out[header]) < rows and value not in out[header]:
                    out[header].append(value[:60])
    except (csv.Error, StopIteration):
        pass  # a sample is a courtesy: the import itself reports the bad row
    return out


# ---------------------------------------------------------------------------------------------------------
# Turning a row's cells into field values.


@dataclass
class Parsed:
    """One row's values by field (empty cells left out), its custom fields, and its line."""

    line: int
    values: dict[str, Any]
    custom: dict[str, str]
    cells: list[str]


class RowReader:
    """Reads rows with one mapping: prepared once, then `read(line, cells)` per row."""

    def __init__(self, *, mapping: Mapping, headers: Sequence[str]) -> None:
        mapping_check(mapping=mapping, headers=headers)
        self.mapping = mapping
        self.headers = list(headers)
        specs = SPECS[mapping.kind]
        self.fields: list[tuple[int, str, FieldSpec]] = []
        self.custom: list[tuple[int, str, str]] = []
        for index, header in enumerate(headers):
            target = mapping.columns.get(header, "")
            if not target:
                continue
            if target.startswith(CUSTOM):
                self.custom.append((index, header, target[len(CUSTOM) :].strip()))
            else:
                self.fields.append((index, header, specs[target]))
        options = mapping.options
        self.empty = {str(v).strip().lower() for v in options.get("empty", [])} | {""}
        self.value_maps: dict[str, dict[str, str]] = {
            f: {str(k).strip().lower(): str(v) for k, v in m.items()}
            for f, m in (options.get("values") or {}).items()
        }
        self.defaults: dict[str, str] = {k: str(v) for k, v in (options.get("defaults") or {}).items()}
        self.keep_raw = bool(options.get("keep_raw", True))
        outcomes = options.get("outcomes") or {}
        self.flags = (
            {str(v).strip().lower() for v in outcomes.get("true_values", TRUE_VALUES)},
            {str(v).strip().lower() for v in outcomes.get("false_values", FALSE_VALUES)},
        )
        self.width = len(headers)

    def read(self, line: int, cells: list[str]) -> Parsed:
        if len(cells) != self.width:
            raise RowError(
                f"the row has {len(cells)} cells where the header has {self.width} columns",
                line=line,
                value=str(len(cells)),
            )
        bad = control_char_cell(cells)
        if bad is not None:
            # Every cell, mapped or not: NUL would end as a database error on PostgreSQL, and the other C0
            # controls are never data; the rest of the file still loads (good-rows mode).
            problem = control_char_problem(cells[bad])
            raise RowError(problem or "", line=line, column=self.headers[bad], value=control_chars_shown(cells[bad]))
        values: dict[str, Any] = {}
        custom: dict[str, str] = {}
        for index, header, spec in self.fields:
            raw = cells[index]
            if raw.lower() in self.empty:
                continue
            value = self._value(line=line, header=header, spec=spec, raw=raw, custom=custom)
            if value not in (None, ""):
                values[spec.name] = value
        for name, text in self.defaults.items():
            if name not in values:
                spec = SPECS[self.mapping.kind][name]
                values[name] = self._value(line=line, header=name, spec=spec, raw=text, custom=custom)
        for index, _header, key in self.custom:
            raw = cells[index]
            if raw.lower() not in self.empty:
                custom[key] = raw
        return Parsed(line=line, values=values, custom=custom, cells=cells)

    def _value(self, *, line: int, header: str, spec: FieldSpec, raw: str, custom: dict[str, str]) -> Any:
        mapped = self.value_maps.get(spec.name, {}).get(raw.lower())
        text = raw if mapped is None else mapped
        if spec.type in ("channel", "kind"):
            slug = re.sub(r"[\s\-_]+", "_", text.strip().lower()).strip("_")
            known = CHANNEL_SLUGS if spec.type == "channel" else KIND_SLUGS
            if slug not in known:
                slug = "other"
            if slug != re.sub(r"[\s\-_]+", "_", raw.strip().lower()).strip("_") and self.keep_raw:
                # A translated or unknown value keeps the source's own words beside the vocabulary's.
                custom[custom_key(header)] = raw
            return slug
        if spec.type == "email":
            try:
                # Checked by email-validator as every way in checks it (tandem.crm.identity).
                return email_check(text)
            except ValidationFailed as exc:
                problem = exc.message.split(": ", 1)[-1]
                raise RowError(
                    f"{raw!r} is not a valid email address: {problem}", line=line, column=header, value=raw
                ) from None
        if spec.type == "datetime":
            return datetime_read(text, line=line, column=header)
        if spec.type == "amount":
            return amount_read(text, line=line, column=header)
        if spec.type == "flag":
            word = text.strip().lower()
            if word in self.flags[0]:
                return True
            if word in self.flags[1]:
                return False
            raise RowError(
                f"cannot read {raw!r} as yes or no (yes: {', '.join(sorted(self.flags[0]))}; "
                f"no: {', '.join(sorted(self.flags[1]))}; set options.outcomes.true_values / false_values)",
                line=line,
                column=header,
                value=raw,
            )
        if spec.type == "stage":
            stage = DEAL_STAGE_WORDS.get(text.strip().lower())
            if stage is None:
                raise RowError(
                    f"unknown deal stage {raw!r} (expected open, won or lost, or a value map)",
                    line=line,
                    column=header,
                    value=raw,
                )
            return stage
        if spec.type in ACTIVITY_TYPES:
            text = activity_value(
                spec.type, text, line=line, column=header, unit=str(self.mapping.options.get("duration_unit") or "")
            )
            if text is None:
                # An outcome outside Tandem's list (a team's own call result) is kept in the notes, not refused.
                custom[OUTCOME_KEPT] = raw
                return ""
        if spec.max_length and isinstance(text, str) and len(text) > spec.max_length:
            raise RowError(
                f"value is longer than {spec.max_length} characters", line=line, column=header, value=raw
            )
        return text


# ---------------------------------------------------------------------------------------------------------
# Activity cells: kinds, outcomes, directions and durations as HubSpot, Salesforce and spreadsheets write them.

# Where a row's unknown outcome waits for the import to put it in the notes ("Outcome: Meeting booked").
OUTCOME_KEPT = "_outcome"
ACTIVITY_TYPES = frozenset(
    {"activity_kind", "outcome", "direction", "duration", "email_in_text", "rich_text"}
)
# Outcome words (lower case, "_" and "-" read as spaces) → ActivityOutcome values: the quick-log box's words,
# the labels, and the exports' own words. An empty value means "no outcome".
IMPORT_OUTCOME_WORDS: dict[str, str] = {
    **{word.replace("-", " "): value for word, value in OUTCOME_WORDS.items()},
    "left live message": "left_voicemail",
    "left message": "left_voicemail",
    "voice mail": "left_voicemail",
    "no show": "no_show",
    "failed": "",
    "sending": "",
    "completed": "held",
}
DIRECTION_WORDS: dict[str, str] = {
    "outbound": "outbound",
    "outgoing": "outbound",
    "out": "outbound",
    "inbound": "inbound",
    "incoming": "inbound",
    "in": "inbound",
    # Salesforce's "Internal" call type: neither way.
    "internal": "",
}
KIND_ALIASES: dict[str, str] = {"e_mail": "email", "mail": "email", "phone_call": "call", "event": "meeting"}
_EMAIL_IN_TEXT = re.compile(r"[^\s<>()\[\]\"';,:]+@[^\s<>()\[\]\"';,:]+\.[^\s<>()\[\]\"';,:]+")
_HTML = re.compile(r"</?(p|div|br|span|b|i|strong|em|ul|ol|li|a)\b[^>]*>", re.IGNORECASE)
_UNITS = {"seconds": 1, "minutes": 60, "hours": 3600, "milliseconds": 0.001}


def _words(text: str) -> str:
    return " ".join(re.sub(r"[_\-]+", " ", text.strip().lower()).split())


def duration_unit(header: str, option: str = "") -> str:
    """The unit a duration column's plain numbers are in: the mapping's `duration_unit`, else what the header
    says ("Call Duration in Seconds", "duration_ms"), else minutes."""
    if option:
        return option
    words = header_normalize(header).split()
    if any(w.startswith("milli") or w == "ms" for w in words):
        return "milliseconds"
    if any(w.startswith("sec") for w in words):
        return "seconds"
    if any(w.startswith("hour") for w in words):
        return "hours"
    return "minutes"


def duration_read(text: str, *, unit: str, line: int, column: str) -> int:
    """Whole minutes from "00:15:30" (HH:MM:SS), "15:30" (MM:SS) or a plain number in `unit`; rounded to the
    nearest minute, and a call of a few seconds is one minute, not zero."""
    value = text.strip()
    seconds: float
    try:
        if ":" in value:
            parts = [int(p) for p in value.split(":")]
            if len(parts) > 3 or any(p < 0 for p in parts) or any(p > 59 for p in parts[1:]):
                raise ValueError(value)
            seconds = 0
            for part in parts:
                seconds = seconds * 60 + part
        else:
            number = Decimal(value.replace(",", ""))
            if not number.is_finite() or number < 0:
                raise ValueError(value)
            seconds = float(number) * _UNITS[unit]
    except (ValueError, InvalidOperation, KeyError):
        raise RowError(
            f"cannot read {text!r} as a duration (HH:MM:SS, MM:SS or a number of {unit})",
            line=line,
            column=column,
            value=text,
        ) from None
    minutes = int((seconds + 30) // 60)
    if seconds > 0 and minutes == 0:
        minutes = 1
    if minutes > DURATION_MAX_MINUTES:
        raise RowError(
            f"{text!r} is longer than a day ({DURATION_MAX_MINUTES} minutes)",
            line=line,
            column=column,
            value=text,
        )
    return minutes


def activity_value(type_: str, text: str, *, line: int, column: str, unit: str = "") -> Any:
    """One activity cell read: a kind slug, an ActivityOutcome value, a direction, minutes, an email found in
    the text (empty when there is none), or notes with HTML markup turned into lines."""
    if type_ == "activity_kind":
        slug = re.sub(r"[\s\-_]+", "_", text.strip().lower()).strip("_")
        return KIND_ALIASES.get(slug, slug)
    if type_ == "outcome":
        # None: not one of Tandem's outcomes (the reader keeps the words in the notes).
        return IMPORT_OUTCOME_WORDS.get(_words(text))
    if type_ == "direction":
        words = _words(text)
        if words not in DIRECTION_WORDS:
            raise RowError(
                f"unknown direction {text!r} (expected inbound or outbound, or a value map)",
                line=line,
                column=column,
                value=text,
            )
        return DIRECTION_WORDS[words]
    if type_ == "duration":
        return duration_read(text, unit=duration_unit(column, unit), line=line, column=column)
    if type_ == "email_in_text":
        found = _EMAIL_IN_TEXT.search(text)
        return found.group() if found is not None and email_is_valid(found.group()) else ""
    # rich_text: HubSpot's notes are HTML; paragraphs and line breaks become lines, other markup goes.
    if "<" not in text:
        return text
    plain = re.sub(r"<br\s*/?>|</p>|</div>|</li>", "\n", text, flags=re.IGNORECASE)
    plain = html.unescape(_HTML.sub("", plain))
    return "\n".join(part.strip() for part in plain.splitlines() if part.strip())


def datetime_read(text: str, *, line: int, column: str) -> dt.datetime:
    """A date-time in UTC from ISO text or the US/European forms spreadsheets write."""
    value: dt.datetime | None = None
    try:
        value = dt.datetime.fromisoformat(text.replace("Z", "+00:00") if text.endswith("Z") else text)
    except ValueError:
        for form in _DATE_FORMATS:
            try:
                value = dt.datetime.strptime(text, form)
                break
            except ValueError:
                continue
    if value is None:
        raise RowError(f"cannot read {text!r} as a date-time", line=line, column=column, value=text)
    if value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC)


def amount_read(text: str, *, line: int, column: str) -> Decimal:
    """An amount from '1234.5', '1,234.50' or '$ 1,234.50' (at most two decimals, not negative)."""
    cleaned = re.sub(r"[\s$€£R]|,(?=\d{3}(\D|$))", "", text)
    try:
        number = Decimal(cleaned)
    except InvalidOperation:
        number = Decimal("NaN")
    if not number.is_finite():
        raise RowError(f"cannot read {text!r} as an amount", line=line, column=column, value=text)
    if number < 0:
        raise RowError(f"must not be negative, got {text!r}", line=line, column=column, value=text)
    if number >= _AMOUNT_LIMIT:
        raise RowError(
            f"{text!r} is too large (at most 999999999999.99)", line=line, column=column, value=text
        )
    if number != number.quantize(_CENT, rounding=ROUND_DOWN):
        raise RowError(f"{text!r} has more than two decimals", line=line, column=column, value=text)
    return number.quantize(_CENT).copy_abs()


def rows_parse(*, reader: RowReader, rows: Iterable[tuple[int, list[str]]]) -> Iterator[Parsed | RowError]:
    """Each row parsed, or the error that refuses it."""
    for line, cells in rows:
        try:
            yield reader.read(line, cells)
        except RowError as exc:
            yield exc


def refused_csv(*, headers: Sequence[str], refused: Sequence[tuple[list[str], RowError]]) -> str:
    """The refused rows as CSV: their own cells, then error_field, error_value and error; formula-like cells
    neutralised (csvsafe), and restored when the file is imported again (table_read knows it by its header)."""
    out = io.StringIO()
    writer = csvsafe.writer(out, lineterminator="\n")
    writer.writerow([*headers, *REFUSED_COLUMNS])
    for cells, error in refused:
        padded = (cells + [""] * len(headers))[: len(headers)]
        writer.writerow(
            [*padded, error.column, "" if error.value is None else str(error.value), error.message]
        )
    return out.getvalue()


# Row outcomes in the order reports show them.
OUTCOMES_ORDER = ("created", "updated", "unchanged", "merged", "refused")
