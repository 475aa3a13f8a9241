"""The only code that writes a person's lifecycle stage: every move is checked and leaves a StageChange row."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.utils import timezone

from tandem.core.errors import NotAllowed, ValidationFailed
from tandem.crm.models import Person
from tandem.crm.stages import LABELS, Stage, can_move
from tandem.lifecycle.models import StageChange


@dataclass(frozen=True)
class Transition:
    """One requested move for the bulk service; `at` is when it happened in the data."""

    person_id: int
    to_stage: str
    at: dt.datetime
    by_user_id: int | None = None
    rule: str = ""
    rule_version: int | None = None
    reason: str = ""
    details: dict[str, Any] = field(default_factory=dict)


def _check(*, person_label: str, from_stage: str | None, to_stage: str) -> None:
    try:
        Stage(to_stage)
    except ValueError:
        raise ValidationFailed(
            f"unknown lifecycle stage {to_stage!r}", field="to_stage", value=to_stage
        ) from None
    if not can_move(from_stage, to_stage):
        source = LABELS[Stage(from_stage)] if from_stage else "a new person"
        raise NotAllowed(
            f"{person_label}: moving from {source} to {LABELS[Stage(to_stage)]} is not allowed",
            field="to_stage",
            value=to_stage,
        )


@transaction.atomic
def person_change_stage(
    *,
    person: Person,
    to_stage: str,
    at: dt.datetime | None = None,
    by_user: Any = None,
    rule: str = "",
    rule_version: int | None = None,
    reason: str = "",
    details: dict[str, Any] | None = None,
) -> StageChange:
    """Move one person to a lifecycle stage, recording who or which rule did it and why."""
    locked = Person.objects.select_for_update().only("id", "lifecycle_stage").get(pk=person.pk)
    from_stage = locked.lifecycle_stage or None
    _check(person_label=str(person), from_stage=from_stage, to_stage=to_stage)
    change = StageChange.objects.create(
        person_id=person.pk,
        from_stage=from_stage or "",
        to_stage=to_stage,
        changed_at=at or timezone.now(),
        by_user=by_user if getattr(by_user, "pk", None) else None,
        rule=rule,
        rule_version=rule_version,
        reason=reason,
        details=details or {},
    )
    Person.objects.filter(pk=person.pk).update(lifecycle_stage=to_stage, updated_at=timezone.now())
    person.lifecycle_stage = to_stage
    return change


def _chunks(items: Sequence[Any], size: int) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


@transaction.atomic
def people_change_stage_bulk(*, transitions: Sequence[Transition]) -> int:
    """Apply many moves at once (imports): each person's moves in time order, all checked, all recorded."""
    if not transitions:
        return 0
    person_ids = sorted({t.person_id for t in transitions})
    current: dict[int, str | None] = {}
    for chunk in _chunks(person_ids, 5000):
        for pid, stage in Person.objects.filter(pk__in=chunk).values_list("id", "lifecycle_stage"):
            current[pid] = stage or None
    missing = set(person_ids) - set(current)
    if missing:
        raise ValidationFailed(f"no person with id {min(missing)}", field="person_id", value=min(missing))

    rows: list[StageChange] = []
    ordered = sorted(transitions, key=lambda t: (t.person_id, t.at))
    for t in ordered:
        from_stage = current[t.person_id]
        _check(person_label=f"person #{t.person_id}", from_stage=from_stage, to_stage=t.to_stage)
        rows.append(
            StageChange(
                person_id=t.person_id,
                from_stage=from_stage or "",
                to_stage=t.to_stage,
                changed_at=t.at,
                by_user_id=t.by_user_id,
                rule=t.rule,
                rule_version=t.rule_version,
                reason=t.reason,
                details=t.details,
            )
        )
        current[t.person_id] = t.to_stage
    StageChange.objects.bulk_create(rows, batch_size=2000)

    by_final: dict[str, list[int]] = {}
    for pid in {t.person_id for t in transitions}:
        by_final.setdefault(current[pid] or "", []).append(pid)
    now = timezone.now()
    for stage, ids in by_final.items():
        for chunk in _chunks(sorted(ids), 5000):
            Person.objects.filter(pk__in=chunk).update(lifecycle_stage=stage, updated_at=now)
    return len(rows)
