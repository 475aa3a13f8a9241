"""REST endpoints for pipelines and their stages, deals (list, open, edit, move, close, history, people on a
deal) and the forecast: the same selectors and services the board and the deal page use."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated, Any, Literal

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema, Status
from pydantic import ConfigDict

from tandem.core.errors import NotFound, ValidationFailed
from tandem.core.http import Id, NoNul, require_perm
from tandem.core.idempotency import idempotent
from tandem.core.keyset import MAX_ID
from tandem.crm import selectors as crm_selectors
from tandem.crm.api import DealOut
from tandem.crm.models import DealContact
from tandem.crm.pipelines import selectors, services
from tandem.crm.services import deal_close, deal_create
from tandem.users.access import access_check, owner_change, owner_for
from tandem.users.selectors import user_get

router = Router(tags=["pipelines"])
deals_router = Router(tags=["deals"])

Text80 = Annotated[str, Field(max_length=80), NoNul]
Text120 = Annotated[str, Field(max_length=120), NoNul]
Text200 = Annotated[str, Field(max_length=200), NoNul]
Text2000 = Annotated[str, Field(max_length=2000), NoNul]
Text40 = Annotated[str, Field(max_length=40), NoNul]
Text16 = Annotated[str, Field(max_length=16), NoNul]
RefId = Annotated[int, Field(ge=1, le=MAX_ID)]
Percent = Annotated[int, Field(ge=0, le=100)]
Position = Annotated[int, Field(ge=0, le=32767)]
Money = Annotated[Decimal, Field(ge=0, max_digits=14, decimal_places=2)]
Kind = Literal["open", "won", "lost"]
CENTS = Decimal("0.01")
Role = Literal[tuple(DealContact.Role.values)]  # type: ignore[valid-type]


def _ref(load: Any, field: str, **kwargs: Any) -> Any:
    # An id in the body that names nothing is bad input (422 naming the field), not a missing page (404).
    try:
        return load(**kwargs)
    except NotFound as exc:
        raise ValidationFailed(exc.message, field=field, value=exc.value) from None


def _mine(request: HttpRequest, deal_id: int) -> Any:
    # A deal the user is about to change: 404 when out of sight, 403 when they may only look (tandem.users.access).
    return access_check(selectors.deal_get(deal_id=deal_id, user=request.user), user=request.user, write=True)


def _owner(owner_id: int | None) -> Any:
    return None if owner_id is None else _ref(user_get, "owner_id", user_id=owner_id)


# ---- schemas ----


class StageOut(Schema):
    id: int
    name: str
    position: int
    probability: int = Field(..., description="percent; the forecast weighs an open deal's amount by it")
    kind: str = Field(..., description="open, won or lost: what a deal in this stage is")
    is_active: bool


class PipelineOut(Schema):
    id: int
    name: str
    is_default: bool
    is_active: bool
    position: int
    stages: list[StageOut]

    @staticmethod
    def resolve_stages(obj: Any) -> list[Any]:
        return list(obj.stages.all())


class StageIn(Schema):
    model_config = ConfigDict(extra="forbid")

    name: Text80
    kind: Kind = "open"
    probability: Percent | None = Field(None, description="required for an open stage; won is 100, lost 0")
    position: Position | None = Field(None, description="default: open stages before the closed ones, closed at the end")


class PipelineIn(Schema):
    model_config = ConfigDict(extra="forbid")

    name: Text120
    is_default: bool = False
    position: Position | None = None
    stages: list[StageIn] | None = Field(
        None, max_length=50, description="in order; default: the stages of the built-in pipeline"
    )


class PipelinePatch(Schema):
    model_config = ConfigDict(extra="forbid")

    name: Text120 | None = None
    is_default: bool | None = Field(None, description="true makes this the default (the old default stops being it)")
    position: Position | None = None
    is_active: bool | None = None


class StagePatch(Schema):
    model_config = ConfigDict(extra="forbid")

    name: Text80 | None = None
    probability: Percent | None = None
    kind: Kind | None = Field(None, description="changes only while no deal is in the stage")
    is_active: Literal[True] | None = Field(None, description="true reactivates; deactivate with POST …/deactivate")


class StageOrderIn(Schema):
    model_config = ConfigDict(extra="forbid")

    stage_ids: list[RefId] = Field(..., max_length=100, description="every stage of the pipeline, each once")


class StageDeactivateIn(Schema):
    model_config = ConfigDict(extra="forbid")

    move_to_stage_id: RefId | None = Field(None, description="where its deals go: same pipeline, same kind")


class DeactivatedOut(Schema):
    stage: StageOut
    moved: int


class DealsPageOut(Schema):
    items: list[DealOut]
    next_cursor: str | None = Field(None, description="pass as `cursor` for the next (older) page")
    prev_cursor: str | None = Field(None, description="pass as `cursor` for the previous (newer) page")


class DealQuery(Schema):
    status: Text16 = Field("", description="open, won or lost")
    stage: Text16 = Field("", description="older name of `status`")
    stage_id: RefId | None = Field(None, description="a pipeline stage")
    pipeline_id: RefId | None = None
    owner: Text40 = Field("", description="a user id, or `none` for unassigned")
    person_id: RefId | None = None
    account_id: RefId | None = None
    cursor: Text2000 = ""
    limit: int = Field(crm_selectors.PAGE_SIZE, ge=1, le=crm_selectors.MAX_PAGE_SIZE)


class DealIn(Schema):
    model_config = ConfigDict(extra="forbid")

    person_id: RefId | None = Field(None, description="the main contact; a person or an account is required")
    account_id: RefId | None = Field(None, description="defaults to the person's account")
    amount: Decimal = Field(..., max_digits=14, decimal_places=2)
    name: Text200 = ""
    currency: str = Field("USD", pattern=r"^[A-Z]{3}$")
    owner_id: RefId | None = Field(None, description="defaults to the person's (or the account's) owner")
    pipeline_id: RefId | None = Field(None, description="defaults to the default pipeline")
    stage_id: RefId | None = Field(None, description="an open stage; defaults to the pipeline's first")
    expected_close_on: dt.date | None = None


class DealPatch(Schema):
    model_config = ConfigDict(extra="forbid")

    name: Text200 | None = None
    amount: Money | None = None
    owner_id: RefId | None = Field(None, description="null unassigns")
    expected_close_on: dt.date | None = Field(None, description="null clears")
    account_id: RefId | None = Field(None, description="null clears (only when the deal has a person)")
    pipeline_id: RefId | None = Field(None, description="an open deal restarts at the new pipeline's first open stage")


class DealMoveIn(Schema):
    model_config = ConfigDict(extra="forbid")

    to_stage_id: RefId
    reason: Text2000 = ""
    lost_reason_id: RefId | None = Field(None, description="an offered lost reason; a lost stage needs one")
    lost_reason: Text120 | None = Field(None, description="or its name (new names are added)")
    amount: Money | None = Field(None, description="final amount, if it changed")
    at: dt.datetime | None = Field(None, description="when it happened (default now; not before the last move)")


class DealCloseIn(Schema):
    model_config = ConfigDict(extra="forbid")

    won: bool
    lost_reason: Text200 | None = Field(None, description="required when won is false; new names are added")
    amount: Decimal | None = Field(None, max_digits=14, decimal_places=2, description="final amount, if it changed")


class HistoryOut(Schema):
    id: int
    from_stage_id: int | None
    from_stage: str | None
    to_stage_id: int
    to_stage: str
    to_kind: str
    changed_at: dt.datetime
    by_user_id: int | None
    reason: str
    seconds_in_stage: int = Field(..., description="until the next move, or until now for the current stage")
    current: bool


class ContactOut(Schema):
    person_id: int
    name: str
    email: str
    role: str
    created_at: dt.datetime


class ContactIn(Schema):
    model_config = ConfigDict(extra="forbid")

    person_id: RefId
    role: Role = "other"  # type: ignore[valid-type]


class ForecastQuery(Schema):
    pipeline: RefId | None = Field(None, description="a pipeline's id, as on the forecast page")
    pipeline_id: RefId | None = Field(None, description="the older name of `pipeline`")
    owner: Text40 = Field("", description="a user id, or `none` for unassigned")
    month_from: Text16 = Field("", description="YYYY-MM; default this month")
    months: int = Field(selectors.FORECAST_MONTHS, ge=1, le=36)


class ForecastRowOut(Schema):
    key: str | None
    label: str
    deals: int
    amount: Decimal
    weighted: Decimal = Field(..., description="open deals: amount × stage probability")
    won_deals: int
    won: Decimal = Field(..., description="won in the period (by close date)")
    forecast: Decimal = Field(..., description="won + weighted")


class ForecastOut(Schema):
    month_from: dt.date
    month_to: dt.date = Field(..., description="the first day after the range")
    months: list[ForecastRowOut]
    by_owner: list[ForecastRowOut]
    by_pipeline: list[ForecastRowOut]
    overdue: ForecastRowOut
    undated: ForecastRowOut
    total: ForecastRowOut


class BoardCardOut(Schema):
    id: int
    name: str
    amount: Decimal
    currency: str
    stage: str = Field(..., description="open, won or lost")
    pipeline_stage_id: int
    owner_id: int | None
    owner: str | None = Field(None, description="the owner's username")
    account_id: int | None
    account: str | None = Field(None, description="the account's name")
    person_id: int | None
    person: str | None = Field(None, description="the main contact's name")
    expected_close_on: dt.date | None
    stage_entered_at: dt.datetime | None
    closed_at: dt.datetime | None
    days_in_stage: int


class BoardColumnOut(Schema):
    stage: StageOut
    count: int = Field(..., description="deals in the column (those you may see)")
    amount: Decimal
    weighted: Decimal = Field(..., description="amount × the stage's probability")
    cards: list[BoardCardOut] = Field(..., description="the newest in the stage first")
    next_cursor: str | None = Field(
        None, description="more cards: GET /api/pipelines/{id}/stages/{stage_id}/cards?cursor= with the same filters"
    )


class BoardOut(Schema):
    pipeline_id: int
    owner: str
    month: str | None = Field(None, description="YYYY-MM, or null: open deals and those closed in the last 30 days")
    closed_since: dt.datetime | None
    columns: list[BoardColumnOut]


class BoardQuery(Schema):
    owner: Text40 = Field("", description="a user id, or `none` for unassigned (as on the board page)")
    month: Text16 = Field("", description="YYYY-MM: open deals expected to close then, deals closed then")


class BoardCardsQuery(BoardQuery):
    cursor: Annotated[str, Field(min_length=1, max_length=2000), NoNul] = Field(
        ..., description="a column's `next_cursor` from the board, or a page's"
    )
    limit: int = Field(selectors.COLUMN_PAGE, ge=1, le=200)


class BoardCardsOut(Schema):
    stage_id: int
    cards: list[BoardCardOut]
    next_cursor: str | None = Field(None, description="pass as `cursor` for the next page")


def _card_out(card: Any) -> dict[str, Any]:
    d = card.deal
    return {
        "id": d.pk, "name": d.name, "amount": d.amount, "currency": d.currency, "stage": d.stage,
        "pipeline_stage_id": d.pipeline_stage_id, "owner_id": d.owner_id,
        "owner": d.owner.username if d.owner is not None else None, "account_id": d.account_id,
        "account": d.account.name if d.account is not None else None, "person_id": d.person_id,
        "person": str(d.person) if d.person is not None else None, "expected_close_on": d.expected_close_on,
        "stage_entered_at": d.stage_entered_at, "closed_at": d.closed_at, "days_in_stage": card.days_in_stage,
    }


class ConversionQuery(Schema):
    date_from: dt.date | None = None
    date_to: dt.date | None = None


class StepOut(Schema):
    stage_id: int
    stage: str
    kind: str
    reached: int
    conversion: float | None
    lost_here: int
    now_here: int


class ConversionOut(Schema):
    pipeline_id: int
    deals: int
    lost: int
    steps: list[StepOut]


def _row(r: selectors.ForecastRow) -> dict[str, Any]:
    return {
        "key": None if r.key is None else str(r.key),
        "label": r.label,
        "deals": r.deals,
        "amount": r.amount,
        "weighted": r.weighted,
        "won_deals": r.won_deals,
        "won": r.won,
        "forecast": r.forecast,
    }


def _history(rows: list[selectors.HistoryRow]) -> list[dict[str, Any]]:
    return [
        {
            "id": r.change.pk,
            "from_stage_id": r.change.from_stage_id,
            "from_stage": r.change.from_stage.name if r.change.from_stage else None,
            "to_stage_id": r.change.to_stage_id,
            "to_stage": r.change.to_stage.name,
            "to_kind": r.change.to_stage.kind,
            "changed_at": r.change.changed_at,
            "by_user_id": r.change.by_user_id,
            "reason": r.change.reason,
            "seconds_in_stage": int(r.seconds),
            "current": r.current,
        }
        for r in rows
    ]


# ---- pipelines and stages ----


@router.get("/pipelines", response=list[PipelineOut])
def pipelines(request: HttpRequest, include_inactive: bool = False) -> Any:
    """Pipelines in order, each with its stages in order."""
    require_perm(request, "crm.view_pipeline", action="see pipelines")
    return selectors.pipelines_list(include_inactive=include_inactive)


@router.post("/pipelines", response={201: PipelineOut})
@idempotent
def pipeline_add(request: HttpRequest, payload: PipelineIn) -> Any:
    """Add a pipeline with its stages (at least one open, one won and one lost)."""
    require_perm(request, "crm.add_pipeline", action="add pipelines")
    specs = (
        [services.StageSpec(name=s.name, kind=s.kind, probability=s.probability) for s in payload.stages]
        if payload.stages is not None
        else None
    )
    pipeline = services.pipeline_create(
        name=payload.name, is_default=payload.is_default, position=payload.position, stages=specs, by_user=request.user
    )
    return Status(201, selectors.pipeline_get(pipeline_id=pipeline.pk))


@router.get("/pipelines/{int:pipeline_id}", response=PipelineOut)
def pipeline_one(request: HttpRequest, pipeline_id: Id) -> Any:
    """One pipeline with its stages."""
    require_perm(request, "crm.view_pipeline", action="see pipelines")
    return selectors.pipeline_get(pipeline_id=pipeline_id)


@router.patch("/pipelines/{int:pipeline_id}", response=PipelineOut)
def pipeline_change(request: HttpRequest, pipeline_id: Id, payload: PipelinePatch) -> Any:
    """Rename, reorder, make the default, or (de)activate a pipeline; only the fields sent change."""
    require_perm(request, "crm.change_pipeline", action="change pipelines")
    pipeline = selectors.pipeline_get(pipeline_id=pipeline_id)
    services.pipeline_update(pipeline=pipeline, by_user=request.user, **payload.dict(exclude_unset=True))
    return selectors.pipeline_get(pipeline_id=pipeline_id)


@router.post("/pipelines/{int:pipeline_id}/stages", response={201: StageOut})
@idempotent
def stage_add(request: HttpRequest, pipeline_id: Id, payload: StageIn) -> Any:
    """Add a stage to a pipeline."""
    require_perm(request, "crm.change_pipeline", action="change pipelines")
    pipeline = selectors.pipeline_get(pipeline_id=pipeline_id)
    return Status(201, services.pipeline_stage_create(pipeline=pipeline, by_user=request.user, **payload.dict()))


@router.patch("/pipelines/{int:pipeline_id}/stages/{int:stage_id}", response=StageOut)
def stage_change(request: HttpRequest, pipeline_id: Id, stage_id: Id, payload: StagePatch) -> Any:
    """Rename a stage, change its probability, its kind (only while empty) or reactivate it."""
    require_perm(request, "crm.change_pipeline", action="change pipelines")
    stage = selectors.pipeline_stage_get(stage_id=stage_id, pipeline_id=pipeline_id)
    return services.pipeline_stage_update(stage=stage, by_user=request.user, **payload.dict(exclude_unset=True))


@router.put("/pipelines/{int:pipeline_id}/stages/order", response=list[StageOut])
def stage_order(request: HttpRequest, pipeline_id: Id, payload: StageOrderIn) -> Any:
    """Put the pipeline's stages in this order (every stage, each once)."""
    require_perm(request, "crm.change_pipeline", action="change pipelines")
    pipeline = selectors.pipeline_get(pipeline_id=pipeline_id)
    return services.pipeline_stage_reorder(pipeline=pipeline, stage_ids=payload.stage_ids, by_user=request.user)


