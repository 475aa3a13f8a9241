"""REST endpoints for a person's consent: the history with the current state, and recording a grant or withdrawal."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from django.http import HttpRequest
from ninja import Field, Router, Schema, Status
from pydantic import ConfigDict

from tandem.core.http import Id, NoNul, require_perm
from tandem.core.idempotency import idempotent
from tandem.crm.consent import selectors
from tandem.crm.consent.services import NOTE_MAX, consent_record
from tandem.crm.models import ConsentSource
from tandem.crm.selectors import person_get
from tandem.users.access import access_check

router = Router(tags=["people"])


class ConsentRecordOut(Schema):
    id: int
    channel: str = Field(..., description="email or calls")
    granted: bool = Field(..., description="true: consent given; false: withdrawn")
    at: dt.datetime = Field(..., description="when it was given or withdrawn")
    source: str = Field(..., description=f"where it came from: {', '.join(ConsentSource.values)}")
    by_user_id: int | None = Field(..., description="who recorded it (none for forms and imports)")
    note: str
    recorded_at: dt.datetime


class ChannelStateOut(Schema):
    channel: str
    granted: bool = Field(..., description="the current consent: the newest record's, false when none")
    since: dt.datetime | None = Field(None, description="when the newest record was given or withdrawn")
    source: str | None = None


class ConsentOut(Schema):
    person_id: int
    channels: list[ChannelStateOut]
    history: list[ConsentRecordOut] = Field(
        ..., description=f"newest first, at most {selectors.HISTORY_LIMIT}"
    )


class ConsentIn(Schema):
    model_config = ConfigDict(extra="forbid")

    channel: Literal["email", "calls"]
    granted: bool = Field(..., description="true to record consent given, false to record it withdrawn")
    note: Annotated[str, Field(max_length=NOTE_MAX), NoNul] = Field("", description="e.g. how it was given")


def _consent(person: Any) -> dict[str, Any]:
    history = selectors.consent_history(person_id=person.pk)
    channels = [
        {
            "channel": s.channel,
            "granted": s.granted,
            "since": s.record.at if s.record else None,
            "source": s.record.source if s.record else None,
        }
        for s in selectors.consent_state(person=person, history=history)
    ]
    return {"person_id": person.pk, "channels": channels, "history": history}


@router.get("/people/{int:person_id}/consent", response=ConsentOut)
def person_consent(request: HttpRequest, person_id: Id) -> Any:
    """A person's current consent per channel and every grant and withdrawal recorded, newest first."""
    require_perm(request, "crm.view_person", action="view people")
    return _consent(person_get(person_id=person_id, user=request.user))


@router.post("/people/{int:person_id}/consent", response={201: ConsentRecordOut})
@idempotent
def person_consent_record(request: HttpRequest, person_id: Id, payload: ConsentIn) -> Any:
    """Record that the person gave or withdrew consent on a channel (source `api`); the current state follows."""
    require_perm(request, "crm.change_person", action="record consent")
    person = access_check(person_get(person_id=person_id, user=request.user), user=request.user, write=True)
    record = consent_record(
        person=person,
        channel=payload.channel,
        granted=payload.granted,
        source=ConsentSource.API,
        by_user=request.user,
        note=payload.note,
    )
    return Status(201, record)
