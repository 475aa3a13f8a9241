"""Writes of audiences: create, edit (a new version with who and why), delete, and the membership sync whose
diff is sent to webhook subscribers as audience.member_added / audience.member_removed."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from tandem.audiences.models import Audience, AudienceMember, AudienceVersion
from tandem.audiences.selectors import audience_spec, members_query, spec_check
from tandem.audiences.spec import AudienceSpec
from tandem.core.errors import NotAllowed, ValidationFailed
from tandem.core.events import event_record
from tandem.core.http import require_perm
from tandem.core.outbox import task_enqueue_on_commit
from tandem.core.text import text_clean
from tandem.core.versioning import spec_publish
from tandem.crm.models import Person
from tandem.webhooks.services import webhooks_emit_bulk

NAME_MAX = 120
DESCRIPTION_MAX = 2000
REASON_MAX = 500
SYNC_TASK = "tandem.audiences.tasks.audience_sync_task"
ADDED, REMOVED = "audience.member_added", "audience.member_removed"


def _may_edit(user: Any, action: str) -> None:
    # Audiences are marketing's: marketing and admins create and change them; everyone else may only read.
    if user is not None:
        require_perm(user, f"audiences.{action}_audience", action=f"{action} audiences")


def _name(name: Any, *, exclude_id: int | None = None) -> str:
    name = text_clean(name, field="name", max_length=NAME_MAX, required=True)
    taken = Audience.objects.filter(name=name)
    if exclude_id is not None:
        taken = taken.exclude(pk=exclude_id)
    if taken.exists():
        raise ValidationFailed(f"an audience named {name!r} exists already", field="name", value=name)
    return name


def _publish(*, audience: Audience, spec: AudienceSpec, reason: str, by_user: Any) -> AudienceVersion:
    def validate(given: Mapping[str, Any], version: int) -> dict[str, Any]:
        return {"spec": spec.to_dict()}

    def event_data(row: AudienceVersion, previous: AudienceVersion | None) -> dict[str, Any]:
        return {
            "audience_id": audience.pk,
            "name": audience.name,
            "version": row.version,
            "spec": row.spec,
            "previous_spec": previous.spec if previous else None,
        }

    return spec_publish(
        model=AudienceVersion,
        scope={"audience": audience},
        spec=spec.to_dict(),
        reason=reason,
        by_user=by_user,
        event_kind="audience.published",
        rule=f"audience:{audience.pk}",
        validate=validate,
        event_data=event_data,
        conflict_message="Someone saved this audience at the same moment; reload and try again.",
        # Saving the same criteria again (a retried request, a form saved unchanged) publishes no copy.
        unchanged="return",
    )


def _sync_later(audience: Audience) -> None:
    task_enqueue_on_commit(task=SYNC_TASK, kwargs={"audience_id": audience.pk})


@transaction.atomic
def audience_create(
    *, name: str, spec: Any, by_user: Any, description: str = "", reason: str = ""
) -> Audience:
    """Save a new audience with its first version; its members are synced (and announced) after the commit."""
    _may_edit(by_user, "add")
    name = _name(name)
    description = text_clean(description, field="description", max_length=DESCRIPTION_MAX, required=False)
    reason = text_clean(reason, field="reason", max_length=REASON_MAX, required=False) or "created"
    parsed = spec_check(spec=spec)
    try:
        with transaction.atomic():
            audience = Audience.objects.create(
                name=name,
                description=description,
                spec=parsed.to_dict(),
                version=1,
                created_by=by_user if getattr(by_user, "pk", None) else None,
                created_at=timezone.now(),
            )
    except IntegrityError as exc:  # another request took the name between the check and the insert
        raise ValidationFailed(
            f"an audience named {name!r} exists already", field="name", value=name
        ) from exc
    _publish(audience=audience, spec=parsed, reason=reason, by_user=by_user)
    _sync_later(audience)
    return audience


@transaction.atomic
def audience_update(
    *,
    audience: Audience,
    by_user: Any,
    reason: str,
    name: str | None = None,
    description: str | None = None,
    spec: Any = None,
) -> Audience:
    """Change an audience's name, description or criteria; new criteria are a new version saying who and why."""
    _may_edit(by_user, "change")
    reason = text_clean(reason, field="reason", max_length=REASON_MAX, required=True)
    locked = Audience.objects.select_for_update().get(pk=audience.pk)
    changes: dict[str, list[Any]] = {}
    if name is not None:
        name = _name(name, exclude_id=locked.pk)
        if name != locked.name:
            changes["name"] = [locked.name, name]
            locked.name = name
    if description is not None:
        description = text_clean(description, field="description", max_length=DESCRIPTION_MAX, required=False)
        if description != locked.description:
            changes["description"] = [locked.description, description]
            locked.description = description
    if spec is not None:
        parsed = spec_check(spec=spec)
        row = _publish(audience=locked, spec=parsed, reason=reason, by_user=by_user)
        if row.version != locked.version:
            changes["version"] = [locked.version, row.version]
            locked.spec, locked.version = row.spec, row.version
    if not changes:
        return locked
    locked.save(update_fields=["name", "description", "spec", "version", "updated_at"])
    if set(changes) - {"version"}:
        event_record(
            kind="audience.updated",
            subject=locked,
            actor=by_user,
            reason=reason,
            data={"changes": {k: v for k, v in changes.items() if k != "version"}},
        )
    if "version" in changes:
        _sync_later(locked)
    return locked


