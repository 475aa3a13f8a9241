"""REST endpoints for sales activities and their kinds: the services and selectors the pages use."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from django.http import HttpRequest, HttpResponse
from ninja import Field, Path, Query, Router, Schema, Status
from pydantic import ConfigDict

from tandem.core.http import Id, NoNul, require_perm
from tandem.core.idempotency import idempotent
from tandem.core.keyset import MAX_ID
from tandem.crm.activities import selectors, services
from tandem.crm.activities.services import DURATION_MAX_MINUTES, EDITOR_ROLES, NOTES_MAX
from tandem.crm.models import ActivityDirection, ActivityOutcome
from tandem.users.access import access_check

router = Router(tags=["activities"])

Text8 = Annotated[str, Field(max_length=8), NoNul]
Text20 = Annotated[str, Field(max_length=20), NoNul]
Text24 = Annotated[str, Field(max_length=24), NoNul]
Text40 = Annotated[str, Field(max_length=40), NoNul]
Text60 = Annotated[str, Field(max_length=60), NoNul]
Text120 = Annotated[str, Field(max_length=120), NoNul]
Text200 = Annotated[str, Field(max_length=200), NoNul]
Text2000 = Annotated[str, Field(max_length=2000), NoNul]
Notes = Annotated[str, Field(max_length=NOTES_MAX), NoNul]
KindKey = Annotated[str, Path(max_length=24, pattern=r"^[a-z][a-z0-9_]*$")]
RowId = Annotated[int | None, Field(None, ge=1, le=MAX_ID)]
Minutes = Annotated[int | None, Field(None, ge=0, le=DURATION_MAX_MINUTES)]

OUTCOMES = ", ".join(ActivityOutcome.values)
DIRECTIONS = ", ".join(ActivityDirection.values)


class ActivityOut(Schema):
    id: int
    person_id: int
    kind: str = Field(..., alias="kind_id")
    kind_label: str = Field(..., alias="kind.label")
    counts_as_touch: bool = Field(..., alias="kind.counts_as_touch", description="whether the SLA counts it")
    direction: str
    outcome: str
    subject: str
    occurred_at: dt.datetime
    duration_minutes: int | None
    notes: str
    deal_id: int | None
    account_id: int | None
    user_id: int | None = Field(..., description="who did it")
    external_id: str | None
    created_at: dt.datetime


class ActivityPageOut(Schema):
    items: list[ActivityOut]
    next_cursor: str | None = Field(None, description="pass as `cursor` for the next (older) page")
    prev_cursor: str | None = Field(None, description="pass as `cursor` for the previous (newer) page")


class ActivityQuery(Schema):
    person: RowId = Field(None, description="a person's id, as on the activities page")
    person_id: RowId = Field(None, description="the older name of `person`")
    deal_id: RowId = None
    account_id: RowId = None
    owner: Text40 = Field("", description="who did it: a user id, or `none`")
    kind: Text24 = Field("", description="an activity kind's key (see /api/activity-kinds)")
    since: dt.datetime | None = Field(None, description="at or after (UTC when no offset is given)")
    until: dt.datetime | None = Field(None, description="before")
    cursor: Text2000 = ""
    limit: int = Field(selectors.PAGE_SIZE, ge=1, le=selectors.MAX_PAGE_SIZE)


class ActivityIn(Schema):
    model_config = ConfigDict(extra="forbid")

    person_id: int = Field(..., ge=1, le=MAX_ID)
    kind: Text24 = Field(..., description="call, email, meeting, note, or a kind an admin added")
    occurred_at: dt.datetime | None = Field(None, description="when (default now; at most a day ahead)")
    outcome: Text20 = Field("", description=f"empty or one of {OUTCOMES}")
    direction: Text8 = Field("", description=f"empty or one of {DIRECTIONS}")
    duration_minutes: Minutes = None
    subject: Text200 = ""
    notes: Notes = ""
    deal_id: RowId = Field(None, description="a deal of the person or of their account")
    account_id: RowId = Field(None, description="default: the person's account")
    user_id: RowId = Field(
        None, description="who did it (default: you; another user needs a manager or admin)"
    )
    external_id: Text120 | None = Field(None, description="its id in another system; unique")


class ActivityPatch(Schema):
    model_config = ConfigDict(extra="forbid")

    kind: Text24 | None = None
    occurred_at: dt.datetime | None = None
    outcome: Text20 | None = None
    direction: Text8 | None = None
    duration_minutes: Minutes = None
    subject: Text200 | None = None
    notes: Notes | None = None
    deal_id: RowId = None
    account_id: RowId = None
    user_id: RowId = None
    external_id: Text120 | None = None


class KindOut(Schema):
    key: str
    label: str
    counts_as_touch: bool
    builtin: bool
    is_active: bool
    position: int


class KindIn(Schema):
    model_config = ConfigDict(extra="forbid")

    key: Text24 = Field(..., description="lower-case letters, digits and _, starting with a letter")
    label: Text60
    counts_as_touch: bool = Field(True, description="whether the SLA's first touch and attempts count it")


class KindPatch(Schema):
    model_config = ConfigDict(extra="forbid")

    label: Text60 | None = None
    counts_as_touch: bool | None = None
    is_active: bool | None = None


class KindsQuery(Schema):
    include_retired: bool = False


def _on_behalf(request: HttpRequest, user_id: int | None) -> None:
    user = request.user
    if user_id is None or user_id == user.pk:
        return
    require_perm(
        request,
        allowed=bool(user.is_superuser or getattr(user, "role", "") in EDITOR_ROLES),
        message="Only sales managers and admins may log an activity for another user.",
    )


def _mine(request: HttpRequest, activity_id: int) -> Any:
    # An activity the user is about to change: 404 out of sight, 403 when they may only look (tandem.users.access).
    return access_check(
        selectors.activity_get(activity_id=activity_id, user=request.user), user=request.user, write=True
    )


# ---- activities ----


@router.get("/activities", response=ActivityPageOut)
def activities_list(request: HttpRequest, filters: Query[ActivityQuery]) -> Any:
    """List activities newest first, filtered by person, deal, account, who did it, kind and time."""
    require_perm(request, "crm.view_activity", action="list activities")
    query = filters.dict()
    person = query.pop("person")
    if person is not None:
        query["person_id"] = person
    return selectors.activities_list(**query, user=request.user)


@router.post("/activities", response={201: ActivityOut})
@idempotent
def activities_create(request: HttpRequest, payload: ActivityIn) -> Any:
    """Log a call, e-mail, meeting or note with a person. A touch counts for the MQL's SLA at once."""
    require_perm(request, "crm.add_activity", action="log activities")
    _on_behalf(request, payload.user_id)
    refs = selectors.activity_refs(
        person_id=payload.person_id,
        deal_id=payload.deal_id,
        account_id=payload.account_id,
        user_id=payload.user_id,
        viewer=request.user,
    )
    # Logging adds to the person's history: the user must be able to change the person, not only see them.
    access_check(refs.person, user=request.user, write=True)
    activity = services.activity_record(
        person=refs.person,
        kind=payload.kind,
        user=refs.user,
        occurred_at=payload.occurred_at,
        outcome=payload.outcome,
        direction=payload.direction,
        duration_minutes=payload.duration_minutes,
        subject=payload.subject,
        notes=payload.notes,
        deal=refs.deal,
        account=refs.account,
        external_id=payload.external_id,
        by_user=request.user,
    )
    return Status(201, selectors.activity_get(activity_id=activity.pk))


