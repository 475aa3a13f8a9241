"""Reads of consent: a person's history and their current state per channel, derived from the records."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tandem.core.erasure import rows_plain
from tandem.crm.models import ConsentChannel, ConsentRecord, Person

# The Person column that holds each channel's current state (the consent service writes it).
FLAG = {ConsentChannel.EMAIL.value: "consent_email", ConsentChannel.CALLS.value: "consent_calls"}

HISTORY_LIMIT = 200


@dataclass(frozen=True)
class ChannelState:
    """A channel's current consent and the newest record behind it (None: never recorded, so not given)."""

    channel: str
    label: str
    granted: bool
    record: ConsentRecord | None


def consent_history(*, person_id: int, limit: int = HISTORY_LIMIT) -> list[ConsentRecord]:
    """A person's consent records, newest first, with who recorded each (one query)."""
    return list(
        ConsentRecord.objects.filter(person_id=person_id)
        .select_related("by_user")
        .order_by("-at", "-id")[:limit]
    )


def consent_state(*, person: Person, history: list[ConsentRecord]) -> list[ChannelState]:
    """Each channel's current consent (the person's flag, which the consent service keeps equal to the newest
    record) with the newest record of a history read newest first."""
    newest: dict[str, ConsentRecord] = {}
    for record in history:
        newest.setdefault(record.channel, record)
    return [
        ChannelState(
            channel=c.value,
            label=str(c.label),
            granted=bool(getattr(person, FLAG[c.value])),
            record=newest.get(c.value),
        )
        for c in ConsentChannel
    ]


def consent_records_export_person(*, person_id: int) -> list[dict[str, Any]]:
    """Every consent record of a person, oldest first, as plain values (the per-person export)."""
    return rows_plain(
        ConsentRecord.objects.filter(person_id=person_id)
        .order_by("at", "id")
        .values("id", "channel", "granted", "at", "source", "by_user_id", "note", "recorded_at")
    )
