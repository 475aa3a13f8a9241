"""REST endpoints for people and lost reasons (deals: crm/pipelines/api.py): the same selectors and services the web pages use."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated, Any

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema, Status
from pydantic import ConfigDict, field_validator

from tandem.core.errors import NotFound, ValidationFailed
from tandem.core.http import Id, NoNul, require_perm
from tandem.core.idempotency import idempotent
from tandem.core.keyset import MAX_ID
from tandem.crm import selectors, services
from tandem.crm.channels import CHANNEL_LABELS
from tandem.crm.services import (
    person_change_stage,
    person_create,
    person_update,
)
from tandem.users.access import access_check, owner_for
from tandem.users.selectors import user_get

router = Router(tags=["people"])
# Lost reasons are what sales tells marketing about lost deals: listed with the feedback endpoints.
lost_reasons_router = Router(tags=["feedback"])


# Text that fits its column: longer input is a 422 naming the field on both databases.
Text16 = Annotated[str, Field(max_length=16), NoNul]
Text40 = Annotated[str, Field(max_length=40), NoNul]
Text100 = Annotated[str, Field(max_length=100), NoNul]
Text120 = Annotated[str, Field(max_length=120), NoNul]
Text200 = Annotated[str, Field(max_length=200), NoNul]
Text254 = Annotated[str, Field(max_length=254), NoNul]
Text2000 = Annotated[str, Field(max_length=2000), NoNul]



def _owner(owner_id: int | None, field: str = "owner_id") -> Any:
    if owner_id is None:
        return None
    try:
        return user_get(user_id=owner_id)
    except NotFound:
        raise ValidationFailed(f"no user with id {owner_id}", field=field, value=owner_id) from None


# ---- schemas ----


class AccountOut(Schema):
    id: int
    name: str
    domain: str | None
    industry: str
    size_band: str
    country: str


class PersonOut(Schema):
    id: int
    email: str
    first_name: str
    last_name: str
    name: str = Field(..., alias="full_name")
    job_title: str
    phone: str
    company: str | None = Field(None, alias="account.name")
    account_id: int | None
    owner_id: int | None
    lifecycle_stage: str
    lead_status: str
    original_channel: str
    latest_channel: str
    consent_email: bool
    consent_calls: bool
    created_at: dt.datetime


class PeoplePageOut(Schema):
    items: list[PersonOut]
    next_cursor: str | None = Field(None, description="pass as `cursor` for the next (older) page")
    prev_cursor: str | None = Field(None, description="pass as `cursor` for the previous (newer) page")


class StageChangeOut(Schema):
    id: int
    from_stage: str
    to_stage: str
    changed_at: dt.datetime
    by_user_id: int | None
    rule: str
    rule_version: int | None
    reason: str


class TouchpointOut(Schema):
    id: int
    occurred_at: dt.datetime
    channel: str
    kind: str
    campaign_id: int | None
    campaign: str | None = Field(None, alias="campaign.name")


class DealOut(Schema):
    id: int
    name: str
    person_id: int | None
    account_id: int | None
    owner_id: int | None
    amount: Decimal
    currency: str
    stage: str = Field(..., description="open, won or lost: the kind of the deal's pipeline stage")
    pipeline_id: int
    pipeline_stage_id: int
    stage_entered_at: dt.datetime | None
    expected_close_on: dt.date | None
    created_at: dt.datetime
    closed_at: dt.datetime | None
    lost_reason: str | None = Field(None, alias="lost_reason.name")


class PersonActivityOut(Schema):
    id: int
    kind: str = Field(..., alias="kind_id")
    occurred_at: dt.datetime
    user_id: int | None
    outcome: str
    duration_minutes: int | None
    notes: str


class PersonQuestionOut(Schema):
    id: int
    asked_at: dt.datetime
    text: str
    product: str
    is_objection: bool
    heard_by_id: int | None


class PersonDetailOut(PersonOut):
    account: AccountOut | None
    stage_history: list[StageChangeOut]
    touchpoints: list[TouchpointOut]
    touchpoints_truncated: bool
    deals: list[DealOut]
    activities: list[PersonActivityOut]
    questions: list[PersonQuestionOut]


class PeopleQuery(Schema):
    q: Text200 = Field("", description="name prefix, or email prefix when it contains @")
    stage: Text16 = ""
    owner: Text40 = Field("", description="a user id, or `none` for unassigned")
    channel: Text40 = ""
    cursor: Text2000 = ""
    limit: int = Field(selectors.PAGE_SIZE, ge=1, le=selectors.MAX_PAGE_SIZE)


class PersonIn(Schema):
    model_config = ConfigDict(extra="forbid")

    email: Text254 = ""
    first_name: Text100 = ""
    last_name: Text100 = ""
    company: Text200 = Field(
        "", description="company name; people with a company email domain share its account"
    )
    job_title: Text200 = ""
    phone: Text40 = ""
    owner_id: int | None = Field(None, ge=1, le=MAX_ID)
    stage: Text16 = "lead"
    original_channel: Text40 = ""
    consent_email: bool = False
    consent_calls: bool = False

    @field_validator("original_channel")
    @classmethod
    def _known_channel(cls, value: str) -> str:
        if value and value not in CHANNEL_LABELS:
            raise ValueError(f"unknown channel {value!r}; one of {', '.join(CHANNEL_LABELS)}")
        return value


class PersonPatch(Schema):
    model_config = ConfigDict(extra="forbid")

    first_name: Text100 = ""
    last_name: Text100 = ""
    job_title: Text200 = ""
    phone: Text40 = ""
    consent_email: bool = False
    consent_calls: bool = False


class LifecycleStageIn(Schema):
    model_config = ConfigDict(extra="forbid")

    to_stage: Text16
    reason: Text2000 = ""


class _DetailView:
    """The person's own attributes plus the lists the selector gathered: one object for PersonDetailOut."""

    def __init__(self, detail: selectors.PersonDetail) -> None:
        self.person = detail.person
        self.stage_history = detail.stage_changes
        self.touchpoints = detail.touchpoints
        self.touchpoints_truncated = detail.touchpoints_truncated
        self.deals = detail.deals
        self.activities = detail.activities
        self.questions = detail.questions

    def __getattr__(self, name: str) -> Any:
        return getattr(self.person, name)