@router.post("/pipelines/{int:pipeline_id}/stages/{int:stage_id}/deactivate", response=DeactivatedOut)
def stage_deactivate(request: HttpRequest, pipeline_id: Id, stage_id: Id, payload: StageDeactivateIn) -> Any:
    """Retire a stage from the board; its deals move to `move_to_stage_id` (same kind) with history."""
    require_perm(request, "crm.change_pipeline", action="change pipelines")
    stage = selectors.pipeline_stage_get(stage_id=stage_id, pipeline_id=pipeline_id)
    move_to = (
        _ref(selectors.pipeline_stage_get, "move_to_stage_id", stage_id=payload.move_to_stage_id, pipeline_id=pipeline_id)
        if payload.move_to_stage_id is not None
        else None
    )
    moved = services.pipeline_stage_deactivate(stage=stage, move_to=move_to, by_user=request.user)
    return {"stage": selectors.pipeline_stage_get(stage_id=stage_id), "moved": moved}


@router.delete("/pipelines/{int:pipeline_id}/stages/{int:stage_id}", response={204: None})
def stage_delete(request: HttpRequest, pipeline_id: Id, stage_id: Id) -> Any:
    """Delete a stage no deal was ever in (409 otherwise: deactivate it instead)."""
    require_perm(request, "crm.change_pipeline", action="change pipelines")
    stage = selectors.pipeline_stage_get(stage_id=stage_id, pipeline_id=pipeline_id)
    services.pipeline_stage_delete(stage=stage, by_user=request.user)
    return Status(204, None)


