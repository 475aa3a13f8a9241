"""The one bulk writer of the capture engines (form and tracking intake, CSV import, bundle import).

An engine reads and matches its input its own way, then hands `ingest` one batch: the people it creates, the
fields it changed on stored people, external ids, touchpoints and stage moves. `ingest` writes them in that
order (stage moves last, so their `updated_at` wins), each with a few bulk statements, and keeps journeys
right: a new person's original and latest channel and campaign come from their touchpoints in the batch, a
stored person's as the batch's `stored_journeys` says. It opens no transaction: the engine's holds it all.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple

from django.db.models import Max

from tandem.campaigns.journeys import JOURNEY_FIELDS, Touch, journey_last, journey_of
from tandem.campaigns.models import Touchpoint
from tandem.core.bulk import Progress, chunked, rows_copy, rows_insert_returning, silent
from tandem.core.errors import NotAllowed
from tandem.crm.models import Person
from tandem.crm.services import (
    Transition,
    external_ids_copy_bulk,
    people_change_stage_bulk,
    people_copy_bulk,
    people_insert_bulk,
    people_rows_update_bulk,
)
from tandem.webhooks.services import webhooks_emit_bulk

# How new people's primary keys come back: RETURNING (small batches), or read again after a bulk insert by
# normalised email (every person has one) or as the keys above the highest one before, stamped `now`.
PersonKeys = Literal["returning", "email", "range"]
# What a stored person's journey does when the batch gives them touchpoints: stays ("keep"), moves its latest
# channel to a new touchpoint at or after their newest stored one ("latest"), or is taken again from all
# their touchpoints, the stored ones being given in `stored_touches` ("all").
StoredJourneys = Literal["keep", "latest", "all"]


@dataclass(eq=False, slots=True)
class NewPerson:
    """A person the batch creates, as values of the batch's `person_columns`; `pk` is set once written."""

    values: tuple[Any, ...]
    pk: int = 0


Who = int | NewPerson


class NewTouchpoint(NamedTuple):
    """A touchpoint to insert: whose (a stored person's key or a new person), its column values, its tie."""

    who: Who
    values: tuple[Any, ...]
    tie: tuple[Any, ...] = ()


@dataclass
class IngestBatch:
    """Everything one engine run writes about people (see the module docstring for the order)."""

    now: dt.datetime
    # New people: columns without the journey fields, which `ingest` adds from their touchpoints.
    person_columns: tuple[str, ...] = ()
    people: list[NewPerson] = field(default_factory=list)
    person_keys: PersonKeys = "returning"
    # Stored people and the fields the engine changed on them; `updated_at` is stamped with `now`.
    changes: dict[Person, Collection[str]] = field(default_factory=dict)
    external_ids: list[tuple[Who, str, str]] = field(default_factory=list)
    # Touchpoints: columns without person_id.
    touchpoint_columns: tuple[str, ...] = ()
    touchpoints: list[NewTouchpoint] = field(default_factory=list)
    touchpoint_keys: bool = False
    stored_journeys: StoredJourneys = "keep"
    # Stored people the engine has read already, by key (others are read when their journey is needed).
    stored: dict[int, Person] = field(default_factory=dict)
    stored_touches: dict[int, list[Touch]] = field(default_factory=dict)
    # Built once new people have their keys.
    transitions: Callable[[], Sequence[Transition]] | None = None
    # New people inserted at this stage, where their transitions end (their rows are not written twice).
    first_stage: str = ""
    progress: Progress = silent


@dataclass
class IngestResult:
    """What `ingest` wrote that the engines report."""

    touchpoint_pks: list[int] = field(default_factory=list)
    # Stored people whose row was written (the engine's changes and journeys that moved).
    updated: set[int] = field(default_factory=set)
    stage_changes: int = 0


def _pk(who: Who) -> int:
    return who.pk if isinstance(who, NewPerson) else who


def ingest(*, batch: IngestBatch) -> IngestResult:
    """Write one batch of people, external ids, touchpoints, journeys and stage moves."""
    out = IngestResult()
    columns = tuple(batch.touchpoint_columns)
    fresh: dict[int, list[Touch]] = defaultdict(list)  # new people's touches, by id() of the NewPerson
    old: dict[int, list[Touch]] = defaultdict(list)  # stored people's, by key
    if batch.touchpoints:
        at, channel = columns.index("occurred_at"), columns.index("channel")
        campaign = columns.index("campaign_id") if "campaign_id" in columns else -1
        for tp in batch.touchpoints:
            v = tp.values
            touch = Touch(v[at], v[channel], v[campaign] if campaign >= 0 else None, tp.tie)
            if isinstance(tp.who, NewPerson):
                fresh[id(tp.who)].append(touch)
            else:
                old[tp.who].append(touch)
    _people_insert(batch, fresh)
    if batch.external_ids:
        links = [(_pk(who), system, external_id) for who, system, external_id in batch.external_ids]
        external_ids_copy_bulk(rows=links, now=batch.now, progress=batch.progress, label="write external ids")
    newest_before = _newest_before(batch, old)
    rows = [(_pk(tp.who), *tp.values) for tp in batch.touchpoints]
    if batch.touchpoint_keys:
        out.touchpoint_pks = rows_insert_returning(
            model=Touchpoint, columns=("person_id", *columns), rows=rows, now=batch.now
        )
    else:
        rows_copy(
            model=Touchpoint,
            columns=("person_id", *columns),
            rows=rows,
            now=batch.now,
            progress=batch.progress,
            label="write touchpoints",
        )
    changes: dict[Person, set[str]] = {person: set(names) for person, names in batch.changes.items()}
    moved = _journeys(batch, old, changes, newest_before)
    if changes:
        fields = sorted({name for names in changes.values() for name in names} | {"updated_at"})
        for person in changes:
            person.updated_at = batch.now
        people_rows_update_bulk(people=list(changes), fields=fields)
        batch.progress("update people", len(changes), len(changes))
    if moved:
        people_rows_update_bulk(people=moved, fields=["latest_channel", "latest_campaign"])
    out.updated = {p.pk for p in changes} | {p.pk for p in moved}
    if batch.transitions is not None:
        transitions = batch.transitions()
        batch.progress("write stage changes", 0, len(transitions))
        inserted = [p.pk for p in batch.people] if batch.first_stage else []
        out.stage_changes = people_change_stage_bulk(transitions=transitions, created_at_stage=inserted)
        batch.progress("write stage changes", out.stage_changes, out.stage_changes)
    return out


