"""The interchange bundle without the ORM: its files and columns, reading and checking them, writing them.

A bundle is a folder of CSV files that carries a whole company in or out (docs/bundle.md). Reading checks
every row before anything is written, so a bad row is reported with its file, line, column and value while
the database is still untouched. Writing is canonical (UTC times, two-decimal amounts, sorted rows), so an
export imported elsewhere and exported again gives the same bytes. Formula-like text cells are written with a
leading quote and read back without it (tandem.core.csvsafe), so a spreadsheet runs nothing and a round trip
is lossless.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
import zipfile
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, Decimal, InvalidOperation
from functools import lru_cache
from pathlib import Path, PurePosixPath
from typing import IO, Any

from tandem.capture.control_chars import CONTROL, control_char_cell, control_char_problem, control_chars_shown
from tandem.core import csvsafe
from tandem.core.errors import ValidationFailed
from tandem.crm.identity import email_domain, email_is_valid, email_normalize
from tandem.crm.stages import Stage, rank

Progress = Callable[[str, int, int], None]

CAMPAIGNS = "campaigns.csv"
CAMPAIGN_COSTS = "campaign_costs.csv"
PEOPLE = "people.csv"
TOUCHPOINTS = "touchpoints.csv"
DEALS = "deals.csv"
ACTIVITIES = "activities.csv"
QUESTIONS = "questions.csv"
FILES: tuple[str, ...] = (CAMPAIGNS, CAMPAIGN_COSTS, PEOPLE, TOUCHPOINTS, DEALS, ACTIVITIES, QUESTIONS)

COLUMNS: dict[str, tuple[str, ...]] = {
    CAMPAIGNS: ("campaign_id", "name", "channel", "started_on", "ended_on", "cost"),
    CAMPAIGN_COSTS: ("campaign_id", "spent_on", "spent_until", "amount", "note"),
    PEOPLE: (
        "email",
        "first_name",
        "last_name",
        "company",
        "industry",
        "company_size",
        "country",
        "job_title",
        "created_at",
    ),
    TOUCHPOINTS: ("email", "occurred_at", "channel", "campaign_id", "kind"),
    DEALS: ("deal_id", "email", "amount", "stage", "created_at", "closed_at", "lost_reason"),
    ACTIVITIES: (
        "activity_id",
        "email",
        "kind",
        "occurred_at",
        "outcome",
        "direction",
        "duration_minutes",
        "subject",
        "notes",
        "deal_id",
        "user",
    ),
    QUESTIONS: ("email", "asked_at", "text"),
}

# Standard columns a header may leave out (bundles written before they existed). Export writes them after
# COLUMNS; on import a missing one reads as empty cells, and stored rows keep their value for it.
OPTIONAL_COLUMNS: dict[str, tuple[str, ...]] = {
    CAMPAIGNS: ("kind", "offer", "offer_ends_on", "talking_points"),
}

# The longest text each column's database field holds: a longer value is refused here with its line,
# not by the database halfway through the write (tests keep these equal to the models' max_length).
MAX_LENGTH: dict[str, dict[str, int]] = {
    CAMPAIGNS: {"campaign_id": 120, "name": 200, "channel": 40, "offer": 200},
    CAMPAIGN_COSTS: {"campaign_id": 120, "note": 200},
    PEOPLE: {
        "email": 254,
        "first_name": 100,
        "last_name": 100,
        "company": 200,
        "industry": 80,
        "company_size": 16,
        "country": 80,
        "job_title": 200,
    },
    TOUCHPOINTS: {"channel": 40, "kind": 24},
    DEALS: {"deal_id": 120, "lost_reason": 120},
    ACTIVITIES: {"activity_id": 120, "kind": 24, "subject": 200, "deal_id": 120, "user": 150},
    QUESTIONS: {},
}

# Files whose rows keep no custom fields, so an extra column would be lost on the way back out.
NO_CUSTOM_COLUMNS: frozenset[str] = frozenset({CAMPAIGN_COSTS, ACTIVITIES})
# The longest activity anyone logs (crm.activities.services.DURATION_MAX_MINUTES; a test keeps them equal).
ACTIVITY_MAX_MINUTES = 24 * 60
ACTIVITY_DIRECTIONS = ("inbound", "outbound")

DEAL_STAGES = ("open", "won", "lost")
DEFAULT_TOUCHPOINT_KIND = "other"
# Campaign.kind's default (tests keep them equal): what an empty kind cell means.
DEFAULT_CAMPAIGN_KIND = "campaign"
# Deal.amount, Campaign.actual_cost and CampaignCost.amount are DECIMAL(14, 2).
_AMOUNT_LIMIT = Decimal(10) ** 12
_CENT = Decimal("0.01")
# Rows created in Tandem without an external id are exported under this id, and found again by it.
_LOCAL_ID = re.compile(r"^tandem-([0-9]{1,18})$")
MAX_UNZIPPED_BYTES = 1 << 30


class BundleError(ValidationFailed):
    """A bundle that cannot be imported, naming the file, line, column and value at fault."""

    def __init__(self, problem: str, *, file: str, line: int = 0, column: str = "", value: str = "") -> None:
        where = file + (f" line {line}" if line else "") + (f", column {column}" if column else "")
        super().__init__(f"{where}: {problem}", field=column or None, value=value)
        self.file = file
        self.line = line
        self.column = column
        self.problem = problem

    def as_dict(self) -> dict[str, Any]:
        return {
            "detail": self.message,
            "file": self.file,
            "line": self.line,
            "column": self.column,
            "field": self.column,
            "value": "" if self.value is None else str(self.value),
        }


@dataclass(slots=True)
class CampaignRow:
    campaign_id: str
    name: str
    channel: str
    started_on: dt.date | None
    ended_on: dt.date | None
    # The campaign's total cost; None for an empty cell (the total of its cost entries stands).
    cost: Decimal | None
    kind: str = DEFAULT_CAMPAIGN_KIND
    offer: str = ""
    offer_ends_on: dt.date | None = None
    talking_points: str = ""
    custom: dict[str, str] = field(default_factory=dict)
    line: int = 0


@dataclass(slots=True)
class CostRow:
    """One cost entry of a campaign: an amount spent on a day, or spread over spent_on..spent_until."""

    campaign_id: str
    spent_on: dt.date
    spent_until: dt.date | None
    amount: Decimal
    note: str
    custom: dict[str, str] = field(default_factory=dict)
    line: int = 0

    def key(self) -> tuple[str, dt.date, dt.date | None, Decimal, str]:
        """What identifies an entry: a bundle's entries have no id, so the whole row is the key."""
        return (self.campaign_id, self.spent_on, self.spent_until, self.amount, self.note)


