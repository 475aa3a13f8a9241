"""The Maven Analytics "CRM + Sales + Opportunities" data set imported in one step: `tandem import maven DIR`.

The folder holds four related files (sales_teams.csv, products.csv, accounts.csv, sales_pipeline.csv), so it is
imported as a whole rather than file by file with `tandem import csv`:

- each sales manager and sales agent becomes a user (managers: sales manager; agents: sales rep) who cannot
  sign in until an admin sets a password; each manager's regional office is a team "<office> (<manager>)"
  in the office's time zone, with the manager as its manager and the agents as members;
- products become enablement's products (the pipeline's `GTXPro` is the catalogue's `GTX Pro`);
- accounts become accounts: sector -> industry, employees -> size band, office location -> country, and
  year established, revenue (million USD), employees and subsidiary_of are kept as custom fields;
- opportunities become account-level deals (no person) owned by their agent, on a pipeline "Maven CRM" with
  the data's own stages (Prospecting, Engaging, Won, Lost): engage_date is when the deal was created and
  entered Engaging, close_date when it was won or lost, close_value its amount. An open deal has no
  close_value: its amount is its product's list price (custom field amount_basis = "list price"), so the
  forecast weighs something real. Each deal's product is a product line in enablement (deal_products).

Everything is checked before anything is written; one bad cell refuses the whole folder, naming the file, row,
column and value. Rows are matched by their keys (user names, team names, product and account names, and the
opportunity id as the deal's external id `maven-<id>`), so importing the folder again changes nothing; users,
teams and products that already exist are left as they are.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, NoReturn

from django.db import transaction
from django.utils import timezone

from tandem.capture.control_chars import control_char_problem, control_chars_shown
from tandem.capture.csvimport.mapping import RowError, amount_read, table_read
from tandem.core.bulk import Progress, chunked, silent
from tandem.core.errors import ValidationFailed
from tandem.core.events import event_record
from tandem.crm.accounts.services import account_create, account_update
from tandem.crm.models import Account, Deal, DealStage, Pipeline, PipelineStage, SizeBand
from tandem.crm.pipelines.services import DealWalk, StageSpec, deal_move, deals_walk_bulk, pipeline_create
from tandem.crm.services import deals_create_bulk, deals_update_bulk
from tandem.enablement.models import DealProduct, Product
from tandem.enablement.services import deal_products_set_bulk, product_create
from tandem.users.models import Role, Team, User
from tandem.users.services import team_create, user_create

TEAMS_FILE = "sales_teams.csv"
PRODUCTS_FILE = "products.csv"
ACCOUNTS_FILE = "accounts.csv"
PIPELINE_FILE = "sales_pipeline.csv"
FILES = (TEAMS_FILE, PRODUCTS_FILE, ACCOUNTS_FILE, PIPELINE_FILE)

PIPELINE = "Maven CRM"
# The data's stages in order; the open ones' probabilities are defaults an admin may change on the pipeline page
# (63 % of the data's closed deals were won, and every closed deal went through Engaging).
STAGES = (
    StageSpec("Prospecting", DealStage.OPEN, 10),
    StageSpec("Engaging", DealStage.OPEN, 60),
    StageSpec("Won", DealStage.WON, 100),
    StageSpec("Lost", DealStage.LOST, 0),
)
STAGE_KIND = {s.name: s.kind for s in STAGES}
DEAL_PREFIX = "maven-"
REASON = "maven import"
# Spellings of the source that differ from the rest of it (SOURCE.md's caveats) or from common usage.
PRODUCT_ALIASES = {"GTXPro": "GTX Pro"}
SECTOR_FIXES = {"technolgy": "technology"}
COUNTRY_FIXES = {"Philipines": "Philippines"}
OFFICE_TIME_ZONES = {"East": "America/New_York", "Central": "America/Chicago", "West": "America/Los_Angeles"}
LIST_PRICE = "list price"
DEAL_BATCH = 1000

_SIZE_BANDS = (
    (10, SizeBand.S1_10),
    (50, SizeBand.S11_50),
    (200, SizeBand.S51_200),
    (1000, SizeBand.S201_1000),
    (5000, SizeBand.S1001_5000),
)


def size_band_of(employees: int | None) -> str:
    """The size band a head count falls in ("" when unknown)."""
    if employees is None:
        return ""
    for top, band in _SIZE_BANDS:
        if employees <= top:
            return str(band)
    return str(SizeBand.S5001)


def username_of(name: str) -> str:
    """The username a Maven person gets: 'Mei-Mei Johns' -> 'mei-mei.johns'."""
    words = [re.sub(r"[^0-9a-z-]", "", w) for w in name.lower().split()]
    return ".".join(w for w in words if w)[:150]


# ---- reading and checking the folder (no database) ----


@dataclass(frozen=True)
class Agent:
    name: str
    manager: str
    office: str


@dataclass(frozen=True)
class ProductRow:
    name: str
    series: str
    price: Decimal


@dataclass(frozen=True)
class AccountRow:
    name: str
    industry: str
    country: str
    size_band: str
    custom_fields: dict[str, Any]


@dataclass(frozen=True)
class Opportunity:
    external_id: str
    agent: str
    product: str
    account: str
    stage: str
    engaged_at: dt.datetime | None
    closed_at: dt.datetime | None
    close_value: Decimal | None


@dataclass
class MavenData:
    agents: list[Agent] = field(default_factory=list)
    products: list[ProductRow] = field(default_factory=list)
    accounts: list[AccountRow] = field(default_factory=list)
    opportunities: list[Opportunity] = field(default_factory=list)


class _File:
    """One file's rows as dicts by header, refusing with the file's name, the row and the column."""

    def __init__(self, directory: Path, name: str, columns: Sequence[str]) -> None:
        self.name = name
        path = directory / name
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise ValidationFailed(
                f"cannot read {path}: {exc.strerror or exc}", field="directory", value=str(path)
            ) from None
        table = self._wrap(lambda: table_read(data=data, name=name))
        missing = [c for c in columns if c not in table.headers]
        if missing:
            raise ValidationFailed(
                f"{name} has no column {missing[0]!r}", field=missing[0], value=", ".join(table.headers)
            )
        self.rows: list[tuple[int, dict[str, str]]] = []
        for line, cells in table.rows:
            if len(cells) != len(table.headers):
                self.error(
                    line,
                    "",
                    str(len(cells)),
                    f"the row has {len(cells)} cells, the header {len(table.headers)}",
                )
            self.rows.append((line, dict(zip(table.headers, cells, strict=True))))

    def _wrap(self, read: Any) -> Any:
        try:
            return read()
        except RowError as exc:
            raise ValidationFailed(
                f"{self.name}: {exc.message}", field=exc.column or None, value=exc.value
            ) from None

    def error(self, line: int, column: str, value: str, problem: str) -> NoReturn:
        where = f"row {line}" + (f", column {column!r}" if column else "")
        raise ValidationFailed(f"{self.name}, {where}: {problem}", field=column or None, value=value)

    def text(
        self, line: int, row: dict[str, str], column: str, *, required: bool = True, max_length: int = 200
    ) -> str:
        value = row[column].strip()
        if required and not value:
            self.error(line, column, value, "value is missing")
        if len(value) > max_length:
            self.error(line, column, value[:80], f"value is longer than {max_length} characters")
        problem = control_char_problem(value)
        if problem:
            self.error(line, column, control_chars_shown(value), problem)
        return value

    def number(self, line: int, row: dict[str, str], column: str, *, whole: bool) -> Any:
        value = row[column].strip()
        if not value:
            return None
        try:
            number = int(value) if whole else Decimal(value)
        except (ValueError, ArithmeticError):
            self.error(line, column, value, f"{value!r} is not a {'whole number' if whole else 'number'}")
        if number < 0 or (not whole and not Decimal(number).is_finite()):
            self.error(line, column, value, f"{value!r} must be a number not below zero")
        return number

    def amount(self, line: int, row: dict[str, str], column: str) -> Decimal | None:
        value = row[column].strip()
        return self._wrap(lambda: amount_read(value, line=line, column=column)) if value else None

    def date(self, line: int, row: dict[str, str], column: str) -> dt.datetime | None:
        value = row[column].strip()
        if not value:
            return None
        try:
            day = dt.date.fromisoformat(value)
        except ValueError:
            self.error(line, column, value, f"{value!r} is not a date (YYYY-MM-DD)")
        return dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)


def maven_read(*, directory: Path) -> MavenData:
    """The four files read and checked against each other; ValidationFailed names the first problem."""
    if not directory.is_dir():
        raise ValidationFailed(f"{directory} is not a folder", field="directory", value=str(directory))
    out = MavenData()
    teams = _File(directory, TEAMS_FILE, ("sales_agent", "manager", "regional_office"))
    office_of: dict[str, str] = {}
    seen: dict[str, int] = {}
    for line, row in teams.rows:
        member = Agent(
            name=teams.text(line, row, "sales_agent", max_length=150),
            manager=teams.text(line, row, "manager", max_length=150),
            office=teams.text(line, row, "regional_office", max_length=60),
        )
        if member.name in seen:
            teams.error(
                line,
                "sales_agent",
                member.name,
                f"{member.name!r} is listed twice (also on row {seen[member.name]})",
            )
        if office_of.setdefault(member.manager, member.office) != member.office:
            teams.error(
                line,
                "regional_office",
                member.office,
                f"{member.manager} manages in {office_of[member.manager]}, not also in {member.office}",
            )
        seen[member.name] = line
        out.agents.append(member)
    for name in sorted(set(office_of) & set(seen)):
        teams.error(seen[name], "sales_agent", name, f"{name!r} is both a manager and an agent")

    products = _File(directory, PRODUCTS_FILE, ("product", "series", "sales_price"))
    for line, row in products.rows:
        item = ProductRow(
            name=products.text(line, row, "product", max_length=120),
            series=products.text(line, row, "series", required=False, max_length=60),
            price=products.amount(line, row, "sales_price") or Decimal("0.00"),
        )
        if any(p.name.lower() == item.name.lower() for p in out.products):
            products.error(line, "product", item.name, f"product {item.name!r} is listed twice")
        out.products.append(item)

    accounts = _File(
        directory,
        ACCOUNTS_FILE,
        ("account", "sector", "year_established", "revenue", "employees", "office_location", "subsidiary_of"),
    )
    for line, row in accounts.rows:
        name = accounts.text(line, row, "account")
        if any(a.name == name for a in out.accounts):
            accounts.error(line, "account", name, f"account {name!r} is listed twice")
        sector = accounts.text(line, row, "sector", required=False, max_length=80)
        country = accounts.text(line, row, "office_location", required=False, max_length=80)
        employees = accounts.number(line, row, "employees", whole=True)
        custom: dict[str, Any] = {
            "year_established": accounts.number(line, row, "year_established", whole=True),
            # JSON numbers: the revenue keeps its two decimals as written.
            "revenue_musd": float(revenue)
            if (revenue := accounts.number(line, row, "revenue", whole=False)) is not None
            else None,
            "employees": employees,
            "subsidiary_of": accounts.text(line, row, "subsidiary_of", required=False),
        }
        out.accounts.append(
            AccountRow(
                name=name,
                industry=SECTOR_FIXES.get(sector, sector),
                country=COUNTRY_FIXES.get(country, country),
                size_band=size_band_of(employees),
                custom_fields={k: v for k, v in custom.items() if v not in (None, "")},
            )
        )

    pipeline = _File(
        directory,
        PIPELINE_FILE,
        (
            "opportunity_id",
            "sales_agent",
            "product",
            "account",
            "deal_stage",
            "engage_date",
            "close_date",
            "close_value",
        ),
    )
    agents = {a.name for a in out.agents}
    product_names = {p.name for p in out.products}
    account_names = {a.name for a in out.accounts}
    ids: dict[str, int] = {}
    for line, row in pipeline.rows:
        opp_id = pipeline.text(line, row, "opportunity_id", max_length=120 - len(DEAL_PREFIX))
        if opp_id in ids:
            pipeline.error(
                line,
                "opportunity_id",
                opp_id,
                f"opportunity {opp_id!r} is listed twice (also on row {ids[opp_id]})",
            )
        ids[opp_id] = line
        agent = pipeline.text(line, row, "sales_agent", max_length=150)
        if agent not in agents:
            pipeline.error(line, "sales_agent", agent, f"{agent!r} is not an agent of {TEAMS_FILE}")
        product = pipeline.text(line, row, "product", max_length=120)
        product = PRODUCT_ALIASES.get(product, product)
        if product not in product_names:
            pipeline.error(
                line, "product", row["product"], f"{row['product']!r} is not a product of {PRODUCTS_FILE}"
            )
        account = pipeline.text(line, row, "account", required=False)
        if account and account not in account_names:
            pipeline.error(line, "account", account, f"{account!r} is not an account of {ACCOUNTS_FILE}")
        stage = pipeline.text(line, row, "deal_stage", max_length=40)
        if stage not in STAGE_KIND:
            pipeline.error(
                line, "deal_stage", stage, f"unknown deal stage {stage!r} (expected {', '.join(STAGE_KIND)})"
            )
        engaged = pipeline.date(line, row, "engage_date")
        closed = pipeline.date(line, row, "close_date")
        value = pipeline.amount(line, row, "close_value")
        closes = STAGE_KIND[stage] != DealStage.OPEN
        if stage != "Prospecting" and engaged is None:
            pipeline.error(line, "engage_date", "", f"a deal in {stage} needs its engage date")
        if closes and closed is None:
            pipeline.error(line, "close_date", "", f"a {stage} deal needs its close date")
        if closes and value is None:
            pipeline.error(line, "close_value", "", f"a {stage} deal needs its close value")
        if not closes and (closed is not None or value is not None):
            column = "close_date" if closed is not None else "close_value"
            pipeline.error(line, column, row[column], f"an open ({stage}) deal has no {column}")
        if closed is not None and engaged is not None and closed < engaged:
            pipeline.error(
                line, "close_date", row["close_date"], f"closed before it was engaged ({row['engage_date']})"
            )
        out.opportunities.append(
            Opportunity(
                external_id=DEAL_PREFIX + opp_id,
                agent=agent,
                product=product,
                account=account,
                stage=stage,
                engaged_at=engaged,
                closed_at=closed,
                close_value=value,
            )
        )
    return out


# ---- writing ----


@dataclass
class Counts:
    created: int = 0
    updated: int = 0
    unchanged: int = 0

    def as_dict(self) -> dict[str, int]:
        return {"created": self.created, "updated": self.updated, "unchanged": self.unchanged}


@dataclass
class MavenResult:
    """What the import did, per kind of row (a dry run: what it would do)."""

    dry_run: bool = False
    pipeline_created: bool = False
    users: Counts = field(default_factory=Counts)
    teams: Counts = field(default_factory=Counts)
    products: Counts = field(default_factory=Counts)
    accounts: Counts = field(default_factory=Counts)
    deals: Counts = field(default_factory=Counts)
    stage_changes: int = 0
    product_lines_changed: int = 0

    @property
    def changed(self) -> bool:
        return (
            self.pipeline_created
            or self.product_lines_changed > 0
            or any(
                c.created or c.updated
                for c in (self.users, self.teams, self.products, self.accounts, self.deals)
            )
        )

    def summary(self) -> dict[str, Any]:
        return {
            "pipeline_created": self.pipeline_created,
            "users": self.users.as_dict(),
            "teams": self.teams.as_dict(),
            "products": self.products.as_dict(),
            "accounts": self.accounts.as_dict(),
            "deals": self.deals.as_dict(),
            "stage_changes": self.stage_changes,
            "product_lines_changed": self.product_lines_changed,
        }


def _split(name: str) -> tuple[str, str]:
    first, _, last = name.partition(" ")
    return first, last


def _people(data: MavenData, result: MavenResult, by_user: Any) -> dict[str, User]:
    """Managers, their teams, and agents: found by username (teams by name) or created; returns users by name."""
    managers = sorted({a.manager for a in data.agents})
    names = [*managers, *(a.name for a in data.agents)]
    stored = {u.username: u for u in User.objects.filter(username__in=[username_of(n) for n in names])}
    users: dict[str, User] = {}

    def user(name: str, role: str, team: Team | None) -> User:
        found = stored.get(username_of(name))
        if found is not None:
            result.users.unchanged += 1
            return found
        first, last = _split(name)
        result.users.created += 1
        return user_create(
            username=username_of(name),
            password=None,
            role=role,
            first_name=first,
            last_name=last,
            team=team,
            by_user=by_user,
        )

    office_of = {a.manager: a.office for a in data.agents}
    team_names = {m: f"{office_of[m]} ({m})" for m in managers}
    teams = {t.name: t for t in Team.objects.filter(name__in=list(team_names.values()))}
    team_of: dict[str, Team] = {}
    for manager in managers:
        users[manager] = user(manager, Role.SALES_MANAGER, None)
        team = teams.get(team_names[manager])
        if team is None:
            team = team_create(
                name=team_names[manager],
                time_zone=OFFICE_TIME_ZONES.get(office_of[manager], "UTC"),
                manager=users[manager],
                by_user=by_user,
            )
            result.teams.created += 1
        else:
            result.teams.unchanged += 1
        team_of[manager] = team
    for agent in data.agents:
        users[agent.name] = user(agent.name, Role.SALES_REP, team_of[agent.manager])
    return users


def _products(data: MavenData, result: MavenResult, by_user: Any) -> dict[str, Product]:
    stored = {p.name.lower(): p for p in Product.objects.all()}
    out: dict[str, Product] = {}
    for row in data.products:
        product = stored.get(row.name.lower())
        if product is None:
            product = product_create(
                name=row.name,
                summary=f"{row.series} series; list price {row.price:,.2f} USD",
                by_user=by_user,
            )
            result.products.created += 1
        else:
            result.products.unchanged += 1
        out[row.name] = product
    return out


def _accounts(data: MavenData, result: MavenResult, by_user: Any) -> dict[str, int]:
    stored: dict[str, Account] = {}
    for account in Account.objects.filter(name__in=[a.name for a in data.accounts]).order_by("-pk"):
        stored[account.name] = account  # the oldest of a name wins
    out: dict[str, int] = {}
    for row in data.accounts:
        fields: dict[str, Any] = {
            "industry": row.industry,
            "country": row.country,
            "size_band": row.size_band,
        }
        found = stored.get(row.name)
        if found is None:
            account = account_create(
                name=row.name,
                industry=row.industry,
                country=row.country,
                size_band=row.size_band,
                custom_fields=row.custom_fields,
                by_user=by_user,
            )
            result.accounts.created += 1
        else:
            account = found
            # Custom fields of other origins stay; the data's own are brought up to date.
            wanted = {**fields, "custom_fields": {**account.custom_fields, **row.custom_fields}}
            changes = {k: v for k, v in wanted.items() if getattr(account, k) != v}
            if changes:
                account_update(account=account, by_user=by_user, **changes)
                result.accounts.updated += 1
            else:
                result.accounts.unchanged += 1
        out[row.name] = account.pk
    return out


def _pipeline(result: MavenResult, by_user: Any) -> dict[str, PipelineStage]:
    pipeline = Pipeline.objects.filter(name=PIPELINE).first()
    if pipeline is None:
        pipeline = pipeline_create(name=PIPELINE, stages=STAGES, by_user=by_user)
        result.pipeline_created = True
    stages = {s.name: s for s in PipelineStage.objects.filter(pipeline=pipeline, is_active=True)}
    for spec in STAGES:
        stage = stages.get(spec.name)
        if stage is None or stage.kind != spec.kind:
            raise ValidationFailed(
                f"the pipeline {PIPELINE!r} has no active {spec.kind} stage {spec.name!r}; restore it or rename the "
                "pipeline so the import makes a new one",
                field="pipeline",
                value=PIPELINE,
            )
    return stages


def _wanted(
    opp: Opportunity,
    *,
    stage: PipelineStage,
    owner_id: int,
    account_id: int | None,
    price: Decimal,
    now: dt.datetime,
    stored: Deal | None,
) -> dict[str, Any]:
    """The deal's fields as the data says them (an open deal's amount is its product's list price)."""
    created = opp.engaged_at or (stored.created_at if stored is not None else now)
    custom = dict(stored.custom_fields) if stored is not None else {}
    custom.pop("amount_basis", None)
    if opp.close_value is None:
        custom["amount_basis"] = LIST_PRICE
    return {
        "name": f"{opp.product} · {opp.account}" if opp.account else opp.product,
        "account_id": account_id,
        "owner_id": owner_id,
        "amount": opp.close_value if opp.close_value is not None else price,
        "currency": "USD",
        "created_at": created,
        "closed_at": opp.closed_at,
        "custom_fields": custom,
    }


