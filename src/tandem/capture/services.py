"""Writes of the capture app: importing an interchange bundle into the database, exporting one from it."""

from __future__ import annotations

import datetime as dt
import tempfile
import zipfile
from collections import Counter, defaultdict
from collections.abc import Callable, Collection, Sequence
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import IO, Any, TypeVar

from django.db import DataError, IntegrityError, models, transaction
from django.utils import timezone

from tandem.campaigns.journeys import Touch
from tandem.campaigns.models import Campaign, CampaignCost, Touchpoint
from tandem.campaigns.services import (
    campaign_costs_create_bulk,
    campaign_totals_refresh_bulk,
    campaigns_restore_bulk,
)
from tandem.capture.backup import FILES as BACKUP_FILES
from tandem.capture.backup import SEEDED, TEAMS, USERS, archive_version, backup_read, backup_zip, table_model
from tandem.capture.bundle import (
    ACTIVITIES,
    CAMPAIGN_COSTS,
    CAMPAIGNS,
    DEALS,
    FILES,
    PEOPLE,
    QUESTIONS,
    TOUCHPOINTS,
    Bundle,
    BundleError,
    CampaignRow,
    CostRow,
    DealRow,
    Progress,
    account_key,
    amount_format,
    bundle_accounts,
    bundle_check_references,
    bundle_read,
    bundle_referenced_campaign_ids,
    bundle_referenced_emails,
    bundle_unzip,
    bundle_write,
    bundle_zip,
    costs_new,
    custom_items,
    custom_merge,
    lifecycle_moves,
    local_pk,
)
from tandem.capture.ingest import IngestBatch, NewPerson, NewTouchpoint, ingest
from tandem.capture.selectors import (
    backup_tables_in_use,
    backup_tables_load,
    bundle_load,
    campaign_cost_keys,
    campaign_pks_by_bundle_id,
    person_pks_by_email,
)
from tandem.core.bulk import chunked, rows_copy, rows_restore, sequences_reset, silent
from tandem.core.errors import NotAllowed, ValidationFailed
from tandem.core.events import event_record
from tandem.crm.activities.services import activities_update_bulk, occurred_at_problem
from tandem.crm.identity import name_key
from tandem.crm.models import (
    Account,
    Activity,
    ActivityOutcome,
    ActivityType,
    Deal,
    LostReason,
    Person,
    SizeBand,
    StageChange,
)
from tandem.crm.services import (
    Transition,
    accounts_insert_bulk,
    accounts_update_bulk,
    activities_log_bulk,
    crm_restore_bulk,
    deals_copy_bulk,
    deals_update_bulk,
    lost_reasons_create_bulk,
    people_change_stage_bulk,
)
from tandem.crm.stages import rank
from tandem.enablement.requests.services import collateral_requests_restore_bulk
from tandem.enablement.services import enablement_restore_bulk
from tandem.feedback.models import Question
from tandem.feedback.services import feedback_restore_bulk
from tandem.lifecycle.services import lifecycle_restore_bulk
from tandem.scoring.services import scoring_restore_bulk
from tandem.users.models import User
from tandem.users.services import users_restore_bulk

M = TypeVar("M", bound=models.Model)
REASON = "bundle import"
# Rows per INSERT round: large enough to be quick, small enough to report progress as it goes.
WRITE_CHUNK = 5000
# Rows per UPDATE statement of a bulk update.
UPDATE_BATCH = 500


@dataclass
class RowCounts:
    created: int = 0
    updated: int = 0
    unchanged: int = 0


@dataclass
class BundleImportResult:
    """What an import did, file by file (plus the accounts the people rows named)."""

    files: dict[str, RowCounts] = field(default_factory=lambda: {f: RowCounts() for f in FILES})
    accounts: RowCounts = field(default_factory=RowCounts)
    lost_reasons_created: int = 0
    stage_changes: int = 0

    @property
    def changed(self) -> bool:
        counts = [*self.files.values(), self.accounts]
        return any(c.created or c.updated for c in counts) or bool(
            self.lost_reasons_created or self.stage_changes
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "files": {name: asdict(counts) for name, counts in self.files.items()},
            "accounts": asdict(self.accounts),
            "lost_reasons_created": self.lost_reasons_created,
            "stage_changes": self.stage_changes,
        }


@dataclass
class BundleExportResult:
    directory: Path
    rows: dict[str, int]


@dataclass
class _Run:
    """One import's state shared by its steps."""

    bundle: Bundle
    by_user: User | None
    progress: Progress
    campaign_pks: dict[str, int]
    now: dt.datetime = field(default_factory=timezone.now)
    result: BundleImportResult = field(default_factory=BundleImportResult)
    account_pks: dict[tuple[str, str], int] = field(default_factory=dict)
    # Every person the bundle names, by normalised email.
    people: dict[str, _Who] = field(default_factory=dict)
    # The people that were in the database before, by primary key, and what the import changes in them.
    stored: dict[int, Person] = field(default_factory=dict)
    # The people the bundle creates, by normalised email.
    new: dict[str, NewPerson] = field(default_factory=dict)
    # deals.csv's rows by the normalised email of their person.
    deals_by_email: dict[str, list[DealRow]] = field(default_factory=dict)