@dataclass(slots=True)
class PersonRow:
    email: str
    email_key: str
    first_name: str
    last_name: str
    company: str
    industry: str
    company_size: str
    country: str
    job_title: str
    created_at: dt.datetime
    custom: dict[str, str] = field(default_factory=dict)
    line: int = 0


@dataclass(slots=True)
class TouchpointRow:
    email: str
    email_key: str
    occurred_at: dt.datetime
    channel: str
    campaign_id: str
    kind: str
    custom: dict[str, str] = field(default_factory=dict)
    line: int = 0


@dataclass(slots=True)
class DealRow:
    deal_id: str
    email: str
    email_key: str
    amount: Decimal
    stage: str
    created_at: dt.datetime
    closed_at: dt.datetime | None
    lost_reason: str
    custom: dict[str, str] = field(default_factory=dict)
    line: int = 0


@dataclass(slots=True)
class ActivityRow:
    """A call, e-mail, meeting or note; `user` is the username of who did it, `deal_id` a deals.csv id."""

    activity_id: str
    email: str
    email_key: str
    kind: str
    occurred_at: dt.datetime
    outcome: str
    direction: str
    duration_minutes: int | None
    subject: str
    notes: str
    deal_id: str
    user: str
    custom: dict[str, str] = field(default_factory=dict)
    line: int = 0


@dataclass(slots=True)
class QuestionRow:
    email: str
    email_key: str
    asked_at: dt.datetime
    text: str
    custom: dict[str, str] = field(default_factory=dict)
    line: int = 0


@dataclass
class Bundle:
    """Every row of a bundle, parsed and checked; custom_columns lists each file's extra columns and
    absent_columns the optional standard columns its header left out."""

    campaigns: list[CampaignRow] = field(default_factory=list)
    campaign_costs: list[CostRow] = field(default_factory=list)
    people: list[PersonRow] = field(default_factory=list)
    touchpoints: list[TouchpointRow] = field(default_factory=list)
    deals: list[DealRow] = field(default_factory=list)
    activities: list[ActivityRow] = field(default_factory=list)
    questions: list[QuestionRow] = field(default_factory=list)
    custom_columns: dict[str, tuple[str, ...]] = field(default_factory=dict)
    absent_columns: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def counts(self) -> dict[str, int]:
        return {
            CAMPAIGNS: len(self.campaigns),
            CAMPAIGN_COSTS: len(self.campaign_costs),
            PEOPLE: len(self.people),
            TOUCHPOINTS: len(self.touchpoints),
            DEALS: len(self.deals),
            ACTIVITIES: len(self.activities),
            QUESTIONS: len(self.questions),
        }


# ---------------------------------------------------------------------------------------------------------
# Values: reading what people write, writing one canonical form.


def datetime_parse(text: str) -> dt.datetime:
    """A date-time in UTC from ISO text ('2025-03-04T10:15:00Z', '… 10:15:00', '…+01:00', '2025-03-04')."""
    value = dt.datetime.fromisoformat(text)
    if value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC)


def datetime_format(value: dt.datetime) -> str:
    """The canonical form: UTC with a Z, whole seconds unless the value has a fraction."""
    return value.astimezone(dt.UTC).replace(tzinfo=None).isoformat() + "Z"


def date_format(value: dt.date | None) -> str:
    return value.isoformat() if value is not None else ""


