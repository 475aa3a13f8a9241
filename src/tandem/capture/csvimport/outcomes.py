"""Outcome columns of a flat lead export: a "converted" flag, an outcome word, a won date, a deal amount, a lost
flag and reason, turned into real outcomes when a people file is imported.

A won row gets a won deal (its amount when the file gives one) in the mapping's pipeline and moves its person
through the lifecycle stage machine to opportunity, then customer, at the won date; a lost row gets a lost deal
(with its reason) and makes its person an opportunity. The deal's external id is the row's external id with a
prefix (`<external_id_system>-` unless options.outcomes.deal_id_prefix says otherwise), so importing the same
file again adds nothing, and a later export that changes an outcome updates the deal.

When is the outcome? The won date column when the row has one; else, when the mapping sets
options.outcomes.won_after_days and the file dates the person (a created date column or
options.created_at_from_order), that many days after the person arrived; else the person's mapped created date;
else the import's time. Stage changes keep each person's history in order: none is dated before the person's
creation or before the last stage change already stored, and a person never moves backwards (a recycled or
disqualified person is sales' call and is left alone, as by the deals import).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from tandem.capture.csvimport.mapping import (
    OUTCOME_FIELDS,
    Mapping,
    Parsed,
    RowError,
    Table,
    header_normalize,
)
from tandem.core.bulk import Progress, chunked, silent
from tandem.core.errors import ValidationFailed
from tandem.crm.models import Deal, DealStage, LostReason, Pipeline, StageChange
from tandem.crm.services import (
    Transition,
    deals_copy_bulk,
    deals_update_bulk,
    lost_reasons_create_bulk,
    pipeline_default,
    pipeline_stage_first,
)
from tandem.crm.stages import FUNNEL, Stage, rank

# Deal.external_id's length.
DEAL_ID_MAX = 120
DEAL_COLUMNS = (
    "external_id",
    "name",
    "person_id",
    "account_id",
    "amount",
    "stage",
    "created_at",
    "closed_at",
    "lost_reason_id",
    "pipeline_id",
    "pipeline_stage_id",
    "stage_entered_at",
)
WON, LOST = DealStage.WON.value, DealStage.LOST.value


def outcome_columns_mapped(mapping: Mapping) -> bool:
    """Whether the mapping turns columns (or defaults) into outcomes."""
    names = set(mapping.columns.values()) | set(mapping.options.get("defaults") or {})
    return mapping.kind == "people" and bool(names & OUTCOME_FIELDS)


# ---- options.created_at_from_order: dates for a file that has none, from a column numbered in arrival order ----


def _number(text: str) -> Decimal:
    number = Decimal(text.replace(",", "").strip())
    if not number.is_finite():
        raise InvalidOperation(text)
    return number


def order_day(text: Any, key: str) -> dt.datetime:
    try:
        day = dt.datetime.fromisoformat(str(text))
    except ValueError:
        raise ValidationFailed(
            f"options.created_at_from_order.{key}: {text!r} is not a date (YYYY-MM-DD)",
            field=f"options.created_at_from_order.{key}",
            value=str(text),
        ) from None
    return day.replace(tzinfo=dt.UTC) if day.tzinfo is None else day.astimezone(dt.UTC)


def created_at_from_order(*, mapping: Mapping, table: Table, rows: list[Parsed]) -> list[RowError]:
    """Give rows without a created date one from options.created_at_from_order ({column, from, to}): the
    column's numbers (X Education's Lead Number, given in arrival order) spread linearly from `from` (the
    smallest) to `to` (the largest). Returns the rows refused for a cell that is not a number (and drops them).
    A file without the column is not dated (a mapping file naming it is refused first: mappingfile.mapping_fit)."""
    order = mapping.options.get("created_at_from_order")
    by_spelling = {header_normalize(h): h for h in table.headers}
    column = by_spelling.get(header_normalize(str(order["column"]))) if order else None
    if not order or column is None:
        return []
    index = table.headers.index(column)
    start, end = order_day(order["from"], "from"), order_day(order["to"], "to")
    empty = {str(v).strip().lower() for v in mapping.options.get("empty", [])} | {""}
    numbers: dict[int, Decimal] = {}
    refused: list[RowError] = []
    for row in rows:
        cell = row.cells[index].strip()
        if cell.lower() in empty or "created_at" in row.values:
            continue
        try:
            numbers[row.line] = _number(cell)
        except (InvalidOperation, ValueError):
            refused.append(
                RowError(
                    f"cannot read {cell!r} as a number (options.created_at_from_order dates rows by it)",
                    line=row.line,
                    column=column,
                    value=cell,
                )
            )
    bad = {e.line for e in refused}
    rows[:] = [r for r in rows if r.line not in bad]
    if numbers:
        low, high = min(numbers.values()), max(numbers.values())
        span = (end - start).total_seconds()
        for row in rows:
            if row.line in numbers:
                share = float((numbers[row.line] - low) / (high - low)) if high > low else 0.0
                # Whole seconds: the same file gives the same dates, so a second import changes nothing.
                row.values["created_at"] = start + dt.timedelta(seconds=round(share * span))
    return refused


# ---- the outcome of each person of the file ----


@dataclass
class Outcome:
    """One person's outcome as the file states it."""

    deal_id: str
    stage: str  # won or lost
    closed_at: dt.datetime
    amount: Decimal | None
    lost_reason: str
    # When the person arrived (for the stage moves).
    created_at: dt.datetime