@dataclass(slots=True)
class _Who:
    """What the later steps need of a person; new people are never model objects (40,000 cost seconds)."""

    pk: int
    email_key: str
    account_id: int | None
    created_at: dt.datetime
    lifecycle_stage: str


def bundle_import(
    *,
    directory: Path,
    progress: Callable[[str, int, int], None] | None = None,
    by_user: User | None = None,
) -> BundleImportResult:
    """Import a bundle folder: every row is checked first, then all of it is written in one transaction."""
    report = progress or silent
    bundle = bundle_read(
        directory=directory,
        size_bands=SizeBand.values,
        campaign_kinds=Campaign.Kind.values,
        progress=report,
        activity_outcomes=ActivityOutcome.values,
    )
    campaign_pks = campaign_pks_by_bundle_id()
    bundle_check_references(
        bundle=bundle,
        emails_in_database=set(person_pks_by_email(emails=bundle_referenced_emails(bundle=bundle))),
        campaign_ids_in_database=bundle_referenced_campaign_ids(bundle=bundle) & set(campaign_pks),
    )
    _check_activities(bundle)
    run = _Run(bundle=bundle, by_user=by_user, progress=report, campaign_pks=campaign_pks)
    try:
        with transaction.atomic():
            _write(run)
    except IntegrityError as exc:
        raise NotAllowed(
            f"the database changed while the bundle was imported, nothing was written; run it again ({exc})"
        ) from exc
    except DataError as exc:
        raise ValidationFailed(
            f"the database refused a value of the bundle, nothing was written: {exc}"
        ) from exc
    return run.result


def bundle_import_archive(
    *, archive: IO[bytes], by_user: User | None = None, progress: Progress | None = None
) -> BundleImportResult:
    """Import a bundle uploaded as one zip archive: a backup (format version 2, with its manifest.json) is
    restored into the empty database; an interchange bundle (version 1, CSV files only) is merged in."""
    try:
        zipped = zipfile.ZipFile(archive)
    except (zipfile.BadZipFile, OSError):
        raise BundleError("is not a zip archive", file="the upload") from None
    with zipped:
        if archive_version(archive=zipped) >= 2:
            return backup_restore(archive=zipped, by_user=by_user, progress=progress)
    archive.seek(0)
    with tempfile.TemporaryDirectory(prefix="tandem-bundle-") as folder:
        names = bundle_unzip(archive=archive, directory=Path(folder))
        if PEOPLE not in names:
            raise BundleError(f"the archive has no {PEOPLE}", file=PEOPLE, value=", ".join(names))
        return bundle_import(directory=Path(folder), by_user=by_user, progress=progress)


def bundle_export(*, directory: Path, progress: Progress | None = None) -> BundleExportResult:
    """Write every campaign, person, touchpoint, deal, activity and question of the database as a bundle folder."""
    rows = bundle_write(directory=directory, bundle=bundle_load(), progress=progress)
    return BundleExportResult(directory=directory, rows=rows)


def bundle_export_archive() -> bytes:
    """The database as a backup: a version-2 bundle (docs/bundle.md), one zip archive."""
    return backup_zip(tables=backup_tables_load())


def bundle_export_v1_archive() -> bytes:
    """The database as an interchange bundle (format version 1) in one zip archive."""
    with tempfile.TemporaryDirectory(prefix="tandem-bundle-") as folder:
        bundle_export(directory=Path(folder))
        return bundle_zip(directory=Path(folder))


# ---------------------------------------------------------------------------------------------------------
# Restoring a backup (format version 2).


def capture_restore_bulk(
    *, model: type[models.Model], columns: Sequence[str], rows: Sequence[Sequence[Any]], replace: bool = False
) -> int:
    """Insert a backup's rows of one of capture's tables as they are, ids included (the bundle restore)."""
    return rows_restore(owner="capture", model=model, columns=columns, rows=rows, replace=replace)


# The owner of each app's tables: a backup's rows go in only through these services.
_RESTORERS: dict[str, Callable[..., int]] = {
    "campaigns": campaigns_restore_bulk,
    "crm": crm_restore_bulk,
    "enablement": enablement_restore_bulk,
    "collateral": collateral_requests_restore_bulk,
    "feedback": feedback_restore_bulk,
    "lifecycle": lifecycle_restore_bulk,
    "scoring": scoring_restore_bulk,
    "capture": capture_restore_bulk,
}