# ---- people ----


@router.get("/people", response=PeoplePageOut)
def people_list(request: HttpRequest, filters: Query[PeopleQuery]) -> Any:
    """List people newest first (by name or email when searching), one keyset page at a time."""
    require_perm(request, "crm.view_person", action="list people")
    return selectors.people_list(**filters.dict(), user=request.user)


@router.get("/people/{int:person_id}", response=PersonDetailOut)
def person_get(request: HttpRequest, person_id: Id) -> Any:
    """One person with account, stage history, journey touchpoints, deals, activities and questions."""
    require_perm(request, "crm.view_person", action="view people")
    return _DetailView(selectors.person_detail(person_id=person_id, user=request.user))


@router.post("/people", response={201: PersonOut})
@idempotent
def people_create(request: HttpRequest, payload: PersonIn) -> Any:
    """Create a person (and their company's account) at a first lifecycle stage."""
    require_perm(request, "crm.add_person", action="create people")
    fields = payload.dict()
    owner = owner_for(request.user, _owner(fields.pop("owner_id")))
    person = person_create(
        **fields, owner=owner, by_user=request.user, reason="created via API", consent_source="api"
    )
    return Status(201, selectors.person_get(person_id=person.pk))


@router.patch("/people/{int:person_id}", response=PersonOut)
def people_update(request: HttpRequest, person_id: Id, payload: PersonPatch) -> Any:
    """Change a person's name, title, phone or consent; only the fields sent are changed."""
    require_perm(request, "crm.change_person", action="edit people")
    person = access_check(selectors.person_get(person_id=person_id, user=request.user), user=request.user, write=True)
    return person_update(
        person=person, by_user=request.user, consent_source="api", **payload.dict(exclude_unset=True)
    )


@router.post("/people/{int:person_id}/stage", response=StageChangeOut)
def people_change_stage(request: HttpRequest, person_id: Id, payload: LifecycleStageIn) -> Any:
    """Move a person to another lifecycle stage; 409 when the state machine does not allow the move."""
    require_perm(request, "crm.change_person", action="change lifecycle stages")
    person = access_check(selectors.person_get(person_id=person_id, user=request.user), user=request.user, write=True)
    return person_change_stage(
        person=person, to_stage=payload.to_stage, by_user=request.user, reason=payload.reason
    )


