"""The bundle as a backup (format version 2): every table a company's data lives in, one CSV file each, in a zip.

Format version 1 (tandem.capture.bundle) is the interchange bundle: seven files a person can write by hand,
merged into whatever the database holds. Version 2 is what `tandem export bundle` writes: a lossless copy of
every table below, so that export → import into an empty database → export gives the same bytes. That fixes
its shape:

- Rows keep their primary keys (`id`), and references between files are those ids. Remapping ids on import
  would need a natural key for every table, and touchpoints, activities or stage changes have none. So a
  version-2 bundle imports only into a database that holds none of these rows (users and teams aside).
- Users travel without passwords (nor API tokens, nor two-factor devices: secrets stay behind) in users.csv,
  keyed by username, and teams in teams.csv, keyed by name. Every column that points at a user holds the
  username, and one that points at a team the team's name, so a backup imports into a database whose users
  already exist under other ids: a username already there keeps its stored user (password included), a new
  one is created with no usable password (an admin sets one, or the user resets it).
- Values are written in one canonical form (UTC times with a Z, decimals with their places, JSON compact with
  sorted keys, so SQLite and PostgreSQL write the same bytes),
  rows sorted by id (users by username, teams by name), columns in the model's field order, and the zip with
  fixed time stamps and compression.
- Text cells go through tandem.core.csvsafe, whose restore is exact.

This module reads and writes the files and checks every cell; it queries nothing (the ORM is used only for
the models' field definitions). capture.selectors loads the tables, capture.services restores them through
the owning apps' `*_restore_bulk` services.
"""

from __future__ import annotations

import base64
import csv
import datetime as dt
import io
import json
import zipfile
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from functools import cache
from typing import Any

from django.apps import apps
from django.db import models

from tandem.capture.bundle import MAX_UNZIPPED_BYTES, BundleError, datetime_format, datetime_parse
from tandem.core import csvsafe

FORMAT = "tandem-bundle"
FORMAT_VERSION = 2
MANIFEST = "manifest.json"
USER = "users.User"
TEAM = "users.Team"
USERS = "users.csv"
TEAMS = "teams.csv"

# (file, model label) in restore order. Through tables of many-to-many fields are named by
# "<app>.<Model>.<field>". Left out on purpose (docs/bundle.md, "What a backup leaves out"): the audit log
# (core.Event), background jobs and queues, API tokens, two-factor devices and sign-in attempts (secrets and
# security logs), webhooks (their secrets), notifications, trained scoring models and their scores (trained
# again from the data), rate-limit windows and import jobs (transient), the search index (rebuilt by the
# database), uploaded files' bytes (assets.csv keeps their path and metadata), and the analytics app's goals
# and experiments (a floor above capture).
TABLES: tuple[tuple[str, str], ...] = (
    (TEAMS, TEAM),
    (USERS, USER),
    ("campaigns.csv", "campaigns.Campaign"),
    ("campaign_costs.csv", "campaigns.CampaignCost"),
    ("accounts.csv", "crm.Account"),
    ("people.csv", "crm.Person"),
    ("external_ids.csv", "crm.ExternalId"),
    ("consent_records.csv", "crm.ConsentRecord"),
    ("stage_changes.csv", "crm.StageChange"),
    ("lost_reasons.csv", "crm.LostReason"),
    ("pipelines.csv", "crm.Pipeline"),
    ("pipeline_stages.csv", "crm.PipelineStage"),
    ("deals.csv", "crm.Deal"),
    ("deal_stage_changes.csv", "crm.DealStageChange"),
    ("deal_contacts.csv", "crm.DealContact"),
    ("activity_types.csv", "crm.ActivityType"),
    ("activities.csv", "crm.Activity"),
    ("tasks.csv", "crm.Task"),
    ("touchpoints.csv", "campaigns.Touchpoint"),
    ("products.csv", "enablement.Product"),
    ("personas.csv", "enablement.Persona"),
    ("persona_products.csv", "enablement.Persona.products"),
    ("objections.csv", "enablement.Objection"),
    ("assets.csv", "enablement.Asset"),
    ("asset_themes.csv", "enablement.Asset.themes"),
    ("asset_campaigns.csv", "enablement.Asset.campaigns"),
    ("content_uses.csv", "enablement.ContentUse"),
    ("deal_products.csv", "enablement.DealProduct"),
    ("collateral_requests.csv", "collateral.CollateralRequest"),
    ("theme_spaces.csv", "feedback.ThemeSpace"),
    ("themes.csv", "feedback.Theme"),
    ("questions.csv", "feedback.Question"),
    ("lead_ratings.csv", "feedback.LeadRating"),
    ("definition_versions.csv", "lifecycle.DefinitionVersion"),
    ("routing_configs.csv", "lifecycle.RoutingConfig"),
    ("routing_state.csv", "lifecycle.RoutingState"),
    ("sla_policy_versions.csv", "lifecycle.SlaPolicyVersion"),
    ("change_proposals.csv", "lifecycle.ChangeProposal"),
    ("scoring_configs.csv", "scoring.ScoringConfig"),
    ("forms.csv", "capture.Form"),
    ("submissions.csv", "capture.Submission"),
    ("import_mappings.csv", "capture.ImportMapping"),
    ("unknown_utms.csv", "capture.UnknownUtm"),
)
FILES: tuple[str, ...] = tuple(file for file, _ in TABLES)
# Tables whose rows Tandem installs itself (migrations, crm_defaults_ensure): a database holding only these is
# empty, and a restore replaces them with the backup's.
SEEDED = frozenset({"crm.Pipeline", "crm.PipelineStage", "crm.ActivityType", "lifecycle.DefinitionVersion"})
# User fields a backup leaves behind: the password hash (a secret) and the key, replaced by the username.
_USER_LEFT_OUT = frozenset({"id", "password"})
# A fixed time stamp and compression, so that the same tables always zip to the same bytes.
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)
_COMPRESS_LEVEL = 6


