"""Writes for accounts, people, deals, activities, lost reasons and lifecycle stages."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Exists, Max, OuterRef
from django.db.models import Model as _Model
from django.utils import timezone

from tandem.core.bulk import CHUNK, Progress, chunked, rows_copy, rows_insert_returning, rows_update
from tandem.core.dataversion import data_version_bump
from tandem.core.errors import NotAllowed, NotFound, ValidationFailed
from tandem.core.events import event_record
from tandem.core.text import text_clean
from tandem.crm.activities.services import activity_record
from tandem.crm.consent.services import consent_flags_refresh, consent_record
from tandem.crm.defaults import BUILTIN_ACTIVITY_KINDS, DEFAULT_PIPELINE, DEFAULT_PIPELINE_STAGES
from tandem.crm.identity import (
    MERGED_EMAIL_SYSTEM,
    email_check,
    email_domain,
    email_normalize_configured,
    name_key,
)
from tandem.crm.models import (
    Account,
    Activity,
    ActivityType,
    ConsentSource,
    Deal,
    DealContact,
    DealStage,
    DealStageChange,
    ExternalId,
    LostReason,
    Person,
    Pipeline,
    PipelineStage,
    StageChange,
)
from tandem.crm.registry import person_merge_steps, person_references
from tandem.crm.stages import LABELS, Stage, can_move, rank
from tandem.crm.webhook_data import deal_data, person_data, stage_change_data
from tandem.webhooks.services import webhook_emit, webhooks_emit_bulk

# Free text limits shared with feedback's notes.
NOTE_MAX = 2000
LOST_REASON_MAX = 120


def _user(actor: Any) -> Any:
    # Services take "by_user" loosely (None, AnonymousUser, a user); foreign keys want a saved user or None.
    return actor if getattr(actor, "pk", None) else None


# ---- lifecycle stages: the only code that writes a person's stage; every move is checked and recorded ----


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
    # A move writes no event (its history row is the record): cached reports learn of it after the commit.
    data_version_bump()
    webhook_emit(event_type="person.stage_changed", data=stage_change_data(change), occurred_at=change.changed_at)
    return change


STAGE_CHANGE_COLUMNS = (
    "person_id",
    "from_stage",
    "to_stage",
    "changed_at",
    "by_user_id",
    "rule",
    "rule_version",
    "reason",
    "details",
)


@transaction.atomic
def people_change_stage_bulk(*, transitions: Sequence[Transition], created_at_stage: Collection[int] = ()) -> int:
    """Apply many moves at once (imports): each person's moves in time order, all checked, all recorded.
    `created_at_stage`: people the caller has just inserted holding the stage their moves end at."""
    if not transitions:
        return 0
    person_ids = sorted({t.person_id for t in transitions})
    current: dict[int, str | None] = {}
    for chunk in chunked(person_ids):
        for pid, stage in Person.objects.filter(pk__in=chunk).values_list("id", "lifecycle_stage"):
            current[pid] = stage or None
    missing = set(person_ids) - set(current)
    if missing:
        raise ValidationFailed(f"no person with id {min(missing)}", field="person_id", value=min(missing))
    # A bundle's new people are inserted with their final stage, so their rows (and the person table's dozen
    # indexes) are not written a second time: their moves start from no stage, and must end where the row is.
    inserted = {pid: current[pid] for pid in created_at_stage if pid in current}
    for pid in inserted:
        current[pid] = None

    rows: list[tuple[Any, ...]] = []
    ordered = sorted(transitions, key=lambda t: (t.person_id, t.at))
    for t in ordered:
        from_stage = current[t.person_id]
        _check(person_label=f"person #{t.person_id}", from_stage=from_stage, to_stage=t.to_stage)
        rows.append(
            (t.person_id, from_stage or "", t.to_stage, t.at, t.by_user_id, t.rule, t.rule_version, t.reason, t.details)
        )
        current[t.person_id] = t.to_stage
    # Tuples, not model objects: bulk_create compiles its SQL value by value (6 s for X Education's 16,000 moves).
    rows_copy(model=StageChange, columns=STAGE_CHANGE_COLUMNS, rows=rows, now=timezone.now())
    # A generator: the messages are only built when an endpoint subscribes.
    webhooks_emit_bulk(event_type="person.stage_changed", items=(stage_change_data(r) for r in rows))

    by_final: dict[str, list[int]] = {}
    for pid in {t.person_id for t in transitions}:
        if pid in inserted:
            if current[pid] != inserted[pid]:
                raise ValueError(f"person #{pid} was inserted at {inserted[pid]!r}, its moves end at {current[pid]!r}")
            continue
        by_final.setdefault(current[pid] or "", []).append(pid)
    now = timezone.now()
    for stage, ids in by_final.items():
        for chunk in chunked(sorted(ids)):
            Person.objects.filter(pk__in=chunk).update(lifecycle_stage=stage, updated_at=now)
    return len(rows)


# ---- accounts and people ----


def account_for_email(*, email: str | None, company: str = "", **fields: Any) -> Account | None:
    """Find or create the account an email's company domain belongs to (free-mail gives none)."""
    domain = email_domain(email)
    if domain is None and not company:
        return None
    if domain is not None:
        account = Account.objects.filter(domain=domain).first()
        if account is None:
            account = Account.objects.create(name=company or domain, domain=domain, **fields)
        return account
    account = Account.objects.filter(name=company, domain__isnull=True).first()
    return account or Account.objects.create(name=company, **fields)