def backup_restore(
    *, archive: zipfile.ZipFile, by_user: User | None = None, progress: Progress | None = None
) -> BundleImportResult:
    """Restore a version-2 bundle into a database that holds none of its tables' rows (users and teams may
    exist: they are matched by username and name). Every cell is checked first; then all of it is written
    in one transaction, or nothing."""
    report = progress or silent
    backup = backup_read(archive=archive, progress=report)
    result = BundleImportResult(files={file: RowCounts() for file in BACKUP_FILES})
    now = timezone.now()
    try:
        with transaction.atomic():
            in_use = backup_tables_in_use()
            if in_use:
                file, count = in_use[0]
                raise NotAllowed(
                    f"a backup restores only into an empty database, and this one already holds {count} "
                    f"row{'s' if count != 1 else ''} of {file} (start from a new database, or `tandem flush`); "
                    "nothing was written"
                )
            teams, users = backup.tables[TEAMS], backup.tables[USERS]
            user_pks, team_pks = users_restore_bulk(
                team_columns=[c.name for c in teams.columns],
                teams=teams.rows,
                user_columns=[c.name for c in users.columns],
                users=users.rows,
                now=now,
            )
            result.files[TEAMS].created = len(teams.rows)
            result.files[USERS].created = len(users.rows)
            keys = {"user": user_pks, "team": team_pks}
            restored: list[type[models.Model]] = []
            for table in backup.tables.values():
                if table.file in (TEAMS, USERS):
                    continue
                model = table_model(table.label)
                mapped = [(i, keys[c.refers]) for i, c in enumerate(table.columns) if c.refers != "id"]
                rows = table.rows
                if mapped:
                    rows = [list(row) for row in rows]
                    for row in rows:
                        for i, by_key in mapped:
                            if row[i] is not None:
                                row[i] = by_key[row[i]]
                restore = _RESTORERS[model._meta.app_label]
                result.files[table.file].created = restore(
                    model=model,
                    columns=[c.attname for c in table.columns],
                    rows=rows,
                    replace=table.label in SEEDED,
                )
                restored.append(model)
                report(f"write {table.file}", len(rows), len(rows))
            sequences_reset(models_=restored)
            result.accounts.created = result.files["accounts.csv"].created
            result.stage_changes = result.files["stage_changes.csv"].created
            event_record(
                kind="bundle.restored",
                subject_type="capture.bundle",
                actor=by_user,
                reason="bundle restore",
                data={"format_version": 2, "rows": backup.counts()},
            )
    except IntegrityError as exc:
        raise ValidationFailed(
            f"the database refused a row of the bundle, nothing was written: {exc}"
        ) from exc
    except DataError as exc:
        raise ValidationFailed(
            f"the database refused a value of the bundle, nothing was written: {exc}"
        ) from exc
    return result


def bundle_import_path(
    *, path: Path, by_user: User | None = None, progress: Progress | None = None
) -> BundleImportResult:
    """Import a bundle from a folder of CSV files (format version 1) or a .zip (version 1 or 2)."""
    if path.is_dir():
        return bundle_import(directory=path, by_user=by_user, progress=progress)
    if not path.is_file():
        raise BundleError("is not a folder nor a .zip file", file=str(path), value=str(path))
    with path.open("rb") as handle:
        return bundle_import_archive(archive=handle, by_user=by_user, progress=progress)


def backup_export(*, path: Path, progress: Progress | None = None) -> dict[str, int]:
    """Write the database as a backup (a version-2 bundle) to a .zip file; returns rows per file."""
    tables = backup_tables_load()
    data = backup_zip(tables=tables)
    path.write_bytes(data)
    counts = {table.file: len(table.rows) for table in tables}
    if progress is not None:
        for file, rows in counts.items():
            progress(f"write {file}", rows, rows)
    return counts


# ---------------------------------------------------------------------------------------------------------


def _write(run: _Run) -> None:
    _campaigns(run)
    _accounts(run)
    batch = _people(run)
    _touchpoints(run, batch)
    done = ingest(batch=batch)
    for email, person in run.new.items():
        run.people[email].pk = person.pk
    _count_people(run, done.updated)
    _deals(run)
    _activities(run)
    _questions(run)
    _stages(run)
    if run.result.changed:
        event_record(
            kind="bundle.imported",
            subject_type="capture.bundle",
            actor=run.by_user,
            data=run.result.as_dict(),
        )


def _assign(obj: models.Model, values: dict[str, Any]) -> list[str]:
    """Set the fields whose value differs; returns their names."""
    changed = [name for name, value in values.items() if getattr(obj, name) != value]
    for name in changed:
        setattr(obj, name, values[name])
    return changed


def _note(obj: M, values: dict[str, Any], changes: dict[M, list[str]], counts: RowCounts) -> None:
    """Apply a row's values to a stored object: a change is kept for the bulk update, else it is unchanged."""
    changed = _assign(obj, values)
    if changed:
        changes[obj] = changed
    else:
        counts.unchanged += 1


def _create(run: _Run, objs: list[M], write: Callable[[Sequence[M]], object], label: str) -> list[M]:
    """bulk_create (by `write`) for the few rows whose primary keys the import needs back (campaigns, accounts)."""
    for done, chunk in enumerate(chunked(objs, WRITE_CHUNK), 1):
        write(chunk)
        run.progress(label, min(done * WRITE_CHUNK, len(objs)), len(objs))
    return objs


def _insert(
    run: _Run, model: type[models.Model], columns: Sequence[str], rows: Sequence[Sequence[Any]], label: str
) -> None:
    rows_copy(model=model, columns=columns, rows=rows, now=run.now, progress=run.progress, label=label)


def _update(
    run: _Run,
    model: type[M],
    changes: dict[M, list[str]],
    write: Callable[[list[M], list[str]], object],
    label: str,
) -> None:
    """bulk_update (by `write`, in batches of UPDATE_BATCH) of the changed fields, stamping `updated_at`."""
    if not changes:
        return
    fields = sorted({name for names in changes.values() for name in names})
    if any(f.name == "updated_at" for f in model._meta.concrete_fields):
        fields.append("updated_at")
        for obj in changes:
            obj.updated_at = run.now  # type: ignore[attr-defined]
    objs = list(changes)
    write(objs, fields)
    run.progress(label, len(objs), len(objs))