def table_model(label: str) -> type[models.Model]:
    """The model of a TABLES label ('crm.Person', or 'enablement.Persona.products' for a through table)."""
    parts = label.split(".")
    model = apps.get_model(parts[0], parts[1])
    if len(parts) == 3:
        through: type[models.Model] = model._meta.get_field(parts[2]).remote_field.through  # type: ignore[union-attr]
        return through
    return model


@dataclass(frozen=True, slots=True)
class Column:
    """One column of a file: the field it holds, and how a reference reads (by id, username or team name)."""

    name: str
    field: Any
    # "id": a plain value or an id; "user": a username; "team": a team's name.
    refers: str = "id"

    @property
    def attname(self) -> str:
        return str(self.field.attname)


def table_columns(file: str, label: str) -> tuple[Column, ...]:
    """A file's columns in the model's field order: foreign keys to users and teams by username and name."""
    model = table_model(label)
    out: list[Column] = []
    for f in model._meta.concrete_fields:
        if label == USER and f.name in _USER_LEFT_OUT:
            continue
        if label == TEAM and f.name == "id":
            continue
        if f.is_relation and f.related_model is not None:
            target = f.related_model._meta.label
            if target == USER:
                out.append(Column(f.name, f, "user"))
                continue
            if target == TEAM:
                out.append(Column(f.name, f, "team"))
                continue
        out.append(Column(f.attname, f))
    return tuple(out)


@dataclass
class Table:
    """One file's rows as Python values in `columns` order (references still as ids, usernames or names)."""

    file: str
    label: str
    columns: tuple[Column, ...]
    rows: list[list[Any]] = field(default_factory=list)
    lines: list[int] = field(default_factory=list)


@dataclass
class Backup:
    tables: dict[str, Table] = field(default_factory=dict)

    def counts(self) -> dict[str, int]:
        return {file: len(table.rows) for file, table in self.tables.items()}


# ---------------------------------------------------------------------------------------------------------
# Cells: one canonical text per value, and back.


@cache
def _kind(f: Any) -> str:
    if f.is_relation:
        # A reference holds the value of the field it points at (an id, or ActivityType's key).
        return _kind(f.target_field)
    return str(f.get_internal_type())


_INTS = frozenset(
    {
        "AutoField",
        "BigAutoField",
        "SmallAutoField",
        "IntegerField",
        "BigIntegerField",
        "SmallIntegerField",
        "PositiveIntegerField",
        "PositiveBigIntegerField",
        "PositiveSmallIntegerField",
        "int",
    }
)


