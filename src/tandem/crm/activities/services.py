"""Writes for sales activities and their kinds: log, change and delete an activity; add and edit a kind.

Every path that records one activity (the quick-log box, the API, crm.services.activity_log, completing a
task) goes through `activity_record`, which checks everything first and writes the row and its event in one
transaction. Imports write many at once through the bulk services at the end (one summary event per import).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from tandem.core.errors import NotAllowed, ValidationFailed
from tandem.core.events import event_record
from tandem.core.http import require_perm
from tandem.core.text import text_clean
from tandem.crm.models import (
    Account,
    Activity,
    ActivityDirection,
    ActivityOutcome,
    ActivityType,
    Deal,
    Person,
    Task,
)
from tandem.crm.webhook_data import activity_data
from tandem.users.models import Role
from tandem.webhooks.services import webhook_emit

SUBJECT_MAX = 200
NOTES_MAX = 10_000
EXTERNAL_ID_MAX = 120
LABEL_MAX = 60
KEY_MAX = 24
# The longest activity anyone logs: a day (an all-day workshop); more is a typo (minutes typed as seconds).
DURATION_MAX_MINUTES = 24 * 60
# How far ahead an activity may be dated: a meeting booked for later today in another time zone, not more.
FUTURE_SLACK = dt.timedelta(days=1)
# Nothing a sales team logs happened before this.
EARLIEST = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
KEY_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,23}$")
# Roles that may change or delete anyone's activity (besides its author).
EDITOR_ROLES = frozenset({Role.ADMIN, Role.SALES_MANAGER})
# The fields activity_update may change.
EDITABLE = (
    "kind",
    "occurred_at",
    "outcome",
    "direction",
    "duration_minutes",
    "subject",
    "notes",
    "deal",
    "account",
    "user",
    "external_id",
)


def _user(actor: Any) -> Any:
    # "by_user" may be None, AnonymousUser or a user; foreign keys want a saved user or None.
    return actor if getattr(actor, "pk", None) else None


def _choices(values: Sequence[str]) -> str:
    return ", ".join(v for v in values if v)


# ---- the checks every path shares (the CSV import and the bundle use them too) ----


def occurred_at_problem(*, at: dt.datetime, now: dt.datetime) -> str | None:
    """Why an activity cannot have happened at `at`, or None: more than a day ahead, or before 1970."""
    if at.tzinfo is None:
        at = at.replace(tzinfo=dt.UTC)
    if at > now + FUTURE_SLACK:
        return f"{at.isoformat()} is more than a day in the future"
    if at < EARLIEST:
        return f"{at.isoformat()} is before 1970"
    return None


def duration_problem(*, minutes: Any) -> str | None:
    """Why a duration in minutes is refused, or None."""
    if minutes is None:
        return None
    if isinstance(minutes, bool) or not isinstance(minutes, int):
        return "must be a whole number of minutes"
    if minutes < 0:
        return "must not be negative"
    if minutes > DURATION_MAX_MINUTES:
        return f"must be at most {DURATION_MAX_MINUTES} minutes (a day)"
    return None


def _kind(kind: Any, *, allow_retired: bool = False) -> ActivityType:
    key = kind.key if isinstance(kind, ActivityType) else kind
    if not isinstance(key, str):
        raise ValidationFailed("kind must be the key of an activity kind", field="kind", value=repr(key)[:80])
    found = ActivityType.objects.filter(key=key).first() if 0 < len(key) <= KEY_MAX else None
    if found is None or not (found.is_active or allow_retired):
        known = ActivityType.objects.filter(is_active=True).values_list("key", flat=True)
        state = "retired" if found is not None else "unknown"
        raise ValidationFailed(
            f"{state} activity kind {key!r} (one of {_choices(list(known))})", field="kind", value=key
        )
    return found


def _choice(value: Any, *, field: str, values: Sequence[str]) -> str:
    if value is None or value == "":
        return ""
    if not isinstance(value, str) or value not in values:
        raise ValidationFailed(
            f"unknown {field} {value!r} (one of {_choices(values)}, or empty)", field=field, value=value
        )
    return value


def _when(at: Any, *, now: dt.datetime) -> dt.datetime:
    if at is None:
        return now
    if not isinstance(at, dt.datetime):
        raise ValidationFailed("occurred_at must be a date and time", field="occurred_at", value=at)
    if timezone.is_naive(at):
        at = at.replace(tzinfo=dt.UTC)
    problem = occurred_at_problem(at=at, now=now)
    if problem:
        raise ValidationFailed(f"occurred_at {problem}", field="occurred_at", value=at.isoformat())
    return at


def _duration(minutes: Any) -> int | None:
    problem = duration_problem(minutes=minutes)
    if problem:
        raise ValidationFailed(
            f"duration_minutes {problem}, got {minutes!r}", field="duration_minutes", value=minutes
        )
    return minutes  # type: ignore[no-any-return]


def _external_id(value: Any, *, exclude: int | None = None) -> str | None:
    if value is None:
        return None
    clean = text_clean(value, field="external_id", max_length=EXTERNAL_ID_MAX, required=False)
    if not clean:
        return None
    others = Activity.objects.filter(external_id=clean)
    taken = (
        (others.exclude(pk=exclude) if exclude is not None else others).values_list("pk", flat=True).first()
    )
    if taken is not None:
        raise NotAllowed(
            f"activity #{taken} already has external_id {clean!r}", field="external_id", value=clean
        )
    return clean


def _deal_and_account(
    *, person: Person, deal: Deal | None, account: Account | None
) -> tuple[Deal | None, int | None]:
    """The deal (checked to be the person's or their account's) and the account the activity belongs to."""
    if deal is not None:
        if not getattr(deal, "pk", None):
            raise ValidationFailed("deal must be a stored deal", field="deal_id", value=None)
        mine = deal.person_id == person.pk or (
            deal.account_id is not None and deal.account_id == person.account_id
        )
        if not mine:
            raise ValidationFailed(
                f"deal #{deal.pk} belongs neither to {person} nor to their account",
                field="deal_id",
                value=deal.pk,
            )
    if account is not None:
        if not getattr(account, "pk", None):
            raise ValidationFailed("account must be a stored account", field="account_id", value=None)
        allowed = {person.account_id, deal.account_id if deal is not None else None} - {None}
        if account.pk not in allowed:
            raise ValidationFailed(
                f"account #{account.pk} is neither {person}'s account nor the deal's",
                field="account_id",
                value=account.pk,
            )
        return deal, account.pk
    # By default the activity belongs to the person's account, else the deal's.
    return deal, person.account_id or (deal.account_id if deal is not None else None)


def _texts(*, subject: Any, notes: Any) -> tuple[str, str]:
    return (
        text_clean(
            subject if subject is not None else "", field="subject", max_length=SUBJECT_MAX, required=False
        ),
        text_clean(notes if notes is not None else "", field="notes", max_length=NOTES_MAX, required=False),
    )


def _event_data(activity: Activity) -> dict[str, Any]:
    return {
        "person_id": activity.person_id,
        "kind": activity.kind_id,
        "outcome": activity.outcome,
        "direction": activity.direction,
        "occurred_at": activity.occurred_at.isoformat(),
        "duration_minutes": activity.duration_minutes,
        "deal_id": activity.deal_id,
        "account_id": activity.account_id,
        "user_id": activity.user_id,
        "external_id": activity.external_id,
    }


# ---- one activity ----


def activity_record(
    *,
    person: Person,
    kind: str,
    user: Any = None,
    occurred_at: dt.datetime | None = None,
    outcome: str = "",
    direction: str = "",
    duration_minutes: int | None = None,
    subject: str = "",
    notes: str = "",
    deal: Deal | None = None,
    account: Account | None = None,
    external_id: str | None = None,
    by_user: Any = None,
) -> Activity:
    """Record a call, e-mail, meeting or note with a person (who did it defaults to whoever records it)."""
    if not isinstance(person, Person) or not person.pk:
        raise ValidationFailed(
            "person must be a stored person", field="person_id", value=getattr(person, "pk", None)
        )
    now = timezone.now()
    activity_type = _kind(kind)
    at = _when(occurred_at, now=now)
    clean_outcome = _choice(outcome, field="outcome", values=ActivityOutcome.values)
    clean_direction = _choice(direction, field="direction", values=ActivityDirection.values)
    minutes = _duration(duration_minutes)
    clean_subject, clean_notes = _texts(subject=subject, notes=notes)
    deal, account_id = _deal_and_account(person=person, deal=deal, account=account)
    doer = _user(user) or _user(by_user)
    try:
        with transaction.atomic():
            ext = _external_id(external_id)
            activity = Activity.objects.create(
                person=person,
                kind_id=activity_type.key,
                occurred_at=at,
                outcome=clean_outcome,
                direction=clean_direction,
                duration_minutes=minutes,
                subject=clean_subject,
                notes=clean_notes,
                deal=deal,
                account_id=account_id,
                user=doer,
                external_id=ext,
            )
            event_record(kind="activity.logged", subject=activity, actor=by_user, data=_event_data(activity))
            webhook_emit(event_type="activity.logged", data=activity_data(activity), occurred_at=activity.occurred_at)
    except IntegrityError:
        # Another request took the external id between the check and the insert.
        raise NotAllowed(
            f"an activity with external_id {external_id!r} already exists",
            field="external_id",
            value=external_id,
        ) from None
    return activity


def activity_edit_allowed(*, activity: Activity, user: Any) -> bool:
    """Whether the user may change or delete this activity: its author, a sales manager or an admin."""
    if user is None or not getattr(user, "is_authenticated", False):
        return False
    if user.is_superuser or getattr(user, "role", "") in EDITOR_ROLES:
        return True
    return activity.user_id is not None and activity.user_id == user.pk


def _require_editor(activity: Activity, by_user: Any, action: str) -> None:
    require_perm(
        by_user,
        allowed=activity_edit_allowed(activity=activity, user=by_user),
        message=f"Only the activity's author, a sales manager or an admin may {action} activity #{activity.pk}.",
    )


def activity_update(*, activity: Activity, by_user: Any, **changes: Any) -> Activity:
    """Change an activity's fields (only those given); its author, a manager or an admin may."""
    unknown = sorted(set(changes) - set(EDITABLE))
    if unknown:
        raise ValidationFailed(f"unknown field {unknown[0]!r}", field=unknown[0], value=unknown[0])
    _require_editor(activity, by_user, "change")
    now = timezone.now()
    person = activity.person
    values: dict[str, Any] = {}
    if "kind" in changes:
        # Keeping a retired kind is fine; moving to one is not.
        keep = changes["kind"] == activity.kind_id
        values["kind_id"] = _kind(changes["kind"], allow_retired=keep).key
    if "occurred_at" in changes:
        if changes["occurred_at"] is None:
            raise ValidationFailed("occurred_at must not be empty", field="occurred_at", value=None)
        values["occurred_at"] = _when(changes["occurred_at"], now=now)
    if "outcome" in changes:
        values["outcome"] = _choice(changes["outcome"], field="outcome", values=ActivityOutcome.values)
    if "direction" in changes:
        values["direction"] = _choice(
            changes["direction"], field="direction", values=ActivityDirection.values
        )
    if "duration_minutes" in changes:
        values["duration_minutes"] = _duration(changes["duration_minutes"])
    if "subject" in changes or "notes" in changes:
        subject, notes = _texts(
            subject=changes.get("subject", activity.subject), notes=changes.get("notes", activity.notes)
        )
        values["subject"], values["notes"] = subject, notes
    if "deal" in changes or "account" in changes:
        deal = changes.get("deal", activity.deal)
        account = changes.get("account")
        deal, account_id = _deal_and_account(person=person, deal=deal, account=account)
        values["deal_id"] = deal.pk if deal is not None else None
        values["account_id"] = account_id
    if "user" in changes:
        values["user_id"] = getattr(_user(changes["user"]), "pk", None)
    changed: dict[str, Any] = {}
    try:
        with transaction.atomic():
            if "external_id" in changes:
                values["external_id"] = _external_id(changes["external_id"], exclude=activity.pk)
            before = {name: getattr(activity, name) for name in values}
            changed = {name: value for name, value in values.items() if before[name] != value}
            if not changed:
                return activity
            for name, value in changed.items():
                setattr(activity, name, value)
            activity.save(update_fields=[n.removesuffix("_id") if n != "external_id" else n for n in changed])
            event_record(
                kind="activity.changed",
                subject=activity,
                actor=by_user,
                data={
                    "person_id": activity.person_id,
                    "changes": {
                        n.removesuffix("_id") if n != "external_id" else n: [
                            _plain(before[n]),
                            _plain(changed[n]),
                        ]
                        for n in changed
                    },
                },
            )
    except IntegrityError:
        raise NotAllowed(
            f"an activity with external_id {changes.get('external_id')!r} already exists",
            field="external_id",
            value=changes.get("external_id"),
        ) from None
    # Cached relations would still show the old rows.
    for name in ("kind", "deal", "account", "user"):
        if f"{name}_id" in changed:
            activity._state.fields_cache.pop(name, None)
    return activity


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, dt.datetime) else value