@router.get("/activities/{activity_id}", response=ActivityOut)
def activities_get(request: HttpRequest, activity_id: Id) -> Any:
    """One activity."""
    require_perm(request, "crm.view_activity", action="view activities")
    return selectors.activity_get(activity_id=activity_id, user=request.user)


@router.patch("/activities/{activity_id}", response=ActivityOut)
def activities_update(request: HttpRequest, activity_id: Id, payload: ActivityPatch) -> Any:
    """Change an activity (only the fields sent; null clears deal, account, user, duration, external id).
    Its author, a sales manager or an admin may."""
    require_perm(request, "crm.change_activity", action="change activities")
    activity = _mine(request, activity_id)
    fields = payload.dict(exclude_unset=True)
    if "user_id" in fields:
        _on_behalf(request, fields["user_id"])
    refs = selectors.activity_refs(
        person_id=activity.person_id,
        deal_id=fields.get("deal_id"),
        account_id=fields.get("account_id"),
        user_id=fields.get("user_id"),
        viewer=request.user,
    )
    changes: dict[str, Any] = {}
    for name, value in fields.items():
        if name == "deal_id":
            changes["deal"] = refs.deal
        elif name == "account_id":
            changes["account"] = refs.account
        elif name == "user_id":
            changes["user"] = refs.user
        elif name in ("outcome", "direction", "subject", "notes") and value is None:
            changes[name] = ""
        else:
            changes[name] = value
    services.activity_update(activity=activity, by_user=request.user, **changes)
    return selectors.activity_get(activity_id=activity_id)


@router.delete("/activities/{activity_id}", response={204: None})
def activities_delete(request: HttpRequest, activity_id: Id) -> Any:
    """Delete an activity (its author, a sales manager or an admin may); an event keeps what it was."""
    require_perm(request, "crm.delete_activity", action="delete activities")
    services.activity_delete(activity=_mine(request, activity_id), by_user=request.user)
    return HttpResponse(status=204)


# ---- activity kinds ----


def _require_admin(request: HttpRequest) -> None:
    require_perm(
        request,
        allowed=services.activity_kinds_manage_allowed(user=request.user),
        message="Only admins add and edit activity kinds.",
    )


@router.get("/activity-kinds", response=list[KindOut])
def activity_kinds(request: HttpRequest, filters: Query[KindsQuery]) -> Any:
    """The kinds of activity, in order; `counts_as_touch` says which the SLA counts (a note does not)."""
    require_perm(request, "crm.view_activitytype", action="see activity kinds")
    return selectors.activity_types_list(include_retired=filters.include_retired)


@router.post("/activity-kinds", response={201: KindOut})
@idempotent
def activity_kind_add(request: HttpRequest, payload: KindIn) -> Any:
    """Add a kind of activity (admins)."""
    _require_admin(request)
    kind = services.activity_type_create(
        key=payload.key, label=payload.label, counts_as_touch=payload.counts_as_touch, by_user=request.user
    )
    return Status(201, kind)


@router.patch("/activity-kinds/{key}", response=KindOut)
def activity_kind_change(request: HttpRequest, key: KindKey, payload: KindPatch) -> Any:
    """Relabel a kind, say whether it is a touch, or retire (is_active false) / restore it (admins)."""
    _require_admin(request)
    return services.activity_type_update(
        activity_type=selectors.activity_type_get(key=key),
        label=payload.label,
        counts_as_touch=payload.counts_as_touch,
        active=payload.is_active,
        by_user=request.user,
    )


@router.delete("/activity-kinds/{key}", response={204: None})
def activity_kind_delete(request: HttpRequest, key: KindKey) -> Any:
    """Delete a kind no activity or task uses (admins); built-in kinds and kinds in use are retired instead."""
    _require_admin(request)
    services.activity_type_delete(activity_type=selectors.activity_type_get(key=key), by_user=request.user)
    return HttpResponse(status=204)
