"""Reads of the audit log: event rows and a person's stage history, filtered, newest first, in keyset pages."""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass, field
from typing import Any

from django.apps import apps
from django.db.models import F, Q, QuerySet, Value
from django.urls import NoReverseMatch, reverse

from tandem.core.errors import ValidationFailed
from tandem.core.keyset import MAX_ID, Cursor, cursor_decode, cursor_encode
from tandem.core.models import Event
from tandem.crm.audit.limits import MAX_PAGE_SIZE, PAGE_SIZE  # re-exported: `--help` reads them there
from tandem.crm.identity import MERGED_EMAIL_SYSTEM, email_normalize_configured
from tandem.crm.models import Account, Deal, ExternalId, Person, PipelineStage, StageChange
from tandem.crm.registry import person_references
from tandem.crm.stages import LABELS, Stage
from tandem.users.models import Role, User

# The name the cursors carry, so a cursor of another list is refused rather than read wrongly.
ORDER = "audit-newest"

# Where an entry comes from: core's event log, or a person's lifecycle stage history (crm.StageChange), which
# the stage service writes instead of an event. Stage changes sort after the events of the same moment (a deal
# won, then its person made a customer by it), so newest first they come first.
EVENT, STAGE_CHANGE = "event", "stage_change"
_RANK = {EVENT: 0, STAGE_CHANGE: 1}
STAGE_KIND = "person.stage_changed"
PERSON_TYPE = "crm.person"

# An event is about a person when (1) its subject is the person; (2) its subject is one of the person's records,
# any table registered in crm's registry of person references (deals, activities, tasks, questions, ratings,
# touchpoints, consent records... the apps above crm register theirs), however its data reads; (3) it is one of
# the kinds below, whose data names a person who is not their subject: a contact put on, changed on or taken off
# someone else's deal, a deleted activity or task (its row is gone, so (2) cannot find it); or (4) its subject is
# a record of the person deleted since, found by (3)'s deletion events. Each part walks an index, so the person's
# page costs the same at a million events. A new kind that names a person in its data about a record that is
# not theirs belongs in PERSON_DATA_KINDS.
PERSON_DATA_KINDS = (
    "activity.deleted",
    "deal.contact_added",
    "deal.contact_changed",
    "deal.contact_removed",
    "task.deleted",
)
PERSON_DATA_KEYS = ("person", "person_id")
DELETION_KINDS = {"activity.deleted": "crm.activity", "task.deleted": "crm.task"}

_KIND = re.compile(r"[a-z0-9_]+(\.[a-z0-9_]+)*")
_RECORD_TYPE = re.compile(r"[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*")

# Pages a record links to, by its type; each takes the record's id.
RECORD_PAGES = {
    "crm.person": "crm:person",
    "crm.deal": "crm:deal",
    "crm.account": "accounts:detail",
    "campaigns.campaign": "campaigns:campaign",
    "feedback.theme": "feedback:theme",
    "enablement.asset": "enablement:asset",
    "users.user": "admin:users_user_change",
}
# Fields whose values are user ids (shown as the user), pipeline stage ids (shown by name), lifecycle stages.
USER_FIELDS = frozenset({"owner", "owner_id", "user", "user_id", "manager", "manager_id", "by_user"})
PIPELINE_STAGE_FIELDS = frozenset({"pipeline_stage", "pipeline_stage_id"})
LIFECYCLE_FIELDS = frozenset({"lifecycle_stage", "stage"})
# What a top-level {"from", "to"} pair changes, by event kind; other kinds name it after the kind's last word.
FROM_TO_FIELDS = {
    "person.owner_assigned": "owner",
    "task.reassigned": "owner",
    "sla.rerouted": "owner",
    "user.role_changed": "role",
    "lost_reason.renamed": "name",
    "theme.renamed": "label",
    "collateral.moved": "status",
    "pipeline_stage.reordered": "stage order",
}
TEXT_MAX = 300


# ---- who may read it ----


def audit_allowed(*, user: Any) -> bool:
    """Whether the user may read the audit log: admins and superusers."""
    return bool(getattr(user, "is_authenticated", False)) and bool(
        user.is_superuser or getattr(user, "role", "") == Role.ADMIN
    )


# ---- entries ----