@transaction.atomic
def activity_delete(*, activity: Activity, by_user: Any, reason: str = "") -> None:
    """Delete an activity (its author, a manager or an admin may); the event keeps what it was."""
    _require_editor(activity, by_user, "delete")
    clean_reason = text_clean(reason, field="reason", max_length=500, required=False)
    data = _event_data(activity)
    data["subject"], data["notes"] = activity.subject, activity.notes
    pk = activity.pk
    activity.delete()
    event_record(
        kind="activity.deleted",
        subject_type="crm.activity",
        subject_id=pk,
        actor=by_user,
        reason=clean_reason,
        data=data,
    )


# ---- activity kinds (admins) ----


def activity_kinds_manage_allowed(*, user: Any) -> bool:
    """Admins (and superusers) add and edit activity kinds."""
    if user is None or not getattr(user, "is_authenticated", False):
        return False
    return bool(user.is_superuser or getattr(user, "role", "") == Role.ADMIN)


def _label(label: Any, *, exclude: int | None = None) -> str:
    clean = " ".join(text_clean(label, field="label", max_length=LABEL_MAX, required=True).split())
    others = ActivityType.objects.filter(label__iexact=clean)
    clash = (
        (others.exclude(pk=exclude) if exclude is not None else others).values_list("key", flat=True).first()
    )
    if clash is not None:
        raise NotAllowed(f"the kind {clash!r} is already labelled {clean!r}", field="label", value=clean)
    return clean