def amount_format(value: Decimal) -> str:
    return f"{value.quantize(_CENT):.2f}"


@lru_cache(maxsize=4096)
def slug_normalize(text: str) -> str:
    """Channel and kind names as lower-case slugs: 'Paid Search' and 'paid-search' become 'paid_search'."""
    return re.sub(r"[\s\-_]+", "_", text.strip().lower()).strip("_")


def size_band_normalize(*, text: str, bands: Iterable[str]) -> str:
    """A company size as one of the known bands when it is one written another way ('1,001–5,000')."""
    compact = re.sub(r"[\s,]", "", text).replace("–", "-").replace("—", "-")
    return compact if compact in set(bands) else text


def export_id(*, external_id: str | None, pk: int) -> str:
    """The id a campaign or deal is exported under: its external id, or 'tandem-<pk>' when it has none."""
    return external_id or f"tandem-{pk}"


def local_pk(identifier: str) -> int | None:
    """The primary key an exported 'tandem-<pk>' id stands for, or None for any other id."""
    match = _LOCAL_ID.match(identifier)
    return int(match.group(1)) if match else None


def account_key(*, email: str, company: str) -> tuple[str, str] | None:
    """How a person's account is found: by the email's company domain, else (free mail) by company name."""
    domain = email_domain(email)
    if domain is not None:
        return ("domain", domain)
    if company:
        return ("name", company)
    return None


@dataclass
class AccountFields:
    name: str
    domain: str | None
    industry: str
    size_band: str
    country: str


def bundle_accounts(*, people: Sequence[PersonRow]) -> dict[tuple[str, str], AccountFields]:
    """The accounts the people rows name; per account, each field's first non-empty value in file order."""
    out: dict[tuple[str, str], AccountFields] = {}
    for row in people:
        key = account_key(email=row.email_key, company=row.company)
        if key is None:
            continue
        fields = out.get(key)
        if fields is None:
            domain = key[1] if key[0] == "domain" else None
            out[key] = AccountFields(row.company, domain, row.industry, row.company_size, row.country)
            continue
        fields.name = fields.name or row.company
        fields.industry = fields.industry or row.industry
        fields.size_band = fields.size_band or row.company_size
        fields.country = fields.country or row.country
    return out


@dataclass(frozen=True)
class StageMove:
    to_stage: str
    at: dt.datetime


def lifecycle_moves(
    *, created_at: dt.datetime, deals: Sequence[DealRow], reached: int | None
) -> list[StageMove]:
    """A person's stages from the data: lead when created, opportunity at the first deal, customer at the
    first win; only stages beyond `reached` (the highest funnel rank already reached, None for a new person).
    """
    moves = [StageMove(Stage.LEAD, created_at)]
    if deals:
        opened = max(created_at, min(d.created_at for d in deals))
        # A deal entered before its person is recorded when the person is, so the history stays in order.
        moves.append(StageMove(Stage.OPPORTUNITY, opened))
        won = [d.closed_at for d in deals if d.stage == "won" and d.closed_at is not None]
        if won:
            moves.append(StageMove(Stage.CUSTOMER, max(opened, min(won))))
    if reached is None:
        return moves
    return [m for m in moves if rank(m.to_stage) > reached]


def custom_merge(*, current: dict[str, Any], columns: Iterable[str], given: dict[str, str]) -> dict[str, Any]:
    """Custom fields after an import: the file's columns set (or, when empty, remove) their keys; others stay."""
    merged = dict(current)
    for column in columns:
        value = given.get(column)
        if not value:
            merged.pop(column, None)
        elif _cell(merged.get(column)) != value:
            # A value stored as JSON (5, true) that exports as this very text is the same value.
            merged[column] = value
    return merged


def custom_items(custom: dict[str, Any]) -> tuple[tuple[str, str], ...]:
    """Custom fields as a sorted, hashable key (values as the text an export would write)."""
    return tuple(sorted((k, _cell(v)) for k, v in custom.items() if _cell(v)))


def _cell(value: Any) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else json.dumps(value)


# ---------------------------------------------------------------------------------------------------------
# Reading a bundle folder.


