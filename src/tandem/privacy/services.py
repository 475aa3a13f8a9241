"""The personal-data procedures: one person's export as a ZIP, and their erasure from every app at once.

Erasure keeps the person's row as an anonymous placeholder (tandem.crm.privacy.services.person_anonymise):
every stage change, touchpoint, deal and activity keeps pointing at it, so the funnel, attribution and unit
economics count exactly what they counted before, while nothing that identifies the person (e-mail, name,
phone, address, browser, what was written about them) remains. Each app erases its own rows through its own
service; this module only runs them, in one transaction, and leaves the audit event.
"""

from __future__ import annotations

import datetime as dt
import getpass
import io
import json
import zipfile
from dataclasses import dataclass, field
from typing import Any

from django.contrib.admin.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction
from django.utils import timezone

from tandem.analytics.statistics.services import experiment_assignments_erase_person
from tandem.audiences.services import audience_members_erase_person
from tandem.campaigns.services import touchpoints_erase_person
from tandem.capture.csvimport.services import import_files_erase_person
from tandem.capture.intake.services import submissions_erase_person
from tandem.core import csvsafe
from tandem.core.erasure import rows_mentioning, rows_redact
from tandem.core.errors import NotAllowed, NotFound, ValidationFailed
from tandem.core.events import event_record, events_erase_person
from tandem.core.idempotency import idempotency_keys_erase_person
from tandem.core.redact import mentions_any
from tandem.core.text import text_clean
from tandem.crm.models import Person
from tandem.crm.privacy.selectors import person_needles
from tandem.crm.privacy.services import crm_erase_person, person_anonymise
from tandem.enablement.requests.services import requests_erase_person
from tandem.enablement.services import content_uses_erase_person
from tandem.feedback.services import questions_erase_person
from tandem.integrations.mail.services import tracked_links_erase_person
from tandem.lifecycle.services import notifications_erase_person
from tandem.privacy.selectors import person_data, person_event_subjects
from tandem.scoring.services import person_score_erase_person
from tandem.search.services import search_index_compact
from tandem.webhooks.services import deliveries_erase_person, webhook_emit

REASON_MAX = 500
ERASED_EVENT = "privacy.person_erased"
EXPORTED_EVENT = "privacy.person_exported"
README = """Everything Tandem held about person #{pk} on {at:%Y-%m-%d %H:%M} UTC.

person.json holds every section below in one document; each section is also a CSV file (JSON values in a cell
are written as JSON text; cells starting with = + - @ carry a leading quote so that spreadsheets show them as
text). Ids refer to other rows of this export or of Tandem (users, campaigns, pipelines).

{sections}
"""


def _via(by_user: Any, via: str) -> dict[str, str]:
    # Who acted: a signed-in user is the event's actor; the command line names the operating-system account.
    out = {"via": via}
    if via == "cli" and not getattr(by_user, "pk", None):
        try:
            out["os_user"] = getpass.getuser()
        except (KeyError, OSError):
            out["os_user"] = ""
    return out


def _csv(rows: list[dict[str, Any]]) -> str:
    columns: list[str] = []
    for row in rows:
        for key in row:
            if key not in columns:
                columns.append(key)
    out = io.StringIO(newline="")
    writer = csvsafe.writer(out, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_cell(row.get(c)) for c in columns])
    return out.getvalue()


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, dict | list):
        return json.dumps(value, cls=DjangoJSONEncoder, ensure_ascii=False, sort_keys=True)
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    return value


def person_export(*, person: Person, by_user: Any = None, via: str = "ui") -> bytes:
    """Everything held about one person as a ZIP of JSON and CSV files; leaves an audit event (no personal data)."""
    if person.erased_at is not None:
        raise NotAllowed(
            f"person #{person.pk} was erased: nothing personal is left to export", field="id", value=person.pk
        )
    now = timezone.now()
    sections = person_data(person=person)
    document = {"person_id": person.pk, "exported_at": now, "sections": sections}
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        listing = "\n".join(
            f"  {name}.csv: {len(rows)} row{'s' if len(rows) != 1 else ''}" for name, rows in sections.items()
        )
        archive.writestr("README.txt", README.format(pk=person.pk, at=now, sections=listing))
        archive.writestr(
            "person.json",
            json.dumps(document, cls=DjangoJSONEncoder, ensure_ascii=False, indent=2, sort_keys=True),
        )
        for name, rows in sections.items():
            archive.writestr(f"{name}.csv", _csv(rows))
    event_record(
        kind=EXPORTED_EVENT,
        subject=person,
        actor=by_user,
        data={"sections": {name: len(rows) for name, rows in sections.items()}, **_via(by_user, via)},
    )
    return buffer.getvalue()


@dataclass
class Erasure:
    """What an erasure did: the person's id (the row stays, anonymous), when, and how many rows each step changed."""

    person_id: int
    erased_at: dt.datetime
    counts: dict[str, int] = field(default_factory=dict)