@router.get("/pipelines/{int:pipeline_id}/conversion", response=ConversionOut)
def pipeline_conversion(request: HttpRequest, pipeline_id: Id, filters: Query[ConversionQuery]) -> Any:
    """How many deals (created in the period) reached each stage, and the conversion from the stage before."""
    require_perm(request, "crm.view_deal", action="see deals")
    pipeline = selectors.pipeline_get(pipeline_id=pipeline_id)
    result = selectors.pipeline_conversion(pipeline=pipeline, date_from=filters.date_from, date_to=filters.date_to)
    return {
        "pipeline_id": pipeline.pk,
        "deals": result.deals,
        "lost": result.lost,
        "steps": [
            {
                "stage_id": s.stage.pk,
                "stage": s.stage.name,
                "kind": s.stage.kind,
                "reached": s.reached,
                "conversion": s.conversion,
                "lost_here": s.lost_here,
                "now_here": s.now_here,
            }
            for s in result.steps
        ],
    }


@router.get("/pipelines/{int:pipeline_id}/board", response=BoardOut)
def pipeline_board(request: HttpRequest, pipeline_id: Id, filters: Query[BoardQuery]) -> Any:
    """The pipeline's board as on its page: per active stage the count, amount and weighted amount of the deals you
    may see, and the newest cards (20 a column; `next_cursor` pages on); filtered by `owner` and `month`."""
    require_perm(request, "crm.view_deal", action="see deals")
    pipeline = selectors.pipeline_get(pipeline_id=pipeline_id)
    board = selectors.board_get(pipeline=pipeline, owner=filters.owner, month=filters.month, user=request.user)
    return {
        "pipeline_id": pipeline.pk,
        "owner": board.owner,
        "month": f"{board.month:%Y-%m}" if board.month else None,
        "closed_since": board.closed_since,
        "columns": [
            {
                # In cents always, empty columns too (the selector's zero has no places).
                "stage": c.stage, "count": c.count, "amount": c.amount.quantize(CENTS),
                "weighted": c.weighted.quantize(CENTS),
                "cards": [_card_out(card) for card in c.cards], "next_cursor": c.next_cursor,
            }
            for c in board.columns
        ],
    }