@dataclass
class Change:
    """One field an entry changed: its old and new values as stored, and as the page shows them."""

    field: str
    old: Any
    new: Any
    old_text: str = ""
    new_text: str = ""


@dataclass
class AuditEntry:
    """One line of the audit log, from an event row or a stage change."""

    id: int
    source: str
    occurred_at: dt.datetime
    kind: str
    actor_id: int | None
    actor: Any
    subject_type: str
    subject_id: int | None
    rule: str
    rule_version: int | None
    reason: str
    data: dict[str, Any]
    changes: list[Change] = field(default_factory=list)
    # Changes the event states in words (a definition's new version), and the rest of its data.
    notes: list[str] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)
    # Filled by audit_entries_describe for the page and the command.
    record_label: str = ""
    record_url: str | None = None

    @property
    def actor_username(self) -> str | None:
        return getattr(self.actor, "username", None)


@dataclass(frozen=True)
class AuditPage:
    """One keyset page of entries, newest first; the cursors are None where there is nothing further."""

    items: list[AuditEntry]
    next_cursor: str | None
    prev_cursor: str | None


def _pair(value: Any) -> tuple[Any, Any] | None:
    # The shapes services store a change in: [old, new], {"from", "to"} or {"old", "new"}.
    if isinstance(value, list | tuple) and len(value) == 2:
        return value[0], value[1]
    if isinstance(value, dict):
        for a, b in (("from", "to"), ("old", "new")):
            if set(value) == {a, b}:
                return value[a], value[b]
    return None


def _expand(name: str, old: Any, new: Any) -> list[Change]:
    # Two dicts (a team's time zone and calendar) are shown key by key, only the keys that changed.
    if isinstance(old, dict) and isinstance(new, dict):
        return [
            Change(k, old.get(k), new.get(k))
            for k in sorted({*old, *new}, key=str)
            if old.get(k) != new.get(k)
        ]
    return [Change(name, old, new)]


def entry_changes(*, kind: str, data: dict[str, Any]) -> tuple[list[Change], list[str], dict[str, Any]]:
    """The old → new values an event's data carries, the changes it states in words, and the rest of its data."""
    changes: list[Change] = []
    notes: list[str] = []
    used: set[str] = set()
    if not isinstance(data, dict):
        return changes, notes, {"data": data}
    for key in ("changes", "changed"):
        block = data.get(key)
        if isinstance(block, dict):
            # By field name: PostgreSQL's jsonb keeps keys in its own order, SQLite in the written one.
            for name, value in sorted(block.items(), key=lambda item: str(item[0])):
                pair = _pair(value)
                changes.extend(_expand(str(name), *pair) if pair else [Change(str(name), None, value)])
            used.add(key)
        elif isinstance(block, list) and all(isinstance(line, str) for line in block):
            notes.extend(block)
            used.add(key)
    for a, b in (("old", "new"), ("from", "to")):
        if a in data and b in data:
            name = FROM_TO_FIELDS.get(kind, kind.rsplit(".", 1)[-1].removesuffix("_changed") or "value")
            changes.extend(_expand(name, data[a], data[b]))
            used |= {a, b}
    if "from_stage" in data and "to_stage" in data:
        # A deal's move between pipeline stages (ids; the page shows their names).
        changes.append(Change("pipeline_stage", data["from_stage"], data["to_stage"]))
        used |= {"from_stage", "to_stage", "to_stage_name"}
    for key, value in data.items():
        if key not in used and isinstance(value, dict) and _pair(value) is not None:
            changes.extend(_expand(key, *_pair(value)))  # type: ignore[misc]
            used.add(key)
    # By key: PostgreSQL's jsonb keeps keys in its own order, SQLite in the written one.
    return changes, notes, {k: data[k] for k in sorted(data) if k not in used}


def _from_event(row: Event) -> AuditEntry:
    data = row.data if isinstance(row.data, dict) else {"data": row.data}
    changes, notes, details = entry_changes(kind=row.kind, data=data)
    return AuditEntry(
        id=row.pk,
        source=EVENT,
        occurred_at=row.occurred_at,
        kind=row.kind,
        actor_id=row.actor_id,
        actor=row.actor,
        subject_type=row.subject_type,
        subject_id=row.subject_id,
        rule=row.rule,
        rule_version=row.rule_version,
        reason=row.reason,
        data=data,
        changes=changes,
        notes=notes,
        details=details,
    )