def _deals(
    data: MavenData,
    result: MavenResult,
    *,
    users: dict[str, User],
    accounts: dict[str, int],
    stages: dict[str, PipelineStage],
    prices: dict[str, Decimal],
    now: dt.datetime,
    by_user: Any,
    progress: Progress,
) -> dict[str, int]:
    stored: dict[str, Deal] = {}
    ids = [o.external_id for o in data.opportunities]
    for chunk in chunked(ids):
        stored.update((d.external_id or "", d) for d in Deal.objects.filter(external_id__in=chunk))
    pipeline_id = stages["Won"].pipeline_id
    new: list[Deal] = []
    walks: list[tuple[Deal, Opportunity]] = []
    plain: dict[Deal, list[str]] = {}
    moves: list[tuple[Deal, Opportunity]] = []
    for opp in data.opportunities:
        stage = stages[opp.stage]
        deal = stored.get(opp.external_id)
        values = _wanted(
            opp,
            stage=stage,
            owner_id=users[opp.agent].pk,
            account_id=accounts.get(opp.account),
            price=prices[opp.product],
            now=now,
            stored=deal,
        )
        if deal is None:
            entered = opp.closed_at or opp.engaged_at or now
            deal = Deal(
                external_id=opp.external_id,
                pipeline_id=pipeline_id,
                pipeline_stage_id=stage.pk,
                stage=stage.kind,
                stage_entered_at=entered,
                updated_at=now,
                **values,
            )
            new.append(deal)
            if stage.kind != DealStage.OPEN and opp.engaged_at is not None:
                walks.append((deal, opp))  # it went through Engaging before it closed
            result.deals.created += 1
            continue
        if deal.pipeline_id != pipeline_id:
            raise ValidationFailed(
                f"deal {opp.external_id} was moved to another pipeline; move it back to {PIPELINE!r} to re-import it",
                field="opportunity_id",
                value=opp.external_id,
            )
        moving = deal.pipeline_stage_id != stage.pk
        if moving and stage.kind != DealStage.OPEN:
            values["stage"] = stage.kind  # closing (or closing the other way): crm's bulk update moves it
        elif moving:
            values.pop("closed_at")  # reopening or moving along: the stage move clears the close
            moves.append((deal, opp))
        changed = [k for k, v in values.items() if getattr(deal, k) != v]
        for key in changed:
            setattr(deal, key, values[key])
        if changed:
            plain[deal] = changed
        if changed or moving:
            result.deals.updated += 1
        else:
            result.deals.unchanged += 1
    for done, batch in enumerate(chunked(new, DEAL_BATCH), 1):
        deals_create_bulk(deals=batch)
        progress("write deals", min(done * DEAL_BATCH, len(new)), len(new))
    engaging = stages["Engaging"].pk
    for part in chunked(walks, DEAL_BATCH):
        result.stage_changes += deals_walk_bulk(
            walks=[DealWalk(deal_id=d.pk, steps=((engaging, o.engaged_at),)) for d, o in part if o.engaged_at]
        )
    result.stage_changes += len(new)
    if plain:
        for deal in plain:
            deal.updated_at = now
        fields = sorted({k for names in plain.values() for k in names} | {"updated_at"})
        result.stage_changes += sum(1 for names in plain.values() if "stage" in names)
        deals_update_bulk(deals=list(plain), fields=fields)
    for deal, opp in moves:
        # Dated when the data says, but never before the deal entered the stage it leaves.
        at = max(d for d in (opp.engaged_at, deal.stage_entered_at, deal.created_at) if d is not None)
        deal_move(deal=deal, to_stage=stages[opp.stage], by_user=by_user, reason=REASON, at=min(at, now))
        result.stage_changes += 1
    by_external = {d.external_id or "": d.pk for d in new}
    by_external.update((k, d.pk) for k, d in stored.items())
    return by_external