class _Row:
    """The row being read; its methods turn cells into values or raise a BundleError naming the cell."""

    __slots__ = ("absent", "custom_at", "file", "index", "limits", "line", "values")

    def __init__(self, *, file: str, index: dict[str, int], custom_at: list[tuple[str, int]]) -> None:
        self.file = file
        self.index = index
        self.custom_at = custom_at
        self.limits = MAX_LENGTH[file]
        self.line = 0
        self.values: list[str] = []
        self.absent: tuple[str, ...] = ()

    def error(self, column: str, value: str, problem: str) -> BundleError:
        return BundleError(problem, file=self.file, line=self.line, column=column, value=value)

    def text(self, column: str, *, required: bool = False) -> str:
        value = self.values[self.index[column]]
        if not value and required:
            raise self.error(column, value, "value is missing")
        limit = self.limits.get(column)
        if limit is not None and len(value) > limit:
            raise self.error(column, value, f"value is longer than {limit} characters")
        return value

    def email(self, column: str = "email") -> tuple[str, str]:
        value = self.text(column, required=True)
        return value, email_normalize(value) or ""

    def slug(self, column: str, *, default: str = "") -> str:
        value = slug_normalize(self.text(column, required=not default)) or default
        limit = self.limits.get(column)
        if not value:
            raise self.error(column, self.values[self.index[column]], "value is missing")
        if limit is not None and len(value) > limit:
            raise self.error(column, value, f"value is longer than {limit} characters")
        return value

    def datetime(self, column: str, *, required: bool = True) -> dt.datetime | None:
        value = self.text(column, required=required)
        if not value:
            return None
        try:
            return datetime_parse(value)
        except (ValueError, OverflowError):
            raise self.error(column, value, f"cannot read {value!r} as a date-time") from None

    def moment(self, column: str) -> dt.datetime:
        value = self.datetime(column, required=True)
        assert value is not None  # required=True never gives None
        return value

    def date(self, column: str) -> dt.date | None:
        value = self.text(column)
        if not value:
            return None
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            raise self.error(column, value, f"cannot read {value!r} as a date") from None

    def amount(self, column: str, *, required: bool = True) -> Decimal:
        value = self.text(column, required=required)
        if not value:
            return Decimal("0.00")
        try:
            number = Decimal(value)
        except InvalidOperation:
            number = Decimal("NaN")
        if not number.is_finite():
            raise self.error(column, value, f"cannot read {value!r} as an amount")
        if number < 0:
            raise self.error(column, value, f"must not be negative, got {value!r}")
        if number >= _AMOUNT_LIMIT:
            raise self.error(column, value, f"{value!r} is too large (at most 999999999999.99)")
        if number != number.quantize(_CENT, rounding=ROUND_DOWN):
            raise self.error(column, value, f"{value!r} has more than two decimals")
        # copy_abs: '-0' is not negative but would be written back as '-0.00'.
        return number.quantize(_CENT).copy_abs()

    def custom(self) -> dict[str, str]:
        values = self.values
        return {name: values[i] for name, i in self.custom_at if values[i]}


def _decode(*, file: str, raw: bytes) -> str:
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        bad = raw[exc.start : exc.start + 1].hex()
        raise BundleError("the file is not UTF-8 text", file=file, line=line, value=f"0x{bad}") from None
    return text


def _no_controls(*, file: str, line: int, cells: Sequence[str], names: Sequence[str]) -> None:
    bad = control_char_cell(cells)
    if bad is not None:
        raise BundleError(
            control_char_problem(cells[bad]) or "", file=file, line=line, column=names[bad].strip(),
            value=control_chars_shown(cells[bad]),
        )


def _header(*, file: str, line: int, cells: list[str]) -> tuple[dict[str, int], list[tuple[str, int]]]:
    required = COLUMNS[file]
    standard = (*required, *OPTIONAL_COLUMNS.get(file, ()))
    index: dict[str, int] = {}
    for position, cell in enumerate(cells):
        # Custom column names are users' text, neutralised on export like any cell.
        name = csvsafe.cell_restore_strip(cell)
        if not name:
            raise BundleError("the column has no name", file=file, line=line, column=f"#{position + 1}")
        if name.lower() in standard:
            name = name.lower()
        if name in index:
            raise BundleError("the column appears twice", file=file, line=line, column=name, value=name)
        index[name] = position
    for name in required:
        if name not in index:
            raise BundleError(f"the header has no {name} column", file=file, line=line, column=name)
    custom_at = [(name, position) for name, position in index.items() if name not in standard]
    return index, custom_at


def _table(*, directory: Path, file: str) -> tuple[_Row, Iterator[_Row]] | None:
    """The file's header and an iterator that fills the row reader line by line (None when absent)."""
    path = directory / file
    if not path.is_file():
        return None
    text = _decode(file=file, raw=path.read_bytes())
    # NUL (which PostgreSQL cannot store) and the other C0 controls refuse the bundle, naming the cell; one scan
    # of the whole file, so only a file that holds one checks its rows cell by cell.
    controls = CONTROL.search(text) is not None
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        cells: list[str] = []
        while not cells:
            line = reader.line_num + 1
            cells = next(reader)
    except StopIteration:
        raise BundleError("the file has no header row", file=file, line=1) from None
    except csv.Error as exc:
        raise BundleError(f"cannot read the CSV: {exc}", file=file, line=reader.line_num) from None
    if controls:
        _no_controls(file=file, line=line, cells=cells, names=[f"#{n + 1}" for n in range(len(cells))])
    index, custom_at = _header(file=file, line=line, cells=cells)
    names = list(cells)
    width = len(cells)
    absent = tuple(name for name in OPTIONAL_COLUMNS.get(file, ()) if name not in index)
    # A missing optional column is read as an empty cell past the row's last one.
    index.update((name, width + offset) for offset, name in enumerate(absent))
    padding = [""] * len(absent)
    restore = csvsafe.cell_restore_strip
    row = _Row(file=file, index=index, custom_at=custom_at)
    row.absent = absent

    def walk() -> Iterator[_Row]:
        while True:
            row.line = reader.line_num + 1
            try:
                values = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                raise BundleError(f"cannot read the CSV: {exc}", file=file, line=row.line) from None
            if not values:
                continue
            if len(values) != width:
                raise BundleError(
                    f"the row has {len(values)} cells where the header has {width} columns",
                    file=file,
                    line=row.line,
                    value=str(len(values)),
                )
            if controls:
                _no_controls(file=file, line=row.line, cells=values, names=names)
            # Our own format: a cell written as '=x (csvsafe) is the text =x (only a row holding a quote at all
            # can hold one: the others take the plain strip, the bulk of a large bundle).
            row.values = [restore(v) for v in values] if "'" in "".join(values) else [v.strip() for v in values]
            if padding:
                row.values.extend(padding)
            yield row

    return row, walk()