def _from_stage_change(row: StageChange) -> AuditEntry:
    data: dict[str, Any] = {"from": row.from_stage or None, "to": row.to_stage}
    if row.details:
        data["details"] = row.details
    return AuditEntry(
        id=row.pk,
        source=STAGE_CHANGE,
        occurred_at=row.changed_at,
        kind=STAGE_KIND,
        actor_id=row.by_user_id,
        actor=row.by_user,
        subject_type=PERSON_TYPE,
        subject_id=row.person_id,
        rule=row.rule,
        rule_version=row.rule_version,
        reason=row.reason,
        data=data,
        changes=[Change("lifecycle_stage", row.from_stage or None, row.to_stage)],
        details={"details": row.details} if row.details else {},
    )


# ---- filters ----


def audit_person_ids(*, person: str) -> list[int]:
    """The person a filter names (an id, or an e-mail: current, or merged into someone) and the people merged
    into them: a merge moves the events about the duplicate onto the survivor, but not what names it in data."""
    ref = person.strip()
    if ref.isdigit():
        # An id is taken as it is: the events of a person deleted since are still theirs.
        if not 0 < int(ref) <= MAX_ID:
            raise ValidationFailed(
                f"person must be a person's id or e-mail, got {person!r}", field="person", value=person
            )
        found = int(ref)
    else:
        normalized = email_normalize_configured(ref) if "@" in ref else None
        if not normalized:
            raise ValidationFailed(
                f"person must be a person's id or e-mail, got {person!r}", field="person", value=person
            )
        row = Person.objects.filter(email_normalized=normalized).values_list("id", flat=True).first()
        if row is None:
            row = (
                ExternalId.objects.filter(system=MERGED_EMAIL_SYSTEM, external_id=normalized)
                .values_list("person_id", flat=True)
                .first()
            )
        if row is None:
            raise ValidationFailed(f"no person has the e-mail {ref!r}", field="person", value=person)
        found = row
    ids, frontier = [found], [found]
    while frontier and len(ids) < MAX_PAGE_SIZE:
        merged = Event.objects.filter(kind="person.merged", subject_type=PERSON_TYPE, subject_id__in=frontier)
        frontier = [
            i for i in merged.values_list("data__merged_id", flat=True) if isinstance(i, int) and i not in ids
        ]
        ids.extend(frontier)
    return ids


def audit_user_id(*, user: str) -> int:
    """The id of the user a filter names by id or username."""
    ref = user.strip()
    query = Q(username=ref)
    if ref.isdigit() and 0 < int(ref) <= MAX_ID:
        query |= Q(pk=int(ref))
    # A username that is all digits wins over the user with that id.
    matches = list(User.objects.filter(query).values_list("id", "username")) if ref else []
    found = next((pk for pk, name in matches if name == ref), matches[0][0] if matches else None)
    if found is None:
        raise ValidationFailed(f"no user has the id or username {user!r}", field="user", value=user)
    return found


def audit_user_options() -> list[User]:
    """Every user, by username, for the page's "who" filter (people who left included: their events stay)."""
    return list(User.objects.order_by("username").only("id", "username", "first_name", "last_name"))


def _kind_q(kind: str, column: str) -> Q:
    # "signin.*" (or "signin.") is every kind under signin; anything else one kind. A range, not LIKE, so the
    # kind index is walked on both databases.
    prefix = kind.removesuffix("*")
    if prefix.endswith("."):
        return Q(**{f"{column}__gte": prefix, f"{column}__lt": prefix + "\uffff"})
    return Q(**{column: kind})


def _kind_matches(kind: str, value: str) -> bool:
    prefix = kind.removesuffix("*")
    return value.startswith(prefix) if prefix.endswith(".") else value == kind


def _check_kind(kind: str) -> None:
    if len(kind) > 64 or not _KIND.fullmatch(kind.removesuffix("*").removesuffix(".")):
        raise ValidationFailed(
            f"kind must be an event kind such as person.updated, or a family such as signin.*, got {kind!r}",
            field="kind",
            value=kind,
        )