def cell_writer(f: Any) -> Callable[[Any], str]:
    """How a field's values are written: one canonical cell per value, empty for NULL (chosen once a column)."""
    kind = _kind(f)
    if kind in _INTS:
        return lambda v: "" if v is None else str(int(v))
    if kind == "BooleanField":
        return lambda v: "" if v is None else ("true" if v else "false")
    if kind == "DateTimeField":
        return lambda v: "" if v is None else datetime_format(v)
    if kind == "DateField":
        return lambda v: "" if v is None else str(v.isoformat())
    if kind == "DecimalField":
        places = Decimal(1).scaleb(-f.decimal_places)
        return lambda v: "" if v is None else format(Decimal(v).quantize(places), "f")
    if kind == "FloatField":
        return lambda v: "" if v is None else repr(float(v))
    if kind == "JSONField":
        # Keys sorted: PostgreSQL's jsonb keeps no key order of its own, so this is the one order both
        # databases give the same bytes in (no code reads meaning into the order of a JSON object's keys).
        return lambda v: (
            "" if v is None else json.dumps(v, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
        )
    if kind == "BinaryField":
        return lambda v: "" if v is None else base64.b64encode(bytes(v)).decode("ascii")
    # Text. NULL and "" both write an empty cell; the reader gives NULL back to a nullable column and "" to
    # any other, which is what Tandem stores in each (nullable text columns are nullable to stay unique).
    return lambda v: "" if v is None else str(v)


def cell_write(f: Any, value: Any) -> str:
    """A value as its one canonical cell (before csvsafe): empty for NULL."""
    return cell_writer(f)(value)


def cell_read(f: Any, text: str) -> Any:
    """The value of a cell; raises ValueError with the reason when it is not one."""
    kind = _kind(f)
    if text == "":
        if f.null:
            return None
        if kind in ("CharField", "TextField", "SlugField", "EmailField", "URLField", "FileField"):
            return ""
        raise ValueError("is required")
    if kind in _INTS:
        if not (text.isdigit() or (text[:1] == "-" and text[1:].isdigit())):
            raise ValueError(f"must be a whole number, got {text!r}")
        return int(text)
    if kind == "BooleanField":
        if text not in ("true", "false"):
            raise ValueError(f"must be true or false, got {text!r}")
        return text == "true"
    if kind == "DateTimeField":
        try:
            return datetime_parse(text)
        except ValueError:
            raise ValueError(f"must be a date-time such as 2025-03-04T10:15:00Z, got {text!r}") from None
    if kind == "DateField":
        try:
            return dt.date.fromisoformat(text)
        except ValueError:
            raise ValueError(f"must be a date such as 2025-03-04, got {text!r}") from None
    if kind == "DecimalField":
        try:
            value = Decimal(text)
        except InvalidOperation:
            raise ValueError(f"must be a number, got {text!r}") from None
        if not value.is_finite() or abs(value) >= Decimal(10) ** (f.max_digits - f.decimal_places):
            raise ValueError(f"is out of range: {text!r}")
        return value
    if kind == "FloatField":
        try:
            return float(text)
        except ValueError:
            raise ValueError(f"must be a number, got {text!r}") from None
    if kind == "JSONField":
        try:
            return json.loads(text)
        except ValueError as exc:
            raise ValueError(f"must be JSON ({exc})") from None
    if kind == "BinaryField":
        try:
            return base64.b64decode(text, validate=True)
        except ValueError:
            raise ValueError("must be base64") from None
    if f.max_length is not None and len(text) > f.max_length:
        raise ValueError(f"is longer than {f.max_length} characters ({len(text)})")
    return text


# ---------------------------------------------------------------------------------------------------------
# Writing.


def _csv_bytes(header: Sequence[str], rows: Iterator[Sequence[str]]) -> bytes:
    out = io.StringIO()
    writer = csvsafe.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode("utf-8")


def _name_cell(value: Any) -> str:
    """A username or a team's name (a reference to a user or team)."""
    return "" if value is None else str(value)


def backup_zip(*, tables: Sequence[Table]) -> bytes:
    """The tables (rows sorted as they should be written) as a version-2 bundle: manifest.json, then a CSV each."""
    buffer = io.BytesIO()
    manifest: dict[str, Any] = {"format": FORMAT, "format_version": FORMAT_VERSION, "files": []}
    blobs: list[tuple[str, bytes]] = []
    for table in tables:
        writers = [_name_cell if c.refers != "id" else cell_writer(c.field) for c in table.columns]
        body = _csv_bytes(
            [c.name for c in table.columns],
            ([write(v) for write, v in zip(writers, row, strict=True)] for row in table.rows),
        )
        blobs.append((table.file, body))
        manifest["files"].append(
            {
                "name": table.file,
                "table": table.label,
                "columns": [c.name for c in table.columns],
                "rows": len(table.rows),
            }
        )
    head = (json.dumps(manifest, indent=1, sort_keys=True) + "\n").encode("utf-8")
    with zipfile.ZipFile(
        buffer, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=_COMPRESS_LEVEL
    ) as archive:
        for name, data in [(MANIFEST, head), *blobs]:
            info = zipfile.ZipInfo(name, date_time=_ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, data, compresslevel=_COMPRESS_LEVEL)
    return buffer.getvalue()


# ---------------------------------------------------------------------------------------------------------
# Reading.


def archive_version(*, archive: zipfile.ZipFile) -> int:
    """The format version of a zip: that of its manifest.json, or 1 (no manifest: the interchange bundle)."""
    names = {info.filename for info in archive.infolist()}
    if MANIFEST not in names:
        return 1
    try:
        manifest = json.loads(archive.read(MANIFEST))
        version = manifest["format_version"]
    except (ValueError, KeyError, TypeError, zipfile.BadZipFile, zlib.error):
        raise BundleError("is not a bundle manifest (JSON with a format_version)", file=MANIFEST) from None
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise BundleError("format_version must be a whole number", file=MANIFEST, value=str(version))
    if version > FORMAT_VERSION:
        raise BundleError(
            f"was written by a newer Tandem (format version {version}; this one reads 1 and {FORMAT_VERSION})",
            file=MANIFEST,
            column="format_version",
            value=str(version),
        )
    return version


def backup_read(
    *, archive: zipfile.ZipFile, progress: Callable[[str, int, int], None] | None = None
) -> Backup:
    """Read and check every file of a version-2 bundle; the first bad cell raises a BundleError naming it.

    Checked here, before the database is touched: headers (every column, in any order; no unknown one), each
    cell's type, length and choices, unique ids, and that every reference names a row of its file."""
    names = {info.filename for info in archive.infolist()}
    unknown = sorted(names - set(FILES) - {MANIFEST})
    if unknown:
        raise BundleError(
            f"is not a file of a version-{FORMAT_VERSION} bundle", file=unknown[0], value=unknown[0]
        )
    backup = Backup()
    budget = [MAX_UNZIPPED_BYTES]
    for file, label in TABLES:
        columns = table_columns(file, label)
        table = Table(file=file, label=label, columns=columns)
        backup.tables[file] = table
        if file not in names:
            continue
        _read_table(archive=archive, table=table, budget=budget)
        if progress is not None:
            progress(f"read {file}", len(table.rows), len(table.rows))
    _check_references(backup)
    return backup


def _read_table(*, archive: zipfile.ZipFile, table: Table, budget: list[int]) -> None:
    file = table.file
    try:
        raw = archive.open(file).read(budget[0] + 1)
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError) as exc:
        raise BundleError(f"cannot unpack: {exc}", file=file) from None
    budget[0] -= len(raw)
    if budget[0] < 0:
        raise BundleError(f"the archive unpacks to more than {MAX_UNZIPPED_BYTES} bytes", file=file)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BundleError(f"is not UTF-8 (byte {exc.start})", file=file) from None
    # A cell may be as large as its file (a theme space's fitted model is JSON of a megabyte or more), past
    # the csv module's default limit of 128 KiB; the limit is the process's, so it is put back after.
    limit = csv.field_size_limit(max(len(text), csv.field_size_limit()))
    try:
        _read_rows(table=table, reader=csv.reader(io.StringIO(text, newline=""), strict=True))
    finally:
        csv.field_size_limit(limit)