def _unique(*, row: _Row, column: str, key: str, seen: dict[str, int]) -> None:
    first = seen.setdefault(key, row.line)
    if first != row.line:
        given = row.values[row.index[column]]
        raise row.error(column, given, f"duplicate {column} {key!r} (also on line {first})")


def _read_campaigns(rows: Iterator[_Row], *, kinds: Sequence[str]) -> list[CampaignRow]:
    out: list[CampaignRow] = []
    seen: dict[str, int] = {}
    expected = ", ".join(kinds[:-1]) + f" or {kinds[-1]}" if len(kinds) > 1 else ", ".join(kinds)
    for row in rows:
        campaign_id = row.text("campaign_id", required=True)
        _unique(row=row, column="campaign_id", key=campaign_id, seen=seen)
        started_on, ended_on = row.date("started_on"), row.date("ended_on")
        if started_on and ended_on and ended_on < started_on:
            raise row.error(
                "ended_on", str(ended_on), f"ended_on {ended_on} is before started_on {started_on}"
            )
        given_kind = row.text("kind")
        kind = slug_normalize(given_kind) or DEFAULT_CAMPAIGN_KIND
        if kind not in kinds:
            raise row.error("kind", given_kind, f"unknown kind {given_kind!r} (expected {expected})")
        out.append(
            CampaignRow(
                campaign_id=campaign_id,
                name=row.text("name", required=True),
                channel=row.slug("channel"),
                started_on=started_on,
                ended_on=ended_on,
                cost=row.amount("cost") if row.text("cost") else None,
                kind=kind,
                offer=row.text("offer"),
                offer_ends_on=row.date("offer_ends_on"),
                talking_points=row.text("talking_points"),
                custom=row.custom(),
                line=row.line,
            )
        )
    return out


def _read_campaign_costs(rows: Iterator[_Row]) -> list[CostRow]:
    out: list[CostRow] = []
    for row in rows:
        campaign_id = row.text("campaign_id", required=True)
        spent_on = row.date("spent_on")
        if spent_on is None:
            raise row.error("spent_on", "", "value is missing")
        spent_until = row.date("spent_until")
        if spent_until is not None and spent_until < spent_on:
            raise row.error(
                "spent_until", str(spent_until), f"spent_until {spent_until} is before spent_on {spent_on}"
            )
        out.append(
            CostRow(
                campaign_id=campaign_id,
                spent_on=spent_on,
                # A span ending on its first day is a one-day entry, as Tandem stores it.
                spent_until=spent_until if spent_until and spent_until > spent_on else None,
                amount=row.amount("amount"),
                note=row.text("note"),
                line=row.line,
            )
        )
    return out


def costs_new(*, given: Sequence[CostRow], stored: Iterable[tuple[Any, ...]]) -> tuple[list[CostRow], int]:
    """The entries of `given` not yet stored, counted with multiplicity (a row the file holds twice and the
    database once is new once); and how many of `given` were stored already. `stored` holds CostRow.key()s."""
    have: dict[tuple[Any, ...], int] = {}
    for key in stored:
        have[key] = have.get(key, 0) + 1
    new: list[CostRow] = []
    for row in given:
        key = row.key()
        if have.get(key, 0) > 0:
            have[key] -= 1
        else:
            new.append(row)
    return new, len(given) - len(new)


def _read_people(rows: Iterator[_Row], *, size_bands: Sequence[str]) -> list[PersonRow]:
    out: list[PersonRow] = []
    seen: dict[str, int] = {}
    for row in rows:
        email, key = row.email()
        if not email_is_valid(email):
            raise row.error("email", email, f"{email!r} is not a valid email address")
        _unique(row=row, column="email", key=key, seen=seen)
        size = row.text("company_size")
        out.append(
            PersonRow(
                email=email,
                email_key=key,
                first_name=row.text("first_name"),
                last_name=row.text("last_name"),
                company=row.text("company"),
                industry=row.text("industry"),
                company_size=size_band_normalize(text=size, bands=size_bands) if size else "",
                country=row.text("country"),
                job_title=row.text("job_title"),
                created_at=row.moment("created_at"),
                custom=row.custom(),
                line=row.line,
            )
        )
    return out


