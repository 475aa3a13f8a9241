"""Writing to the event log: the one helper every service calls after a state change."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Mapping
from typing import Any

from django.utils import timezone

from tandem.core.bulk import chunked
from tandem.core.dataversion import data_version_bump_for
from tandem.core.erasure import rows_mentioning, rows_plain, rows_redact
from tandem.core.models import Event


def event_record(
    *,
    kind: str,
    subject: Any = None,
    subject_type: str = "",
    subject_id: int | None = None,
    actor: Any = None,
    rule: str = "",
    rule_version: int | None = None,
    reason: str = "",
    data: dict[str, Any] | None = None,
    occurred_at: dt.datetime | None = None,
) -> Event:
    """Append one event row describing a state change."""
    if subject is not None:
        subject_type = subject_type or subject._meta.label_lower
        subject_id = subject.pk
    # A change to a record reports read moves the data version once it commits (tandem.core.dataversion).
    data_version_bump_for(subject_type)
    return Event.objects.create(
        kind=kind,
        subject_type=subject_type,
        subject_id=subject_id,
        actor=actor if getattr(actor, "pk", None) else None,
        rule=rule,
        rule_version=rule_version,
        reason=reason,
        data=data or {},
        occurred_at=occurred_at or timezone.now(),
    )


# ---- erasure (tandem.privacy): the event log keeps who did what and when, not the person's values ----

# Keys of event data that hold a person's own values (their name, a note about them, a form's answers): blanked
# in the events about the person and their own rows. Counts, ids, stages and channels stay, so histories and
# reports built on events stay true.
PERSONAL_KEYS = frozenset(
    {
        "email", "merged_email", "first_name", "last_name", "full_name", "name", "phone", "job_title",
        "notes", "note", "text", "subject", "title", "url", "referrer", "custom_fields", "filled", "properties",
        "external_id", "unit_id",
    }
)  # fmt: skip


def events_erase_person(
    *, subjects: Mapping[str, Collection[int]], needles: Collection[str], wide_needles: Collection[str]
) -> int:
    """Take one person's values out of the event log; returns how many events changed.

    Events about the person and their own rows (`subjects`: subject type -> ids) lose the values under
    PERSONAL_KEYS and every needle (their names, e-mails, phone) in data and reason; any other event that
    mentions a wide needle (an e-mail, the full name, the phone: never a bare first name, which names others
    too) has those redacted.
    """
    changed = 0
    for subject_type, ids in subjects.items():
        for chunk in chunked(sorted(set(ids))):
            rows = Event.objects.filter(subject_type=subject_type, subject_id__in=chunk)
            changed += rows_redact(rows=rows, needles=needles, text=["reason"], json=["data"], keys=PERSONAL_KEYS)
    mentioning = rows_mentioning(rows=Event.objects.all(), needles=wide_needles, text=["reason"], json=["data"])
    changed += rows_redact(rows=mentioning, needles=wide_needles, text=["reason"], json=["data"])
    return changed


def events_export_subjects(*, subjects: Mapping[str, Collection[int]]) -> list[dict[str, Any]]:
    """Every event about these subjects (subject type -> ids), oldest first, as plain values."""
    out: list[dict[str, Any]] = []
    for subject_type, ids in subjects.items():
        for chunk in chunked(sorted(set(ids))):
            out.extend(
                rows_plain(
                    Event.objects.filter(subject_type=subject_type, subject_id__in=chunk).values(
                        "id", "occurred_at", "kind", "subject_type", "subject_id", "actor_id", "rule", "rule_version",
                        "reason", "data",
                    )
                )
            )
    out.sort(key=lambda e: (e["occurred_at"], e["id"]))
    return out