def _aware(moment: dt.datetime | None, name: str) -> dt.datetime | None:
    if moment is None:
        return None
    try:
        return moment.astimezone(dt.UTC) if moment.tzinfo else moment.replace(tzinfo=dt.UTC)
    except (OverflowError, ValueError):
        raise ValidationFailed(
            f"{name} {moment.isoformat()} is out of range", field=name, value=moment.isoformat()
        ) from None


def _named(ids: list[int]) -> Q:
    named = Q()
    for key in PERSON_DATA_KEYS:
        named |= Q(**{f"data__{key}__in": ids})
    return Q(kind__in=PERSON_DATA_KINDS) & named


def _person_records(ids: list[int]) -> dict[str, set[int]]:
    # Parts (2) and (4) of "about a person" as ids by record type, in one UNION ALL query. Given as lists to the
    # events query, not as subqueries: PostgreSQL turns `IN (subquery)` into a filter over every event, while
    # lists let both databases combine one index range per record type.
    parts: list[QuerySet[Any]] = []
    for ref in person_references():
        model = apps.get_model(ref.model)
        if model is Event or model is StageChange:
            continue  # the events about the person are part (1); stage changes have no events of their own
        rows = model._default_manager.filter(**ref.where, **{f"{ref.column}__in": ids})
        parts.append(
            rows.annotate(t=Value(model._meta.label_lower), i=F("pk")).values_list("t", "i").order_by()
        )
    for kind, subject_type in DELETION_KINDS.items():
        rows = Event.objects.filter(_named(ids), kind=kind)
        parts.append(rows.annotate(t=Value(subject_type), i=F("subject_id")).values_list("t", "i").order_by())
    found: dict[str, set[int]] = {}
    for subject_type, pk in parts[0].union(*parts[1:], all=True).order_by():
        if pk is not None:
            found.setdefault(subject_type, set()).add(pk)
    return found


def _person_events(ids: list[int]) -> Q:
    # The four parts of "about a person" (see PERSON_DATA_KINDS), each an index range.
    about = Q(subject_type=PERSON_TYPE, subject_id__in=ids) | _named(ids)
    for subject_type, pks in sorted(_person_records(ids).items()):
        about |= Q(subject_type=subject_type, subject_id__in=sorted(pks))
    return about


@dataclass(frozen=True)
class _Query:
    events: QuerySet[Event] | None
    stage_changes: QuerySet[StageChange] | None


def _queries(
    *,
    person: str,
    record_type: str,
    record_id: int | None,
    user: str,
    kind: str,
    since: dt.datetime | None,
    until: dt.datetime | None,
) -> _Query:
    kind, record_type = kind.strip(), record_type.strip()
    if kind:
        _check_kind(kind)
    if record_type and (len(record_type) > 64 or not _RECORD_TYPE.fullmatch(record_type)):
        raise ValidationFailed(
            f"record_type must be a record type such as crm.deal, got {record_type!r}",
            field="record_type",
            value=record_type,
        )
    if record_id is not None and not record_type:
        raise ValidationFailed(
            "record_id needs a record_type such as crm.deal", field="record_type", value=""
        )
    if record_id is not None and not 0 < record_id <= MAX_ID:
        raise ValidationFailed(
            f"record_id must be a record's id, got {record_id}", field="record_id", value=record_id
        )
    since, until = _aware(since, "since"), _aware(until, "until")
    if since and until and until <= since:
        raise ValidationFailed(
            f"until ({until.isoformat()}) must be after since ({since.isoformat()})",
            field="until",
            value=until.isoformat(),
        )
    events: QuerySet[Event] = Event.objects.select_related("actor")
    stages: QuerySet[StageChange] | None = StageChange.objects.select_related("by_user")
    if person.strip():
        ids = audit_person_ids(person=person)
        events = events.filter(_person_events(ids))
        stages = stages.filter(person_id__in=ids) if stages is not None else None
    if record_type:
        events = events.filter(
            subject_type=record_type, **({"subject_id": record_id} if record_id is not None else {})
        )
        if record_type != PERSON_TYPE:
            stages = None
        elif record_id is not None and stages is not None:
            stages = stages.filter(person_id=record_id)
    if user.strip():
        actor = audit_user_id(user=user)
        events = events.filter(actor_id=actor)
        stages = stages.filter(by_user_id=actor) if stages is not None else None
    if kind:
        events = events.filter(_kind_q(kind, "kind"))
        if not _kind_matches(kind, STAGE_KIND):
            stages = None
    if since:
        events = events.filter(occurred_at__gte=since)
        stages = stages.filter(changed_at__gte=since) if stages is not None else None
    if until:
        events = events.filter(occurred_at__lt=until)
        stages = stages.filter(changed_at__lt=until) if stages is not None else None
    return _Query(events=events, stage_changes=stages)