def _campaigns_create(campaigns: Sequence[Campaign]) -> None:
    Campaign.objects.bulk_create(campaigns)


def _campaigns_update(campaigns: list[Campaign], fields: list[str]) -> None:
    Campaign.objects.bulk_update(campaigns, fields, batch_size=UPDATE_BATCH)


def _accounts_update(accounts: list[Account], fields: list[str]) -> None:
    accounts_update_bulk(accounts=accounts, fields=fields, batch_size=UPDATE_BATCH)


def _deals_update(deals: list[Deal], fields: list[str]) -> None:
    deals_update_bulk(deals=deals, fields=fields, batch_size=UPDATE_BATCH)


def _lost_reasons_create(reasons: Sequence[LostReason]) -> None:
    lost_reasons_create_bulk(reasons=reasons)


# The note of the entry an import adds when a campaign's cost cell exceeds its cost entries.
COST_FROM_TOTAL = "from the cost column of campaigns.csv, spread over the campaign's days"


def _campaigns(run: _Run) -> None:
    rows = run.bundle.campaigns
    columns = run.bundle.custom_columns.get(CAMPAIGNS, ())
    absent = run.bundle.absent_columns.get(CAMPAIGNS, ())
    counts = run.result.files[CAMPAIGNS]
    stored = Campaign.objects.in_bulk(
        [run.campaign_pks[r.campaign_id] for r in rows if r.campaign_id in run.campaign_pks]
    )
    costs, totals = _costs_plan(run)
    new: list[Campaign] = []
    changes: dict[Campaign, list[str]] = {}
    for row in rows:
        campaign = stored.get(run.campaign_pks.get(row.campaign_id, 0))
        values = {
            "name": row.name,
            "channel": row.channel,
            "started_on": row.started_on,
            "ended_on": row.ended_on,
            "actual_cost": _cost_total(run, row, campaign, costs, totals),
            "kind": row.kind,
            "offer": row.offer,
            "offer_ends_on": row.offer_ends_on,
            "talking_points": row.talking_points,
            "custom_fields": custom_merge(
                current=campaign.custom_fields if campaign else {}, columns=columns, given=row.custom
            ),
        }
        for name in absent:
            # A bundle written before the column existed says nothing about it: new campaigns take the
            # field's default and stored ones keep their value.
            del values[name]
        if campaign is None:
            new.append(Campaign(external_id=row.campaign_id, created_at=run.now, **values))
            continue
        _note(campaign, values, changes, counts)
    _create(run, new, _campaigns_create, "write campaigns")
    run.campaign_pks.update({c.external_id or "": c.pk for c in new})
    _update(run, Campaign, changes, _campaigns_update, "update campaigns")
    counts.created, counts.updated = len(new), len(changes)
    _costs_write(run, costs)


def _costs_plan(run: _Run) -> tuple[list[CostRow], dict[str, Decimal]]:
    """The cost entries the import adds (those of campaign_costs.csv not stored yet), and per bundle campaign
    id the total of its entries once they are added (stored and new)."""
    named = {c.campaign_id for c in run.bundle.campaign_costs} | {c.campaign_id for c in run.bundle.campaigns}
    pks = {cid: run.campaign_pks[cid] for cid in named if cid in run.campaign_pks}
    by_pk = campaign_cost_keys(campaign_pks=pks.values())
    stored_keys = [(cid, *key) for cid, pk in pks.items() for key in by_pk.get(pk, ())]
    new, unchanged = costs_new(given=run.bundle.campaign_costs, stored=stored_keys)
    totals: dict[str, Decimal] = {}
    for cid, _, _, amount, _ in stored_keys:
        totals[cid] = totals.get(cid, Decimal("0.00")) + amount
    for cost in new:
        totals[cost.campaign_id] = totals.get(cost.campaign_id, Decimal("0.00")) + cost.amount
    run.result.files[CAMPAIGN_COSTS].unchanged = unchanged
    return new, totals


def _cost_total(
    run: _Run, row: CampaignRow, campaign: Campaign | None, costs: list[CostRow], totals: dict[str, Decimal]
) -> Decimal:
    """The campaign's actual cost after the import: the total of its entries, which the cost cell may raise
    by one more entry but never lower (an import deletes nothing)."""
    total = totals.get(row.campaign_id, Decimal("0.00"))
    if row.cost is None or row.cost == total:
        return total
    if row.cost < total:
        raise BundleError(
            f"cost {amount_format(row.cost)} is below the campaign's cost entries ({amount_format(total)}): an "
            "import never removes entries; delete them in Tandem or give the cost of all of them",
            file=CAMPAIGNS,
            line=row.line,
            column="cost",
            value=amount_format(row.cost),
        )
    # A total without entries (an older bundle, a spreadsheet) is spread over the campaign's days, as
    # reports spread a campaign's one cost before entries existed; a campaign still running, up to today.
    today = run.now.date()
    first = row.started_on or row.ended_on or (campaign.created_at.date() if campaign else today)
    last = row.ended_on or max(first, today)
    costs.append(
        CostRow(
            campaign_id=row.campaign_id,
            spent_on=first,
            spent_until=last if last > first else None,
            amount=row.cost - total,
            note=COST_FROM_TOTAL,
            line=row.line,
        )
    )
    totals[row.campaign_id] = row.cost
    return row.cost