@transaction.atomic
def activity_type_create(
    *, key: str, label: str, counts_as_touch: bool = True, by_user: Any = None
) -> ActivityType:
    """Add an activity kind (key: lower-case letters, digits and _; a touch unless told otherwise)."""
    clean_key = text_clean(key, field="key", max_length=KEY_MAX, required=True).lower()
    if not KEY_PATTERN.match(clean_key):
        raise ValidationFailed(
            f"key {clean_key!r} must start with a letter and hold only a-z, 0-9 and _ (at most {KEY_MAX})",
            field="key",
            value=clean_key,
        )
    if not isinstance(counts_as_touch, bool):
        raise ValidationFailed(
            "counts_as_touch must be true or false", field="counts_as_touch", value=counts_as_touch
        )
    if ActivityType.objects.filter(key=clean_key).exists():
        raise NotAllowed(f"an activity kind {clean_key!r} already exists", field="key", value=clean_key)
    clean_label = _label(label)
    position = (ActivityType.objects.aggregate(last=Max("position"))["last"] or 0) + 1
    kind = ActivityType.objects.create(
        key=clean_key, label=clean_label, counts_as_touch=counts_as_touch, builtin=False, position=position
    )
    event_record(
        kind="activity_type.created",
        subject=kind,
        actor=by_user,
        data={"key": kind.key, "label": kind.label, "counts_as_touch": kind.counts_as_touch},
    )
    return kind