@transaction.atomic
def audience_delete(*, audience: Audience, by_user: Any, reason: str = "") -> None:
    """Delete an audience, its versions and its snapshot; the event keeps its name and last criteria."""
    _may_edit(by_user, "delete")
    reason = text_clean(reason, field="reason", max_length=REASON_MAX, required=False)
    locked = Audience.objects.select_for_update().filter(pk=audience.pk).first()
    if locked is None:
        raise NotAllowed(
            f"audience {audience.pk} was deleted already", field="audience_id", value=audience.pk
        )
    event_record(
        kind="audience.deleted",
        subject=locked,
        actor=by_user,
        reason=reason,
        data={
            "name": locked.name,
            "version": locked.version,
            "spec": locked.spec,
            "members": locked.members.count(),
        },
    )
    locked.delete()


# ---- membership sync ----


@dataclass(frozen=True)
class SyncResult:
    audience_id: int
    added: int
    removed: int


def _payload(audience: Audience, row: tuple[Any, ...]) -> dict[str, Any]:
    pk, email, first, last, c_email, c_calls = row
    return {
        "audience_id": audience.pk,
        "audience_name": audience.name,
        "person_id": pk,
        "email": email,
        "first_name": first,
        "last_name": last,
        "consent_email": c_email,
        "consent_calls": c_calls,
    }


PAYLOAD_COLUMNS = ("pk", "email", "first_name", "last_name", "consent_email", "consent_calls")


@transaction.atomic
def audience_sync(*, audience: Audience) -> SyncResult:
    """Diff the live members against the snapshot in the database: store who joined and who left, and send
    each as an audience.member_added / member_removed webhook (after the commit, by the webhooks worker)."""
    # Locked so two syncs of one audience (the worker and an edit's) cannot both announce the same change.
    locked = Audience.objects.select_for_update().filter(pk=audience.pk).first()
    if locked is None:  # deleted since the sync was queued
        return SyncResult(audience_id=audience.pk, added=0, removed=0)
    now = timezone.now()
    live = members_query(audience_spec(locked), now=now)
    snapshot = AudienceMember.objects.filter(audience=locked)
    # Both sides of the diff are computed by the database: only the people who changed come back.
    joined = list(
        live.exclude(pk__in=snapshot.values("person_id")).order_by("pk").values_list(*PAYLOAD_COLUMNS)
    )
    left_ids = list(
        snapshot.exclude(person_id__in=live.values("pk"))
        .order_by("person_id")
        .values_list("person_id", flat=True)
    )
    left = (
        list(Person.objects.filter(pk__in=left_ids).order_by("pk").values_list(*PAYLOAD_COLUMNS))
        if left_ids
        else []
    )
    if joined:
        AudienceMember.objects.bulk_create(
            [AudienceMember(audience=locked, person_id=row[0], added_at=now) for row in joined],
            batch_size=1000,
        )
    if left_ids:
        snapshot.filter(person_id__in=left_ids).delete()
    Audience.objects.filter(pk=locked.pk).update(synced_at=now)
    if joined or left_ids:
        webhooks_emit_bulk(event_type=ADDED, items=[_payload(locked, r) for r in joined], occurred_at=now)
        webhooks_emit_bulk(event_type=REMOVED, items=[_payload(locked, r) for r in left], occurred_at=now)
        event_record(
            kind="audience.synced",
            subject=locked,
            rule=f"audience:{locked.pk}",
            rule_version=locked.version,
            occurred_at=now,
            data={"added": len(joined), "removed": len(left_ids), "version": locked.version},
        )
    return SyncResult(audience_id=locked.pk, added=len(joined), removed=len(left_ids))


def audiences_sync_all() -> list[SyncResult]:
    """Sync every audience (the worker's periodic run): each in its own transaction."""
    return [audience_sync(audience=a) for a in Audience.objects.order_by("id")]


# ---- personal data (tandem.privacy) ----


def audience_members_erase_person(*, person_id: int) -> int:
    """Take an erased person out of every snapshot. No member_removed is sent: it would carry what the erasure
    removes, and subscribers hear person.erased instead."""
    deleted, _ = AudienceMember.objects.filter(person_id=person_id).delete()
    return deleted