def _read_touchpoints(rows: Iterator[_Row]) -> list[TouchpointRow]:
    out: list[TouchpointRow] = []
    for row in rows:
        email, key = row.email()
        out.append(
            TouchpointRow(
                email=email,
                email_key=key,
                occurred_at=row.moment("occurred_at"),
                channel=row.slug("channel"),
                campaign_id=row.text("campaign_id"),
                kind=row.slug("kind", default=DEFAULT_TOUCHPOINT_KIND),
                custom=row.custom(),
                line=row.line,
            )
        )
    return out


def _read_deals(rows: Iterator[_Row]) -> list[DealRow]:
    out: list[DealRow] = []
    seen: dict[str, int] = {}
    for row in rows:
        deal_id = row.text("deal_id", required=True)
        _unique(row=row, column="deal_id", key=deal_id, seen=seen)
        email, key = row.email()
        amount = row.amount("amount")
        given_stage = row.text("stage", required=True)
        stage = given_stage.lower()
        if stage not in DEAL_STAGES:
            raise row.error(
                "stage", given_stage, f"unknown stage {given_stage!r} (expected open, won or lost)"
            )
        created_at = row.moment("created_at")
        closed_at = row.datetime("closed_at", required=False)
        closed_text = row.text("closed_at")
        if stage == "open" and closed_at is not None:
            raise row.error("closed_at", closed_text, f"an open deal has no closed_at, got {closed_text!r}")
        if stage != "open" and closed_at is None:
            raise row.error("closed_at", closed_text, f"a {stage} deal needs closed_at")
        if closed_at is not None and closed_at < created_at:
            raise row.error(
                "closed_at",
                closed_text,
                f"closed_at {datetime_format(closed_at)} is before created_at {datetime_format(created_at)}",
            )
        lost_reason = " ".join(row.text("lost_reason").split())
        if lost_reason and stage != "lost":
            raise row.error(
                "lost_reason", lost_reason, f"only a lost deal has a lost_reason, this one is {stage}"
            )
        out.append(
            DealRow(
                deal_id=deal_id,
                email=email,
                email_key=key,
                amount=amount,
                stage=stage,
                created_at=created_at,
                closed_at=closed_at,
                lost_reason=lost_reason,
                custom=row.custom(),
                line=row.line,
            )
        )
    return out


def _read_activities(rows: Iterator[_Row], *, outcomes: Sequence[str] | None) -> list[ActivityRow]:
    out: list[ActivityRow] = []
    seen: dict[str, int] = {}
    for row in rows:
        activity_id = row.text("activity_id", required=True)
        _unique(row=row, column="activity_id", key=activity_id, seen=seen)
        email, key = row.email()
        outcome = slug_normalize(row.text("outcome"))
        if outcome and outcomes is not None and outcome not in outcomes:
            raise row.error(
                "outcome",
                row.text("outcome"),
                f"unknown outcome {row.text('outcome')!r} (one of {', '.join(outcomes)})",
            )
        direction = row.text("direction").lower()
        if direction and direction not in ACTIVITY_DIRECTIONS:
            raise row.error(
                "direction", row.text("direction"), f"unknown direction {direction!r} (inbound or outbound)"
            )
        minutes_text = row.text("duration_minutes")
        minutes: int | None = None
        if minutes_text:
            if not minutes_text.isdigit() or int(minutes_text) > ACTIVITY_MAX_MINUTES:
                raise row.error(
                    "duration_minutes",
                    minutes_text,
                    f"must be whole minutes from 0 to {ACTIVITY_MAX_MINUTES}, got {minutes_text!r}",
                )
            minutes = int(minutes_text)
        out.append(
            ActivityRow(
                activity_id=activity_id,
                email=email,
                email_key=key,
                kind=row.slug("kind"),
                occurred_at=row.moment("occurred_at"),
                outcome=outcome,
                direction=direction,
                duration_minutes=minutes,
                subject=row.text("subject"),
                notes=row.text("notes"),
                deal_id=row.text("deal_id"),
                user=row.text("user"),
                line=row.line,
            )
        )
    return out


def _read_questions(rows: Iterator[_Row]) -> list[QuestionRow]:
    out: list[QuestionRow] = []
    for row in rows:
        email, key = row.email()
        out.append(
            QuestionRow(
                email=email,
                email_key=key,
                asked_at=row.moment("asked_at"),
                text=row.text("text", required=True),
                custom=row.custom(),
                line=row.line,
            )
        )
    return out