def accounts_for_emails(*, pairs: list[tuple[str, str]]) -> dict[tuple[str, str], Account | None]:
    """Bulk `account_for_email`: the account for each (email, company), made when missing, in four queries."""
    wanted_domains: dict[str, str] = {}
    wanted_names: set[str] = set()
    for email, company in pairs:
        domain = email_domain(email)
        if domain is not None:
            wanted_domains.setdefault(domain, company.strip())
        elif company.strip():
            wanted_names.add(company.strip())
    now = timezone.now()
    by_domain = {a.domain: a for a in Account.objects.filter(domain__in=list(wanted_domains))}
    missing = [
        Account(name=wanted_domains[d] or d, domain=d, created_at=now) for d in wanted_domains if d not in by_domain
    ]
    by_name: dict[str, Account] = {}
    for account in Account.objects.filter(name__in=list(wanted_names), domain__isnull=True).order_by("-id"):
        by_name[account.name] = account
    missing += [Account(name=n, created_at=now) for n in sorted(wanted_names - set(by_name))]
    for account in Account.objects.bulk_create(missing):
        if account.domain:
            by_domain[account.domain] = account
        else:
            by_name[account.name] = account
    out: dict[tuple[str, str], Account | None] = {}
    for email, company in pairs:
        domain = email_domain(email)
        out[(email, company)] = by_domain.get(domain) if domain is not None else by_name.get(company.strip())
    return out


@transaction.atomic
def person_create(
    *,
    email: str = "",
    first_name: str = "",
    last_name: str = "",
    job_title: str = "",
    phone: str = "",
    account: Account | None = None,
    company: str | None = None,
    owner: Any = None,
    stage: str = Stage.LEAD,
    original_channel: str = "",
    original_campaign: Any = None,
    consent_email: bool = False,
    consent_calls: bool = False,
    consent_source: str = ConsentSource.UI,
    custom_fields: dict[str, Any] | None = None,
    created_at: dt.datetime | None = None,
    by_user: Any = None,
    reason: str = "created",
) -> Person:
    """Create a person (finding or creating their company's account when `company` is given) at a first stage;
    consent given at creation is recorded from `consent_source`."""
    if stage not in Stage.__members__.values():
        raise ValidationFailed(f"unknown lifecycle stage {stage!r}", field="stage", value=stage)
    # Stored as typed (trimmed); refused with email-validator's reason (tandem.crm.identity).
    email = email_check(email) if email.strip() else ""
    normalized = email_normalize_configured(email)
    if normalized and Person.objects.filter(email_normalized=normalized).exists():
        raise NotAllowed(f"a person with email {normalized} already exists", field="email", value=email)
    created_at = created_at or timezone.now()
    if account is None and company is not None:
        # Given a company (even empty: the email's domain may name one), the account is found or created
        # inside this transaction, so a refused person leaves no new account behind.
        account = account_for_email(email=email, company=company.strip())
    try:
        person = Person.objects.create(
            email=email,
            email_normalized=normalized,
            first_name=first_name.strip(),
            last_name=last_name.strip(),
            name_key=name_key(first_name, last_name),
            job_title=job_title.strip(),
            phone=phone.strip(),
            account=account,
            owner=owner,
            original_channel=original_channel,
            original_campaign=original_campaign,
            latest_channel=original_channel,
            latest_campaign=original_campaign,
            custom_fields=custom_fields or {},
            created_at=created_at,
        )
    except IntegrityError as exc:  # a concurrent insert of the same email
        raise NotAllowed(
            f"a person with email {normalized} already exists", field="email", value=email
        ) from exc
    # person.created goes first, so a receiver knows the person before its first stage change.
    created = {**person_data(person), "lifecycle_stage": stage}
    created.update(consent_email=consent_email, consent_calls=consent_calls)
    webhook_emit(event_type="person.created", data=created, occurred_at=created_at)
    person_change_stage(person=person, to_stage=stage, at=created_at, by_user=by_user, reason=reason)
    for channel, given in (("email", consent_email), ("calls", consent_calls)):
        if given:
            consent_record(
                person=person, channel=channel, granted=True, source=consent_source, by_user=by_user, at=created_at
            )
    return person


PERSON_EDITABLE = ("first_name", "last_name", "job_title", "phone", "consent_email", "consent_calls")


@transaction.atomic
def person_update(
    *, person: Person, by_user: Any = None, consent_source: str = ConsentSource.UI, **changes: Any
) -> Person:
    """Change a person's profile fields, recording the old and new values; a consent change becomes a consent
    record from `consent_source`."""
    unknown = set(changes) - set(PERSON_EDITABLE)
    if unknown:
        name = sorted(unknown)[0]
        raise ValidationFailed(f"field {name!r} cannot be edited here", field=name, value=changes[name])
    diff = {k: [getattr(person, k), v] for k, v in changes.items() if getattr(person, k) != v}
    consented: dict[str, list[Any]] = {}
    # Consent is never set as a field: each change is a record, and the record's service sets the flag.
    for flag, channel in (("consent_email", "email"), ("consent_calls", "calls")):
        if flag in diff:
            consented[flag] = diff.pop(flag)
            given = consented[flag][1]
            if not isinstance(given, bool):
                raise ValidationFailed(f"{flag} must be true or false", field=flag, value=given)
            consent_record(person=person, channel=channel, granted=given, source=consent_source, by_user=by_user)
    if not diff:
        if consented:
            webhook_emit(event_type="person.updated", data={**person_data(person), "changes": consented})
        return person
    for key, (_, new) in diff.items():
        setattr(person, key, new.strip() if isinstance(new, str) else new)
    person.name_key = name_key(person.first_name, person.last_name)
    # Named fields only: the consent flags belong to the consent service.
    person.save(update_fields=[*diff, "name_key", "updated_at"])
    event_record(kind="person.updated", subject=person, actor=by_user, data={"changes": diff})
    webhook_emit(event_type="person.updated", data={**person_data(person), "changes": {**diff, **consented}})
    return person


