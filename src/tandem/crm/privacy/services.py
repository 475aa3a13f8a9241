"""Erasing one person from crm's tables (tandem.privacy runs these in one transaction, with the other apps').

The person's row stays, emptied of everything that identifies them and marked erased: stage changes,
touchpoints, deals and activities keep pointing at it, so the funnel, attribution and unit economics count
exactly what they counted before. What was said or written about the person (notes, subjects, reasons) goes.
"""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from tandem.core.erasure import rows_mentioning, rows_redact
from tandem.core.events import PERSONAL_KEYS
from tandem.crm.consent.services import consent_records_erase_person
from tandem.crm.models import (
    Account,
    Activity,
    Deal,
    DealStageChange,
    ExternalId,
    Person,
    StageChange,
    Task,
)
from tandem.crm.privacy.selectors import Needles, person_deal_ids

# What an erased task about the person is called (a task needs a title).
ERASED_TASK_TITLE = "Task about an erased person"


def person_anonymise(*, person_id: int, at: dt.datetime | None = None) -> int:
    """Empty a person's row of everything that identifies them and mark it erased; stage, channels, campaigns,
    account and owner stay (the anonymous facts reports count)."""
    return Person.objects.filter(pk=person_id).update(
        email="",
        email_normalized=None,
        first_name="",
        last_name="",
        name_key="",
        job_title="",
        phone="",
        custom_fields={},
        consent_email=False,
        consent_calls=False,
        erased_at=at or timezone.now(),
        updated_at=timezone.now(),
    )


def crm_erase_person(*, person_id: int, needles: Needles) -> dict[str, int]:
    """Erase one person from crm's tables (all but their own row, see `person_anonymise`); returns counts."""
    counts: dict[str, int] = {}
    counts["consent_records"] = consent_records_erase_person(person_id=person_id)
    counts["external_ids"], _ = ExternalId.objects.filter(person_id=person_id).delete()
    counts["stage_changes"] = rows_redact(
        rows=StageChange.objects.filter(person_id=person_id),
        needles=needles.narrow,
        text=["reason"],
        json=["details"],
        keys=PERSONAL_KEYS,
    )
    # Their activities stay (the SLA's touches, engagement), without what was written about them.
    counts["activities"] = rows_redact(
        rows=Activity.objects.filter(person_id=person_id),
        needles=needles.narrow,
        blank={"subject": "", "notes": ""},
    )
    counts["activities_mentioning"] = rows_redact(
        rows=rows_mentioning(
            rows=Activity.objects.exclude(person_id=person_id),
            needles=needles.wide,
            text=["subject", "notes"],
        ),
        needles=needles.wide,
        text=["subject", "notes"],
    )
    # Open tasks about them have nothing left to do; done ones stay (a rep's work), without their words.
    counts["tasks_deleted"], _ = Task.objects.filter(person_id=person_id, done_at__isnull=True).delete()
    counts["tasks"] = rows_redact(
        rows=Task.objects.filter(person_id=person_id),
        needles=needles.narrow,
        blank={"title": ERASED_TASK_TITLE, "notes": ""},
    )
    counts["tasks_mentioning"] = rows_redact(
        rows=rows_mentioning(
            rows=Task.objects.exclude(person_id=person_id), needles=needles.wide, text=["title", "notes"]
        ),
        needles=needles.wide,
        text=["title", "notes"],
    )
    # Deals are the company's and stay whole (amounts, stages, history); only a name or reason naming them changes.
    deal_ids = person_deal_ids(person_id=person_id)
    counts["deals"] = rows_redact(
        rows=rows_mentioning(
            rows=Deal.objects.all(), needles=needles.wide, text=["name"], json=["custom_fields"]
        )
        | Deal.objects.filter(pk__in=deal_ids),
        needles=needles.wide,
        text=["name"],
        json=["custom_fields"],
    )
    counts["deal_stage_changes"] = rows_redact(
        rows=DealStageChange.objects.filter(deal_id__in=deal_ids)
        | rows_mentioning(rows=DealStageChange.objects.all(), needles=needles.wide, text=["reason"]),
        needles=needles.wide,
        text=["reason"],
    )
    counts["accounts"] = rows_redact(
        rows=rows_mentioning(
            rows=Account.objects.all(), needles=needles.wide, text=["name"], json=["custom_fields"]
        ),
        needles=needles.wide,
        text=["name"],
        json=["custom_fields"],
    )
    return counts
