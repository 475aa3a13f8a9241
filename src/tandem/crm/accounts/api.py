"""REST endpoints for accounts: list, create, read, edit, and an account's people, deals and activities."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated, Any

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema, Status
from pydantic import ConfigDict

from tandem.core.errors import NotFound, ValidationFailed
from tandem.core.http import Id, NoNul, require_perm
from tandem.core.idempotency import idempotent
from tandem.core.keyset import MAX_ID
from tandem.crm.accounts import selectors
from tandem.crm.accounts.services import account_create, account_update
from tandem.crm.api import PeoplePageOut
from tandem.users.access import access_check, owner_change, owner_for
from tandem.users.selectors import user_get

router = Router(tags=["accounts"])

Text80 = Annotated[str, Field(max_length=80), NoNul]
Text200 = Annotated[str, Field(max_length=200), NoNul]
Text2000 = Annotated[str, Field(max_length=2000), NoNul]
# Custom field values: text, numbers, true/false (and null in a PATCH, which removes the field).
CustomValue = str | bool | int | float | None


def _owner(owner_id: int | None) -> Any:
    if owner_id is None:
        return None
    try:
        return user_get(user_id=owner_id)
    except NotFound:
        raise ValidationFailed(f"no user with id {owner_id}", field="owner_id", value=owner_id) from None


# ---- schemas ----


class AccountRecordOut(Schema):
    """An account's own fields (crm.api's AccountOut is the shorter one inside a person)."""

    id: int
    name: str
    domain: str | None
    industry: str
    size_band: str
    country: str
    owner_id: int | None
    custom_fields: dict[str, Any]
    created_at: dt.datetime
    updated_at: dt.datetime


class AccountRowOut(AccountRecordOut):
    people: int = Field(..., alias="n_people", description="people working there")
    open_deals: int = Field(..., alias="n_open_deals")


class AccountPageOut(Schema):
    items: list[AccountRowOut]
    next_cursor: str | None = Field(None, description="pass as `cursor` for the next page")
    prev_cursor: str | None = Field(None, description="pass as `cursor` for the previous page")


class AccountDealTotalsOut(Schema):
    total: int
    open: int
    won: int
    lost: int
    open_amount: Decimal
    won_amount: Decimal


class AccountDetailOut(AccountRecordOut):
    people_count: int
    deal_totals: AccountDealTotalsOut
    touchpoints_count: int


class AccountDealOut(Schema):
    id: int
    name: str
    external_id: str | None
    person_id: int | None
    owner_id: int | None
    amount: Decimal
    currency: str
    stage: str = Field(..., description="open, won or lost")
    pipeline_id: int
    pipeline: str = Field(..., alias="pipeline.name")
    pipeline_stage_id: int
    pipeline_stage: str = Field(..., alias="pipeline_stage.name")
    stage_entered_at: dt.datetime | None
    expected_close_on: dt.date | None
    created_at: dt.datetime
    closed_at: dt.datetime | None
    lost_reason: str | None = Field(None, alias="lost_reason.name")


class AccountDealPageOut(Schema):
    items: list[AccountDealOut]
    next_cursor: str | None
    prev_cursor: str | None


class AccountActivityOut(Schema):
    id: int
    kind: str = Field(..., alias="kind_id")
    occurred_at: dt.datetime
    person_id: int
    deal_id: int | None
    user_id: int | None
    direction: str
    outcome: str
    subject: str
    duration_minutes: int | None
    notes: str


class AccountActivityPageOut(Schema):
    items: list[AccountActivityOut]
    next_cursor: str | None
    prev_cursor: str | None


class AccountQuery(Schema):
    q: Text200 = Field("", description="part of the name or domain, any case")
    industry: Text80 = ""
    owner: Annotated[str, Field(max_length=40), NoNul] = Field(
        "", description="a user id, or `none` for unassigned"
    )
    country: Text80 = ""
    cursor: Text2000 = ""
    limit: int = Field(selectors.PAGE_SIZE, ge=1, le=selectors.MAX_PAGE_SIZE)


class AccountPartQuery(Schema):
    cursor: Text2000 = ""
    limit: int = Field(selectors.PAGE_SIZE, ge=1, le=selectors.MAX_PAGE_SIZE)


class AccountIn(Schema):
    model_config = ConfigDict(extra="forbid")

    name: Text200
    domain: Text200 | None = Field(None, description="e.g. acme.example; unique across accounts")
    industry: Text80 = ""
    size_band: Annotated[str, Field(max_length=16), NoNul] = Field(
        "", description="1-10, 11-50, 51-200, 201-1000, 1001-5000 or 5001+"
    )
    country: Text80 = ""
    owner_id: int | None = Field(None, ge=1, le=MAX_ID)
    custom_fields: dict[Annotated[str, Field(max_length=60), NoNul], CustomValue] = Field(
        default_factory=dict
    )


class AccountPatch(Schema):
    model_config = ConfigDict(extra="forbid")

    name: Text200 | None = None
    domain: Text200 | None = Field(None, description="null or empty removes it")
    industry: Text80 | None = None
    size_band: Annotated[str, Field(max_length=16), NoNul] | None = None
    country: Text80 | None = None
    owner_id: int | None = Field(None, ge=1, le=MAX_ID, description="null unassigns")
    custom_fields: dict[Annotated[str, Field(max_length=60), NoNul], CustomValue] | None = Field(
        None, description="merged into the stored ones; a field set to null is removed"
    )


class _DetailView:
    """The account's own attributes plus the counts the selector gathered: one object for AccountDetailOut."""

    def __init__(self, detail: selectors.AccountDetail) -> None:
        self.account = detail.account
        self.people_count = detail.people_count
        self.deal_totals = detail.deal_totals
        self.touchpoints_count = detail.touchpoints_count

    def __getattr__(self, name: str) -> Any:
        return getattr(self.account, name)