@transaction.atomic
def person_assign_owner(
    *, person: Person, owner: Any, by_user: Any = None, rule: str = "", reason: str = ""
) -> Person:
    """Give a person to a rep (or take it away with owner=None)."""
    previous = person.owner_id
    person.owner = owner
    person.save(update_fields=["owner", "updated_at"])
    event_record(
        kind="person.owner_assigned",
        subject=person,
        actor=by_user,
        rule=rule,
        reason=reason,
        data={"from": previous, "to": getattr(owner, "pk", None)},
    )
    return person


def _advance(*, person: Person, to_stage: str, at: dt.datetime, by_user: Any, reason: str) -> None:
    # Deals only ever move a person forward on the funnel; a customer is never demoted by a new deal.
    if rank(to_stage) > rank(person.lifecycle_stage or "") or person.lifecycle_stage in (
        Stage.RECYCLED,
        Stage.DISQUALIFIED,
    ):
        person_change_stage(person=person, to_stage=to_stage, at=at, by_user=by_user, reason=reason)


DEAL_NAME_MAX = 200


def _deal_stage_open(*, pipeline: Pipeline | None, stage: PipelineStage | None) -> PipelineStage:
    # Where a new deal starts: the given open stage (of the given pipeline), else the pipeline's first open stage.
    if stage is None:
        pipeline = pipeline or pipeline_default()
        if not pipeline.is_active:
            raise ValidationFailed(
                f"pipeline {pipeline.name!r} is inactive", field="pipeline_id", value=pipeline.pk
            )
        return pipeline_stage_first(pipeline=pipeline, kind=DealStage.OPEN)
    if pipeline is not None and stage.pipeline_id != pipeline.pk:
        raise ValidationFailed(
            f"stage {stage.name!r} is not a stage of pipeline {pipeline.name!r}", field="stage_id", value=stage.pk
        )
    if stage.kind != DealStage.OPEN or not stage.is_active:
        state = "inactive" if not stage.is_active else f"a {stage.kind} stage"
        raise ValidationFailed(
            f"a new deal starts at an active open stage; {stage.name!r} is {state}", field="stage_id", value=stage.pk
        )
    if not Pipeline.objects.filter(pk=stage.pipeline_id, is_active=True).exists():
        raise ValidationFailed(
            f"the pipeline of stage {stage.name!r} is inactive", field="pipeline_id", value=stage.pipeline_id
        )
    return stage


@transaction.atomic
def deal_create(
    *,
    amount: Decimal,
    person: Person | None = None,
    account: Account | None = None,
    name: str = "",
    currency: str = "USD",
    owner: Any = None,
    pipeline: Pipeline | None = None,
    stage: PipelineStage | None = None,
    expected_close_on: dt.date | None = None,
    created_at: dt.datetime | None = None,
    external_id: str | None = None,
    by_user: Any = None,
) -> Deal:
    """Open a deal for an account and/or a person (who becomes an opportunity) at an open stage of a pipeline."""
    if amount < 0:
        raise ValidationFailed(f"amount must not be negative, got {amount}", field="amount", value=amount)
    if person is None and account is None:
        raise ValidationFailed("a deal needs an account or a person", field="account_id", value=None)
    name = text_clean(name, field="name", max_length=DEAL_NAME_MAX, required=False)
    if not (len(currency) == 3 and currency.isascii() and currency.isupper() and currency.isalpha()):
        raise ValidationFailed(f"currency must be three capital letters, got {currency!r}", field="currency", value=currency)
    first = _deal_stage_open(pipeline=pipeline, stage=stage)
    created_at = created_at or timezone.now()
    account = account or (person.account if person is not None else None)
    if owner is None:
        owner = (person.owner if person is not None else None) or (account.owner if account is not None else None)
    try:
        with transaction.atomic():
            deal = Deal.objects.create(
                person=person,
                account=account,
                amount=amount,
                name=name,
                currency=currency,
                owner=owner,
                created_at=created_at,
                external_id=external_id,
                pipeline_id=first.pipeline_id,
                pipeline_stage=first,
                stage_entered_at=created_at,
                expected_close_on=expected_close_on,
            )
    except IntegrityError as exc:
        raise NotAllowed(
            f"a deal with external id {external_id!r} already exists", field="external_id", value=external_id
        ) from exc
    DealStageChange.objects.create(deal=deal, to_stage=first, changed_at=created_at, by_user=_user(by_user))
    event_record(
        kind="deal.created",
        subject=deal,
        actor=by_user,
        occurred_at=created_at,
        data={
            "amount": str(amount),
            "person": getattr(person, "pk", None),
            "account": getattr(account, "pk", None),
            "pipeline": first.pipeline_id,
            "stage": first.pk,
        },
    )
    if person is not None:
        _advance(
            person=person,
            to_stage=Stage.OPPORTUNITY,
            at=created_at,
            by_user=by_user,
            reason=f"deal {deal.pk} opened",
        )
    return deal