def bundle_read(
    *,
    directory: Path,
    size_bands: Sequence[str],
    campaign_kinds: Sequence[str],
    progress: Progress | None = None,
    activity_outcomes: Sequence[str] | None = None,
) -> Bundle:
    """Read and check every file of a bundle folder; the first bad row raises a BundleError. An activity's
    outcome must be one of `activity_outcomes` when given."""
    if not directory.is_dir():
        raise BundleError("is not a folder", file=str(directory), value=str(directory))
    if not (directory / PEOPLE).is_file():
        raise BundleError(f"the bundle has no {PEOPLE}", file=PEOPLE)
    bundle = Bundle()
    readers: dict[str, Callable[[Iterator[_Row]], list[Any]]] = {
        CAMPAIGNS: lambda rows: _read_campaigns(rows, kinds=campaign_kinds),
        CAMPAIGN_COSTS: _read_campaign_costs,
        PEOPLE: lambda rows: _read_people(rows, size_bands=size_bands),
        TOUCHPOINTS: _read_touchpoints,
        DEALS: _read_deals,
        ACTIVITIES: lambda rows: _read_activities(rows, outcomes=activity_outcomes),
        QUESTIONS: _read_questions,
    }
    for file, read in readers.items():
        table = _table(directory=directory, file=file)
        if table is None:
            bundle.custom_columns[file] = ()
            continue
        header, rows = table
        if file in NO_CUSTOM_COLUMNS and header.custom_at:
            name = header.custom_at[0][0]
            raise BundleError(
                f"unknown column {name!r}: {file} has only the columns {', '.join(COLUMNS[file])}",
                file=file,
                line=1,
                column=name,
                value=name,
            )
        bundle.custom_columns[file] = tuple(name for name, _ in header.custom_at)
        bundle.absent_columns[file] = header.absent
        parsed = read(rows)
        setattr(bundle, file.removesuffix(".csv"), parsed)
        if progress is not None:
            progress(f"read {file}", len(parsed), len(parsed))
    return bundle


def bundle_referenced_emails(*, bundle: Bundle) -> set[str]:
    """Normalised emails that touchpoints, deals, activities and questions name but people.csv does not hold."""
    named = {
        r.email_key for rows in (bundle.touchpoints, bundle.deals, bundle.activities, bundle.questions) for r in rows
    }
    return named - {p.email_key for p in bundle.people}


def bundle_referenced_campaign_ids(*, bundle: Bundle) -> set[str]:
    """Campaign ids that touchpoints and cost entries name but campaigns.csv does not hold."""
    named = {t.campaign_id for t in bundle.touchpoints if t.campaign_id} | {c.campaign_id for c in bundle.campaign_costs}
    return named - {c.campaign_id for c in bundle.campaigns}


def bundle_check_references(
    *, bundle: Bundle, emails_in_database: set[str], campaign_ids_in_database: set[str]
) -> None:
    """Refuse a touchpoint, deal or question whose person or campaign is neither in the bundle nor stored, and a
    cost entry of an unknown campaign."""
    emails = {p.email_key for p in bundle.people} | emails_in_database
    campaigns = {c.campaign_id for c in bundle.campaigns} | campaign_ids_in_database
    for cost in bundle.campaign_costs:
        if cost.campaign_id not in campaigns:
            raise BundleError(
                f"campaign {cost.campaign_id!r} is neither in {CAMPAIGNS} nor in the database",
                file=CAMPAIGN_COSTS,
                line=cost.line,
                column="campaign_id",
                value=cost.campaign_id,
            )
    rows: list[tuple[str, Sequence[TouchpointRow | DealRow | ActivityRow | QuestionRow]]] = [
        (TOUCHPOINTS, bundle.touchpoints),
        (DEALS, bundle.deals),
        (ACTIVITIES, bundle.activities),
        (QUESTIONS, bundle.questions),
    ]
    for file, items in rows:
        for item in items:
            if item.email_key not in emails:
                raise BundleError(
                    f"{item.email!r} is neither in {PEOPLE} nor in the database",
                    file=file,
                    line=item.line,
                    column="email",
                    value=item.email,
                )
            if isinstance(item, TouchpointRow) and item.campaign_id and item.campaign_id not in campaigns:
                raise BundleError(
                    f"campaign {item.campaign_id!r} is neither in {CAMPAIGNS} nor in the database",
                    file=file,
                    line=item.line,
                    column="campaign_id",
                    value=item.campaign_id,
                )


# ---------------------------------------------------------------------------------------------------------
# Writing a bundle folder.


