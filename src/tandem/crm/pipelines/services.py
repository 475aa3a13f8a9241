"""Writes for pipelines and their stages, and for moving, editing and staffing deals.

The one writer of a deal's stage is `crm.services.deal_stage_enter`; `deal_move` here decides which moves are
allowed and calls it, as `crm.services.deal_close` does.

The rules of a move (docs/daily-work.md says them to reps):
- a deal moves between the active stages of its own pipeline (a pipeline change goes through `deal_update`);
- entering a won stage closes the deal as won and makes its person a customer; entering a lost stage closes
  it as lost and needs a lost reason;
- moving a won or lost deal to an open stage reopens it: its close date and lost reason are cleared (the event
  keeps them) and the person's lifecycle stage stays where it is, since lifecycle stages never move back;
- a won deal is reopened before it is marked lost (and a lost one before it is won), so the history shows both;
- every move writes a DealStageChange and an event; a refused move changes nothing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from tandem.core.errors import NotAllowed, NotFound, ValidationFailed
from tandem.core.events import event_record
from tandem.core.text import text_clean
from tandem.crm.defaults import DEFAULT_PIPELINE_STAGES
from tandem.crm.models import (
    Account,
    Deal,
    DealContact,
    DealStage,
    DealStageChange,
    LostReason,
    Person,
    Pipeline,
    PipelineStage,
)
from tandem.crm.services import deal_lost_reason, deal_stage_enter, pipeline_stage_first

PIPELINE_NAME_MAX = 120
STAGE_NAME_MAX = 80
REASON_MAX = 2000
DEAL_NAME_MAX = 200
# The amount column holds 14 digits, 2 after the point.
AMOUNT_LIMIT = Decimal("1e12")
# A move may be dated a little ahead of this server's clock (another machine's), never days ahead.
FUTURE_SLACK = dt.timedelta(minutes=5)
KINDS = tuple(DealStage.values)


# ---- pipelines ----


def _pipeline_name(name: Any, *, exclude: int | None = None) -> str:
    clean = " ".join(text_clean(name, field="name", max_length=PIPELINE_NAME_MAX, required=True).split())
    clash = Pipeline.objects.filter(name__iexact=clean)
    if exclude is not None:
        clash = clash.exclude(pk=exclude)
    if clash.exists():
        raise ValidationFailed(f"there is already a pipeline named {clean!r}", field="name", value=clean)
    return clean


def _position(value: Any, field: str = "position") -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 32767:
        raise ValidationFailed(f"{field} must be a whole number from 0 to 32767, got {value!r}", field=field, value=value)
    return value


@dataclass(frozen=True)
class StageSpec:
    """A stage to create with a new pipeline."""

    name: str
    kind: str = DealStage.OPEN
    probability: int | None = None


def _stage_specs_check(specs: Sequence[StageSpec]) -> list[tuple[str, str, int]]:
    out: list[tuple[str, str, int]] = []
    seen: set[str] = set()
    for i, spec in enumerate(specs):
        name = _stage_name(spec.name, field=f"stages.{i}.name")
        if name.lower() in seen:
            raise ValidationFailed(f"stage {name!r} is named twice", field=f"stages.{i}.name", value=name)
        seen.add(name.lower())
        kind = _kind(spec.kind, field=f"stages.{i}.kind")
        out.append((name, kind, _probability(spec.probability, kind=kind, field=f"stages.{i}.probability")))
    missing = [k for k in KINDS if k not in {kind for _, kind, _ in out}]
    if missing:
        raise ValidationFailed(
            f"a pipeline needs at least one open, one won and one lost stage; missing: {', '.join(missing)}",
            field="stages",
            value=", ".join(missing),
        )
    return out


@transaction.atomic
def pipeline_create(
    *,
    name: str,
    is_default: bool = False,
    position: int | None = None,
    stages: Sequence[StageSpec] | None = None,
    by_user: Any = None,
) -> Pipeline:
    """Add a pipeline with its stages (the default pipeline's stage names when none are given)."""
    clean = _pipeline_name(name)
    specs = (
        _stage_specs_check(stages)
        if stages is not None
        else [(n, kind, p) for n, p, kind in DEFAULT_PIPELINE_STAGES]
    )
    if position is None:
        position = (Pipeline.objects.aggregate(top=Max("position"))["top"] or 0) + 1
    if is_default:
        Pipeline.objects.filter(is_default=True).update(is_default=False)
    try:
        with transaction.atomic():
            pipeline = Pipeline.objects.create(name=clean, is_default=is_default, position=_position(position))
    except IntegrityError as exc:  # created concurrently under the same name
        raise ValidationFailed(f"there is already a pipeline named {clean!r}", field="name", value=clean) from exc
    PipelineStage.objects.bulk_create(
        PipelineStage(pipeline=pipeline, name=n, kind=kind, probability=p, position=i)
        for i, (n, kind, p) in enumerate(specs)
    )
    event_record(
        kind="pipeline.created",
        subject=pipeline,
        actor=by_user,
        data={"name": clean, "default": is_default, "stages": [n for n, _, _ in specs]},
    )
    return pipeline


@transaction.atomic
def pipeline_update(
    *,
    pipeline: Pipeline,
    by_user: Any = None,
    name: str | None = None,
    is_default: bool | None = None,
    position: int | None = None,
    is_active: bool | None = None,
) -> Pipeline:
    """Rename, reorder, make the default, or (de)activate a pipeline; only the arguments given change."""
    locked = Pipeline.objects.select_for_update().get(pk=pipeline.pk)
    changes: dict[str, list[Any]] = {}
    if name is not None and name != locked.name:
        changes["name"] = [locked.name, _pipeline_name(name, exclude=locked.pk)]
    if position is not None and position != locked.position:
        changes["position"] = [locked.position, _position(position)]
    active = locked.is_active if is_active is None else is_active
    if is_default is not None and is_default != locked.is_default:
        if not is_default:
            raise NotAllowed(
                f"{locked.name!r} is the default pipeline: make another pipeline the default instead",
                field="is_default",
                value=is_default,
            )
        if not active:
            raise NotAllowed(
                f"an inactive pipeline cannot be the default; activate {locked.name!r} first",
                field="is_default",
                value=is_default,
            )
        changes["is_default"] = [False, True]
    if is_active is not None and is_active != locked.is_active:
        if not is_active:
            if locked.is_default:
                raise NotAllowed(
                    f"{locked.name!r} is the default pipeline: make another the default before deactivating it",
                    field="is_active",
                    value=is_active,
                )
            open_deals = Deal.objects.filter(pipeline=locked, stage=DealStage.OPEN).count()
            if open_deals:
                raise NotAllowed(
                    f"{locked.name!r} has {open_deals} open deals: move or close them before deactivating it",
                    field="is_active",
                    value=is_active,
                )
        changes["is_active"] = [locked.is_active, is_active]
    if not changes:
        return locked
    if "is_default" in changes:
        Pipeline.objects.filter(is_default=True).exclude(pk=locked.pk).update(is_default=False)
    for key, (_, new) in changes.items():
        setattr(locked, key, new)
    try:
        with transaction.atomic():
            locked.save(update_fields=list(changes))
    except IntegrityError as exc:
        raise ValidationFailed(
            f"there is already a pipeline named {locked.name!r}", field="name", value=locked.name
        ) from exc
    event_record(kind="pipeline.updated", subject=locked, actor=by_user, data={"changes": changes})
    for key in changes:
        setattr(pipeline, key, getattr(locked, key))
    return locked


# ---- stages ----


def _stage_name(name: Any, *, field: str = "name") -> str:
    return " ".join(text_clean(name, field=field, max_length=STAGE_NAME_MAX, required=True).split())


def _kind(kind: Any, *, field: str = "kind") -> str:
    if kind not in KINDS:
        raise ValidationFailed(f"kind must be one of {', '.join(KINDS)}, got {kind!r}", field=field, value=kind)
    return str(kind)


def _probability(value: Any, *, kind: str, field: str = "probability") -> int:
    fixed = {"won": 100, "lost": 0}.get(kind)
    if value is None:
        if fixed is None:
            raise ValidationFailed("an open stage needs a probability (0-100)", field=field, value=None)
        return int(fixed)
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 100:
        raise ValidationFailed(f"probability must be a whole percent from 0 to 100, got {value!r}", field=field, value=value)
    if fixed is not None and value != fixed:
        raise ValidationFailed(
            f"a {kind} stage's probability is {fixed}%, got {value}", field=field, value=value
        )
    return value


def _name_free(pipeline_id: int, name: str, exclude: int | None = None) -> None:
    clash = PipelineStage.objects.filter(pipeline_id=pipeline_id, name__iexact=name)
    if exclude is not None:
        clash = clash.exclude(pk=exclude)
    if clash.exists():
        raise ValidationFailed(f"the pipeline already has a stage named {name!r}", field="name", value=name)


def _renumber(stages: list[PipelineStage]) -> None:
    changed = []
    for i, stage in enumerate(stages):
        if stage.position != i:
            stage.position = i
            changed.append(stage)
    PipelineStage.objects.bulk_update(changed, ["position"])


def _ordered(pipeline_id: int) -> list[PipelineStage]:
    return list(PipelineStage.objects.select_for_update().filter(pipeline_id=pipeline_id).order_by("position", "id"))


@transaction.atomic
def pipeline_stage_create(
    *,
    pipeline: Pipeline,
    name: str,
    kind: str = DealStage.OPEN,
    probability: int | None = None,
    position: int | None = None,
    by_user: Any = None,
) -> PipelineStage:
    """Add a stage: at `position`, else an open stage before the first closed one and a closed one at the end."""
    clean = _stage_name(name)
    kind = _kind(kind)
    probability = _probability(probability, kind=kind)
    stages = _ordered(pipeline.pk)
    _name_free(pipeline.pk, clean)
    if position is None:
        closed = [i for i, s in enumerate(stages) if s.kind != DealStage.OPEN]
        index = closed[0] if kind == DealStage.OPEN and closed else len(stages)
    else:
        index = min(_position(position), len(stages))
    stage = PipelineStage.objects.create(
        pipeline=pipeline, name=clean, kind=kind, probability=probability, position=index
    )
    stages.insert(index, stage)
    _renumber(stages)
    event_record(
        kind="pipeline_stage.created",
        subject=stage,
        actor=by_user,
        data={"pipeline": pipeline.pk, "name": clean, "kind": kind, "probability": probability, "position": index},
    )
    return stage


@transaction.atomic
def pipeline_stage_update(
    *,
    stage: PipelineStage,
    by_user: Any = None,
    name: str | None = None,
    probability: int | None = None,
    kind: str | None = None,
    is_active: bool | None = None,
) -> PipelineStage:
    """Rename a stage, change its probability, its kind (only while no deal is in it) or reactivate it."""
    locked = PipelineStage.objects.select_for_update().get(pk=stage.pk)
    changes: dict[str, list[Any]] = {}
    if name is not None:
        clean = _stage_name(name)
        if clean != locked.name:
            _name_free(locked.pipeline_id, clean, exclude=locked.pk)
            changes["name"] = [locked.name, clean]
    new_kind = locked.kind if kind is None else _kind(kind)
    if new_kind != locked.kind:
        held = Deal.objects.filter(pipeline_stage=locked).count()
        if held:
            raise NotAllowed(
                f"stage {locked.name!r} holds {held} deals: its kind decides their status, so it changes only "
                "while the stage is empty",
                field="kind",
                value=kind,
            )
        if locked.is_active and _last_of_kind(locked):
            raise NotAllowed(
                f"{locked.name!r} is the pipeline's only active {locked.kind} stage", field="kind", value=kind
            )
        changes["kind"] = [locked.kind, new_kind]
    if probability is not None or "kind" in changes:
        new_probability = _probability(
            probability if probability is not None else (None if new_kind != DealStage.OPEN else locked.probability),
            kind=new_kind,
        )
        if new_probability != locked.probability:
            changes["probability"] = [locked.probability, new_probability]
    if is_active is not None and is_active != locked.is_active:
        if not is_active:
            raise ValidationFailed(
                "deactivate a stage with pipeline_stage_deactivate, which moves its deals", field="is_active", value=is_active
            )
        changes["is_active"] = [False, True]
    if not changes:
        return locked
    for key, (_, new) in changes.items():
        setattr(locked, key, new)
    locked.save(update_fields=list(changes))
    event_record(kind="pipeline_stage.updated", subject=locked, actor=by_user, data={"changes": changes})
    return locked


def _last_of_kind(stage: PipelineStage) -> bool:
    return not (
        PipelineStage.objects.filter(pipeline_id=stage.pipeline_id, kind=stage.kind, is_active=True)
        .exclude(pk=stage.pk)
        .exists()
    )


@transaction.atomic
def pipeline_stage_reorder(*, pipeline: Pipeline, stage_ids: Sequence[int], by_user: Any = None) -> list[PipelineStage]:
    """Put the pipeline's stages in the given order (every stage of the pipeline, each once)."""
    stages = _ordered(pipeline.pk)
    by_id = {s.pk: s for s in stages}
    wanted = list(stage_ids)
    unknown = [i for i in wanted if i not in by_id]
    if unknown:
        raise ValidationFailed(
            f"stage {unknown[0]} is not a stage of pipeline {pipeline.name!r}", field="stage_ids", value=unknown[0]
        )
    if len(set(wanted)) != len(wanted) or set(wanted) != set(by_id):
        missing = sorted(set(by_id) - set(wanted))
        detail = f"stage {missing[0]} is missing" if missing else "a stage is listed twice"
        raise ValidationFailed(
            f"list every stage of pipeline {pipeline.name!r} once: {detail}", field="stage_ids", value=len(wanted)
        )
    before = [s.pk for s in stages]
    ordered = [by_id[i] for i in wanted]
    _renumber(ordered)
    if before != wanted:
        event_record(
            kind="pipeline_stage.reordered", subject=pipeline, actor=by_user, data={"from": before, "to": wanted}
        )
    return ordered


@transaction.atomic
def pipeline_stage_deactivate(
    *, stage: PipelineStage, move_to: PipelineStage | None = None, by_user: Any = None, at: dt.datetime | None = None
) -> int:
    """Retire a stage from the board and from moves; its deals move to `move_to` (same pipeline and kind) first.

    Returns how many deals moved. A stage is never deleted while a deal or its history points at it.
    """
    locked = PipelineStage.objects.select_for_update().get(pk=stage.pk)
    if not locked.is_active:
        raise NotAllowed(f"stage {locked.name!r} is already inactive", field="is_active", value=False)
    if _last_of_kind(locked):
        raise NotAllowed(
            f"{locked.name!r} is the pipeline's only active {locked.kind} stage; add another first",
            field="stage_id",
            value=locked.pk,
        )
    held = list(Deal.objects.select_for_update().filter(pipeline_stage=locked).order_by("id"))
    if held:
        if move_to is None:
            raise ValidationFailed(
                f"stage {locked.name!r} holds {len(held)} deals: choose the stage they move to",
                field="move_to_stage_id",
                value=None,
            )
        if move_to.pipeline_id != locked.pipeline_id or move_to.kind != locked.kind or not move_to.is_active:
            raise ValidationFailed(
                f"the deals of {locked.name!r} move to an active {locked.kind} stage of the same pipeline; "
                f"{move_to.name!r} is not one",
                field="move_to_stage_id",
                value=move_to.pk,
            )
        if move_to.pk == locked.pk:
            raise ValidationFailed(
                "the deals cannot move to the stage being retired", field="move_to_stage_id", value=move_to.pk
            )
        at = at or timezone.now()
        reason = f"stage {locked.name} retired"
        DealStageChange.objects.bulk_create(
            DealStageChange(
                deal_id=d.pk, from_stage_id=locked.pk, to_stage_id=move_to.pk, changed_at=at, by_user=_user(by_user),
                reason=reason,
            )
            for d in held
        )
        # Same kind, so each deal's status and close fields stay as they are; only the stage and its clock change.
        Deal.objects.filter(pk__in=[d.pk for d in held]).update(
            pipeline_stage=move_to, stage_entered_at=at, updated_at=timezone.now()
        )
    locked.is_active = stage.is_active = False
    locked.save(update_fields=["is_active"])
    event_record(
        kind="pipeline_stage.deactivated",
        subject=locked,
        actor=by_user,
        data={"moved": len(held), "move_to": getattr(move_to, "pk", None) if held else None},
    )
    return len(held)


@transaction.atomic
def pipeline_stage_delete(*, stage: PipelineStage, by_user: Any = None) -> None:
    """Delete a stage no deal has ever been in (a typo); a used stage is deactivated instead."""
    locked = PipelineStage.objects.select_for_update().get(pk=stage.pk)
    used = (
        Deal.objects.filter(pipeline_stage=locked).exists()
        or DealStageChange.objects.filter(to_stage=locked).exists()
        or DealStageChange.objects.filter(from_stage=locked).exists()
    )
    if used:
        raise NotAllowed(
            f"stage {locked.name!r} has held deals, so their history needs it: deactivate it instead",
            field="stage_id",
            value=locked.pk,
        )
    if locked.is_active and _last_of_kind(locked):
        raise NotAllowed(
            f"{locked.name!r} is the pipeline's only active {locked.kind} stage", field="stage_id", value=locked.pk
        )
    pipeline_id, name = locked.pipeline_id, locked.name
    locked.delete()
    _renumber(_ordered(pipeline_id))
    event_record(
        kind="pipeline_stage.deleted",
        subject_type="crm.pipelinestage",
        subject_id=stage.pk,
        actor=by_user,
        data={"pipeline": pipeline_id, "name": name},
    )


# ---- deals ----


def _user(actor: Any) -> Any:
    return actor if getattr(actor, "pk", None) else None


def _amount(amount: Any, field: str = "amount") -> Decimal:
    if not isinstance(amount, Decimal | int) or isinstance(amount, bool):
        raise ValidationFailed(f"{field} must be a number, got {amount!r}", field=field, value=amount)
    value = Decimal(amount)
    if not value.is_finite() or value < 0 or value >= AMOUNT_LIMIT or value != value.quantize(Decimal("0.01")):
        raise ValidationFailed(
            f"{field} must be a non-negative amount in cents below 10^12, got {value}", field=field, value=value
        )
    return value


@transaction.atomic
def deal_move(
    *,
    deal: Deal,
    to_stage: PipelineStage,
    by_user: Any,
    reason: str = "",
    at: dt.datetime | None = None,
    lost_reason: LostReason | str | None = None,
    amount: Decimal | None = None,
) -> DealStageChange:
    """Move a deal to another stage of its pipeline: won/lost stages close it, an open stage reopens a closed one."""
    reason = text_clean(reason, field="reason", max_length=REASON_MAX, required=False)
    locked = (
        Deal.objects.select_for_update()
        .only("id", "stage", "pipeline_id", "pipeline_stage_id", "stage_entered_at", "closed_at", "lost_reason_id")
        .get(pk=deal.pk)
    )
    for attr in ("stage", "pipeline_id", "pipeline_stage_id", "stage_entered_at", "closed_at", "lost_reason_id"):
        setattr(deal, attr, getattr(locked, attr))
    label = deal.name or f"deal {deal.pk}"
    if to_stage.pipeline_id != deal.pipeline_id:
        raise ValidationFailed(
            f"stage {to_stage.name!r} is not in the pipeline of {label}; change the deal's pipeline instead",
            field="to_stage_id",
            value=to_stage.pk,
        )
    if not to_stage.is_active:
        raise ValidationFailed(f"stage {to_stage.name!r} is inactive", field="to_stage_id", value=to_stage.pk)
    if to_stage.pk == deal.pipeline_stage_id:
        raise NotAllowed(f"{label} is already in stage {to_stage.name!r}", field="to_stage_id", value=to_stage.pk)
    closed = {DealStage.WON, DealStage.LOST}
    if deal.stage in closed and to_stage.kind in closed and to_stage.kind != deal.stage:
        raise NotAllowed(
            f"{label} is {deal.stage}: reopen it (move it to an open stage) before marking it {to_stage.kind}",
            field="to_stage_id",
            value=to_stage.pk,
        )
    if amount is not None:
        amount = _amount(amount)
    moment = at or timezone.now()
    if moment > timezone.now() + FUTURE_SLACK:
        raise ValidationFailed(f"a move cannot be dated in the future ({moment.isoformat()})", field="at", value=moment)
    if deal.stage_entered_at is not None and moment < deal.stage_entered_at:
        raise ValidationFailed(
            f"a move cannot be dated before {label} entered its current stage ({deal.stage_entered_at.isoformat()})",
            field="at",
            value=moment,
        )
    chosen: LostReason | None = None
    if to_stage.kind == DealStage.LOST:
        if isinstance(lost_reason, LostReason) and not lost_reason.is_active:
            raise ValidationFailed(
                f"lost reason {lost_reason.name!r} is retired; choose one offered", field="lost_reason", value=lost_reason.pk
            )
        if isinstance(lost_reason, str):
            lost_reason = text_clean(lost_reason, field="lost_reason", max_length=120, required=False)
        chosen = deal_lost_reason(lost_reason=lost_reason)
        if chosen is None and deal.lost_reason_id is None:
            raise ValidationFailed("a lost deal needs a lost reason", field="lost_reason", value=None)
    return deal_stage_enter(
        deal=deal,
        to_stage=to_stage,
        at=moment,
        by_user=by_user,
        reason=reason or (getattr(chosen, "name", "") if chosen else ""),
        lost_reason=chosen,
        amount=amount,
    )


DEAL_EDITABLE = ("name", "amount", "owner", "expected_close_on", "account", "pipeline")


@transaction.atomic
def deal_update(*, deal: Deal, by_user: Any = None, **changes: Any) -> Deal:
    """Change a deal's name, amount, owner, expected close date, account or pipeline (which restarts it there)."""
    unknown = sorted(set(changes) - set(DEAL_EDITABLE))
    if unknown:
        raise ValidationFailed(f"field {unknown[0]!r} cannot be edited here", field=unknown[0], value=changes[unknown[0]])
    locked = Deal.objects.select_for_update().get(pk=deal.pk)
    diff: dict[str, list[Any]] = {}
    if "name" in changes:
        name = text_clean(changes["name"], field="name", max_length=DEAL_NAME_MAX, required=False)
        if name != locked.name:
            diff["name"] = [locked.name, name]
    if "amount" in changes:
        amount = _amount(changes["amount"])
        if amount != locked.amount:
            diff["amount"] = [str(locked.amount), str(amount)]
            locked.amount = amount
    if "owner" in changes and getattr(changes["owner"], "pk", None) != locked.owner_id:
        diff["owner"] = [locked.owner_id, getattr(changes["owner"], "pk", None)]
        locked.owner = changes["owner"]
    if "expected_close_on" in changes:
        when = changes["expected_close_on"]
        if when is not None and (not isinstance(when, dt.date) or isinstance(when, dt.datetime)):
            raise ValidationFailed(f"expected_close_on must be a date, got {when!r}", field="expected_close_on", value=when)
        if when != locked.expected_close_on:
            diff["expected_close_on"] = [
                locked.expected_close_on.isoformat() if locked.expected_close_on else None,
                when.isoformat() if when else None,
            ]
            locked.expected_close_on = when
    if "account" in changes:
        account: Account | None = changes["account"]
        if account is None and locked.person_id is None:
            raise ValidationFailed(
                "a deal without a person keeps its account", field="account_id", value=None
            )
        if getattr(account, "pk", None) != locked.account_id:
            diff["account"] = [locked.account_id, getattr(account, "pk", None)]
            locked.account = account
    if "name" in diff:
        locked.name = diff["name"][1]
    pipeline: Pipeline | None = changes.get("pipeline")
    first: PipelineStage | None = None
    if pipeline is not None and pipeline.pk != locked.pipeline_id:
        if locked.stage != DealStage.OPEN:
            raise NotAllowed(
                f"{locked.name or f'deal {locked.pk}'} is {locked.stage}: only open deals change pipeline",
                field="pipeline_id",
                value=pipeline.pk,
            )
        if not pipeline.is_active:
            raise ValidationFailed(f"pipeline {pipeline.name!r} is inactive", field="pipeline_id", value=pipeline.pk)
        first = pipeline_stage_first(pipeline=pipeline, kind=DealStage.OPEN)
        diff["pipeline"] = [locked.pipeline_id, pipeline.pk]
    if not diff:
        return locked
    locked.save()
    event_record(kind="deal.updated", subject=locked, actor=by_user, data={"changes": diff})
    if first is not None:
        deal_stage_enter(
            deal=locked, to_stage=first, at=timezone.now(), by_user=by_user, reason=f"moved to pipeline {first.pipeline}"
        )
    return locked


@transaction.atomic
def deal_contact_add(
    *, deal: Deal, person: Person, role: str = DealContact.Role.OTHER, by_user: Any = None
) -> DealContact:
    """Put a person on a deal's buying team with a role (a person already on it gets the new role)."""
    if role not in DealContact.Role.values:
        raise ValidationFailed(
            f"role must be one of {', '.join(DealContact.Role.values)}, got {role!r}", field="role", value=role
        )
    contact = DealContact.objects.select_for_update().filter(deal=deal, person=person).first()
    if contact is not None:
        if contact.role == role:
            return contact
        before = contact.role
        contact.role = role
        contact.save(update_fields=["role"])
        event_record(
            kind="deal.contact_changed",
            subject=deal,
            actor=by_user,
            data={"person": person.pk, "role": {"from": before, "to": role}},
        )
        return contact
    try:
        with transaction.atomic():
            contact = DealContact.objects.create(deal=deal, person=person, role=role)
    except IntegrityError as exc:  # added concurrently
        raise NotAllowed(f"person {person.pk} is already on the deal", field="person_id", value=person.pk) from exc
    event_record(kind="deal.contact_added", subject=deal, actor=by_user, data={"person": person.pk, "role": role})
    return contact


@transaction.atomic
def deal_contact_remove(*, deal: Deal, person: Person, by_user: Any = None) -> None:
    """Take a person off a deal's buying team."""
    contact = DealContact.objects.filter(deal=deal, person=person).first()
    if contact is None:
        raise NotFound(f"person {person.pk} is not on deal {deal.pk}", field="person_id", value=person.pk)
    contact.delete()
    event_record(
        kind="deal.contact_removed", subject=deal, actor=by_user, data={"person": person.pk, "role": contact.role}
    )


# ---- bulk, for loaders (the demo company): no event per row ----


@dataclass(frozen=True)
class DealWalk:
    """The open stages a loaded deal went through after it entered its first stage, and its expected close."""

    deal_id: int
    steps: tuple[tuple[int, dt.datetime], ...]
    expected_close_on: dt.date | None = None


def deals_walk_bulk(*, walks: Sequence[DealWalk]) -> int:
    """Give loaded deals the stages they went through (history rows in a few statements); returns rows written.

    An open deal ends in its last step's stage; a closed deal's close now comes from that stage. Steps are
    open stages of the deal's pipeline, in time order, after the deal's first entry and before its close.
    """
    if not walks:
        return 0
    ids = sorted({w.deal_id for w in walks})
    deals = {d.pk: d for d in Deal.objects.filter(pk__in=ids).only("id", "stage", "pipeline_id", "pipeline_stage_id", "stage_entered_at", "closed_at")}
    stages = {s.pk: s for s in PipelineStage.objects.filter(kind=DealStage.OPEN)}
    closes = {
        c.deal_id: c
        for c in DealStageChange.objects.filter(deal_id__in=ids, to_stage_id__in=[d.pipeline_stage_id for d in deals.values()])
        .exclude(to_stage__kind=DealStage.OPEN)
        .order_by("changed_at", "id")
    }
    rows: list[DealStageChange] = []
    moved: list[Deal] = []
    closing: list[DealStageChange] = []
    with transaction.atomic():
        for walk in walks:
            deal = deals.get(walk.deal_id)
            if deal is None:
                raise ValidationFailed(f"no deal with id {walk.deal_id}", field="deal_id", value=walk.deal_id)
            deal.expected_close_on = walk.expected_close_on
            if not walk.steps:
                moved.append(deal)
                continue
            previous = deal.pipeline_stage_id if deal.stage == DealStage.OPEN else None
            if previous is None:
                close = closes.get(deal.pk)
                previous = close.from_stage_id if close is not None else None
            last_at = None
            for stage_id, at in walk.steps:
                stage = stages.get(stage_id)
                if stage is None or stage.pipeline_id != deal.pipeline_id:
                    raise ValidationFailed(
                        f"stage {stage_id} is not an open stage of deal {deal.pk}'s pipeline", field="steps", value=stage_id
                    )
                if last_at is not None and at < last_at:
                    raise ValidationFailed(f"the steps of deal {deal.pk} are not in time order", field="steps", value=deal.pk)
                rows.append(DealStageChange(deal_id=deal.pk, from_stage_id=previous, to_stage_id=stage_id, changed_at=at, reason="import"))
                previous, last_at = stage_id, at
            if deal.stage == DealStage.OPEN:
                deal.pipeline_stage_id, deal.stage_entered_at = walk.steps[-1]
            elif deal.pk in closes:
                closes[deal.pk].from_stage_id = previous
                closing.append(closes[deal.pk])
            moved.append(deal)
        DealStageChange.objects.bulk_create(rows, batch_size=2000)
        DealStageChange.objects.bulk_update(closing, ["from_stage"], batch_size=1000)
        open_moved = [d for d in moved if d.stage == DealStage.OPEN]
        Deal.objects.bulk_update(open_moved, ["pipeline_stage", "stage_entered_at", "expected_close_on"], batch_size=1000)
        Deal.objects.bulk_update(
            [d for d in moved if d.stage != DealStage.OPEN], ["expected_close_on"], batch_size=1000
        )
    return len(rows)
