"""Reads for the personal-data procedures: everything every app holds about one person, section by section.

privacy stands above every app that keeps rows about people (crm up to analytics), so it asks each owner's
selector for its part; no app reads another's tables for it.
"""

from __future__ import annotations

from typing import Any

from tandem.analytics.statistics.selectors import experiment_assignments_export_person
from tandem.audiences.selectors import audience_members_export_person
from tandem.campaigns.selectors import touchpoints_export_person
from tandem.capture.csvimport.selectors import import_rows_export_person
from tandem.capture.intake.selectors import submissions_export_person, submissions_of_person
from tandem.core.events import events_export_subjects
from tandem.crm.models import Person
from tandem.crm.privacy.selectors import person_deal_ids, person_export, person_needles, person_subjects
from tandem.enablement.models import ContentUse
from tandem.enablement.requests.selectors import requests_export_deals
from tandem.enablement.selectors import content_uses_export_person
from tandem.feedback.models import LeadRating, Question
from tandem.feedback.selectors import lead_ratings_export_person, questions_export_person
from tandem.lifecycle.selectors import notifications_export_person
from tandem.scoring.selectors import person_score_export_person
from tandem.users.models import Role


def privacy_erase_allowed(*, user: Any) -> bool:
    """Erasing a person is an admin's act (superusers too): it cannot be undone."""
    if user is None or not getattr(user, "is_authenticated", False) or not getattr(user, "is_active", False):
        return False
    return bool(user.is_superuser or getattr(user, "role", "") == Role.ADMIN)


def person_event_subjects(*, person: Person, emails: list[str]) -> dict[str, list[int]]:
    """The person's own rows in every app by event subject type: the events about these are about them."""
    subjects = person_subjects(person_id=person.pk)
    subjects["feedback.question"] = list(
        Question.objects.filter(person_id=person.pk).values_list("id", flat=True)
    )
    subjects["feedback.leadrating"] = list(
        LeadRating.objects.filter(person_id=person.pk).values_list("id", flat=True)
    )
    subjects["enablement.contentuse"] = list(
        ContentUse.objects.filter(person_id=person.pk).values_list("id", flat=True)
    )
    subjects["capture.submission"] = list(
        submissions_of_person(person_id=person.pk, needles=emails).values_list("id", flat=True)
    )
    return subjects


def person_data(*, person: Person) -> dict[str, list[dict[str, Any]]]:
    """Everything held about one person, as sections of plain rows (the per-person export's content)."""
    needles = person_needles(person=person)
    sections = person_export(person_id=person.pk)
    sections["touchpoints"] = touchpoints_export_person(person_id=person.pk)
    sections["questions"] = questions_export_person(person_id=person.pk)
    sections["lead_ratings"] = lead_ratings_export_person(person_id=person.pk)
    sections["submissions"] = submissions_export_person(person_id=person.pk, needles=needles.emails)
    sections["events"] = events_export_subjects(
        subjects=person_event_subjects(person=person, emails=needles.emails)
    )
    sections["content_uses"] = content_uses_export_person(person_id=person.pk)
    sections["collateral_requests"] = requests_export_deals(deal_ids=person_deal_ids(person_id=person.pk))
    sections["notifications"] = notifications_export_person(person_id=person.pk)
    sections["score"] = person_score_export_person(person_id=person.pk)
    sections["experiment_assignments"] = experiment_assignments_export_person(person_id=person.pk)
    sections["import_file_rows"] = import_rows_export_person(needles=needles.emails)
    sections["audience_memberships"] = audience_members_export_person(person_id=person.pk)
    return sections