# ---- endpoints ----


@router.get("/accounts", response=AccountPageOut)
def accounts_list(request: HttpRequest, filters: Query[AccountQuery]) -> Any:
    """List accounts by name, searched by part of the name or domain, filtered by industry, owner and country."""
    require_perm(request, "crm.view_account", action="list accounts")
    return selectors.account_list(**filters.dict(), user=request.user)


@router.post("/accounts", response={201: AccountRecordOut})
@idempotent
def accounts_create(request: HttpRequest, payload: AccountIn) -> Any:
    """Create an account; 409 when another account already has the domain."""
    require_perm(request, "crm.add_account", action="create accounts")
    fields = payload.dict()
    owner = owner_for(request.user, _owner(fields.pop("owner_id")))
    account = account_create(**fields, owner=owner, by_user=request.user)
    return Status(201, selectors.account_get(account_id=account.pk))


@router.get("/accounts/{account_id}", response=AccountDetailOut)
def accounts_get(request: HttpRequest, account_id: Id) -> Any:
    """One account with its number of people, its deal totals and its number of touchpoints."""
    require_perm(request, "crm.view_account", action="view accounts")
    return _DetailView(selectors.account_detail(account_id=account_id, user=request.user))


@router.patch("/accounts/{account_id}", response=AccountRecordOut)
def accounts_update(request: HttpRequest, account_id: Id, payload: AccountPatch) -> Any:
    """Change an account; only the fields sent change (custom fields are merged, null removes one)."""
    require_perm(request, "crm.change_account", action="edit accounts")
    account = access_check(selectors.account_get(account_id=account_id, user=request.user), user=request.user, write=True)
    changes = payload.dict(exclude_unset=True)
    if "owner_id" in changes:
        changes["owner"] = owner_change(request.user, current_id=account.owner_id, owner=_owner(changes.pop("owner_id")))
    if "custom_fields" in changes:
        merged = dict(account.custom_fields or {})
        for key, value in (changes["custom_fields"] or {}).items():
            if value is None:
                merged.pop(key, None)
            else:
                merged[key] = value
        changes["custom_fields"] = merged
    if changes.get("name", "") is None:
        raise ValidationFailed("name must not be empty", field="name", value=None)
    for key in ("industry", "size_band", "country"):
        if key in changes and changes[key] is None:
            changes[key] = ""
    return account_update(account=account, by_user=request.user, **changes)


@router.get("/accounts/{account_id}/people", response=PeoplePageOut)
def accounts_people(request: HttpRequest, account_id: Id, filters: Query[AccountPartQuery]) -> Any:
    """The account's people by name, one keyset page at a time."""
    require_perm(request, "crm.view_person", action="list people")
    account = selectors.account_get(account_id=account_id, user=request.user)
    return selectors.account_people_page(account_id=account.pk, **filters.dict(), user=request.user)


@router.get("/accounts/{account_id}/deals", response=AccountDealPageOut)
def accounts_deals(request: HttpRequest, account_id: Id, filters: Query[AccountPartQuery]) -> Any:
    """The account's deals, newest first, with pipeline stage and amount."""
    require_perm(request, "crm.view_deal", action="list deals")
    account = selectors.account_get(account_id=account_id, user=request.user)
    return selectors.account_deals_page(account_id=account.pk, **filters.dict(), user=request.user)


@router.get("/accounts/{account_id}/activities", response=AccountActivityPageOut)
def accounts_activities(request: HttpRequest, account_id: Id, filters: Query[AccountPartQuery]) -> Any:
    """The activities logged against the account, the latest first."""
    require_perm(request, "crm.view_activity", action="list activities")
    account = selectors.account_get(account_id=account_id, user=request.user)
    return selectors.account_activities_page(account_id=account.pk, **filters.dict(), user=request.user)