def maven_import(
    *, directory: Path, by_user: Any = None, dry_run: bool = False, progress: Progress = silent
) -> MavenResult:
    """Import the Maven CRM folder (teams, products, accounts, account-level deals); again, it changes nothing."""
    data = maven_read(directory=directory)
    progress("check files", 1, 1)
    result = MavenResult(dry_run=dry_run)
    now = timezone.now()
    with transaction.atomic():
        users = _people(data, result, by_user)
        progress("users and teams", len(users), len(users))
        products = _products(data, result, by_user)
        accounts = _accounts(data, result, by_user)
        progress("products and accounts", len(accounts), len(accounts))
        stages = _pipeline(result, by_user)
        prices = {p.name: p.price for p in data.products}
        deal_ids = _deals(
            data,
            result,
            users=users,
            accounts=accounts,
            stages=stages,
            prices=prices,
            now=now,
            by_user=by_user,
            progress=progress,
        )
        lines = [
            DealProduct(
                deal_id=deal_ids[o.external_id],
                product_id=products[o.product].pk,
                quantity=1,
                unit_price=prices[o.product],
            )
            for o in data.opportunities
        ]
        result.product_lines_changed = deal_products_set_bulk(lines=lines)
        progress("product lines", len(lines), len(lines))
        if result.changed:
            event_record(
                kind="import.completed",
                subject_type="capture.maven",
                actor=by_user,
                reason=REASON,
                data={"directory": str(directory), **result.summary()},
            )
        if dry_run:
            transaction.set_rollback(True)
    return result