# ---- the page ----


def _key(entry: AuditEntry) -> tuple[dt.datetime, int, int]:
    return entry.occurred_at, _RANK[entry.source], entry.id


def _cursor(entry: AuditEntry, *, backward: bool) -> str:
    return cursor_encode(
        Cursor(ORDER, f"{entry.occurred_at.isoformat()}~{entry.source}", entry.id, backward=backward)
    )


def _boundary(cursor: str) -> tuple[Cursor, dt.datetime, int]:
    found = cursor_decode(cursor, order=ORDER)
    moment, _, source = found.key.rpartition("~")
    try:
        at = dt.datetime.fromisoformat(moment)
        if at.tzinfo is None or source not in _RANK:
            raise ValueError("not an audit cursor")
    except ValueError:
        raise ValidationFailed(
            f"cursor {cursor!r} is not a valid page cursor", field="cursor", value=cursor
        ) from None
    return found, at, _RANK[source]


def _beyond(column: str, rank: int, at: dt.datetime, k_rank: int, k_id: int, *, older: bool) -> Q:
    # The rows of one source past the boundary (at, rank, id) in the order (time, source rank, id): older rows
    # going forward, newer going backward. The time bound comes first, so the time index drives the scan.
    if older:
        if rank < k_rank:
            return Q(**{f"{column}__lte": at})
        if rank > k_rank:
            return Q(**{f"{column}__lt": at})
        return Q(**{f"{column}__lte": at}) & (Q(**{f"{column}__lt": at}) | Q(id__lt=k_id))
    if rank > k_rank:
        return Q(**{f"{column}__gte": at})
    if rank < k_rank:
        return Q(**{f"{column}__gt": at})
    return Q(**{f"{column}__gte": at}) & (Q(**{f"{column}__gt": at}) | Q(id__gt=k_id))


def _rows(
    qs: QuerySet[Any], column: str, source: str, boundary: tuple[Cursor, dt.datetime, int] | None, limit: int
) -> list[Any]:
    # One source's rows of the page: up to limit + 1 past the boundary, in the page's direction.
    backward = boundary is not None and boundary[0].backward
    if boundary is not None:
        found, at, k_rank = boundary
        qs = qs.filter(_beyond(column, _RANK[source], at, k_rank, found.id, older=not found.backward))
    return list(qs.order_by(*((column, "id") if backward else (f"-{column}", "-id")))[: limit + 1])


def audit_page(
    *,
    person: str = "",
    record_type: str = "",
    record_id: int | None = None,
    user: str = "",
    kind: str = "",
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    cursor: str = "",
    limit: int = PAGE_SIZE,
) -> AuditPage:
    """A page of the audit log, newest first: events and stage changes filtered by person (id or e-mail), record,
    who acted (id or username), kind (or a family such as signin.*) and time (since inclusive, until exclusive)."""
    if not 1 <= limit <= MAX_PAGE_SIZE:
        raise ValidationFailed(
            f"limit must be between 1 and {MAX_PAGE_SIZE}, got {limit}", field="limit", value=limit
        )
    boundary = _boundary(cursor) if cursor else None
    query = _queries(
        person=person,
        record_type=record_type,
        record_id=record_id,
        user=user,
        kind=kind,
        since=since,
        until=until,
    )
    backward = boundary is not None and boundary[0].backward
    rows: list[AuditEntry] = []
    if query.events is not None:
        rows.extend(_from_event(r) for r in _rows(query.events, "occurred_at", EVENT, boundary, limit))
    if query.stage_changes is not None:
        rows.extend(
            _from_stage_change(r)
            for r in _rows(query.stage_changes, "changed_at", STAGE_CHANGE, boundary, limit)
        )
    rows.sort(key=_key, reverse=not backward)
    more = len(rows) > limit
    items = rows[:limit]
    if backward:
        items.reverse()
    if not items:
        return AuditPage(items=[], next_cursor=None, prev_cursor=None)
    # Going backward, the boundary row itself proves there is an older page; going forward, a cursor proves
    # there was a newer one.
    has_next = True if backward else more
    has_prev = more if backward else boundary is not None
    return AuditPage(
        items=items,
        next_cursor=_cursor(items[-1], backward=False) if has_next else None,
        prev_cursor=_cursor(items[0], backward=True) if has_prev else None,
    )