def deal_stage_enter(
    *,
    deal: Deal,
    to_stage: PipelineStage,
    at: dt.datetime,
    by_user: Any = None,
    reason: str = "",
    lost_reason: LostReason | None = None,
    amount: Decimal | None = None,
) -> DealStageChange:
    """Put a deal on a stage (the one writer of a deal's stage): history row, status, close fields, event, customer.

    The callers (deal_close, crm.pipelines' deal_move) check their rules first; this keeps the deal's status the
    kind of its stage, stamps or clears the close, and makes the person of a won deal a customer.
    """
    before_kind, before_closed, before_amount = deal.stage, deal.closed_at, f"{Decimal(deal.amount):.2f}"
    before_reason = getattr(deal.lost_reason, "name", None) if deal.lost_reason_id else None
    from_stage_id = deal.pipeline_stage_id
    change = DealStageChange.objects.create(
        deal=deal, from_stage_id=from_stage_id, to_stage=to_stage, changed_at=at, by_user=_user(by_user), reason=reason
    )
    deal.pipeline_stage = to_stage
    deal.pipeline_id = to_stage.pipeline_id
    deal.stage_entered_at = at
    deal.stage = to_stage.kind
    if to_stage.kind == DealStage.OPEN:
        deal.closed_at, deal.lost_reason = None, None
    else:
        if before_kind != to_stage.kind:
            deal.closed_at = at
        if to_stage.kind == DealStage.WON:
            deal.lost_reason = None
        elif lost_reason is not None:
            deal.lost_reason = lost_reason
    if amount is not None:
        deal.amount = amount
    deal.save()
    if to_stage.kind != before_kind:
        kind = "deal.reopened" if to_stage.kind == DealStage.OPEN else f"deal.{to_stage.kind}"
    else:
        kind = "deal.moved"
    data: dict[str, Any] = {
        "amount": f"{Decimal(deal.amount):.2f}",
        "lost_reason": getattr(deal.lost_reason, "name", None),
        "pipeline": to_stage.pipeline_id,
        "from_stage": from_stage_id,
        "to_stage": to_stage.pk,
        "to_stage_name": to_stage.name,
    }
    # The old and new values of what a move can change besides the stage, for the audit log.
    changed = {
        name: [old, data[name]]
        for name, old in (("amount", before_amount), ("lost_reason", before_reason))
        if old != data[name]
    }
    if changed:
        data["changes"] = changed
    if kind == "deal.reopened":
        # What the close was, so the event log keeps it after the deal's own fields are cleared.
        data["was"] = {
            "stage": before_kind,
            "closed_at": before_closed.isoformat() if before_closed else None,
            "lost_reason": before_reason,
        }
    event_record(kind=kind, subject=deal, actor=by_user, occurred_at=at, reason=reason, data=data)
    for event_type in ("deal.stage_changed", *((kind,) if kind in ("deal.won", "deal.lost") else ())):
        webhook_emit(event_type=event_type, data=deal_data(deal, change), occurred_at=at)
    if kind == "deal.won" and deal.person is not None:
        _advance(
            person=deal.person, to_stage=Stage.CUSTOMER, at=at, by_user=by_user, reason=f"deal {deal.pk} won"
        )
    return change


def deal_lost_reason(*, lost_reason: LostReason | str | None) -> LostReason | None:
    """The lost reason a close names: a row as given, a name found or created (blank is none)."""
    if isinstance(lost_reason, str):
        # A new name is created inside the caller's transaction, so a refused close leaves no stray reason.
        return lost_reason_get_or_create(name=lost_reason) if lost_reason.strip() else None
    return lost_reason


@transaction.atomic
def deal_close(
    *,
    deal: Deal,
    won: bool,
    at: dt.datetime | None = None,
    lost_reason: LostReason | str | None = None,
    amount: Decimal | None = None,
    by_user: Any = None,
) -> Deal:
    """Close a deal as won (the person becomes a customer) or lost (a lost reason, by row or name, is required)."""
    locked = Deal.objects.select_for_update().only("id", "stage").get(pk=deal.pk)
    deal.stage = locked.stage
    if deal.stage != DealStage.OPEN:
        raise NotAllowed(f"deal {deal.pk} is already {deal.stage}", field="stage", value=deal.stage)
    reason = deal_lost_reason(lost_reason=lost_reason) if not won else None
    if not won and reason is None:
        raise ValidationFailed("a lost deal needs a lost reason", field="lost_reason", value=None)
    if amount is not None and amount < 0:
        raise ValidationFailed(f"amount must not be negative, got {amount}", field="amount", value=amount)
    closing = pipeline_stage_first(pipeline=deal.pipeline, kind=DealStage.WON if won else DealStage.LOST)
    deal_stage_enter(
        deal=deal,
        to_stage=closing,
        at=at or timezone.now(),
        by_user=by_user,
        reason="" if won else getattr(reason, "name", ""),
        lost_reason=reason,
        amount=amount,
    )
    return deal


def activity_log(
    *,
    person: Person,
    kind: str,
    occurred_at: dt.datetime | None = None,
    user: Any = None,
    outcome: str = "",
    duration_minutes: int | None = None,
    notes: str = "",
    deal: Deal | None = None,
) -> Activity:
    """Record a rep's call, email, meeting or note with a person: crm.activities' activity_record, the one path."""
    return activity_record(
        person=person,
        kind=kind,
        occurred_at=occurred_at,
        user=user,
        outcome=outcome,
        duration_minutes=duration_minutes,
        notes=notes,
        deal=deal,
    )


def lost_reason_get_or_create(*, name: str) -> LostReason:
    """The lost reason with this name, created when new."""
    clean = " ".join(name.split())
    if not clean:
        raise ValidationFailed("lost reason must not be empty", field="lost_reason", value=name)
    reason, _ = LostReason.objects.get_or_create(name=clean)
    return reason


# ---- identity: external ids and merging people ----


