"""Reads for the per-person export and for erasure: everything crm holds about one person, as plain values."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import Q

from tandem.core.errors import NotFound
from tandem.core.redact import needles_clean, phone_forms
from tandem.crm.consent.selectors import consent_records_export_person
from tandem.crm.identity import MERGED_EMAIL_SYSTEM, email_normalize_configured
from tandem.crm.models import Activity, Deal, DealContact, ExternalId, Person, StageChange, Task

PERSON_FIELDS = (
    "id", "email", "first_name", "last_name", "job_title", "phone", "account_id", "account__name", "owner_id",
    "owner__username", "lifecycle_stage", "lead_status", "original_channel", "original_campaign_id",
    "latest_channel", "latest_campaign_id", "consent_email", "consent_calls", "custom_fields", "created_at",
    "updated_at", "erased_at",
)  # fmt: skip


@dataclass(frozen=True)
class Needles:
    """What identifies a person in free text. `wide` is safe to redact in every row of the database (e-mails,
    the full name, the phone); `narrow` adds the single names, redacted only in rows about the person; `emails`
    alone pick rows that are theirs for an export (another person may share a name, never an e-mail)."""

    wide: list[str]
    narrow: list[str]
    emails: list[str]


def person_by_email(*, email: str) -> Person:
    """The person with this e-mail (as stored or normalised), or NotFound naming it."""
    clean = email.strip()
    person = (
        Person.objects.filter(
            Q(email_normalized=email_normalize_configured(clean) or clean.lower()) | Q(email__iexact=clean)
        )
        .order_by("id")
        .first()
        if clean
        else None
    )
    if person is None:
        raise NotFound(f"no person with e-mail {clean!r}", field="email", value=clean)
    return person


def person_needles(*, person: Person) -> Needles:
    """The strings that identify this person: their e-mails (with those merged into them), name and phone."""
    merged = list(
        ExternalId.objects.filter(person_id=person.pk, system=MERGED_EMAIL_SYSTEM).values_list(
            "external_id", flat=True
        )
    )
    first, last = person.first_name.strip(), person.last_name.strip()
    full = f"{first} {last}".strip()
    emails = needles_clean([person.email, person.email_normalized, *merged])
    wide = needles_clean([*emails, *phone_forms(person.phone), full if first and last else ""])
    narrow = needles_clean(
        [*wide, full, first, last, f"{last} {first}".strip(), f"{last}, {first}".strip(", ")]
    )
    return Needles(wide=wide, narrow=narrow, emails=emails)


def person_subjects(*, person_id: int) -> dict[str, list[int]]:
    """The person's own rows in crm by event subject type: their events are about the person too."""
    return {
        "crm.person": [person_id],
        "crm.activity": list(Activity.objects.filter(person_id=person_id).values_list("id", flat=True)),
        "crm.task": list(Task.objects.filter(person_id=person_id).values_list("id", flat=True)),
        "crm.externalid": list(ExternalId.objects.filter(person_id=person_id).values_list("id", flat=True)),
    }


def person_deal_ids(*, person_id: int) -> list[int]:
    """Deals the person is on: as the main contact or on the buying team."""
    return sorted(
        set(Deal.objects.filter(person_id=person_id).values_list("id", flat=True))
        | set(DealContact.objects.filter(person_id=person_id).values_list("deal_id", flat=True))
    )


def person_export(*, person_id: int) -> dict[str, list[dict[str, Any]]]:
    """Everything crm holds about one person, table by table, oldest first (the per-person export)."""
    person = list(Person.objects.filter(pk=person_id).values(*PERSON_FIELDS))
    if not person:
        raise NotFound(f"no person with id {person_id}", field="id", value=person_id)
    deal_ids = person_deal_ids(person_id=person_id)
    return {
        "person": person,
        "external_ids": list(
            ExternalId.objects.filter(person_id=person_id)
            .order_by("id")
            .values("id", "system", "external_id", "created_at")
        ),
        "consent_records": consent_records_export_person(person_id=person_id),
        "stage_changes": list(
            StageChange.objects.filter(person_id=person_id)
            .order_by("changed_at", "id")
            .values(
                "id",
                "from_stage",
                "to_stage",
                "changed_at",
                "by_user_id",
                "rule",
                "rule_version",
                "reason",
                "details",
            )
        ),
        "activities": list(
            Activity.objects.filter(person_id=person_id)
            .order_by("occurred_at", "id")
            .values(
                "id",
                "kind_id",
                "direction",
                "outcome",
                "subject",
                "occurred_at",
                "duration_minutes",
                "notes",
                "deal_id",
                "account_id",
                "user_id",
                "external_id",
                "created_at",
            )
        ),
        "deals": list(
            Deal.objects.filter(pk__in=deal_ids)
            .order_by("created_at", "id")
            .values(
                "id",
                "external_id",
                "name",
                "person_id",
                "account_id",
                "owner_id",
                "amount",
                "currency",
                "stage",
                "pipeline__name",
                "pipeline_stage__name",
                "expected_close_on",
                "created_at",
                "closed_at",
                "lost_reason__name",
            )
        ),
        "deal_roles": list(
            DealContact.objects.filter(person_id=person_id)
            .order_by("id")
            .values("id", "deal_id", "role", "created_at")
        ),
        "tasks": list(
            Task.objects.filter(person_id=person_id)
            .order_by("due_at", "id")
            .values(
                "id",
                "title",
                "notes",
                "due_at",
                "owner_id",
                "deal_id",
                "priority",
                "source",
                "done_at",
                "created_at",
            )
        ),
    }