@dataclass
class _Stored:
    """A stored person's funnel position: the highest stage reached, the last change, the current stage."""

    ceiling: int
    last: dt.datetime | None
    stage: str


class OutcomePlan:
    """Reads the outcome columns of a people import's groups (no writes), then writes deals and gives the
    stage moves."""

    def __init__(
        self,
        *,
        mapping: Mapping,
        now: dt.datetime,
        file_name: str,
        by_user_id: int | None,
        progress: Progress = silent,
    ) -> None:
        self.mapping = mapping
        self.progress = progress
        self.enabled = outcome_columns_mapped(mapping)
        options = mapping.options.get("outcomes") or {}
        self.prefix = str(options.get("deal_id_prefix") or f"{mapping.system}-")
        self.after_days = options.get("won_after_days")
        self.pipeline_name = str(options.get("pipeline") or "")
        self.now = now
        self.by_user_id = by_user_id
        where = f"csv import of {file_name}" if file_name else "csv import"
        self.reason = f"{where} (mapping {mapping.name})" if mapping.name else where
        self.of: dict[int, Outcome] = {}  # by id() of the group
        self.stored_deals: dict[str, Deal] = {}
        self.stored_people: dict[int, _Stored] = {}
        self.pipeline_id: int | None = None
        self.counts = {"won": 0, "lost": 0, "updated": 0}

    def match(
        self,
        groups: Sequence[Any],
        *,
        refuse: Callable[[Parsed, str, str, Any], None],
        dated: Callable[[Any], bool],
    ) -> list[Any]:
        """Each group's outcome; returns the groups kept (a group whose outcome is contradictory is refused).
        `dated` says whether the file dated the group's person (a created date of its own)."""
        if not self.enabled:
            return list(groups)
        if self.pipeline_name:
            pipeline = Pipeline.objects.filter(name=self.pipeline_name).first()
            if pipeline is None:
                raise ValidationFailed(
                    f"options.outcomes.pipeline: no pipeline named {self.pipeline_name!r}",
                    field="options.outcomes.pipeline",
                    value=self.pipeline_name,
                )
            self.pipeline_id = pipeline.pk
        kept: list[Any] = []
        for group in groups:
            values = group.values
            won = values.get("converted") is True or values.get("outcome") == WON
            lost = values.get("lost") is True or values.get("outcome") == LOST
            if won and lost:
                name = "lost" if values.get("lost") is True else "outcome"
                for row in group.rows:
                    refuse(row, name, "the row says both won and lost", str(values.get(name)))
                continue
            kept.append(group)
            if not (won or lost):
                continue
            deal_id = self.prefix + str(group.key.external_id or "")
            if len(deal_id) > DEAL_ID_MAX:
                for row in group.rows:
                    refuse(
                        row,
                        "external_id",
                        f"the deal id {deal_id!r} is longer than {DEAL_ID_MAX} characters",
                        group.key.external_id,
                    )
                kept.pop()
                continue
            person = group.person
            created = values.get("created_at") or (person.created_at if person is not None else self.now)
            closed = values.get("won_at")
            if closed is None and self.after_days is not None and dated(group):
                closed = created + dt.timedelta(days=float(self.after_days))
            if closed is None:
                closed = created if dated(group) else self.now
            self.of[id(group)] = Outcome(
                deal_id=deal_id,
                stage=WON if won else LOST,
                closed_at=closed,
                amount=values.get("amount"),
                lost_reason=str(values.get("lost_reason") or "") if lost else "",
                created_at=created,
            )
        ids = sorted(o.deal_id for o in self.of.values())
        for chunk in chunked(ids):
            self.stored_deals.update(
                (d.external_id or "", d) for d in Deal.objects.filter(external_id__in=chunk)
            )
        for group in kept:
            person = group.person
            if person is not None and id(group) in self.of:
                stage = person.lifecycle_stage or ""
                self.stored_people[person.pk] = _Stored(
                    ceiling=rank(stage) if stage else -1, last=None, stage=stage
                )
        for pks in chunked(sorted(self.stored_people)):
            for pk, to_stage, at in StageChange.objects.filter(person_id__in=pks).values_list(
                "person_id", "to_stage", "changed_at"
            ):
                known = self.stored_people[pk]
                known.ceiling = max(known.ceiling, rank(to_stage))
                known.last = at if known.last is None else max(known.last, at)
        reasons = sorted({o.lost_reason for o in self.of.values() if o.lost_reason})
        self.reasons = dict(LostReason.objects.filter(name__in=reasons).values_list("name", "pk"))
        self.new_reasons = [name for name in reasons if name not in self.reasons]
        return kept

    def change(self, group: Any) -> str:
        """What the import does to the group's deal, in words ("" when nothing)."""
        outcome = self.of.get(id(group))
        if outcome is None:
            return ""
        deal = self.stored_deals.get(outcome.deal_id)
        if deal is None:
            return f"adds a {outcome.stage} deal"
        if self._deal_changes(deal, outcome, group.pk):
            return f"updates its {outcome.stage} deal"
        return ""

    def _deal_changes(self, deal: Deal, outcome: Outcome, person_id: int | None) -> dict[str, Any]:
        wanted: dict[str, Any] = {
            "stage": outcome.stage,
            "closed_at": outcome.closed_at,
            "person_id": person_id,
            "lost_reason_id": self.reasons.get(outcome.lost_reason, -1) if outcome.lost_reason else None,
        }
        if outcome.amount is not None:
            wanted["amount"] = outcome.amount
        return {name: value for name, value in wanted.items() if getattr(deal, name) != value}

    def transitions(self, groups: Sequence[Any], base: list[Transition]) -> list[Transition]:
        """The import's stage moves (`base`) with the outcomes' added: each person's in time order, forward only,
        none before the person arrived or before their last stored change."""
        if not self.of:
            return base
        by_person: dict[int, list[Transition]] = {}
        for t in base:
            by_person.setdefault(t.person_id, []).append(t)
        out: list[Transition] = []
        touched: set[int] = set()
        for group in groups:
            outcome = self.of.get(id(group))
            if outcome is None:
                continue
            pk = group.pk
            assert pk is not None  # the people are written before their moves are asked for
            stored = self.stored_people.get(pk)
            if stored is not None and stored.stage and stored.stage not in FUNNEL:
                continue  # recycled and disqualified people are sales' call: an import does not move them
            touched.add(pk)
            floor = (
                max(outcome.created_at, stored.last)
                if stored is not None and stored.last
                else outcome.created_at
            )
            opened = max(floor, outcome.closed_at)
            why = f"{self.reason}: {'converted' if outcome.stage == WON else 'lost'}"
            moves = [*by_person.get(pk, [])]
            moves.append(self._move(pk, Stage.OPPORTUNITY, opened, why))
            if outcome.stage == WON:
                moves.append(self._move(pk, Stage.CUSTOMER, opened, why))
            ceiling = stored.ceiling if stored is not None else -1
            for move in sorted(moves, key=lambda m: (m.at, rank(m.to_stage))):
                if rank(move.to_stage) > ceiling:
                    out.append(move)
                    ceiling = rank(move.to_stage)
        out.extend(t for t in base if t.person_id not in touched)
        return out

    def _move(self, pk: int, stage: str, at: dt.datetime, why: str) -> Transition:
        return Transition(person_id=pk, to_stage=stage, at=at, by_user_id=self.by_user_id, reason=why)

    def write(self, groups: Sequence[Any], *, account_of: Callable[[Any], int | None]) -> dict[str, int]:
        """Create and update the groups' deals (their people written); returns won, lost and updated counts."""
        if not self.of:
            return self.counts
        made = [LostReason(name=name) for name in self.new_reasons]
        lost_reasons_create_bulk(reasons=made)
        self.reasons.update((r.name, r.pk) for r in made)
        pipeline = (
            Pipeline.objects.get(pk=self.pipeline_id) if self.pipeline_id is not None else pipeline_default()
        )
        stage_of = {kind: pipeline_stage_first(pipeline=pipeline, kind=kind).pk for kind in (WON, LOST)}
        new: list[tuple[Any, ...]] = []
        changed: dict[Deal, set[str]] = {}
        for group in groups:
            outcome = self.of.get(id(group))
            if outcome is None:
                continue
            deal = self.stored_deals.get(outcome.deal_id)
            if deal is None:
                new.append(
                    (
                        outcome.deal_id,
                        f"{self.mapping.name or 'import'} {group.key.external_id}"[:200],
                        group.pk,
                        account_of(group),
                        outcome.amount if outcome.amount is not None else Decimal("0.00"),
                        outcome.stage,
                        outcome.closed_at,
                        outcome.closed_at,
                        self.reasons.get(outcome.lost_reason) if outcome.lost_reason else None,
                        pipeline.pk,
                        stage_of[outcome.stage],
                        outcome.closed_at,
                    )
                )
                self.counts[outcome.stage] += 1
                continue
            changes = self._deal_changes(deal, outcome, group.pk)
            if "lost_reason_id" in changes:
                changes["lost_reason_id"] = (
                    self.reasons.get(outcome.lost_reason) if outcome.lost_reason else None
                )
            if changes:
                for name, value in changes.items():
                    setattr(deal, name, value)
                deal.updated_at = self.now
                changed[deal] = {*changes, "updated_at"}
        # Streamed as tuples (COPY on PostgreSQL); each deal enters its stage with history.
        deals_copy_bulk(
            columns=DEAL_COLUMNS, rows=new, now=self.now, progress=self.progress, label="write deals"
        )
        if changed:
            fields = sorted({name for names in changed.values() for name in names})
            deals_update_bulk(deals=list(changed), fields=fields)
        self.counts["updated"] = len(changed)
        return self.counts