def person_link_external_id(*, person: Person, system: str, external_id: str, by_user: Any = None) -> Any:
    """Record a person's id in another system; linking the same id again is a no-op."""
    from tandem.crm.models import ExternalId

    system = system.strip()
    external_id = external_id.strip()
    if not system or len(system) > 60:
        raise ValidationFailed(f"system {system!r} must be 1 to 60 characters", field="system", value=system)
    if not external_id or len(external_id) > 200:
        raise ValidationFailed(
            f"external id {external_id!r} must be 1 to 200 characters", field="external_id", value=external_id
        )
    existing = ExternalId.objects.filter(system=system, external_id=external_id).first()
    if existing is None:
        try:
            with transaction.atomic():
                link = ExternalId.objects.create(person=person, system=system, external_id=external_id)
                event_record(
                    kind="person.external_id_linked",
                    subject=person,
                    actor=by_user,
                    data={"system": system, "external_id": external_id},
                )
                return link
        except IntegrityError:  # linked concurrently: decide below like any existing link
            existing = ExternalId.objects.get(system=system, external_id=external_id)
    if existing.person_id != person.pk:
        raise NotAllowed(
            f"{system} id {external_id!r} is already linked to person #{existing.person_id}, "
            f"not person #{person.pk}",
            field="external_id",
            value=external_id,
        )
    return existing


# Profile fields a merge copies from the duplicate when the survivor's are empty.
MERGE_FILLED = ("first_name", "last_name", "job_title", "phone", "account_id", "owner_id")


def _merge_moves(*, survivor: Person, duplicate: Person) -> dict[str, int]:
    # One UPDATE per registered table (crm.registry), so merging a person with thousands of touchpoints costs
    # the same queries; the apps above crm register their tables at start-up.
    from django.apps import apps

    # Both on one deal: the survivor's role stays and the duplicate's goes, as the (deal, person) key allows one.
    DealContact.objects.filter(
        person=duplicate, deal_id__in=DealContact.objects.filter(person=survivor).values("deal_id")
    ).delete()
    moved: dict[str, int] = {}
    for ref in person_references():
        rows = apps.get_model(ref.model)._default_manager.filter(**ref.where, **{ref.column: duplicate.pk})
        if ref.unique_with:
            # Rows the survivor already has (same values of the columns unique with the person) stay theirs.
            kept = apps.get_model(ref.model)._default_manager.filter(**ref.where, **{ref.column: survivor.pk})
            if len(ref.unique_with) == 1:
                column = ref.unique_with[0]
                rows.filter(**{f"{column}__in": kept.values(column)}).delete()
            else:
                for key in kept.values_list(*ref.unique_with):
                    rows.filter(**dict(zip(ref.unique_with, key, strict=True))).delete()
        moved[ref.name] = rows.update(**{ref.column: survivor.pk})
    return moved


@transaction.atomic
def person_merge(*, survivor: Person, duplicate: Person, by_user: Any = None, reason: str = "") -> Person:
    """Fold a duplicate into the survivor (its history, deals and ids move over) and delete the duplicate."""
    if survivor.pk == duplicate.pk:
        raise ValidationFailed(
            f"person #{survivor.pk} cannot be merged with itself", field="duplicate_id", value=duplicate.pk
        )
    locked = {p.pk: p for p in Person.objects.select_for_update().filter(pk__in=[survivor.pk, duplicate.pk])}
    for role, wanted in (("survivor_id", survivor.pk), ("duplicate_id", duplicate.pk)):
        if wanted not in locked:
            raise NotFound(f"no person with id {wanted}", field=role, value=wanted)
    keep, gone = locked[survivor.pk], locked[duplicate.pk]
    for role, row in (("survivor_id", keep), ("duplicate_id", gone)):
        if row.erased_at is not None:
            # An erased person's anonymous history must not become a known person's.
            raise NotAllowed(f"person #{row.pk} was erased and cannot be merged", field=role, value=row.pk)
    moved = _merge_moves(survivor=keep, duplicate=gone)
    filled = [f for f in MERGE_FILLED if not getattr(keep, f) and getattr(gone, f)]
    for attr in filled:
        setattr(keep, attr, getattr(gone, attr))
    keep.name_key = name_key(keep.first_name, keep.last_name)
    keep.custom_fields = {**gone.custom_fields, **keep.custom_fields}
    for step in person_merge_steps():
        step(survivor=keep, duplicate=gone)
    # The duplicate's consent records moved over: the survivor's consent is now the newest of them all.
    consent_flags_refresh(person_ids=[keep.pk])
    takes_email = not keep.email_normalized and bool(gone.email_normalized)
    old_email = gone.email_normalized
    # Deleted before the survivor is saved: the survivor may take over its email, which is unique.
    Person.objects.filter(pk=gone.pk).delete()
    if takes_email:
        keep.email, keep.email_normalized = gone.email, gone.email_normalized
        filled.append("email")
    elif old_email and old_email != keep.email_normalized:
        ExternalId.objects.get_or_create(
            system=MERGED_EMAIL_SYSTEM, external_id=old_email, defaults={"person_id": keep.pk}
        )
    # Named fields only: lifecycle_stage is written by the stage service alone (person_change_stage).
    keep.save(
        update_fields=[
            *(f.removesuffix("_id") for f in filled),
            "email_normalized",
            "name_key",
            "custom_fields",
            "original_channel",
            "original_campaign",
            "latest_channel",
            "latest_campaign",
            "updated_at",
        ]
    )
    stage_from = keep.lifecycle_stage
    if rank(gone.lifecycle_stage) > rank(keep.lifecycle_stage) and can_move(
        keep.lifecycle_stage, gone.lifecycle_stage
    ):
        person_change_stage(
            person=keep, to_stage=gone.lifecycle_stage, by_user=by_user, reason=f"merged from #{gone.pk}"
        )
    event_record(
        kind="person.merged",
        subject=keep,
        actor=by_user,
        reason=reason,
        data={
            "merged_id": gone.pk,
            "merged_email": gone.email,
            "moved": moved,
            "filled": filled,
            "stage": {"from": stage_from, "to": keep.lifecycle_stage},
        },
    )
    webhook_emit(event_type="person.merged", data={"survivor_id": keep.pk, "duplicate_id": gone.pk})
    survivor.refresh_from_db()
    return survivor