def _people_insert(batch: IngestBatch, fresh: dict[int, list[Touch]]) -> None:
    """Insert the new people, each with the journey of its touchpoints in the batch, and set their keys."""
    if not batch.people:
        return
    stage = (batch.first_stage,) if batch.first_stage else ()
    columns = (*batch.person_columns, *JOURNEY_FIELDS, *(("lifecycle_stage",) if stage else ()))
    rows = []
    for person in batch.people:
        journey = journey_of(touches=fresh.get(id(person), ()))
        rows.append(
            (
                *person.values,
                journey.original_channel,
                journey.original_campaign_id,
                journey.latest_channel,
                journey.latest_campaign_id,
                *stage,
            )
        )
    if batch.person_keys == "returning":
        pks = people_insert_bulk(columns=columns, rows=rows, now=batch.now)
    elif batch.person_keys == "email":
        email = columns.index("email_normalized")
        people_copy_bulk(columns=columns, rows=rows, now=batch.now, progress=batch.progress, label="write people")
        by_email: dict[str, int] = {}
        for chunk in chunked([row[email] for row in rows]):
            for key, pk in Person.objects.filter(email_normalized__in=chunk).values_list("email_normalized", "pk"):
                by_email[key or ""] = pk
        pks = [by_email[row[email]] for row in rows]
    else:
        before = Person.objects.aggregate(top=Max("pk"))["top"] or 0
        people_copy_bulk(columns=columns, rows=rows, now=batch.now, progress=batch.progress, label="write people")
        pks = list(
            Person.objects.filter(pk__gt=before, updated_at=batch.now).order_by("pk").values_list("pk", flat=True)
        )
        if len(pks) != len(rows):
            raise NotAllowed(
                "people were created by someone else while the file was imported; nothing was written, run it again"
            )
    for person, pk in zip(batch.people, pks, strict=True):
        person.pk = pk
    # One query when nobody subscribes (the generator is never run); the stage each gets is its own message.
    created = (_created_data(batch.person_columns, p, batch.now) for p in batch.people)
    webhooks_emit_bulk(event_type="person.created", items=created, occurred_at=batch.now)


# person.created's fields (tandem.webhooks.catalog) that an imported row may hold, and their blank values.
_CREATED_FIELDS = {
    "email": "", "first_name": "", "last_name": "", "job_title": "", "phone": "", "lifecycle_stage": "",
    "owner_id": None, "account_id": None, "consent_email": False, "consent_calls": False, "created_at": None,
}  # fmt: skip


def _created_data(columns: Sequence[str], person: NewPerson, now: dt.datetime) -> dict[str, Any]:
    values = {"created_at": now, **dict(zip(columns, person.values, strict=False))}
    return {"id": person.pk, **{name: values.get(name, blank) for name, blank in _CREATED_FIELDS.items()}}


def _newest_before(batch: IngestBatch, old: dict[int, list[Touch]]) -> dict[int, dt.datetime]:
    """For "latest" journeys: each stored person's newest touchpoint before this batch's are written."""
    if batch.stored_journeys != "latest" or not old:
        return {}
    pids = sorted(old)
    if not pids:
        return {}
    rows = (
        Touchpoint.objects.filter(person_id__in=pids)
        .values("person_id")
        .annotate(at=Max("occurred_at"))
        .values_list("person_id", "at")
    )
    return dict(rows)


def _journeys(
    batch: IngestBatch,
    old: dict[int, list[Touch]],
    changes: dict[Person, set[str]],
    newest_before: dict[int, dt.datetime],
) -> list[Person]:
    """Stored people's journeys: "all" adds their changes to `changes`; "latest" returns the people moved."""
    if batch.stored_journeys == "keep":
        return []
    pids = list(old)
    if batch.stored_journeys == "latest":
        moved = []
        for pid in pids:
            person = batch.stored[pid]
            before = newest_before.get(pid)
            # Batches may arrive out of order: only a touchpoint at or after all the person's others is latest.
            mine = [t for t in old[pid] if before is None or t.occurred_at >= before]
            if not mine:
                continue
            last = journey_last(touches=mine)
            if person.latest_channel != last.channel or person.latest_campaign_id != last.campaign_id:
                person.latest_channel, person.latest_campaign_id = last.channel, last.campaign_id
                moved.append(person)
        return moved
    missing = sorted(pid for pid in pids if pid not in batch.stored)
    for chunk in chunked(missing):
        batch.stored.update(Person.objects.filter(pk__in=chunk).only("pk", *JOURNEY_FIELDS).in_bulk())
    for pid in pids:
        person = batch.stored[pid]
        wish = journey_of(touches=[*batch.stored_touches.get(pid, ()), *old[pid]]).as_fields()
        changed = [name for name, value in wish.items() if getattr(person, name) != value]
        for name in changed:
            setattr(person, name, wish[name])
        if changed:
            changes.setdefault(person, set()).update(changed)
    return []