# ---- identity: duplicates and merging ----


class DuplicateGroupOut(Schema):
    name_key: str
    company: str
    members: list[PersonOut]
    # "name and company", or "e-mail": one address stored under two keys (its name_key is then the address).
    reason: str


class PersonMergeIn(Schema):
    model_config = ConfigDict(extra="forbid")

    duplicate_id: int = Field(..., ge=1, le=MAX_ID)
    reason: Annotated[str, Field(max_length=500), NoNul] = ""


def _require_merge(request: HttpRequest) -> None:
    # Merging is a role decision (admin, marketing or sales manager), not one model permission.
    require_perm(
        request,
        allowed=selectors.person_merge_allowed(user=request.user),
        action="merge people (admin, marketing or sales manager)",
    )


class DuplicatesQuery(Schema):
    limit: int = Field(200, ge=1, le=1000)


@router.get("/people/duplicates", response=list[DuplicateGroupOut])
def people_duplicates(request: HttpRequest, filters: Query[DuplicatesQuery]) -> Any:
    """Groups of people who share a name and a company under different emails, largest first."""
    _require_merge(request)
    return selectors.person_duplicate_candidates(limit=filters.limit, user=request.user)


@router.post("/people/{int:survivor_id}/merge", response=PersonOut)
def people_merge(request: HttpRequest, survivor_id: Id, payload: PersonMergeIn) -> Any:
    """Merge another person into this one: their history moves here and the other record is deleted."""
    from tandem.crm.services import person_merge

    _require_merge(request)
    # The records first: a person out of sight is not found, whatever else is wrong with the request.
    survivor = access_check(selectors.person_get(person_id=survivor_id, user=request.user), user=request.user, write=True)
    if payload.duplicate_id == survivor_id:
        raise ValidationFailed(
            f"person #{survivor_id} cannot be merged with itself", field="duplicate_id", value=survivor_id
        )
    duplicate = access_check(
        selectors.person_get(person_id=payload.duplicate_id, user=request.user), user=request.user, write=True
    )
    person_merge(survivor=survivor, duplicate=duplicate, by_user=request.user, reason=payload.reason)
    return selectors.person_get(person_id=survivor_id)


class LostReasonIn(Schema):
    name: Text120
    description: Text2000 = ""


class LostReasonPatch(Schema):
    name: Text120 | None = None
    description: Text2000 | None = None
    is_active: bool | None = None


class LostReasonOut(Schema):
    id: int
    name: str
    description: str
    is_active: bool


# ---- lost reasons ----


@lost_reasons_router.get("/lost-reasons", response=list[LostReasonOut])
def lost_reasons(request: HttpRequest, include_retired: bool = False) -> Any:
    """The lost reasons reps choose from (retired ones too when asked)."""
    require_perm(request, "crm.view_lostreason", action="see lost reasons")
    return selectors.lost_reasons_list(include_retired=include_retired)


@lost_reasons_router.post("/lost-reasons", response={201: LostReasonOut})
@idempotent
def lost_reason_add(request: HttpRequest, payload: LostReasonIn) -> Any:
    """Add a lost reason (names are unique ignoring case)."""
    require_perm(request, "crm.add_lostreason", action="add lost reasons")
    return Status(
        201,
        services.lost_reason_create(name=payload.name, description=payload.description, by_user=request.user),
    )


@lost_reasons_router.patch("/lost-reasons/{int:reason_id}", response=LostReasonOut)
def lost_reason_change(request: HttpRequest, reason_id: Id, payload: LostReasonPatch) -> Any:
    """Rename a lost reason, change its description, or retire (is_active false) / restore it."""
    require_perm(request, "crm.change_lostreason", action="change lost reasons")
    reason = selectors.lost_reason_get(reason_id=reason_id)
    if payload.name is not None or payload.description is not None:
        services.lost_reason_rename(
            reason=reason,
            name=payload.name or reason.name,
            description=payload.description,
            by_user=request.user,
        )
    if payload.is_active is not None and payload.is_active != reason.is_active:
        services.lost_reason_set_active(reason=reason, active=payload.is_active, by_user=request.user)
    return reason