def _read_rows(*, table: Table, reader: Any) -> None:
    file = table.file
    try:
        header = next(reader, None)
    except csv.Error as exc:
        raise BundleError(f"is not CSV: {exc}", file=file, line=1) from None
    if header is None:
        raise BundleError("has no header row", file=file, line=1)
    header = csvsafe.row_restore(header)
    by_name = {c.name: c for c in table.columns}
    for name in header:
        if name not in by_name:
            raise BundleError(
                f"unknown column {name!r} (the columns are {', '.join(by_name)})",
                file=file,
                line=1,
                column=name,
                value=name,
            )
    if len(set(header)) != len(header):
        twice = next(n for n in header if header.count(n) > 1)
        raise BundleError(f"column {twice!r} is there twice", file=file, line=1, column=twice, value=twice)
    missing = [c.name for c in table.columns if c.name not in header]
    if missing:
        raise BundleError(f"the header has no column {missing[0]!r}", file=file, line=1, column=missing[0])
    order = [header.index(c.name) for c in table.columns]
    readers = [(column, at, _column_reader(column)) for column, at in zip(table.columns, order, strict=True)]
    seen: set[Any] = set()
    key_at = (
        0
        if table.label not in (USER, TEAM)
        else next(i for i, c in enumerate(table.columns) if c.name in ("username", "name"))
    )
    line = reader.line_num
    try:
        for cells in reader:
            if len(cells) != len(header):
                raise BundleError(
                    f"has {len(cells)} cells, the header {len(header)}", file=file, line=reader.line_num
                )
            cells = csvsafe.row_restore(cells)
            values: list[Any] = []
            for column, at, read in readers:
                text = cells[at]
                try:
                    values.append(read(text))
                except ValueError as exc:
                    raise BundleError(
                        str(exc), file=file, line=reader.line_num, column=column.name, value=text
                    ) from None
            key = values[key_at]
            if key in seen:
                name = table.columns[key_at].name
                raise BundleError(
                    f"{name} {cells[order[key_at]]!r} is there twice",
                    file=file,
                    line=reader.line_num,
                    column=name,
                    value=cells[order[key_at]],
                )
            seen.add(key)
            table.rows.append(values)
            table.lines.append(reader.line_num)
            line = reader.line_num
    except csv.Error as exc:
        raise BundleError(f"is not CSV: {exc}", file=file, line=line + 1) from None