# ---- the lost-reason taxonomy (what sales can choose when a deal is lost) ----


def _lost_reason_name(name: Any, *, exclude: int | None = None) -> str:
    clean = " ".join(text_clean(name, field="name", max_length=LOST_REASON_MAX, required=True).split())
    same = LostReason.objects.filter(name__iexact=clean)
    clash = (same.exclude(pk=exclude) if exclude is not None else same).first()
    if clash is not None:
        state = "" if clash.is_active else " (retired; restore it instead)"
        raise ValidationFailed(
            f"there is already a lost reason {clash.name!r}{state}", field="name", value=clean
        )
    return clean


def lost_reason_create(*, name: str, description: str = "", by_user: Any = None) -> LostReason:
    """Add a lost reason reps can choose when a deal is lost."""
    description = text_clean(description, field="description", max_length=NOTE_MAX, required=False)
    with transaction.atomic():
        reason = LostReason.objects.create(name=_lost_reason_name(name), description=description)
        event_record(kind="lost_reason.created", subject=reason, actor=by_user, data={"name": reason.name})
    return reason


def lost_reason_rename(
    *, reason: LostReason, name: str, description: str | None = None, by_user: Any = None
) -> LostReason:
    """Rename a lost reason (deals already lost with it follow the new name)."""
    clean = _lost_reason_name(name, exclude=reason.pk)
    old = reason.name
    with transaction.atomic():
        reason.name = clean
        if description is not None:
            reason.description = text_clean(
                description, field="description", max_length=NOTE_MAX, required=False
            )
        reason.save(update_fields=["name", "description"])
        event_record(
            kind="lost_reason.renamed", subject=reason, actor=by_user, data={"from": old, "to": clean}
        )
    return reason


def lost_reason_set_active(*, reason: LostReason, active: bool, by_user: Any = None) -> LostReason:
    """Retire a lost reason (no longer offered; past deals keep it) or bring it back."""
    if reason.is_active == active:
        state = "active" if active else "retired"
        raise NotAllowed(f"lost reason {reason.name!r} is already {state}", field="is_active", value=active)
    with transaction.atomic():
        reason.is_active = active
        reason.save(update_fields=["is_active"])
        event_record(
            kind="lost_reason.restored" if active else "lost_reason.retired",
            subject=reason,
            actor=by_user,
            data={"name": reason.name},
        )
    return reason


# ---- bulk variants for loaders (the demo company, imports): one statement per chunk, no event per row ----

# Fields a bulk update may set; the lifecycle stage has its own service, which records every move.
# Consent is not among them: it changes only with a record (tandem.crm.consent.services.consents_record_bulk).
BULK_PERSON_FIELDS = frozenset({"owner", "owner_id", "lead_status", "phone"})


def people_update_bulk(*, person_ids: Sequence[int], at: dt.datetime | None = None, **fields: Any) -> int:
    """Set the same fields on many people in one UPDATE per chunk (the caller records one summary event)."""
    unknown = sorted(set(fields) - BULK_PERSON_FIELDS)
    if unknown:
        raise ValidationFailed(f"{unknown[0]} cannot be set in bulk", field=unknown[0], value=fields[unknown[0]])
    changed = 0
    for chunk in chunked(sorted(person_ids)):
        changed += Person.objects.filter(pk__in=chunk).update(**fields, updated_at=at or timezone.now())
    # `at` may lie in the past (an import), so MAX(updated_at) need not move: cached reports learn of it here.
    data_version_bump()
    return changed


def people_phones_set_bulk(*, phones: dict[int, str]) -> int:
    """Set each person's phone number (person id -> phone), in batches of updates."""
    rows = [Person(pk=pk, phone=phone) for pk, phone in phones.items()]
    Person.objects.bulk_update(rows, ["phone"], batch_size=1000)
    return len(rows)


def deals_assign_owner_bulk(*, person_ids: Sequence[int], owner: Any) -> int:
    """Give the deals of these people to one owner, in one UPDATE per chunk."""
    changed = 0
    for chunk in chunked(sorted(person_ids)):
        changed += Deal.objects.filter(person_id__in=chunk).update(owner=owner)
    data_version_bump()  # no updated_at and no event per deal: cached reports learn of it here
    return changed


def activities_log_bulk(*, activities: Sequence[Activity]) -> int:
    """Insert many logged activities at once (unsaved Activity rows; the caller records one summary event)."""
    Activity.objects.bulk_create(activities, batch_size=2000)
    return len(activities)


# Imports (capture) write crm rows through these, exactly as fast as their own statements were: the caller
# validates, matches and stamps the rows; each service runs one kind of bulk statement and records no event.
BULK_UPDATE_BATCH = 500
EXTERNAL_ID_COLUMNS = ("person_id", "system", "external_id")


def people_insert_bulk(*, columns: Sequence[str], rows: Sequence[Sequence[Any]], now: dt.datetime) -> list[int]:
    """Insert new people given as tuples of `columns` (attnames), returning their keys in row order."""
    return rows_insert_returning(model=Person, columns=columns, rows=rows, now=now)


