"""REST endpoints of enablement: assets (links and uploads), sends and uses, usage, gaps, personas, products."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from django.core.files.storage import default_storage
from django.http import FileResponse, HttpRequest
from ninja import Field, File, Form, Query, Router, Schema, Status
from ninja.files import UploadedFile

from tandem.core.apiversion import api_deprecated_use
from tandem.core.errors import NotFound, ValidationFailed
from tandem.core.http import require_perm
from tandem.core.idempotency import idempotent
from tandem.core.paging import PAGE_SIZE, CursorParam, LimitParam, page_dict
from tandem.crm.models import Activity, Deal, Person
from tandem.enablement import selectors, services
from tandem.enablement.files import content_type_of
from tandem.enablement.models import Asset, Objection, Persona, Product
from tandem.enablement.registry import RECORDED_ONLY
from tandem.users.access import access_check, access_seen

router = Router(tags=["enablement"])


def _editor(request: HttpRequest) -> None:
    require_perm(
        request,
        allowed=services.user_can_edit_library(user=request.user),
        message="Only admins and marketing edit the content library, personas and products.",
    )


def _content_user(request: HttpRequest) -> None:
    require_perm(
        request,
        allowed=services.user_can_use_content(user=request.user),
        message="Viewers cannot send content or record its use.",
    )


class AssetOut(Schema):
    id: int
    title: str
    description: str
    kind: str
    url: str
    is_file: bool
    original_name: str
    content_type: str
    size_bytes: int
    persona_id: int | None
    stage: str
    product_id: int | None
    theme_ids: list[int]
    campaign_ids: list[int]
    owner_id: int | None
    expires_on: dt.date | None
    expired: bool
    download_url: str | None


def _asset_out(asset: Asset) -> dict[str, Any]:
    today = selectors.today_local()
    return {
        "id": asset.pk, "title": asset.title, "description": asset.description, "kind": asset.kind, "url": asset.url,
        "is_file": asset.is_file, "original_name": asset.original_name, "content_type": asset.content_type,
        "size_bytes": asset.size_bytes, "persona_id": asset.persona_id, "stage": asset.stage,
        "product_id": asset.product_id, "theme_ids": sorted(t.pk for t in asset.themes.all()),
        "campaign_ids": sorted(c.pk for c in asset.campaigns.all()), "owner_id": asset.owner_id,
        "expires_on": asset.expires_on, "expired": asset.expires_on is not None and asset.expires_on < today,
        "download_url": f"/api/enablement/assets/{asset.pk}/file" if asset.is_file else None,
    }  # fmt: skip


class AssetIn(Schema):
    title: str
    kind: str
    url: str = ""
    description: str = ""
    persona_id: int | None = None
    stage: str = ""
    product_id: int | None = None
    owner_id: int | None = None
    expires_on: dt.date | None = None
    theme_ids: list[int] = []
    campaign_ids: list[int] = []


class AssetPatch(Schema):
    title: str | None = None
    kind: str | None = None
    url: str | None = None
    description: str | None = None
    persona_id: int | None = None
    stage: str | None = None
    product_id: int | None = None
    owner_id: int | None = None
    expires_on: dt.date | None = None
    theme_ids: list[int] | None = None
    campaign_ids: list[int] | None = None


class AssetPageOut(Schema):
    items: list[AssetOut]
    next_cursor: str | None = Field(None, description="pass as `cursor` for the next (older) page")
    prev_cursor: str | None = Field(None, description="pass as `cursor` for the previous (newer) page")


@router.get("/enablement/assets", response=AssetPageOut)
def assets_list(
    request: HttpRequest,
    q: str = "",
    kind: str = "",
    persona: int | None = None,
    stage: str = "",
    product: int | None = None,
    theme: int | None = None,
    show: str = "current",
    cursor: CursorParam = "",
    limit: LimitParam = PAGE_SIZE,
) -> dict[str, Any]:
    """Search the library, newest first, a keyset page at a time (reps never see expired assets; editors may ask
    for show=expired or all)."""
    filters = selectors.library_filters_parse(
        {"q": q, "kind": kind, "persona": persona, "stage": stage, "product": product, "theme": theme, "show": show}
    )
    return page_dict(selectors.asset_library_page(user=request.user, filters=filters, cursor=cursor, limit=limit), _asset_out)


@router.post("/enablement/assets", response={201: AssetOut})
@idempotent
def asset_create_json(request: HttpRequest, payload: AssetIn) -> Status:
    """Add a link asset (admins and marketing); upload files with POST /enablement/assets/upload."""
    _editor(request)
    asset = services.asset_create(by_user=request.user, **payload.dict())
    return Status(201, _asset_out(asset))


@router.post("/enablement/assets/upload", response={201: AssetOut})
@idempotent
def asset_upload(
    request: HttpRequest,
    file: File[UploadedFile],
    title: Form[str],
    kind: Form[str],
    description: Form[str] = "",
    persona_id: Form[int | None] = None,
    stage: Form[str] = "",
    product_id: Form[int | None] = None,
    expires_on: Form[dt.date | None] = None,
) -> Status:
    """Upload a file asset (multipart); refused with 422 when its type, content or size is not allowed."""
    _editor(request)
    asset = services.asset_create(
        title=title, kind=kind, upload=file, by_user=request.user, description=description, persona_id=persona_id,
        stage=stage, product_id=product_id, expires_on=expires_on,
    )  # fmt: skip
    return Status(201, _asset_out(asset))


@router.get("/enablement/assets/{int:asset_id}", response=AssetOut)
def asset_read(request: HttpRequest, asset_id: int) -> dict[str, Any]:
    """One asset (404 for a rep asking for an expired one)."""
    return _asset_out(selectors.asset_get(asset_id=asset_id, user=request.user))


@router.patch("/enablement/assets/{int:asset_id}", response=AssetOut)
def asset_patch(request: HttpRequest, asset_id: int, payload: AssetPatch) -> dict[str, Any]:
    """Change an asset's fields (admins and marketing); only the fields sent change."""
    _editor(request)
    asset = selectors.asset_get(asset_id=asset_id, user=request.user)
    changes = payload.dict(exclude_unset=True)
    asset = services.asset_update(asset=asset, by_user=request.user, **changes)
    return _asset_out(selectors.asset_get(asset_id=asset.pk, user=request.user))