def _column_reader(column: Column) -> Callable[[str], Any]:
    """How a column's cells are read and checked (its type, length and choices), chosen once a column."""
    f = column.field
    if column.refers != "id":

        def name(text: str) -> Any:
            if not text and not f.null:
                raise ValueError("is required")
            return text or None

        return name
    choices = {c[0] for c in f.flatchoices} if f.choices else None
    if choices is None:
        return lambda text: cell_read(f, text)
    shown = ", ".join(str(c) for c in choices)

    def chosen(text: str) -> Any:
        value = cell_read(f, text)
        if value not in (None, "") and value not in choices:
            raise ValueError(f"unknown value {text!r} (one of {shown})")
        return value

    return chosen


def _check_references(backup: Backup) -> None:
    """Refuse a reference to a row no file holds (ids, usernames and team names)."""
    by_label = {table.label: table for table in backup.tables.values()}
    keys: dict[tuple[str, str], set[Any]] = {}
    for table in backup.tables.values():
        for i, column in enumerate(table.columns):
            if column.field.primary_key or column.field.unique:
                keys[(table.label, column.field.attname)] = {row[i] for row in table.rows}
    for table in backup.tables.values():
        for i, column in enumerate(table.columns):
            f = column.field
            if not f.is_relation:
                continue
            target = f.related_model._meta.label
            if target not in by_label:
                raise BundleError(
                    f"refers to {target}, which a bundle does not hold", file=table.file, column=column.name
                )
            known = keys[
                (target, {"user": "username", "team": "name"}.get(column.refers, f.target_field.attname))
            ]
            target_file = by_label[target].file
            for row, line in zip(table.rows, table.lines, strict=True):
                value = row[i]
                if value is not None and value not in known:
                    raise BundleError(
                        f"{value!r} is not in {target_file}",
                        file=table.file,
                        line=line,
                        column=column.name,
                        value=str(value),
                    )