def people_copy_bulk(
    *, columns: Sequence[str], rows: Sequence[Sequence[Any]], now: dt.datetime, progress: Progress, label: str
) -> int:
    """Stream new people given as tuples of `columns` (COPY on PostgreSQL); the caller reads their keys back."""
    rows_copy(model=Person, columns=columns, rows=rows, now=now, progress=progress, label=label)
    return len(rows)


def people_rows_update_bulk(*, people: Sequence[Person], fields: Sequence[str]) -> int:
    """Write the given fields of each stored person to its row (one executemany UPDATE); returns the count."""
    return rows_update(objects=people, fields=fields)


def external_ids_add_bulk(*, external_ids: Sequence[ExternalId]) -> int:
    """Insert many outside ids of people at once (unsaved ExternalId rows, one bulk_create)."""
    ExternalId.objects.bulk_create(external_ids)
    return len(external_ids)


def external_ids_copy_bulk(
    *, rows: Sequence[tuple[int, str, str]], now: dt.datetime, progress: Progress, label: str
) -> int:
    """Stream many outside ids given as (person id, system, external id) tuples (COPY on PostgreSQL)."""
    rows_copy(model=ExternalId, columns=EXTERNAL_ID_COLUMNS, rows=rows, now=now, progress=progress, label=label)
    return len(rows)


def accounts_insert_bulk(*, columns: Sequence[str], rows: Sequence[Sequence[Any]], now: dt.datetime) -> list[int]:
    """Insert new accounts given as tuples of `columns` (attnames), returning their keys in row order."""
    return rows_insert_returning(model=Account, columns=columns, rows=rows, now=now)


def accounts_create_bulk(*, accounts: Sequence[Account], batch_size: int | None = None) -> int:
    """Insert many unsaved accounts with one bulk_create, setting their keys."""
    Account.objects.bulk_create(accounts, batch_size=batch_size)
    return len(accounts)


def accounts_update_bulk(
    *, accounts: Sequence[Account], fields: Sequence[str], batch_size: int = BULK_UPDATE_BATCH
) -> int:
    """Write the given fields of many stored accounts with one bulk_update; returns the rows matched."""
    return Account.objects.bulk_update(accounts, fields, batch_size=batch_size)


def deals_create_bulk(*, deals: Sequence[Deal], batch_size: int | None = None) -> int:
    """Insert many unsaved deals with one bulk_create, setting their keys; each enters its pipeline stage."""
    stages = _StageMap()
    for deal in deals:
        stages.place(deal)
    Deal.objects.bulk_create(deals, batch_size=batch_size)
    DealStageChange.objects.bulk_create(
        (
            DealStageChange(
                deal_id=d.pk, to_stage_id=d.pipeline_stage_id, changed_at=d.stage_entered_at or d.created_at, reason="import"
            )
            for d in deals
        ),
        batch_size=2000,
    )
    return len(deals)


def deals_copy_bulk(
    *, columns: Sequence[str], rows: Sequence[Sequence[Any]], now: dt.datetime, progress: Progress, label: str
) -> int:
    """Stream new deals given as tuples of `columns` (COPY on PostgreSQL); each enters its pipeline stage."""
    columns, placed = _StageMap().place_rows(columns=columns, rows=rows)
    last = Deal.objects.aggregate(last=Max("pk"))["last"] or 0
    rows_copy(model=Deal, columns=columns, rows=placed, now=now, progress=progress, label=label)
    deals_stage_history_start_bulk(after_pk=last)
    return len(rows)


def deals_update_bulk(*, deals: Sequence[Deal], fields: Sequence[str], batch_size: int = BULK_UPDATE_BATCH) -> int:
    """Write the given fields of many stored deals with one bulk_update; returns the rows matched.

    A deal whose open/won/lost status changes moves to its pipeline's first stage of that kind (with history).
    """
    fields = list(fields)
    if "stage" in fields:
        stages = _StageMap()
        now = timezone.now()
        moves = []
        for deal in deals:
            before = deal.pipeline_stage_id
            if stages.place(deal, at=deal.closed_at or now):
                moves.append(
                    DealStageChange(
                        deal_id=deal.pk, from_stage_id=before, to_stage_id=deal.pipeline_stage_id,
                        changed_at=deal.stage_entered_at or now, reason="import",
                    )
                )
        fields += [f for f in ("pipeline", "pipeline_stage", "stage_entered_at") if f not in fields]
        with transaction.atomic():
            matched = Deal.objects.bulk_update(deals, fields, batch_size=batch_size)
            DealStageChange.objects.bulk_create(moves, batch_size=2000)
        return matched
    return Deal.objects.bulk_update(deals, fields, batch_size=batch_size)


def deals_stage_history_start_bulk(*, after_pk: int = 0) -> int:
    """Give each deal (above a key) without stage history its entry into its current stage."""
    missing = Deal.objects.filter(pk__gt=after_pk).filter(
        ~Exists(DealStageChange.objects.filter(deal_id=OuterRef("pk")))
    )
    rows = [
        (pk, stage_id, entered or created, "import")
        for pk, stage_id, entered, created in missing.values_list(
            "pk", "pipeline_stage_id", "stage_entered_at", "created_at"
        ).iterator(chunk_size=CHUNK)
    ]
    # Tuples, not model objects: bulk_create compiles its SQL value by value (0.4 s for a bundle's 10,000 deals).
    rows_copy(model=DealStageChange, columns=DEAL_STAGE_CHANGE_COLUMNS, rows=rows, now=timezone.now())
    return len(rows)


DEAL_STAGE_CHANGE_COLUMNS = ("deal_id", "to_stage_id", "changed_at", "reason")


# ---- pipelines: the default one, and where a deal of a given status stands in one ----


