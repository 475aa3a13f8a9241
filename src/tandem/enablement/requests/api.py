"""REST endpoints for collateral requests: file one, list them, move one on the board, lead times, suggestions
and marking one handled."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema, Status

from tandem.core.http import Id, require_perm
from tandem.core.idempotency import idempotent
from tandem.core.keyset import MAX_ID
from tandem.core.paging import PAGE_SIZE, CursorParam, LimitParam, page_dict
from tandem.enablement.requests import board, selectors, services
from tandem.enablement.requests.models import CollateralRequest, RequestKind, RequestStatus
from tandem.enablement.requests.permissions import can_work_board
from tandem.enablement.requests.selectors import Card

router = Router(tags=["collateral requests"])
RequestType = Annotated[str, Field(description=" | ".join(RequestKind.values), max_length=16)]


class RequestIn(Schema):
    type: RequestType
    purpose: Annotated[str, Field(min_length=1, max_length=services.PURPOSE_MAX)]
    due_on: dt.date
    quantity: Annotated[int, Field(ge=1, le=services.QUANTITY_MAX)] = 1
    deal_id: Annotated[int, Field(ge=1, le=MAX_ID)] | None = None
    account_id: Annotated[int, Field(ge=1, le=MAX_ID)] | None = None


class MoveIn(Schema):
    to: Annotated[str, Field(description=" | ".join(RequestStatus.values), max_length=16)]
    reason: Annotated[str, Field(max_length=board.REASON_MAX, description="required when declining")] = ""
    note: Annotated[str, Field(max_length=board.REASON_MAX, description="where the delivered material is")] = ""


class RequestOut(Schema):
    id: int
    type: str
    purpose: str
    quantity: int
    due_on: dt.date
    status: str
    due_warning: str = Field(description="overdue | due_soon | empty")
    allowed_moves: list[str]
    requested_by: str | None
    requested_by_id: int | None
    assignee: str | None
    deal_id: int | None
    account_id: int | None
    created_at: dt.datetime
    status_changed_at: dt.datetime
    delivered_at: dt.datetime | None
    delivery_note: str
    decline_reason: str
    suggestion_handled_at: dt.datetime | None = Field(description="when a library suggestion holding it was marked handled")
    suggestion_asset_id: int | None = Field(description="the library asset named as answering it")


class EventOut(Schema):
    kind: str
    occurred_at: dt.datetime
    actor: str | None
    reason: str
    data: dict[str, Any]


class RequestDetailOut(RequestOut):
    history: list[EventOut]


class LeadTimeOut(Schema):
    type: str
    n: int
    median_days: float
    p80_days: float
    ask_days_ahead: int


class RequestSuggestionOut(Schema):
    type: str
    label: str
    n_requests: int
    n_reps: int
    reps: list[str]
    request_ids: list[int]
    examples: list[str]
    last_requested_at: dt.datetime


class HandleIn(Schema):
    request_ids: Annotated[list[int], Field(description="the suggestion's request_ids", max_length=services.HANDLE_MAX_REQUESTS)]
    asset_id: int | None = Field(None, description="the library asset that answers it, if any")


class HandledOut(Schema):
    request_ids: list[int]
    asset_id: int | None
    handled_at: dt.datetime
    handled_by: str


class CollateralErrorOut(Schema):
    detail: str


def _out(card: Card) -> dict[str, Any]:
    r = card.request
    return {
        "id": r.pk, "type": r.kind, "purpose": r.purpose, "quantity": r.quantity, "due_on": r.due_on,
        "status": r.status, "due_warning": card.due, "allowed_moves": [to for to, _ in card.moves],
        "requested_by": str(r.requested_by) if r.requested_by else None, "requested_by_id": r.requested_by_id,
        "assignee": str(r.assignee) if r.assignee else None, "deal_id": r.deal_id, "account_id": r.account_id,
        "created_at": r.created_at, "status_changed_at": r.status_changed_at, "delivered_at": r.delivered_at,
        "delivery_note": r.delivery_note, "decline_reason": r.decline_reason,
        "suggestion_handled_at": r.suggestion_handled_at, "suggestion_asset_id": r.suggestion_asset_id,
    }


def _detail(request: CollateralRequest) -> dict[str, Any]:
    card = selectors.collateral_request_card(request_id=request.pk)
    out = _out(card)
    out["history"] = [
        {"kind": e.kind, "occurred_at": e.occurred_at, "actor": str(e.actor) if e.actor else None, "reason": e.reason, "data": e.data}
        for e in selectors.collateral_request_history(request=card.request)
    ]
    return out


class RequestPageOut(Schema):
    items: list[RequestOut]
    next_cursor: str | None = Field(None, description="pass as `cursor` for the next page (due later)")
    prev_cursor: str | None = Field(None, description="pass as `cursor` for the previous page (due sooner)")


@router.get("/collateral/requests", response=RequestPageOut)
def requests_list(
    request: HttpRequest,
    status: Annotated[str, Query(max_length=16)] = "",
    type: Annotated[str, Query(max_length=16)] = "",
    mine: bool = False,
    cursor: CursorParam = "",
    limit: LimitParam = PAGE_SIZE,
) -> dict[str, Any]:
    """Collateral requests, soonest due first, a keyset page at a time, filtered by status, type, or your own."""
    page = selectors.collateral_requests_page(
        status=status,
        kind=type,
        requested_by_id=request.user.pk if mine else None,
        user=request.user,
        cursor=cursor,
        limit=limit,
    )
    return page_dict(page, _out)


@router.post("/collateral/requests", response={201: RequestDetailOut})
@idempotent
def requests_file(request: HttpRequest, payload: RequestIn) -> Status:
    """Ask marketing for material (flyer, brochure, deck, swag, case_study, other); it starts as new."""
    filed = services.collateral_request_file(
        by_user=request.user, kind=payload.type, purpose=payload.purpose, due_on=payload.due_on,
        quantity=payload.quantity, deal_id=payload.deal_id, account_id=payload.account_id,
    )
    return Status(201, _detail(filed))


@router.get("/collateral/requests/{request_id}", response=RequestDetailOut)
def requests_get(request: HttpRequest, request_id: Id) -> dict[str, Any]:
    """One request with its history of moves."""
    return _detail(selectors.collateral_request_get(request_id=request_id, user=request.user))


@router.post("/collateral/requests/{request_id}/move", response=RequestDetailOut)
def requests_move(request: HttpRequest, request_id: Id, payload: MoveIn) -> dict[str, Any]:
    """Move a request on the board (marketing); a move the board does not allow is a 409 and changes nothing."""
    moved = services.collateral_request_move(
        request_id=request_id, to=payload.to, by_user=request.user, reason=payload.reason, note=payload.note
    )
    return _detail(moved)


@router.get("/collateral/board", response=dict[str, list[RequestOut]])
def board_get(request: HttpRequest) -> dict[str, list[dict[str, Any]]]:
    """The board's columns: open requests, and those delivered or declined in the last 30 days."""
    return {status: [_out(c) for c in cards] for status, cards in selectors.collateral_board(user=request.user).items()}


