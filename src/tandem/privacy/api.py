"""REST endpoints for personal data: one person's export (a ZIP) and their erasure."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from django.http import HttpRequest, HttpResponse
from ninja import Field, Router, Schema
from pydantic import ConfigDict

from tandem.core.http import Id, NoNul, require_perm, zip_response
from tandem.crm.selectors import person_get
from tandem.privacy import services
from tandem.privacy.selectors import privacy_erase_allowed
from tandem.users.access import access_check

router = Router(tags=["people"])


class PrivacyErrorOut(Schema):
    detail: str
    field: str | None = None
    value: str | None = None


class EraseIn(Schema):
    model_config = ConfigDict(extra="forbid")

    reason: Annotated[str, Field(min_length=1, max_length=services.REASON_MAX), NoNul] = Field(
        ...,
        description="why (a request under GDPR art. 17, say); kept in the audit log, so it must not name them",
    )


class ErasureOut(Schema):
    person_id: int
    erased_at: dt.datetime
    counts: dict[str, int] = Field(..., description="rows changed, deleted or redacted, by table and step")


@router.get(
    "/people/{int:person_id}/export",
    response={200: None, 403: PrivacyErrorOut, 404: PrivacyErrorOut, 409: PrivacyErrorOut},
    summary="Export everything about a person (.zip of JSON and CSV)",
)
def person_export(request: HttpRequest, person_id: Id) -> HttpResponse:
    """Everything Tandem holds about one person (profile, consent, stages, touchpoints, activities, deals, tasks,
    questions, ratings, journal rows, events, content, notifications, import rows) as a ZIP of person.json and
    one CSV per section. Needs the permission to change the person (it is theirs to answer for); leaves an audit
    event."""
    require_perm(request, "crm.change_person", action="export a person's data")
    person = access_check(person_get(person_id=person_id, user=request.user), user=request.user, write=True)
    data = services.person_export(person=person, by_user=request.user, via="api")
    return zip_response(data=data, filename=f"tandem-person-{person.pk}.zip")


@router.post(
    "/people/{int:person_id}/erase",
    response={
        200: ErasureOut,
        403: PrivacyErrorOut,
        404: PrivacyErrorOut,
        409: PrivacyErrorOut,
        422: PrivacyErrorOut,
    },
    summary="Erase a person everywhere (admins only)",
)
def person_erase(request: HttpRequest, person_id: Id, payload: EraseIn) -> Any:
    """Erase a person: everything that identifies them goes from every table (journal rows, events' values,
    notes, search indexes); their row stays as an anonymous placeholder so reports keep their totals. Admins
    only; 422 when the reason names the person, 409 when already erased. Cannot be undone."""
    require_perm(
        request, allowed=privacy_erase_allowed(user=request.user), action="erase people (admins only)"
    )
    person = person_get(person_id=person_id, user=request.user)
    return services.person_erase(person=person, reason=payload.reason, by_user=request.user, via="api")