@router.get("/enablement/assets/{int:asset_id}/file", response={200: None})
def asset_download(request: HttpRequest, asset_id: int) -> Any:
    """Download an uploaded file (as an attachment, never rendered inline)."""
    asset = selectors.asset_get(asset_id=asset_id, user=request.user)
    if not asset.file:
        raise NotFound("This asset is a link, not a file.", field="asset_id", value=asset_id)
    try:
        handle = default_storage.open(asset.file, "rb")
    except OSError as exc:
        raise NotFound("The file is missing from the upload folder.", field="asset_id", value=asset_id) from exc
    response = FileResponse(
        handle, as_attachment=True, filename=asset.original_name or f"asset-{asset.pk}", content_type=content_type_of(asset.file)
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response


class UseOut(Schema):
    id: int
    asset_id: int
    person_id: int
    deal_id: int | None
    activity_id: int | None
    how: str
    helped: bool | None
    note: str
    used_by_id: int | None
    used_at: dt.datetime


class SendIn(Schema):
    person_id: int
    deal_id: int | None = None
    note: str = ""


class AssetSendOut(UseOut):
    emailed: bool = Field(..., description="whether the asset was e-mailed to the person (SMTP configured)")
    delivery: str = Field(..., description='"e-mailed with a tracked link" or "recorded only, not e-mailed"')


def _row(model: Any, pk: int | None, *, field: str, user: Any) -> Any:
    # A row out of the user's sight is answered as a missing one (422 naming the field), so ids cannot be probed.
    if pk is None:
        return None
    row = access_seen(model.objects.all(), user=user).filter(pk=pk).first() if 0 < pk <= selectors.MAX_ID else None
    if row is None:
        raise ValidationFailed(f"No such {field.removesuffix('_id')}.", field=field, value=pk)
    return row


def _person_to_change(request: HttpRequest, person_id: int) -> Person:
    # Recording content with a person adds to their record: 403 when the user may see the person but not change it.
    person: Person = _row(Person, person_id, field="person_id", user=request.user)
    return access_check(person, user=request.user, write=True)


@router.post("/enablement/assets/{int:asset_id}/send", response={201: AssetSendOut})
@idempotent
def asset_send(request: HttpRequest, asset_id: int, payload: SendIn) -> Status:
    """Send an asset to a person: a content_sent touchpoint, a use and an event; e-mailed with a tracked link when
    SMTP is configured (refused without the person's e-mail consent), else recorded only (`delivery` says which)."""
    _content_user(request)
    asset = selectors.asset_get(asset_id=asset_id, user=request.user)
    use = services.asset_send(
        asset=asset, person=_person_to_change(request, payload.person_id), by_user=request.user,
        deal=_row(Deal, payload.deal_id, field="deal_id", user=request.user), note=payload.note,
    )  # fmt: skip
    delivery = services.asset_send_delivery()
    out = UseOut.from_orm(use).dict() | {"emailed": delivery != RECORDED_ONLY, "delivery": delivery}
    return Status(201, out)


class UseIn(Schema):
    asset_id: int
    person_id: int
    deal_id: int | None = None
    activity_id: int | None = None
    helped: bool | None = None
    note: str = ""


@router.post("/enablement/uses", response={201: UseOut})
@idempotent
def use_create(request: HttpRequest, payload: UseIn) -> Status:
    """Record which asset was used with a person, on a deal or a call, and whether it helped."""
    _content_user(request)
    asset = selectors.asset_get(asset_id=payload.asset_id, user=request.user)
    use = services.content_use_record(
        asset=asset, person=_person_to_change(request, payload.person_id), by_user=request.user,
        deal=_row(Deal, payload.deal_id, field="deal_id", user=request.user),
        activity=_row(Activity, payload.activity_id, field="activity_id", user=request.user),
        helped=payload.helped, note=payload.note,
    )  # fmt: skip
    return Status(201, use)


class UsageAsset(Schema):
    id: int
    title: str
    kind: str
    expires_on: str | None
    uses: int
    people: int
    deals: int
    open_deals: int
    won: int
    lost: int
    closed: int
    win_rate: float | None
    win_low: float
    win_high: float
    helped_yes: int
    helped_rated: int
    helped_rate: float | None


class BaselineOut(Schema):
    won: int
    lost: int
    win_rate: float | None
    win_low: float
    win_high: float


class UsageOut(Schema):
    baseline: BaselineOut
    assets: list[UsageAsset]


@router.get("/enablement/usage", response=UsageOut)
def usage(request: HttpRequest) -> dict[str, Any]:
    """Each asset's uses and the win rate of the deals it was used on (Wilson 95 %, n closed), with all deals' rate."""
    report = selectors.content_usage_report()
    if not services.user_can_edit_library(user=request.user):
        today = selectors.today_local()
        report.rows = [(a, u) for a, u in report.rows if a.expires_on is None or a.expires_on >= today]
    return report.to_dict()


class GapOut(Schema):
    theme_id: int
    label: str
    questions: int
    people: int
    lost_deals: int
    closed_deals: int
    lost_share: float | None
    lost_low: float
    lost_high: float
    examples: list[str]


@router.get("/enablement/gaps", response=list[GapOut])
def gaps(
    request: HttpRequest,
    min_: Annotated[int | None, Query(alias="min", description="questions heard at least (default 3)")] = None,
    min_questions: Annotated[int | None, Query(deprecated=True, description="Deprecated: use `min`.")] = None,
) -> list[dict[str, Any]]:
    """Themes heard at least `min` times with no current asset, the most lost deals first."""
    name, least = ("min", min_) if min_ is not None else ("min_questions", min_questions)
    if min_questions is not None:
        api_deprecated_use(request, name="min_questions")
        if min_ is not None:
            raise ValidationFailed(
                "give min or min_questions (its old name), not both", field="min_questions", value=min_questions
            )
    if least is not None and least < 1:
        raise ValidationFailed(f"{name} is at least 1.", field=name, value=least)
    return [g.to_dict() for g in selectors.content_gaps_report(min_questions=3 if least is None else least)]


class ProductOut(Schema):
    id: int
    name: str
    summary: str
    possibilities: list[str]


def _product_out(p: Product) -> dict[str, Any]:
    return {"id": p.pk, "name": p.name, "summary": p.summary, "possibilities": p.possibility_list}


class ProductIn(Schema):
    name: str
    summary: str = ""
    possibilities: list[str] = []


class ProductPatch(Schema):
    name: str | None = None
    summary: str | None = None
    possibilities: list[str] | None = None


@router.get("/enablement/products", response=list[ProductOut])
def products_list(request: HttpRequest) -> list[dict[str, Any]]:
    """Products by name with what each makes possible."""
    return [_product_out(p) for p in selectors.products_list()]


@router.post("/enablement/products", response={201: ProductOut})
@idempotent
def product_create(request: HttpRequest, payload: ProductIn) -> Status:
    """Add a product (admins and marketing)."""
    _editor(request)
    product = services.product_create(
        name=payload.name, summary=payload.summary, possibilities="\n".join(payload.possibilities), by_user=request.user
    )
    return Status(201, _product_out(product))


@router.patch("/enablement/products/{int:product_id}", response=ProductOut)
def product_patch(request: HttpRequest, product_id: int, payload: ProductPatch) -> dict[str, Any]:
    """Change a product (admins and marketing)."""
    _editor(request)
    changes = payload.dict(exclude_unset=True)
    if changes.get("possibilities") is not None:
        changes["possibilities"] = "\n".join(changes["possibilities"])
    product = services.product_update(product=selectors.product_get(product_id=product_id), by_user=request.user, **changes)
    return _product_out(product)


class ObjectionOut(Schema):
    id: int
    objection: str
    answer: str


class PersonaOut(Schema):
    id: int
    name: str
    summary: str
    priority: int
    is_active: bool
    rules: dict[str, Any]
    rules_text: list[str]
    product_ids: list[int]
    pains: list[str]
    value_propositions: list[str]
    proof_points: list[str]
    objections: list[ObjectionOut]


def _persona_out(p: Persona) -> dict[str, Any]:
    return {
        "id": p.pk, "name": p.name, "summary": p.summary, "priority": p.priority, "is_active": p.is_active,
        "rules": p.rules, "rules_text": selectors.persona_rules_text(persona=p),
        "product_ids": sorted(x.pk for x in p.products.all()), "pains": p.pain_list,
        "value_propositions": p.value_list, "proof_points": p.proof_list,
        "objections": [{"id": o.pk, "objection": o.objection, "answer": o.answer} for o in p.objections.all()],
    }  # fmt: skip


class PersonaIn(Schema):
    name: str
    summary: str = ""
    priority: int = 100
    is_active: bool = True
    rules: dict[str, Any] = {}
    product_ids: list[int] = []
    pains: list[str] = []
    value_propositions: list[str] = []
    proof_points: list[str] = []


class PersonaPatch(Schema):
    name: str | None = None
    summary: str | None = None
    priority: int | None = None
    is_active: bool | None = None
    rules: dict[str, Any] | None = None
    product_ids: list[int] | None = None
    pains: list[str] | None = None
    value_propositions: list[str] | None = None
    proof_points: list[str] | None = None


LINE_FIELDS = ("pains", "value_propositions", "proof_points")


@router.get("/enablement/personas", response=list[PersonaOut])
def personas_list(request: HttpRequest) -> list[dict[str, Any]]:
    """Personas in matching order with rules, talking points and objections."""
    return [_persona_out(p) for p in selectors.personas_list()]


@router.post("/enablement/personas", response={201: PersonaOut})
@idempotent
def persona_create(request: HttpRequest, payload: PersonaIn) -> Status:
    """Add a persona (admins and marketing); rules use the profile criteria of qualification definitions."""
    _editor(request)
    data = payload.dict()
    for key in LINE_FIELDS:
        data[key] = "\n".join(data[key])
    persona = services.persona_create(by_user=request.user, **data)
    return Status(201, _persona_out(selectors.persona_get(persona_id=persona.pk)))


@router.get("/enablement/personas/{int:persona_id}", response=PersonaOut)
def persona_read(request: HttpRequest, persona_id: int) -> dict[str, Any]:
    """One persona."""
    return _persona_out(selectors.persona_get(persona_id=persona_id))


@router.patch("/enablement/personas/{int:persona_id}", response=PersonaOut)
def persona_patch(request: HttpRequest, persona_id: int, payload: PersonaPatch) -> dict[str, Any]:
    """Change a persona (admins and marketing); only the fields sent change."""
    _editor(request)
    changes = payload.dict(exclude_unset=True)
    for key in LINE_FIELDS:
        if changes.get(key) is not None:
            changes[key] = "\n".join(changes[key])
    services.persona_update(persona=selectors.persona_get(persona_id=persona_id), by_user=request.user, **changes)
    return _persona_out(selectors.persona_get(persona_id=persona_id))


class ObjectionIn(Schema):
    objection: str
    answer: str


@router.post("/enablement/personas/{int:persona_id}/objections", response={201: ObjectionOut})
@idempotent
def objection_create(request: HttpRequest, persona_id: int, payload: ObjectionIn) -> Status:
    """Add an objection and its answer to a persona (admins and marketing)."""
    _editor(request)
    row = services.objection_add(
        persona=selectors.persona_get(persona_id=persona_id), objection=payload.objection, answer=payload.answer, by_user=request.user
    )
    return Status(201, row)


@router.delete("/enablement/objections/{int:objection_id}", response={204: None})
def objection_delete(request: HttpRequest, objection_id: int) -> Status:
    """Remove an objection (admins and marketing)."""
    _editor(request)
    row = Objection.objects.filter(pk=objection_id).first() if 0 < objection_id <= selectors.MAX_ID else None
    if row is None:
        raise NotFound(f"there is no objection {objection_id}", field="objection_id", value=objection_id)
    services.objection_remove(objection=row, by_user=request.user)
    return Status(204, None)


class SuggestionOut(Schema):
    asset: AssetOut
    why: list[str]
    uses: int
    win_rate: float | None
    win_low: float
    win_high: float
    closed_deals: int
    last_used_at: dt.datetime | None


class PersonEnablementOut(Schema):
    person_id: int
    persona: PersonaOut | None
    matched_because: list[str]
    suggestions: list[SuggestionOut]


@router.get("/people/{int:person_id}/enablement", response=PersonEnablementOut)
def person_enablement(request: HttpRequest, person_id: int) -> dict[str, Any]:
    """A person's persona with its talking points, and the best current assets for their stage."""
    require_perm(request, "crm.view_person", message="You cannot see people.")
    panel = selectors.person_enablement_panel(person_id=person_id, user=request.user)
    persona = panel.match.persona
    return {
        "person_id": person_id,
        "persona": _persona_out(persona) if persona else None,
        "matched_because": panel.match.reasons,
        "suggestions": [
            {
                "asset": _asset_out(s.asset), "why": s.why, "uses": s.usage.uses, "win_rate": s.usage.win_rate,
                "win_low": s.usage.win_low, "win_high": s.usage.win_high, "closed_deals": s.usage.closed,
                "last_used_at": s.sent_at,
            }
            for s in panel.suggestions
        ],
    }