@transaction.atomic
def crm_defaults_ensure() -> None:
    """Recreate the built-in activity kinds and the default pipeline when missing (after a database flush)."""
    for key, label, touch, position in BUILTIN_ACTIVITY_KINDS:
        ActivityType.objects.get_or_create(
            key=key, defaults={"label": label, "counts_as_touch": touch, "builtin": True, "position": position}
        )
    if not Pipeline.objects.exists():
        pipeline = Pipeline.objects.create(name=DEFAULT_PIPELINE, is_default=True)
        PipelineStage.objects.bulk_create(
            PipelineStage(pipeline=pipeline, name=name, position=i, probability=p, kind=kind)
            for i, (name, p, kind) in enumerate(DEFAULT_PIPELINE_STAGES)
        )


def pipeline_default() -> Pipeline:
    """The default pipeline (a data migration made "Sales"; admins may make another the default)."""
    pipeline = Pipeline.objects.filter(is_default=True).first()
    if pipeline is None:
        raise NotFound("No default pipeline: an admin must mark one as the default.", field="pipeline", value=None)
    return pipeline


def pipeline_stage_first(*, pipeline: Pipeline, kind: str) -> PipelineStage:
    """The first active stage of this kind (open, won, lost) in the pipeline."""
    stage = (
        PipelineStage.objects.filter(pipeline=pipeline, kind=kind, is_active=True).order_by("position", "id").first()
    )
    if stage is None:
        raise ValidationFailed(
            f"The pipeline {pipeline.name!r} has no {kind} stage.", field="pipeline_stage", value=kind
        )
    return stage


class _StageMap:
    """Places bulk-loaded deals on a pipeline stage matching their open/won/lost status (two queries, once)."""

    def __init__(self) -> None:
        self.kind_of: dict[int, str] = {}
        self.pipeline_of: dict[int, int] = {}
        self.first: dict[tuple[int, str], int] = {}
        self.default = 0
        # Walked last to first, so the first stage of each kind is the one left in `first`.
        for pk, pipeline_id, kind, is_default in (
            PipelineStage.objects.filter(is_active=True)
            .order_by("-position", "-id")
            .values_list("pk", "pipeline_id", "kind", "pipeline__is_default")
        ):
            self.kind_of[pk] = kind
            self.pipeline_of[pk] = pipeline_id
            self.first[(pipeline_id, kind)] = pk
            self.default = pipeline_id if is_default else self.default
        if not self.default:
            raise NotFound("No default pipeline: an admin must mark one as the default.", field="pipeline", value=None)

    def stage_for(self, pipeline_id: int | None, kind: str) -> tuple[int, int]:
        pipeline_id = pipeline_id or self.default
        stage = self.first.get((pipeline_id, kind))
        if stage is None:
            raise ValidationFailed(f"pipeline #{pipeline_id} has no {kind} stage", field="pipeline_stage", value=kind)
        return pipeline_id, stage

    def place(self, deal: Deal, at: dt.datetime | None = None) -> bool:
        """Set the deal's pipeline stage when it has none or its kind differs from its status; True if moved."""
        if deal.pipeline_stage_id is not None and self.kind_of.get(deal.pipeline_stage_id) == deal.stage:
            # A loader that chose the stage itself may leave the pipeline and the entry time to us.
            deal.pipeline_id = deal.pipeline_id or self.pipeline_of[deal.pipeline_stage_id]
            if deal.stage_entered_at is None:
                deal.stage_entered_at = at or deal.closed_at or deal.created_at
            return False
        deal.pipeline_id, deal.pipeline_stage_id = self.stage_for(deal.pipeline_id, deal.stage)
        deal.stage_entered_at = at or deal.closed_at or deal.created_at
        return True

    def place_rows(
        self, *, columns: Sequence[str], rows: Sequence[Sequence[Any]]
    ) -> tuple[list[str], list[tuple[Any, ...]]]:
        if "pipeline_stage_id" in columns:
            return list(columns), [tuple(r) for r in rows]
        stage_at = columns.index("stage") if "stage" in columns else None
        closed_at = columns.index("closed_at") if "closed_at" in columns else None
        created_at = columns.index("created_at") if "created_at" in columns else None
        out = []
        for row in rows:
            kind = row[stage_at] if stage_at is not None else DealStage.OPEN
            pipeline_id, stage_id = self.stage_for(None, kind)
            entered = (row[closed_at] if closed_at is not None else None) or (
                row[created_at] if created_at is not None else None
            )
            out.append((*row, pipeline_id, stage_id, entered))
        return [*columns, "pipeline_id", "pipeline_stage_id", "stage_entered_at"], out


def lost_reasons_create_bulk(*, reasons: Sequence[LostReason], batch_size: int | None = None) -> int:
    """Insert many unsaved lost reasons with one bulk_create, setting their keys."""
    LostReason.objects.bulk_create(reasons, batch_size=batch_size)
    return len(reasons)


def crm_restore_bulk(
    *, model: type[_Model], columns: Sequence[str], rows: Sequence[Sequence[Any]], replace: bool = False
) -> int:
    """Insert a backup's rows of one of this app's tables as they are, ids included (the bundle restore)."""
    from tandem.core.bulk import rows_restore

    return rows_restore(owner="crm", model=model, columns=columns, rows=rows, replace=replace)


def people_export_record(*, by_user: Any, filters: dict[str, str]) -> None:
    """Record who downloaded the people list as CSV and with which filters (it carries personal data)."""
    event_record(
        kind="crm.people_exported", actor=by_user, data={k: v for k, v in filters.items() if v}, reason="CSV download"
    )