def _table_rows(bundle: Bundle, file: str) -> tuple[list[str], list[list[str]]]:
    items: Sequence[Any] = getattr(bundle, file.removesuffix(".csv"))
    standard = {*COLUMNS[file], *OPTIONAL_COLUMNS.get(file, ())}
    # A custom field named like a standard column (kept from a bundle older than that column) is shadowed by
    # the column: writing both would repeat the header, which the reader refuses.
    custom = sorted({k for item in items for k, v in item.custom.items() if _cell(v) and k.strip().lower() not in standard})
    keyed: list[tuple[tuple[Any, ...], list[str]]] = []
    for item in items:
        extra = [_cell(item.custom.get(name)) for name in custom]
        if file == CAMPAIGNS:
            cells = [
                item.campaign_id,
                item.name,
                item.channel,
                date_format(item.started_on),
                date_format(item.ended_on),
                "" if item.cost is None else amount_format(item.cost),
                item.kind,
                item.offer,
                date_format(item.offer_ends_on),
                item.talking_points,
            ]
            key: tuple[Any, ...] = (item.campaign_id,)
        elif file == CAMPAIGN_COSTS:
            cells = [
                item.campaign_id,
                date_format(item.spent_on),
                date_format(item.spent_until),
                amount_format(item.amount),
                item.note,
            ]
            key = (item.campaign_id, cells[1], cells[2], item.amount, item.note)
        elif file == PEOPLE:
            cells = [
                item.email,
                item.first_name,
                item.last_name,
                item.company,
                item.industry,
                item.company_size,
                item.country,
                item.job_title,
                datetime_format(item.created_at),
            ]
            key = (item.email_key,)
        elif file == TOUCHPOINTS:
            cells = [item.email, datetime_format(item.occurred_at), item.channel, item.campaign_id, item.kind]
            key = (item.email_key, item.occurred_at, item.channel, item.campaign_id, item.kind, extra)
        elif file == DEALS:
            cells = [
                item.deal_id,
                item.email,
                amount_format(item.amount),
                item.stage,
                datetime_format(item.created_at),
                datetime_format(item.closed_at) if item.closed_at else "",
                item.lost_reason,
            ]
            key = (item.deal_id,)
        elif file == ACTIVITIES:
            cells = [
                item.activity_id,
                item.email,
                item.kind,
                datetime_format(item.occurred_at),
                item.outcome,
                item.direction,
                "" if item.duration_minutes is None else str(item.duration_minutes),
                item.subject,
                item.notes,
                item.deal_id,
                item.user,
            ]
            key = (item.activity_id,)
        else:
            cells = [item.email, datetime_format(item.asked_at), item.text]
            key = (item.email_key, item.asked_at, item.text, extra)
        keyed.append((key, cells + extra))
    keyed.sort(key=lambda pair: pair[0])
    return [*COLUMNS[file], *OPTIONAL_COLUMNS.get(file, ()), *custom], [cells for _, cells in keyed]


def bundle_write(*, directory: Path, bundle: Bundle, progress: Progress | None = None) -> dict[str, int]:
    """Write every file in canonical form (a header even when empty); returns rows per file."""
    directory.mkdir(parents=True, exist_ok=True)
    counts: dict[str, int] = {}
    for file in FILES:
        header, rows = _table_rows(bundle, file)
        with (directory / file).open("w", encoding="utf-8", newline="") as out:
            # Through csvsafe: formula-like text gets a leading quote, which the reader above takes off again
            # (amounts, durations and dates are never negative, so no number is quoted), and a cell holding a
            # lone '\r' (a line break to every CSV reader) is quoted, not written bare.
            writer = csvsafe.writer(out, lineterminator="\n")
            writer.writerow(header)
            writer.writerows(rows)
        counts[file] = len(rows)
        if progress is not None:
            progress(f"write {file}", len(rows), len(rows))
    return counts


# ---------------------------------------------------------------------------------------------------------
# Zip archives (the API and the web page move bundles as one .zip).

# A fixed time stamp, so that the same bundle always zips to the same bytes.
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)


def bundle_zip(*, directory: Path) -> bytes:
    """The bundle's CSV files as one zip archive."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for file in FILES:
            path = directory / file
            if path.is_file():
                info = zipfile.ZipInfo(file, date_time=_ZIP_TIME)
                info.compress_type = zipfile.ZIP_DEFLATED
                archive.writestr(info, path.read_bytes())
    return buffer.getvalue()


def bundle_unzip(*, archive: IO[bytes], directory: Path, max_bytes: int = MAX_UNZIPPED_BYTES) -> list[str]:
    """Unpack the bundle files of a zip (at its top or in one folder) into `directory`; returns their names."""
    upload = "the upload"
    try:
        zipped = zipfile.ZipFile(archive)
    except (zipfile.BadZipFile, OSError):
        raise BundleError("is not a zip archive", file=upload) from None
    with zipped:
        found: dict[str, zipfile.ZipInfo] = {}
        for info in zipped.infolist():
            name = PurePosixPath(info.filename).name
            if info.is_dir() or name not in FILES:
                continue
            if name in found:
                raise BundleError(
                    f"the archive holds {name} twice",
                    file=upload,
                    value=f"{found[name].filename}, {info.filename}",
                )
            found[name] = info
        total = 0
        for name, info in found.items():
            try:
                total = _inflate(
                    zipped=zipped, info=info, target=directory / name, total=total, limit=max_bytes
                )
            except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError) as exc:
                raise BundleError(f"cannot unpack {name}: {exc}", file=upload, value=info.filename) from None
    return sorted(found, key=FILES.index)


def _inflate(*, zipped: zipfile.ZipFile, info: zipfile.ZipInfo, target: Path, total: int, limit: int) -> int:
    # Count what is really inflated: a zip's own size fields can lie.
    with zipped.open(info) as source, target.open("wb") as out:
        while chunk := source.read(1 << 20):
            total += len(chunk)
            if total > limit:
                raise BundleError(
                    f"the archive unpacks to more than {limit} bytes", file="the upload", value=info.filename
                )
            out.write(chunk)
    return total