@router.get("/pipelines/{int:pipeline_id}/stages/{int:stage_id}/cards", response=BoardCardsOut)
def pipeline_board_cards(request: HttpRequest, pipeline_id: Id, stage_id: Id, filters: Query[BoardCardsQuery]) -> Any:
    """The next cards of one board column after a cursor (the newest in the stage first), same filters as the board."""
    require_perm(request, "crm.view_deal", action="see deals")
    pipeline = selectors.pipeline_get(pipeline_id=pipeline_id)
    stage = selectors.pipeline_stage_get(stage_id=stage_id, pipeline_id=pipeline_id)
    column = selectors.board_column_page(
        pipeline=pipeline, stage=stage, owner=filters.owner, month=filters.month, cursor=filters.cursor,
        limit=filters.limit, user=request.user,
    )
    return {"stage_id": stage.pk, "cards": [_card_out(card) for card in column.cards], "next_cursor": column.next_cursor}


@router.get("/forecast", response=ForecastOut, tags=["forecast"])
def forecast(request: HttpRequest, filters: Query[ForecastQuery]) -> Any:
    """Open deals' amount × stage probability by expected close month, plus won amounts; by owner and pipeline."""
    require_perm(request, "crm.view_deal", action="see the forecast")
    field, pipeline_id = ("pipeline", filters.pipeline) if filters.pipeline is not None else ("pipeline_id", filters.pipeline_id)
    if pipeline_id is not None:
        _ref(selectors.pipeline_get, field, pipeline_id=pipeline_id)
    f = selectors.forecast_get(
        pipeline_id=pipeline_id, owner=filters.owner, month_from=filters.month_from, months=filters.months
    )
    return {
        "month_from": f.month_from,
        "month_to": f.month_to,
        "months": [_row(r) for r in f.months],
        "by_owner": [_row(r) for r in f.by_owner],
        "by_pipeline": [_row(r) for r in f.by_pipeline],
        "overdue": _row(f.overdue),
        "undated": _row(f.undated),
        "total": _row(f.total),
    }