@transaction.atomic
def activity_type_update(
    *,
    activity_type: ActivityType,
    label: str | None = None,
    counts_as_touch: bool | None = None,
    active: bool | None = None,
    by_user: Any = None,
) -> ActivityType:
    """Relabel a kind, say whether it counts as a touch for the SLA, or retire / restore it."""
    values: dict[str, Any] = {}
    if label is not None:
        values["label"] = _label(label, exclude=activity_type.pk)
    for name, value in (("counts_as_touch", counts_as_touch), ("is_active", active)):
        if value is None:
            continue
        if not isinstance(value, bool):
            raise ValidationFailed(f"{name} must be true or false", field=name, value=value)
        values[name] = value
    changed = {n: v for n, v in values.items() if getattr(activity_type, n) != v}
    if not changed:
        return activity_type
    before = {n: getattr(activity_type, n) for n in changed}
    for name, value in changed.items():
        setattr(activity_type, name, value)
    activity_type.save(update_fields=list(changed))
    event_record(
        kind="activity_type.changed",
        subject=activity_type,
        actor=by_user,
        data={"key": activity_type.key, "changes": {n: [before[n], changed[n]] for n in changed}},
    )
    return activity_type


@transaction.atomic
def activity_type_delete(*, activity_type: ActivityType, by_user: Any = None) -> None:
    """Delete a kind no activity or task uses (built-in kinds stay; retire a kind in use instead)."""
    if activity_type.builtin:
        raise NotAllowed(
            f"{activity_type.key!r} is built in and cannot be deleted; retire it instead",
            field="key",
            value=activity_type.key,
        )
    used = Activity.objects.filter(kind__key=activity_type.key).count()
    tasks = Task.objects.filter(activity_kind__key=activity_type.key).count()
    if used or tasks:
        raise NotAllowed(
            f"{activity_type.key!r} is used by {used} activities and {tasks} tasks; retire it instead",
            field="key",
            value=activity_type.key,
        )
    data = {
        "key": activity_type.key,
        "label": activity_type.label,
        "counts_as_touch": activity_type.counts_as_touch,
    }
    pk = activity_type.pk
    activity_type.delete()
    event_record(
        kind="activity_type.deleted", subject_type="crm.activitytype", subject_id=pk, actor=by_user, data=data
    )


# ---- bulk variants for importers (one statement per chunk, no event per row) ----


def activities_update_bulk(
    *, activities: Sequence[Activity], fields: Sequence[str], batch_size: int = 500
) -> int:
    """Write the given fields of many stored activities with one bulk_update; returns the rows matched."""
    return Activity.objects.bulk_update(activities, list(fields), batch_size=batch_size)