# ---- what the page and the command show: records by name, users by name, stages by name ----


def value_text(value: Any) -> str:
    """A stored value as one short line of text."""
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    text = (
        value
        if isinstance(value, str)
        else json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
    )
    return text if len(text) <= TEXT_MAX else text[: TEXT_MAX - 1] + "…"


def record_type_label(subject_type: str) -> str:
    """A record type in words ("crm.pipelinestage" → "pipeline stage")."""
    try:
        return str(apps.get_model(subject_type)._meta.verbose_name)
    except (LookupError, ValueError):
        return subject_type


def _ids(entries: list[AuditEntry], subject_type: str) -> set[int]:
    return {e.subject_id for e in entries if e.subject_type == subject_type and e.subject_id is not None}


def _change_ids(entries: list[AuditEntry], names: frozenset[str]) -> set[int]:
    return {
        v
        for e in entries
        for c in e.changes
        if c.field in names
        for v in (c.old, c.new)
        if isinstance(v, int) and not isinstance(v, bool)
    }


def audit_entries_describe(*, entries: list[AuditEntry]) -> None:
    """Name each entry's record (linked to its page when it has one) and show user and stage ids by name."""
    wanted = {t: _ids(entries, t) for t in (PERSON_TYPE, "crm.deal", "crm.account")}
    user_ids = _ids(entries, "users.user") | _change_ids(entries, USER_FIELDS)
    stage_ids = _change_ids(entries, PIPELINE_STAGE_FIELDS)
    # One query per kind of thing the page names, and none for a kind it does not.
    names: dict[str, dict[int, Any]] = {
        PERSON_TYPE: {p.pk: str(p) for p in Person.objects.filter(pk__in=wanted[PERSON_TYPE])}
        if wanted[PERSON_TYPE]
        else {},
        "crm.deal": dict(Deal.objects.filter(pk__in=wanted["crm.deal"]).values_list("id", "name"))
        if wanted["crm.deal"]
        else {},
        "crm.account": dict(Account.objects.filter(pk__in=wanted["crm.account"]).values_list("id", "name"))
        if wanted["crm.account"]
        else {},
    }
    users = {u.pk: u for u in User.objects.filter(pk__in=user_ids)} if user_ids else {}
    names["users.user"] = {pk: u.username for pk, u in users.items()}
    stages = (
        dict(PipelineStage.objects.filter(pk__in=stage_ids).values_list("id", "name")) if stage_ids else {}
    )
    for e in entries:
        type_label = record_type_label(e.subject_type) if e.subject_type else ""
        known = names.get(e.subject_type)
        if e.subject_id is None:
            e.record_label = type_label
        elif known is not None and e.subject_id not in known:
            # Deleted since (or merged away): named by id, and no link to a page that would answer 404.
            e.record_label = f"{type_label} #{e.subject_id} (deleted)"
        else:
            e.record_label = (known or {}).get(e.subject_id) or f"{type_label} #{e.subject_id}"
            page = RECORD_PAGES.get(e.subject_type)
            if page:
                try:
                    e.record_url = reverse(page, args=[e.subject_id])
                except NoReverseMatch:
                    e.record_url = None
        for c in e.changes:
            c.old_text, c.new_text = (_value_label(c.field, v, users, stages) for v in (c.old, c.new))


def _value_label(name: str, value: Any, users: dict[int, Any], stages: dict[int, str]) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        if name in USER_FIELDS and value in users:
            return users[value].username
        if name in PIPELINE_STAGE_FIELDS and value in stages:
            return stages[value]
    if name in LIFECYCLE_FIELDS and isinstance(value, str) and value in Stage.__members__.values():
        return LABELS[Stage(value)]
    return value_text(value)