@router.get("/collateral/lead-times", response=list[LeadTimeOut])
def lead_times(request: HttpRequest) -> list[dict[str, Any]]:
    """Days from request to delivery by type: median, 80th percentile, and how many days ahead to ask."""
    return [
        {"type": lt.kind, "n": lt.n, "median_days": lt.median_days, "p80_days": lt.p80_days, "ask_days_ahead": lt.ask_days_ahead}
        for lt in selectors.collateral_lead_times()
    ]


@router.get("/collateral/suggestions", response=list[RequestSuggestionOut])
def suggestions(request: HttpRequest) -> list[dict[str, Any]]:
    """Requests that repeat (same type, similar purpose, several reps): suggested for the content library."""
    return [{**s, "type": s["kind"]} for s in selectors.collateral_suggestions()]


@router.post("/collateral/suggestions/handle", response={200: HandledOut, 403: CollateralErrorOut})
def suggestions_handle(request: HttpRequest, payload: HandleIn) -> dict[str, Any]:
    """Mark a suggestion handled (marketing): its requests stop counting, so only new repeats bring it back."""
    require_perm(request, allowed=can_work_board(request.user), message="only marketing and admins mark library suggestions handled")
    handled = services.collateral_suggestion_handle(actor=request.user, request_ids=payload.request_ids, asset=payload.asset_id)
    return {
        "request_ids": [r.pk for r in handled], "asset_id": handled[0].suggestion_asset_id,
        "handled_at": handled[0].suggestion_handled_at, "handled_by": str(request.user),
    }