def _costs_write(run: _Run, costs: list[CostRow]) -> None:
    counts = run.result.files[CAMPAIGN_COSTS]
    if not costs:
        return
    by_user = run.by_user if run.by_user is not None and run.by_user.pk else None
    campaign_costs_create_bulk(
        costs=[
            CampaignCost(
                campaign_id=run.campaign_pks[c.campaign_id],
                spent_on=c.spent_on,
                spent_until=c.spent_until,
                amount=c.amount,
                note=c.note,
                entered_by=by_user,
                entered_at=run.now,
            )
            for c in costs
        ]
    )
    run.progress("write campaign costs", len(costs), len(costs))
    counts.created = len(costs)
    # Campaigns of campaigns.csv were written with their new total; the others named only by an entry are not.
    listed = {r.campaign_id for r in run.bundle.campaigns}
    others = {run.campaign_pks[c.campaign_id] for c in costs if c.campaign_id not in listed}
    campaign_totals_refresh_bulk(campaign_ids=others, now=run.now)


def _accounts(run: _Run) -> None:
    wanted = bundle_accounts(people=run.bundle.people)
    domains = sorted(key[1] for key in wanted if key[0] == "domain")
    names = sorted(key[1] for key in wanted if key[0] == "name")
    stored: dict[tuple[str, str], Account] = {}
    for chunk in chunked(domains):
        stored.update((("domain", a.domain or ""), a) for a in Account.objects.filter(domain__in=chunk))
    for chunk in chunked(names):
        # Several unnamed-domain accounts may share a name; the oldest one is "the" account, as in crm.services.
        for named in Account.objects.filter(domain__isnull=True, name__in=chunk).order_by("-pk"):
            stored[("name", named.name)] = named
    new: list[tuple[Any, ...]] = []
    new_keys: list[tuple[str, str]] = []
    changes: dict[Account, list[str]] = {}
    counts = run.result.accounts
    for key, wish in wanted.items():
        account = stored.get(key)
        if account is None:
            new.append(
                (wish.name or wish.domain or "", wish.domain, wish.industry, wish.size_band, wish.country, run.now)
            )
            new_keys.append(key)
            continue
        # An account is shared: a bundle's empty cell never clears what is known about it.
        values = {
            "name": wish.name,
            "industry": wish.industry,
            "size_band": wish.size_band,
            "country": wish.country,
        }
        _note(account, {k: v for k, v in values.items() if v}, changes, counts)
    # Tuples, not model objects: bulk_create compiles its SQL value by value (0.4 s for 7,500 accounts).
    pks = accounts_insert_bulk(columns=ACCOUNT_COLUMNS, rows=new, now=run.now)
    run.progress("write accounts", len(new), len(new))
    _update(run, Account, changes, _accounts_update, "update accounts")
    run.account_pks = {key: account.pk for key, account in stored.items()}
    run.account_pks.update(zip(new_keys, pks, strict=True))
    counts.created, counts.updated = len(new), len(changes)


ACCOUNT_COLUMNS = ("name", "domain", "industry", "size_band", "country", "created_at")


def _tie(channel: str, campaign_id: str, kind: str, campaign_pk: int | None) -> tuple[Any, ...]:
    # Touches of the same moment are ordered by channel, the bundle's campaign id, kind, then campaign key.
    return (channel, campaign_id, kind, campaign_pk)


PERSON_COLUMNS = (
    "email",
    "email_normalized",
    "first_name",
    "last_name",
    "name_key",
    "job_title",
    "created_at",
    "custom_fields",
    "account_id",
    "lifecycle_stage",
)


def _people(run: _Run) -> IngestBatch:
    """Match people.csv to the stored people: the new ones and the changes, for `ingest` to write."""
    rows = run.bundle.people
    columns = run.bundle.custom_columns.get(PEOPLE, ())
    for deal in run.bundle.deals:
        run.deals_by_email.setdefault(deal.email_key, []).append(deal)
    emails = sorted({r.email_key for r in rows} | bundle_referenced_emails(bundle=run.bundle))
    stored: dict[str, Person] = {}
    for chunk in chunked(emails):
        stored.update(
            (p.email_normalized or "", p) for p in Person.objects.filter(email_normalized__in=chunk)
        )
    run.stored = {p.pk: p for p in stored.values()}
    gone = sorted(bundle_referenced_emails(bundle=run.bundle) - set(stored))
    if gone:
        raise NotAllowed(f"{gone[0]} was deleted while the bundle was imported; nothing was written")
    changes: dict[Person, Collection[str]] = {}
    for row in rows:
        found = stored.get(row.email_key)
        key = account_key(email=row.email_key, company=row.company)
        values: dict[str, Any] = {
            "first_name": row.first_name,
            "last_name": row.last_name,
            "name_key": name_key(row.first_name, row.last_name),
            "job_title": row.job_title,
            "created_at": row.created_at,
            "custom_fields": custom_merge(
                current=found.custom_fields if found else {}, columns=columns, given=row.custom
            ),
        }
        # A row that names neither a company domain nor a company leaves the person's account as it is.
        if key is not None:
            values["account_id"] = run.account_pks[key]
        if found is None:
            values.setdefault("account_id", None)
            # Inserted at the stage its moves end at (see _stages), so the row is written once.
            moves = lifecycle_moves(
                created_at=row.created_at, deals=run.deals_by_email.get(row.email_key, ()), reached=None
            )
            values["lifecycle_stage"] = moves[-1].to_stage
            # The channels come from the person's touchpoints in the bundle (see _touchpoints).
            run.new[row.email_key] = NewPerson(
                values=(row.email, row.email_key, *(values[c] for c in PERSON_COLUMNS[2:]))
            )
            run.people[row.email_key] = _Who(0, row.email_key, values["account_id"], row.created_at, "")
            continue
        changed = _assign(found, {"email": row.email, **values})
        if changed:
            changes[found] = changed
    for email, person in stored.items():
        run.people[email] = _Who(
            person.pk, email, person.account_id, person.created_at, person.lifecycle_stage
        )
    run.result.files[PEOPLE].created = len(run.new)
    return IngestBatch(
        now=run.now,
        person_columns=PERSON_COLUMNS,
        people=list(run.new.values()),
        person_keys="email",
        changes=changes,
        stored_journeys="all",
        stored=run.stored,
        progress=run.progress,
    )


