"""REST endpoints for audiences: CRUD, live counts, members (cursor pages) and the CSV export for e-mail tools."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from django.http import HttpRequest, HttpResponse
from ninja import Field, Query, Router, Schema, Status

from tandem.audiences import selectors, services
from tandem.audiences.models import Audience
from tandem.core.http import Id, NoNul, csv_response, require_perm
from tandem.core.idempotency import idempotent
from tandem.core.keyset import MAX_ID

router = Router(tags=["audiences"])

Text120 = Annotated[str, Field(max_length=120), NoNul]
Text200 = Annotated[str, Field(max_length=200), NoNul]
Text500 = Annotated[str, Field(max_length=500), NoNul]
Text2000 = Annotated[str, Field(max_length=2000), NoNul]
IdItem = Annotated[int, Field(ge=1, le=MAX_ID)]


class AudienceCriterion(Schema):
    """One criterion; `type` says which list it reads (see docs/integrations.md#audiences)."""

    type: Literal["stage", "score_tier", "fit_grade", "persona", "theme", "campaign", "segment", "owner"]
    stages: list[Text200] | None = Field(None, max_length=20, description="type stage: lifecycle stages")
    tiers: list[Text200] | None = Field(None, max_length=3, description="type score_tier: hot, gray, junk")
    grades: list[Text200] | None = Field(None, max_length=4, description="type fit_grade: A, B, C, D")
    persona_ids: list[IdItem] | None = Field(None, max_length=200)
    theme_ids: list[IdItem] | None = Field(None, max_length=200)
    campaign_ids: list[IdItem] | None = Field(None, max_length=200)
    owner_ids: list[IdItem] | None = Field(None, max_length=200)
    field: Literal["industry", "size_band", "country", "job_title", "channel", "campaign"] | None = Field(
        None, description="type segment: the field the segments report groups by"
    )
    values: list[Text200] | None = Field(None, max_length=200, description="type segment: the field's values")
    days: int | None = Field(
        None, ge=1, le=3660, description="type theme or campaign: only in the last N days"
    )


class AudienceSpecSchema(Schema):
    consent: Literal["email", "calls"] = "email"
    match: Literal["all", "any"] = "all"
    criteria: list[AudienceCriterion] = Field(default_factory=list, max_length=50)


class AudienceIn(Schema):
    name: Text120
    description: Text2000 = ""
    spec: AudienceSpecSchema
    reason: Text500 = ""


class AudiencePatch(Schema):
    name: Text120 | None = None
    description: Text2000 | None = None
    spec: AudienceSpecSchema | None = None
    reason: Text500 = Field(..., description="why it changes (kept in the audience's history)")


class AudienceCounts(Schema):
    matched: int = Field(description="people (not erased) meeting the criteria")
    members: int = Field(description="of them, those with the consent and an address: the audience")
    left_out_consent: int = Field(description="meeting the criteria but left out: no consent on the channel")
    left_out_no_address: int = Field(
        description="consented but left out: no e-mail address (or phone number)"
    )


class AudienceOut(Schema):
    id: int
    name: str
    description: str
    version: int
    spec: AudienceSpecSchema
    sentences: list[str]
    counts: AudienceCounts
    created_at: dt.datetime
    updated_at: dt.datetime
    synced_at: dt.datetime | None


class AudiencePageOut(Schema):
    items: list[AudienceOut]
    next_cursor: str | None = Field(None, description="pass as `cursor` for the next page")
    prev_cursor: str | None = None


class AudienceListQuery(Schema):
    cursor: Annotated[str, Field(max_length=2000), NoNul] = ""
    limit: int = Field(50, ge=1, le=200)


class AudienceMemberOut(Schema):
    id: int
    email: str
    first_name: str
    last_name: str
    phone: str
    lifecycle_stage: str
    owner_id: int | None
    account_id: int | None


class AudienceMemberPageOut(Schema):
    items: list[AudienceMemberOut]
    next_cursor: str | None = Field(None, description="pass as `cursor` for the next page (higher ids)")
    prev_cursor: str | None = Field(None, description="pass as `cursor` for the previous page")


class AudienceMemberQuery(Schema):
    cursor: Annotated[str, Field(max_length=2000), NoNul] = ""
    limit: int = Field(selectors.PAGE_SIZE, ge=1, le=selectors.PAGE_MAX)


class AudienceExportQuery(Schema):
    format: Literal["mailchimp", "mautic"] = "mailchimp"


class AudienceSyncOut(Schema):
    audience_id: int
    added: int
    removed: int


def _spec_in(spec: AudienceSpecSchema) -> dict[str, Any]:
    out: dict[str, Any] = {"consent": spec.consent, "match": spec.match, "criteria": []}
    for c in spec.criteria:
        out["criteria"].append({k: v for k, v in c.model_dump().items() if v is not None})
    return out


def _out(audience: Audience) -> dict[str, Any]:
    spec = selectors.audience_spec(audience)
    return {
        "id": audience.pk,
        "name": audience.name,
        "description": audience.description,
        "version": audience.version,
        "spec": spec.to_dict(),
        "sentences": selectors.spec_sentences(spec=spec),
        "counts": selectors.spec_counts(spec=spec).to_dict(),
        "created_at": audience.created_at,
        "updated_at": audience.updated_at,
        "synced_at": audience.synced_at,
    }


def _reader(request: HttpRequest) -> Any:
    return require_perm(request, "audiences.view_audience", action="see audiences")


@router.get("/audiences", response=AudiencePageOut)
def audience_list(request: HttpRequest, filters: Query[AudienceListQuery]) -> dict[str, Any]:
    """Audiences by id, each with its criteria in words and its live counts (cursor pages)."""
    _reader(request)
    page = selectors.audience_page(cursor=filters.cursor, limit=filters.limit)
    return {
        "items": [_out(a) for a in page.items],
        "next_cursor": page.next_cursor,
        "prev_cursor": page.prev_cursor,
    }


@router.post("/audiences", response={201: AudienceOut})
@idempotent
def audience_create(request: HttpRequest, payload: AudienceIn) -> Any:
    """Save a new audience (marketing and admins); its members are synced and announced by webhooks after it."""
    user = require_perm(request, "audiences.add_audience", action="create audiences")
    audience = services.audience_create(
        name=payload.name,
        description=payload.description,
        spec=_spec_in(payload.spec),
        reason=payload.reason,
        by_user=user,
    )
    return Status(201, _out(audience))


@router.get("/audiences/{int:audience_id}", response=AudienceOut)
def audience_get(request: HttpRequest, audience_id: Id) -> dict[str, Any]:
    """One audience with its criteria in words and live counts (how many were left out for consent, too)."""
    _reader(request)
    return _out(selectors.audience_get(audience_id=audience_id))


@router.patch("/audiences/{int:audience_id}", response=AudienceOut)
def audience_update(request: HttpRequest, audience_id: Id, payload: AudiencePatch) -> dict[str, Any]:
    """Change an audience's name, description or criteria (new criteria: a new version, with the reason)."""
    user = require_perm(request, "audiences.change_audience", action="change audiences")
    audience = services.audience_update(
        audience=selectors.audience_get(audience_id=audience_id),
        by_user=user,
        reason=payload.reason,
        name=payload.name,
        description=payload.description,
        spec=_spec_in(payload.spec) if payload.spec is not None else None,
    )
    return _out(audience)


@router.delete("/audiences/{int:audience_id}", response={204: None})
def audience_delete(request: HttpRequest, audience_id: Id) -> Any:
    """Delete an audience (its versions and snapshot go with it; the event keeps its last criteria)."""
    user = require_perm(request, "audiences.delete_audience", action="delete audiences")
    services.audience_delete(audience=selectors.audience_get(audience_id=audience_id), by_user=user)
    return Status(204, None)


@router.get("/audiences/{int:audience_id}/members", response=AudienceMemberPageOut)
def audience_members(
    request: HttpRequest, audience_id: Id, filters: Query[AudienceMemberQuery]
) -> dict[str, Any]:
    """The live members you may see, by person id (cursor pages): people meeting the criteria, with consent."""
    _reader(request)
    page = selectors.audience_members_page(
        audience=selectors.audience_get(audience_id=audience_id),
        user=request.user,
        cursor=filters.cursor,
        limit=filters.limit,
    )
    return {"items": page.items, "next_cursor": page.next_cursor, "prev_cursor": page.prev_cursor}


@router.get(
    "/audiences/{int:audience_id}/export.csv",
    response={200: None},
    summary="The members as a CSV in Mailchimp's or Mautic's import columns",
    openapi_extra={
        "responses": {"200": {"description": "CSV", "content": {"text/csv": {"schema": {"type": "string"}}}}}
    },
)
def audience_export(
    request: HttpRequest, audience_id: Id, filters: Query[AudienceExportQuery]
) -> HttpResponse:
    """The members you may see as CSV: Mailchimp (Email Address, First Name, Last Name, Phone Number, Tags) or
    Mautic (email, firstname, lastname, company, position, phone, country, tags)."""
    _reader(request)
    audience = selectors.audience_get(audience_id=audience_id)
    return csv_response(
        filename=f"audience-{audience.pk}-{filters.format}.csv",
        columns=selectors.EXPORT_FORMATS[filters.format],
        rows=selectors.audience_export_rows(audience=audience, fmt=filters.format, user=request.user),
    )


@router.post("/audiences/{int:audience_id}/sync", response=AudienceSyncOut)
def audience_sync(request: HttpRequest, audience_id: Id) -> dict[str, Any]:
    """Compare the members with the last snapshot now and send the changes as webhooks (the worker does this
    every five minutes and after each edit)."""
    require_perm(request, "audiences.change_audience", action="sync audiences")
    result = services.audience_sync(audience=selectors.audience_get(audience_id=audience_id))
    return {"audience_id": result.audience_id, "added": result.added, "removed": result.removed}