def _admin_log_erase(*, person_id: int, needles: list[str], wide_needles: list[str]) -> int:
    # Django admin's own log (no app of ours owns it): its entries about the person name them in object_repr.
    kind = ContentType.objects.get_for_model(Person)
    about = rows_redact(
        rows=LogEntry.objects.filter(content_type=kind, object_id=str(person_id)),
        needles=needles,
        text=["change_message"],
        blank={"object_repr": f"Person #{person_id} (erased)"},
    )
    others = rows_redact(
        rows=rows_mentioning(
            rows=LogEntry.objects.all(), needles=wide_needles, text=["object_repr", "change_message"]
        ),
        needles=wide_needles,
        text=["object_repr", "change_message"],
    )
    return about + others


def person_erase(*, person: Person, reason: str, by_user: Any = None, via: str = "ui") -> Erasure:
    """Erase a person everywhere, keeping the anonymous counts; the audit event names who and why, not them."""
    reason = text_clean(reason, field="reason", max_length=REASON_MAX, required=True)
    previous_secure_delete = _secure_delete(on=True)
    try:
        with transaction.atomic():
            return _erase(person=person, reason=reason, by_user=by_user, via=via)
    finally:
        _secure_delete(on=previous_secure_delete)


def _secure_delete(*, on: bool) -> bool:
    # SQLite keeps deleted text in free pages of the file until they are reused; secure_delete overwrites them
    # with zeros while the erasure runs. Returns the setting it replaced.
    if connection.vendor != "sqlite":
        return False
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA secure_delete")
        row = cursor.fetchone()
        cursor.execute(f"PRAGMA secure_delete = {'ON' if on else 'OFF'}")
    return bool(row and row[0])


def _erase(*, person: Person, reason: str, by_user: Any, via: str) -> Erasure:
    locked = Person.objects.select_for_update().filter(pk=person.pk).first()
    if locked is None:
        raise NotFound(f"no person with id {person.pk}", field="id", value=person.pk)
    if locked.erased_at is not None:
        raise NotAllowed(
            f"person #{locked.pk} was already erased on {locked.erased_at:%Y-%m-%d}",
            field="id",
            value=locked.pk,
        )
    needles = person_needles(person=locked)
    if mentions_any(reason, needles=needles.narrow):
        # The reason stays in the audit log for good: it must not bring back what the erasure removes.
        raise ValidationFailed(
            "the reason must not contain the person's e-mail, name or phone: it is kept in the audit log",
            field="reason",
            value=None,
        )
    subjects = person_event_subjects(person=locked, emails=needles.emails)
    counts: dict[str, int] = {}
    counts["events"] = events_erase_person(
        subjects=subjects, needles=needles.narrow, wide_needles=needles.wide
    )
    counts.update(
        submissions_erase_person(person_id=locked.pk, emails=needles.emails, needles=needles.narrow)
    )
    counts.update(import_files_erase_person(needles=needles.emails))
    counts["touchpoints"] = touchpoints_erase_person(person_id=locked.pk, needles=needles.narrow)
    counts.update(
        questions_erase_person(person_id=locked.pk, needles=needles.narrow, wide_needles=needles.wide)
    )
    counts["content_uses"] = content_uses_erase_person(person_id=locked.pk, needles=needles.narrow)
    counts["tracked_links"] = tracked_links_erase_person(person_id=locked.pk)
    counts["collateral_requests"] = requests_erase_person(needles=needles.wide)
    counts["notifications"] = notifications_erase_person(
        person_id=locked.pk, needles=needles.narrow, wide_needles=needles.wide
    )
    counts["score"] = person_score_erase_person(person_id=locked.pk)
    counts["webhook_deliveries"] = deliveries_erase_person(needles=needles.wide)
    counts["idempotency_keys"] = idempotency_keys_erase_person(needles=needles.wide)
    counts["experiment_assignments"] = experiment_assignments_erase_person(
        person_id=locked.pk, needles=needles.wide
    )
    counts["audience_members"] = audience_members_erase_person(person_id=locked.pk)
    counts.update(crm_erase_person(person_id=locked.pk, needles=needles))
    counts["admin_log"] = _admin_log_erase(
        person_id=locked.pk, needles=needles.narrow, wide_needles=needles.wide
    )
    at = timezone.now()
    person_anonymise(person_id=locked.pk, at=at)
    counts["search_indexes"] = search_index_compact(tables=("crm_person", "crm_deal", "crm_account"))
    event_record(
        kind=ERASED_EVENT,
        subject_type="crm.person",
        subject_id=locked.pk,
        actor=by_user,
        reason=reason,
        occurred_at=at,
        data={"counts": counts, **_via(by_user, via)},
    )
    webhook_emit(event_type="person.erased", data={"id": locked.pk}, occurred_at=at)
    person.refresh_from_db()
    return Erasure(person_id=locked.pk, erased_at=at, counts=counts)