def _stored_keys(
    run: _Run, model: type[models.Model], emails: set[str], fields: Sequence[str]
) -> dict[int, list[tuple[Any, ...]]]:
    """The stored rows of the people already in the database, as (person_id, *fields, custom_fields)."""
    pks = sorted(run.people[e].pk for e in emails if run.people[e].pk in run.stored)
    out: dict[int, list[tuple[Any, ...]]] = defaultdict(list)
    for chunk in chunked(pks):
        for person_id, *values, custom in model._default_manager.filter(person_id__in=chunk).values_list(
            "person_id", *fields, "custom_fields"
        ):
            out[person_id].append((*values, custom_items(custom or {})))
    return out


def _match(
    stored: dict[int, list[tuple[Any, ...]]], wanted: Sequence[tuple[int, tuple[Any, ...] | None]]
) -> tuple[list[int], int]:
    """Which wanted (person, key) rows are new, counting duplicates: a row the file holds twice and the
    database once is created once. Returns the indexes of the new rows and how many matched. A row whose
    person has nothing stored is new, and may leave its key None."""
    left = {pid: Counter(keys) for pid, keys in stored.items()}
    new: list[int] = []
    for index, (pid, key) in enumerate(wanted):
        bag = left.get(pid)
        if bag is not None and key is not None and bag[key] > 0:
            bag[key] -= 1
        else:
            new.append(index)
    return new, len(wanted) - len(new)


def _touchpoints(run: _Run, batch: IngestBatch) -> None:
    """Add touchpoints.csv's new rows to the batch, with the stored touchpoints of the people they extend."""
    rows = run.bundle.touchpoints
    counts = run.result.files[TOUCHPOINTS]
    fields = ("occurred_at", "channel", "campaign_id", "kind")
    stored = _stored_keys(run, Touchpoint, {r.email_key for r in rows}, fields)
    # Only a stored person's rows can match a stored touchpoint: the others (a first import's all) need no key.
    wanted: list[tuple[int, tuple[Any, ...] | None]] = []
    for r in rows:
        pid = run.people[r.email_key].pk
        key = None
        if pid in stored:
            key = (r.occurred_at, r.channel, run.campaign_pks.get(r.campaign_id), r.kind, custom_items(r.custom))
        wanted.append((pid, key))
    new_indexes, counts.unchanged = _match(stored, wanted)
    batch.touchpoint_columns = ("occurred_at", "channel", "campaign_id", "kind", "custom_fields")
    for i in new_indexes:
        r = rows[i]
        pk = run.campaign_pks.get(r.campaign_id)
        batch.touchpoints.append(
            NewTouchpoint(
                run.new.get(r.email_key) or wanted[i][0],
                (r.occurred_at, r.channel, pk, r.kind, r.custom),
                _tie(r.channel, r.campaign_id, r.kind, pk),
            )
        )
    counts.created = len(new_indexes)
    # A stored person with new touchpoints may have a new first or last one.
    campaign_ids = {pk: cid for cid, pk in run.campaign_pks.items()}
    touched = {wanted[i][0] for i in new_indexes if wanted[i][0] in run.stored}
    for pid in touched:
        batch.stored_touches[pid] = [
            Touch(at, channel, campaign, _tie(channel, campaign_ids.get(campaign, ""), kind, campaign))
            for at, channel, campaign, kind, _ in stored.get(pid, ())
        ]


def _count_people(run: _Run, updated: set[int]) -> None:
    counts = run.result.files[PEOPLE]
    # Known only now: new touchpoints may change a person (its first or last channel) that people.csv
    # does not name, or one whose row matched the database.
    counts.updated = len(updated)
    in_file = {run.people[r.email_key].pk for r in run.bundle.people}
    counts.unchanged = len(in_file - updated) - counts.created