# ---- deals ----


@deals_router.get("/deals", response=DealsPageOut)
def deals_list(request: HttpRequest, filters: Query[DealQuery]) -> Any:
    """List deals newest first, filtered by status, pipeline, stage, owner, account and person; keyset pages."""
    require_perm(request, "crm.view_deal", action="list deals")
    return crm_selectors.deal_list(**filters.dict(), user=request.user)


@deals_router.get("/deals/{int:deal_id}", response=DealOut)
def deals_get(request: HttpRequest, deal_id: Id) -> Any:
    """One deal."""
    require_perm(request, "crm.view_deal", action="view deals")
    return selectors.deal_get(deal_id=deal_id, user=request.user)


@deals_router.post("/deals", response={201: DealOut})
@idempotent
def deals_create(request: HttpRequest, payload: DealIn) -> Any:
    """Open a deal for an account and/or a person (who moves forward to opportunity) at an open stage."""
    require_perm(request, "crm.add_deal", action="open deals")
    # A deal is opened on a person the user may change (it moves them forward) and an account they may see; an
    # id out of sight is as good as none (422).
    person = (
        access_check(
            _ref(crm_selectors.person_get, "person_id", person_id=payload.person_id, user=request.user),
            user=request.user,
            write=True,
        )
        if payload.person_id
        else None
    )
    account = (
        _ref(selectors.account_get, "account_id", account_id=payload.account_id, user=request.user)
        if payload.account_id
        else None
    )
    pipeline = (
        _ref(selectors.pipeline_get, "pipeline_id", pipeline_id=payload.pipeline_id) if payload.pipeline_id else None
    )
    stage = _ref(selectors.pipeline_stage_get, "stage_id", stage_id=payload.stage_id) if payload.stage_id else None
    deal = deal_create(
        person=person,
        account=account,
        amount=payload.amount,
        name=payload.name,
        currency=payload.currency,
        owner=owner_for(request.user, _owner(payload.owner_id)),
        pipeline=pipeline,
        stage=stage,
        expected_close_on=payload.expected_close_on,
        by_user=request.user,
    )
    return Status(201, selectors.deal_get(deal_id=deal.pk))


