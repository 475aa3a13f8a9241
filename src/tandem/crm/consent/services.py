"""Writes of consent: the one path (`consent_record`, `consents_record_bulk`) that changes a person's consent.

A person's consent on a channel is the newest ConsentRecord of that channel (by `at`, then id); no record means
no consent. `Person.consent_email` / `consent_calls` hold that state denormalised, so filters (exports, the
hand-off's definitions, scoring) stay one indexed column: only this module writes them, in the same transaction
as the record (a test scans the source for any other writer).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any

from django.db import transaction
from django.utils import timezone

from tandem.core.bulk import chunked
from tandem.core.errors import NotAllowed, ValidationFailed
from tandem.core.events import event_record
from tandem.core.text import text_clean
from tandem.crm.consent.selectors import FLAG
from tandem.crm.models import ConsentChannel, ConsentRecord, ConsentSource, Person

NOTE_MAX = 2000


def _channel(channel: Any) -> str:
    if channel not in FLAG:
        raise ValidationFailed(
            f"unknown consent channel {channel!r}; one of {', '.join(FLAG)}", field="channel", value=channel
        )
    return str(channel)


def _source(source: Any) -> str:
    if source not in ConsentSource.values:
        raise ValidationFailed(
            f"unknown consent source {source!r}; one of {', '.join(ConsentSource.values)}",
            field="source",
            value=source,
        )
    return str(source)


def _latest(*, person_id: int, channel: str) -> bool:
    newest = (
        ConsentRecord.objects.filter(person_id=person_id, channel=channel)
        .order_by("-at", "-id")
        .values_list("granted", flat=True)
        .first()
    )
    return bool(newest)


@transaction.atomic
def consent_record(
    *,
    person: Person,
    channel: str,
    granted: bool,
    source: str,
    by_user: Any = None,
    at: dt.datetime | None = None,
    note: str = "",
) -> ConsentRecord:
    """Record that a person gave (granted) or withdrew consent on one channel; their current consent follows."""
    channel = _channel(channel)
    source = _source(source)
    if not isinstance(granted, bool):
        raise ValidationFailed("granted must be true or false", field="granted", value=granted)
    note = text_clean(note, field="note", max_length=NOTE_MAX, required=False)
    # Locked so two records at once cannot leave the flag behind the newest of them.
    locked = Person.objects.select_for_update().only("id", "erased_at", *FLAG.values()).get(pk=person.pk)
    if locked.erased_at is not None:
        raise NotAllowed(
            f"person #{person.pk} was erased: no consent can be recorded", field="person_id", value=person.pk
        )
    flag = FLAG[channel]
    before = bool(getattr(locked, flag))
    record = ConsentRecord.objects.create(
        person_id=person.pk,
        channel=channel,
        granted=granted,
        at=at or timezone.now(),
        source=source,
        by_user=by_user if getattr(by_user, "pk", None) else None,
        note=note,
    )
    # A record dated before the newest one (a late import of old history) changes the history, not the state.
    after = _latest(person_id=person.pk, channel=channel)
    if after != before:
        Person.objects.filter(pk=person.pk).update(**{flag: after}, updated_at=timezone.now())
    setattr(person, flag, after)
    what = {"channel": channel, "granted": granted, "source": source, "record_id": record.pk}
    # A change of state is a `person.updated` with the flag's old and new value, as every profile edit is:
    # scoring dates its profile history and rescores from those events. A record that changes nothing (a form
    # ticked again) is kept as evidence under its own kind.
    event_record(
        kind="person.updated" if after != before else "person.consent_recorded",
        subject=person,
        actor=by_user,
        occurred_at=at,
        data={"changes": {flag: [before, after]}, "consent": what} if after != before else {"consent": what},
    )
    return record


def consents_record_bulk(*, records: Sequence[ConsentRecord]) -> int:
    """Insert many unsaved consent records (capture, imports, the demo) and bring their people's flags up to date.

    No event per record: the caller records its own summary event, as the other bulk variants do.
    """
    if not records:
        return 0
    for record in records:
        _channel(record.channel)
        _source(record.source)
        if record.at is None:
            raise ValidationFailed("a consent record needs its time", field="at", value=None)
    with transaction.atomic():
        ConsentRecord.objects.bulk_create(records, batch_size=2000)
        consent_flags_refresh(person_ids={r.person_id for r in records})
    return len(records)


def consent_flags_refresh(*, person_ids: Iterable[int]) -> int:
    """Set these people's consent flags to their newest record per channel (after records were added or moved)."""
    changed = 0
    now = timezone.now()
    for chunk in chunked(sorted(set(person_ids))):
        state: dict[int, dict[str, bool]] = {pid: dict.fromkeys(FLAG, False) for pid in chunk}
        rows = (
            ConsentRecord.objects.filter(person_id__in=chunk)
            .order_by("person_id", "channel", "at", "id")
            .values_list("person_id", "channel", "granted")
        )
        for pid, channel, granted in rows:
            state[pid][channel] = granted  # the last one per (person, channel) is the newest
        groups: dict[tuple[bool, bool], list[int]] = {}
        current = Person.objects.filter(pk__in=chunk).values_list("id", "consent_email", "consent_calls")
        for pid, email, calls in current:
            wanted = (state[pid][ConsentChannel.EMAIL], state[pid][ConsentChannel.CALLS])
            if wanted != (email, calls):
                groups.setdefault(wanted, []).append(pid)
        for (email, calls), ids in groups.items():
            changed += Person.objects.filter(pk__in=ids).update(
                consent_email=email, consent_calls=calls, updated_at=now
            )
    return changed


def consent_records_erase_person(*, person_id: int) -> int:
    """Delete every consent record of a person being erased and clear their flags (tandem.privacy)."""
    deleted, _ = ConsentRecord.objects.filter(person_id=person_id).delete()
    Person.objects.filter(pk=person_id).update(consent_email=False, consent_calls=False)
    return deleted