def _deals(run: _Run) -> None:
    rows = run.bundle.deals
    columns = run.bundle.custom_columns.get(DEALS, ())
    counts = run.result.files[DEALS]
    reasons = _lost_reasons(run, {r.lost_reason for r in rows if r.lost_reason})
    stored: dict[str, Deal] = {}
    ids = sorted({r.deal_id for r in rows})
    for id_chunk in chunked(ids):
        stored.update((d.external_id or "", d) for d in Deal.objects.filter(external_id__in=id_chunk))
    local = {pk: deal_id for deal_id in ids if deal_id not in stored for pk in (local_pk(deal_id),) if pk}
    for pk_chunk in chunked(sorted(local)):
        stored.update(
            (local[d.pk], d) for d in Deal.objects.filter(pk__in=pk_chunk, external_id__isnull=True)
        )
    new: list[tuple[Any, ...]] = []
    changes: dict[Deal, list[str]] = {}
    for row in rows:
        deal = stored.get(row.deal_id)
        person = run.people[row.email_key]
        values = {
            "person_id": person.pk,
            "amount": row.amount,
            "stage": row.stage,
            "created_at": row.created_at,
            "closed_at": row.closed_at,
            "lost_reason_id": reasons.get(row.lost_reason),
            "custom_fields": custom_merge(
                current=deal.custom_fields if deal else {}, columns=columns, given=row.custom
            ),
        }
        if deal is None:
            # The bundle has no account column: a new deal belongs to its person's account, and a stored
            # deal keeps its own unless it moves to another person.
            values["account_id"] = person.account_id
            new.append((row.deal_id, *(values[c] for c in DEAL_COLUMNS)))
            continue
        if deal.person_id != person.pk:
            values["account_id"] = person.account_id
        _note(deal, values, changes, counts)
    deals_copy_bulk(
        columns=("external_id", *DEAL_COLUMNS),
        rows=new,
        now=run.now,
        progress=run.progress,
        label="write deals",
    )
    _update(run, Deal, changes, _deals_update, "update deals")
    counts.created, counts.updated = len(new), len(changes)


DEAL_COLUMNS = (
    "person_id",
    "account_id",
    "amount",
    "stage",
    "created_at",
    "closed_at",
    "lost_reason_id",
    "custom_fields",
)


def _lost_reasons(run: _Run, names: set[str]) -> dict[str, int]:
    found = dict(LostReason.objects.filter(name__in=sorted(names)).values_list("name", "pk"))
    new = [LostReason(name=name) for name in sorted(names - set(found))]
    _create(run, new, _lost_reasons_create, "write lost reasons")
    found.update((r.name, r.pk) for r in new)
    run.result.lost_reasons_created = len(new)
    return found


# ---- activities.csv: checked against the kinds, users and deals before the transaction, written after deals ----


def _check_activities(bundle: Bundle) -> None:
    """Refuse an activity of an unknown kind, by an unknown user, of an unknown deal, or dated absurdly."""
    rows = bundle.activities
    if not rows:
        return
    kinds = set(ActivityType.objects.values_list("key", flat=True))
    users = set(
        User.objects.filter(username__in=sorted({r.user for r in rows if r.user})).values_list(
            "username", flat=True
        )
    )
    named = sorted({r.deal_id for r in rows if r.deal_id} - {d.deal_id for d in bundle.deals})
    deals = set(_deals_by_bundle_id(named))
    now = timezone.now()
    for row in rows:
        problem = None
        if row.kind not in kinds:
            column, value = "kind", row.kind
            problem = (
                f"unknown activity kind {row.kind!r} (one of {', '.join(sorted(kinds))}; an admin adds kinds)"
            )
        elif row.user and row.user not in users:
            column, value, problem = "user", row.user, f"no user {row.user!r} (create the user first)"
        elif row.deal_id and row.deal_id in named and row.deal_id not in deals:
            column, value = "deal_id", row.deal_id
            problem = f"deal {row.deal_id!r} is neither in {DEALS} nor in the database"
        else:
            column, value = "occurred_at", row.occurred_at.isoformat()
            problem = occurred_at_problem(at=row.occurred_at, now=now)
        if problem:
            raise BundleError(problem, file=ACTIVITIES, line=row.line, column=column, value=value)


def _deals_by_bundle_id(ids: Sequence[str]) -> dict[str, tuple[int, int | None, int | None]]:
    """Stored deals by the id a bundle uses (the external id, or 'tandem-<pk>' for one without): their key,
    person and account."""
    found: dict[str, tuple[int, int | None, int | None]] = {}
    columns = ("pk", "person_id", "account_id")
    for chunk in chunked(sorted(ids)):
        for external, *row in Deal.objects.filter(external_id__in=chunk).values_list("external_id", *columns):
            found[external or ""] = (row[0], row[1], row[2])
    local = {pk: i for i in ids if i not in found for pk in (local_pk(i),) if pk}
    for pks in chunked(sorted(local)):
        for pk, person, account in Deal.objects.filter(pk__in=pks, external_id__isnull=True).values_list(
            *columns
        ):
            found[local[pk]] = (pk, person, account)
    return found


ACTIVITY_FIELDS = (
    "person_id",
    "kind_id",
    "occurred_at",
    "outcome",
    "direction",
    "duration_minutes",
    "subject",
    "notes",
    "deal_id",
    "user_id",
)