@deals_router.patch("/deals/{int:deal_id}", response=DealOut)
def deals_update(request: HttpRequest, deal_id: Id, payload: DealPatch) -> Any:
    """Change a deal's name, amount, owner, expected close date, account or pipeline; only the fields sent."""
    require_perm(request, "crm.change_deal", action="edit deals")
    deal = _mine(request, deal_id)
    sent = payload.dict(exclude_unset=True)
    changes: dict[str, Any] = {k: v for k, v in sent.items() if k in ("name", "amount", "expected_close_on")}
    if "amount" in changes and changes["amount"] is None:
        raise ValidationFailed("amount must be a number", field="amount", value=None)
    if "name" in changes and changes["name"] is None:
        changes["name"] = ""
    if "owner_id" in sent:
        changes["owner"] = owner_change(request.user, current_id=deal.owner_id, owner=_owner(sent["owner_id"]))
    if "account_id" in sent:
        changes["account"] = (
            _ref(selectors.account_get, "account_id", account_id=sent["account_id"], user=request.user)
            if sent["account_id"]
            else None
        )
    if sent.get("pipeline_id") is not None:
        changes["pipeline"] = _ref(selectors.pipeline_get, "pipeline_id", pipeline_id=sent["pipeline_id"])
    services.deal_update(deal=deal, by_user=request.user, **changes)
    return selectors.deal_get(deal_id=deal_id)


@deals_router.post("/deals/{int:deal_id}/move", response=DealOut)
def deals_move(request: HttpRequest, deal_id: Id, payload: DealMoveIn) -> Any:
    """Move a deal to another stage of its pipeline: won/lost stages close it (lost needs a reason), an open
    stage reopens a closed deal; 409 when the move is not allowed."""
    require_perm(request, "crm.change_deal", action="move deals")
    deal = _mine(request, deal_id)
    to_stage = _ref(selectors.pipeline_stage_get, "to_stage_id", stage_id=payload.to_stage_id, field_name="to_stage_id")
    lost_reason: Any = payload.lost_reason
    if payload.lost_reason_id is not None:
        lost_reason = crm_selectors.lost_reason_offered(reason_id=payload.lost_reason_id)
    services.deal_move(
        deal=deal,
        to_stage=to_stage,
        by_user=request.user,
        reason=payload.reason,
        at=payload.at,
        lost_reason=lost_reason,
        amount=payload.amount,
    )
    return selectors.deal_get(deal_id=deal_id)


@deals_router.post("/deals/{int:deal_id}/close", response=DealOut)
def deals_close(request: HttpRequest, deal_id: Id, payload: DealCloseIn) -> Any:
    """Close a deal as won (the person becomes a customer) or lost (with a lost reason): the first won or lost
    stage of its pipeline."""
    require_perm(request, "crm.change_deal", action="close deals")
    deal = _mine(request, deal_id)
    deal_close(deal=deal, won=payload.won, lost_reason=payload.lost_reason, amount=payload.amount, by_user=request.user)
    return selectors.deal_get(deal_id=deal_id)


@deals_router.get("/deals/{int:deal_id}/history", response=list[HistoryOut])
def deals_history(request: HttpRequest, deal_id: Id) -> Any:
    """The stages a deal went through, oldest first, each with its time in stage."""
    require_perm(request, "crm.view_deal", action="view deals")
    deal = selectors.deal_get(deal_id=deal_id, user=request.user)
    return _history(selectors.deal_history(deal_id=deal.pk))


def _contacts(deal_id: int) -> list[dict[str, Any]]:
    return [
        {
            "person_id": c.person_id,
            "name": c.person.full_name,
            "email": c.person.email,
            "role": c.role,
            "created_at": c.created_at,
        }
        for c in selectors.deal_contacts(deal_id=deal_id)
    ]


@deals_router.get("/deals/{int:deal_id}/contacts", response=list[ContactOut])
def deals_contacts(request: HttpRequest, deal_id: Id) -> Any:
    """The people on a deal's buying team with their roles."""
    require_perm(request, "crm.view_deal", action="view deals")
    deal = selectors.deal_get(deal_id=deal_id, user=request.user)
    return _contacts(deal.pk)


@deals_router.post("/deals/{int:deal_id}/contacts", response=list[ContactOut])
def deals_contact_add(request: HttpRequest, deal_id: Id, payload: ContactIn) -> Any:
    """Put a person on the deal with a role (a person already on it gets the new role); returns the team."""
    require_perm(request, "crm.change_deal", action="change deals")
    deal = _mine(request, deal_id)
    person = _ref(crm_selectors.person_get, "person_id", person_id=payload.person_id, user=request.user)
    services.deal_contact_add(deal=deal, person=person, role=payload.role, by_user=request.user)
    return _contacts(deal.pk)


@deals_router.delete("/deals/{int:deal_id}/contacts/{int:person_id}", response={204: None})
def deals_contact_remove(request: HttpRequest, deal_id: Id, person_id: Id) -> Any:
    """Take a person off the deal."""
    require_perm(request, "crm.change_deal", action="change deals")
    deal = _mine(request, deal_id)
    person = crm_selectors.person_get(person_id=person_id, user=request.user)
    services.deal_contact_remove(deal=deal, person=person, by_user=request.user)
    return Status(204, None)