def _activities(run: _Run) -> None:
    """activities.csv by activity_id: new ones inserted, changed ones updated, through crm's bulk services."""
    rows = run.bundle.activities
    counts = run.result.files[ACTIVITIES]
    if not rows:
        return
    ids = sorted({r.activity_id for r in rows})
    stored: dict[str, Activity] = {}
    for chunk in chunked(ids):
        stored.update((a.external_id or "", a) for a in Activity.objects.filter(external_id__in=chunk))
    local = {pk: i for i in ids if i not in stored for pk in (local_pk(i),) if pk}
    for pks in chunked(sorted(local)):
        stored.update((local[a.pk], a) for a in Activity.objects.filter(pk__in=pks, external_id__isnull=True))
    deals = _deals_by_bundle_id(sorted({r.deal_id for r in rows if r.deal_id}))
    users = dict(
        User.objects.filter(username__in=sorted({r.user for r in rows if r.user})).values_list(
            "username", "pk"
        )
    )
    new: list[Activity] = []
    changes: dict[Activity, list[str]] = {}
    for row in rows:
        person = run.people[row.email_key]
        deal_pk, deal_person, deal_account = deals.get(row.deal_id, (None, None, None))
        if (
            deal_pk is not None
            and deal_person != person.pk
            and (deal_account is None or deal_account != person.account_id)
        ):
            raise BundleError(
                f"deal {row.deal_id!r} belongs neither to {row.email} nor to their account",
                file=ACTIVITIES,
                line=row.line,
                column="deal_id",
                value=row.deal_id,
            )
        values = dict(
            zip(
                ACTIVITY_FIELDS,
                (
                    person.pk,
                    row.kind,
                    row.occurred_at,
                    row.outcome,
                    row.direction,
                    row.duration_minutes,
                    row.subject,
                    row.notes,
                    deal_pk,
                    users.get(row.user) if row.user else None,
                ),
                strict=True,
            )
        )
        activity = stored.get(row.activity_id)
        account = person.account_id or deal_account
        if activity is None:
            new.append(Activity(external_id=row.activity_id, account_id=account, **values))
            continue
        # A stored activity keeps its account unless it moves to another person or deal.
        if activity.person_id != person.pk or activity.deal_id != deal_pk:
            values["account_id"] = account
        _note(activity, values, changes, counts)
    for done, batch in enumerate(chunked(new, WRITE_CHUNK), 1):
        activities_log_bulk(activities=batch)
        run.progress("write activities", min(done * WRITE_CHUNK, len(new)), len(new))
    if changes:
        fields = sorted({name for names in changes.values() for name in names})
        activities_update_bulk(activities=list(changes), fields=fields, batch_size=UPDATE_BATCH)
        run.progress("update activities", len(changes), len(changes))
    counts.created, counts.updated = len(new), len(changes)


def _questions(run: _Run) -> None:
    rows = run.bundle.questions
    counts = run.result.files[QUESTIONS]
    stored = _stored_keys(run, Question, {r.email_key for r in rows}, ("asked_at", "text"))
    wanted = [(run.people[r.email_key].pk, (r.asked_at, r.text, custom_items(r.custom))) for r in rows]
    new_indexes, counts.unchanged = _match(stored, wanted)
    new = [(wanted[i][0], rows[i].asked_at, rows[i].text, rows[i].custom) for i in new_indexes]
    _insert(run, Question, ("person_id", "asked_at", "text", "custom_fields"), new, "write questions")
    counts.created = len(new)


def _stages(run: _Run) -> None:
    deals: dict[str, list[DealRow]] = defaultdict(list, run.deals_by_email)
    emails = {r.email_key for r in run.bundle.people} | set(deals)
    people = [run.people[e] for e in sorted(emails)]
    # Stored people move only forward, to stages they never reached; the history says which they did.
    candidates = [
        p.pk
        for p in people
        if p.pk in run.stored
        and lifecycle_moves(
            created_at=p.created_at, deals=deals[p.email_key], reached=rank(p.lifecycle_stage)
        )
    ]
    reached: dict[int, int] = {}
    for chunk in chunked(candidates):
        for pid, stage in (
            StageChange.objects.filter(person_id__in=chunk).values_list("person_id", "to_stage").distinct()
        ):
            reached[pid] = max(reached.get(pid, -1), rank(stage))
    candidate_set = set(candidates)
    by_user_id = run.by_user.pk if run.by_user is not None else None
    transitions: list[Transition] = []
    for person in people:
        if person.pk in run.stored and person.pk not in candidate_set:
            continue
        ceiling = (
            max(rank(person.lifecycle_stage), reached.get(person.pk, -1))
            if person.pk in candidate_set
            else None
        )
        for move in lifecycle_moves(
            created_at=person.created_at, deals=deals[person.email_key], reached=ceiling
        ):
            transitions.append(
                Transition(
                    person_id=person.pk,
                    to_stage=move.to_stage,
                    at=move.at,
                    by_user_id=by_user_id,
                    reason=REASON,
                )
            )
    run.progress("write stage changes", 0, len(transitions))
    # New people hold their final stage already (_people): their moves are recorded, their rows not written again.
    created = [person.pk for person in run.new.values()]
    run.result.stage_changes = people_change_stage_bulk(transitions=transitions, created_at_stage=created)
    run.progress("write stage changes", run.result.stage_changes, run.result.stage_changes)
