"""Pipeline pages: the board (drag and drop, keyboard, "move to" menus), the deal page, the forecast and the
pipelines' settings. Views parse, call one service or selector, and render."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.views.decorators.http import require_POST
from django.views.decorators.vary import vary_on_headers

from tandem.core.errors import NotFound, TandemError, ValidationFailed
from tandem.core.http import require_perm
from tandem.crm import selectors as crm_selectors
from tandem.crm.models import DealContact, DealStage, Pipeline
from tandem.crm.pipelines import selectors, services
from tandem.users.access import access_allows, access_check, owner_change, owner_choices
from tandem.users.selectors import user_get, user_owner_options


def _get(select: Any, **kwargs: Any) -> Any:
    try:
        return select(**kwargs)
    except NotFound as exc:
        raise Http404(exc.message) from None


def _mine(request: HttpRequest, deal_id: int) -> Any:
    # A deal the user is about to change: 404 when out of sight, 403 when they may only look (tandem.users.access).
    return access_check(_get(selectors.deal_get, deal_id=deal_id, user=request.user), user=request.user, write=True)


def _int(request: HttpRequest, name: str, *, required: bool = True) -> int | None:
    raw = request.POST.get(name, "").strip()
    if not raw and not required:
        return None
    if not raw.isdigit() or not 0 < int(raw) < 2**63:
        raise ValidationFailed(f"{name} must be an id, got {raw!r}", field=name, value=raw)
    return int(raw)


def _filters(request: HttpRequest) -> dict[str, str]:
    source = request.POST if request.method == "POST" else request.GET
    return {"owner": source.get("owner", "").strip()[:40], "month": source.get("month", "").strip()[:16]}


def _board_context(request: HttpRequest, pipeline: Pipeline, filters: dict[str, str]) -> dict[str, Any]:
    try:
        board = selectors.board_get(
            pipeline=pipeline, owner=filters["owner"], month=filters["month"], user=request.user
        )
        error = None
    except TandemError as exc:
        board, error = selectors.board_get(pipeline=pipeline, user=request.user), exc.message
    stages = [c.stage for c in board.columns]
    query = urlencode({k: v for k, v in filters.items() if v})
    return {
        "board": board,
        "pipeline": pipeline,
        "stages": stages,
        "filters": filters,
        "query": query,
        "error": error,
        "can_move": request.user.has_perm("crm.change_deal"),
    }


@login_required
@permission_required("crm.view_deal", raise_exception=True)
@vary_on_headers("HX-Request")
def board(request: HttpRequest, pipeline_id: int | None = None) -> HttpResponse:
    pipeline = _get(selectors.pipeline_get, pipeline_id=pipeline_id) if pipeline_id else _get(selectors.pipeline_default_get)
    context = _board_context(request, pipeline, _filters(request))
    htmx: Any = getattr(request, "htmx", None)
    if htmx and not htmx.history_restore_request:
        return render(request, "pipelines/_board.html", context)
    context.update(
        pipelines=selectors.pipelines_list(with_stages=False),
        owners=user_owner_options(),
        lost_reasons=selectors.lost_reasons_offered(),
        can_settings=request.user.has_perm("crm.change_pipeline"),
    )
    return render(request, "pipelines/board.html", context)


@login_required
@permission_required("crm.view_deal", raise_exception=True)
def board_column(request: HttpRequest, pipeline_id: int, stage_id: int) -> HttpResponse:
    """The next cards of one column (its "more" button)."""
    pipeline = _get(selectors.pipeline_get, pipeline_id=pipeline_id)
    stage = _get(selectors.pipeline_stage_get, stage_id=stage_id, pipeline_id=pipeline_id)
    filters = _filters(request)
    try:
        column = selectors.board_column_page(
            pipeline=pipeline, stage=stage, owner=filters["owner"], month=filters["month"],
            cursor=request.GET.get("cursor", "").strip(), user=request.user,
        )
    except TandemError as exc:
        return HttpResponse(exc.message, status=exc.status_code)
    stages = list(pipeline.stages.all())
    context = {
        "column": column,
        "pipeline": pipeline,
        "stages": [s for s in stages if s.is_active],
        "query": urlencode({k: v for k, v in filters.items() if v}),
        "can_move": request.user.has_perm("crm.change_deal"),
    }
    return render(request, "pipelines/_column_more.html", context)


def _move(request: HttpRequest, deal_id: int) -> str:
    """Move one deal from a posted form; returns what was done, for the message."""
    deal = access_check(selectors.deal_get(deal_id=deal_id, user=request.user), user=request.user, write=True)
    to_stage_id = _int(request, "to_stage")
    assert to_stage_id is not None
    try:
        to_stage = selectors.pipeline_stage_get(stage_id=to_stage_id, field_name="to_stage")
    except NotFound as exc:
        raise ValidationFailed(exc.message, field="to_stage", value=to_stage_id) from None
    chosen = request.POST.get("lost_reason_id", "").strip()
    lost_reason = crm_selectors.lost_reason_offered(reason_id=chosen) if chosen else None
    services.deal_move(
        deal=deal,
        to_stage=to_stage,
        by_user=request.user,
        reason=request.POST.get("reason", ""),
        lost_reason=lost_reason,
    )
    # "moved to Closing (won)", but not "moved to Won (won)".
    said = to_stage.kind != DealStage.OPEN and to_stage.kind not in to_stage.name.lower()
    return f"{deal} moved to {to_stage.name}" + (f" ({to_stage.kind})" if said else "") + "."


@login_required
@permission_required("crm.change_deal", raise_exception=True)
@require_POST
def deal_move(request: HttpRequest) -> HttpResponse:
    """Move a deal (board card, its "move to" menu, the lost dialog, or the deal page); HTMX gets the board back."""
    error, done, deal_id = None, None, None
    try:
        deal_id = _int(request, "deal")
        assert deal_id is not None
        done = _move(request, deal_id)
    except TandemError as exc:
        error = exc
    htmx: Any = getattr(request, "htmx", None)
    if not htmx:
        if error:
            messages.error(request, error.message)
        else:
            messages.success(request, str(done))
        if request.POST.get("from") == "deal" and deal_id:
            return redirect("crm:deal", deal_id=deal_id)
        pipeline_id = request.POST.get("pipeline", "")
        target = reverse("pipelines:board", args=[int(pipeline_id)]) if pipeline_id.isdigit() else reverse("pipelines:home")
        query = urlencode({k: v for k, v in _filters(request).items() if v})
        return redirect(f"{target}?{query}" if query else target)
    pipeline_id = request.POST.get("pipeline", "")
    pipeline = (
        _get(selectors.pipeline_get, pipeline_id=int(pipeline_id)) if pipeline_id.isdigit() else _get(selectors.pipeline_default_get)
    )
    context = _board_context(request, pipeline, _filters(request))
    context.update(focus=deal_id, done=done, move_error=error.message if error else None)
    return render(request, "pipelines/_board.html", context, status=error.status_code if error else 200)


# ---- the deal page ----


def _url(name: str, *args: Any) -> str | None:
    try:
        return reverse(name, args=args)
    except NoReverseMatch:  # a page another part of Tandem has not built
        return None


@login_required
@permission_required("crm.view_deal", raise_exception=True)
def deal_detail(request: HttpRequest, deal_id: int) -> HttpResponse:
    detail = _get(selectors.deal_detail, deal_id=deal_id, user=request.user)
    deal = detail.deal
    can_change = request.user.has_perm("crm.change_deal") and access_allows(deal, user=request.user, write=True)
    context = {
        "d": detail,
        "deal": deal,
        "account_url": _url("crm:account", deal.account_id) if deal.account_id else None,
        "can_change": can_change,
        "roles": DealContact.Role.choices,
        "time_in_stage": detail.history[-1].duration if detail.history else "",
    }
    if can_change:
        context.update(
            owners=owner_choices(request.user, user_owner_options()),
            pipelines=selectors.pipelines_list(with_stages=False),
            lost_reasons=selectors.lost_reasons_offered(),
        )
    return render(request, "pipelines/deal_detail.html", context)


def _decimal(raw: str, field: str) -> Decimal:
    try:
        value = Decimal(raw.strip())
    except InvalidOperation:
        raise ValidationFailed(f"{field} must be a number, got {raw!r}", field=field, value=raw) from None
    return value


def _date(raw: str, field: str) -> dt.date | None:
    if not raw.strip():
        return None
    try:
        return dt.date.fromisoformat(raw.strip())
    except ValueError:
        raise ValidationFailed(f"{field} must be a date as YYYY-MM-DD, got {raw!r}", field=field, value=raw) from None


@login_required
@permission_required("crm.change_deal", raise_exception=True)
@require_POST
def deal_edit(request: HttpRequest, deal_id: int) -> HttpResponse:
    deal = _mine(request, deal_id)
    try:
        changes: dict[str, Any] = {
            "name": request.POST.get("name", deal.name),
            "amount": _decimal(request.POST.get("amount", str(deal.amount)), "amount"),
            "expected_close_on": _date(request.POST.get("expected_close_on", ""), "expected_close_on"),
        }
        owner_id = _int(request, "owner", required=False)
        try:
            owner = user_get(user_id=owner_id) if owner_id else None
        except NotFound as exc:
            raise ValidationFailed(exc.message, field="owner", value=owner_id) from None
        changes["owner"] = owner_change(request.user, current_id=deal.owner_id, owner=owner, field="owner")
        pipeline_id = _int(request, "pipeline", required=False)
        if pipeline_id:
            try:
                changes["pipeline"] = selectors.pipeline_get(pipeline_id=pipeline_id)
            except NotFound as exc:
                raise ValidationFailed(exc.message, field="pipeline", value=pipeline_id) from None
        services.deal_update(deal=deal, by_user=request.user, **changes)
    except TandemError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, "Saved.")
    return redirect("crm:deal", deal_id=deal_id)


@login_required
@permission_required("crm.change_deal", raise_exception=True)
@require_POST
def deal_contact_add(request: HttpRequest, deal_id: int) -> HttpResponse:
    deal = _mine(request, deal_id)
    try:
        person_id = _int(request, "person")
        assert person_id is not None
        try:
            person = crm_selectors.person_get(person_id=person_id, user=request.user)
        except NotFound as exc:
            raise ValidationFailed(exc.message, field="person", value=person_id) from None
        services.deal_contact_add(deal=deal, person=person, role=request.POST.get("role", "other"), by_user=request.user)
    except TandemError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"{person} is on the deal.")
    return redirect("crm:deal", deal_id=deal_id)


@login_required
@permission_required("crm.change_deal", raise_exception=True)
@require_POST
def deal_contact_remove(request: HttpRequest, deal_id: int, person_id: int) -> HttpResponse:
    deal = _mine(request, deal_id)
    person = _get(crm_selectors.person_get, person_id=person_id, user=request.user)
    try:
        services.deal_contact_remove(deal=deal, person=person, by_user=request.user)
    except TandemError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"{person} is off the deal.")
    return redirect("crm:deal", deal_id=deal_id)


# ---- the forecast ----


@login_required
@permission_required("crm.view_deal", raise_exception=True)
def forecast(request: HttpRequest) -> HttpResponse:
    pipeline_raw = request.GET.get("pipeline", "").strip()
    filters = {
        "pipeline": pipeline_raw if pipeline_raw.isdigit() else "",
        "owner": request.GET.get("owner", "").strip()[:40],
        "month_from": request.GET.get("month_from", "").strip()[:16],
    }
    error = None
    try:
        result = selectors.forecast_get(
            pipeline_id=int(filters["pipeline"]) if filters["pipeline"] else None,
            owner=filters["owner"],
            month_from=filters["month_from"],
        )
    except TandemError as exc:
        error = exc
        result = selectors.forecast_get()
    top = max((r.forecast for r in result.months), default=Decimal("0")) or Decimal("1")
    bars = [(r, max(round(100 * r.forecast / top), 1 if r.forecast else 0)) for r in result.months]
    context = {
        "f": result,
        "bars": bars,
        "filters": filters,
        "error": error,
        "pipelines": selectors.pipelines_list(with_stages=False),
        "owners": user_owner_options(),
    }
    return render(request, "pipelines/forecast.html", context, status=error.status_code if error else 200)


# ---- pipeline settings (admins and sales managers) ----


def _settings_guard(request: HttpRequest) -> None:
    require_perm(request, "crm.change_pipeline", action="change pipelines")


@login_required
def settings(request: HttpRequest) -> HttpResponse:
    _settings_guard(request)
    pipelines = selectors.pipelines_list(include_inactive=True)
    return render(
        request,
        "pipelines/settings.html",
        {"pipelines": pipelines, "kinds": DealStage.choices, "can_add": request.user.has_perm("crm.add_pipeline")},
    )


def _settings_done(request: HttpRequest, action: Any, success: str) -> HttpResponse:
    try:
        action()
    except TandemError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, success)
    return redirect("pipelines:settings")


def _checked(request: HttpRequest, name: str) -> bool:
    return request.POST.get(name) in ("on", "true", "1")


def _percent(request: HttpRequest, name: str = "probability") -> int | None:
    raw = request.POST.get(name, "").strip()
    if not raw:
        return None
    if not raw.isdigit():
        raise ValidationFailed(f"{name} must be a whole percent, got {raw!r}", field=name, value=raw)
    return int(raw)


@login_required
@require_POST
def pipeline_new(request: HttpRequest) -> HttpResponse:
    require_perm(request, "crm.add_pipeline", action="add pipelines")
    name = request.POST.get("name", "")
    return _settings_done(
        request,
        lambda: services.pipeline_create(name=name, is_default=_checked(request, "is_default"), by_user=request.user),
        f"Pipeline “{name.strip()}” added with the standard stages; rename or add stages below.",
    )


@login_required
@require_POST
def pipeline_edit(request: HttpRequest, pipeline_id: int) -> HttpResponse:
    _settings_guard(request)
    pipeline = _get(selectors.pipeline_get, pipeline_id=pipeline_id)

    def act() -> None:
        position = request.POST.get("position", "").strip()
        services.pipeline_update(
            pipeline=pipeline,
            by_user=request.user,
            name=request.POST.get("name", pipeline.name),
            position=int(position) if position.isdigit() else pipeline.position,
            is_default=True if _checked(request, "is_default") else None,
            is_active=_checked(request, "is_active"),
        )

    return _settings_done(request, act, "Saved.")


@login_required
@require_POST
def stage_new(request: HttpRequest, pipeline_id: int) -> HttpResponse:
    _settings_guard(request)
    pipeline = _get(selectors.pipeline_get, pipeline_id=pipeline_id)
    return _settings_done(
        request,
        lambda: services.pipeline_stage_create(
            pipeline=pipeline,
            name=request.POST.get("name", ""),
            kind=request.POST.get("kind", "open"),
            probability=_percent(request),
            by_user=request.user,
        ),
        "Stage added.",
    )


@login_required
@require_POST
def stage_edit(request: HttpRequest, stage_id: int) -> HttpResponse:
    _settings_guard(request)
    stage = _get(selectors.pipeline_stage_get, stage_id=stage_id)
    return _settings_done(
        request,
        lambda: services.pipeline_stage_update(
            stage=stage,
            by_user=request.user,
            name=request.POST.get("name", stage.name),
            probability=_percent(request),
            is_active=True if _checked(request, "reactivate") else None,
        ),
        "Stage saved.",
    )


@login_required
@require_POST
def stage_move(request: HttpRequest, stage_id: int) -> HttpResponse:
    _settings_guard(request)
    stage = _get(selectors.pipeline_stage_get, stage_id=stage_id)
    ids = [s.pk for s in selectors.pipeline_get(pipeline_id=stage.pipeline_id).stages.all()]
    i = ids.index(stage.pk)
    j = i - 1 if request.POST.get("direction") == "up" else i + 1
    if 0 <= j < len(ids):
        ids[i], ids[j] = ids[j], ids[i]
    return _settings_done(
        request,
        lambda: services.pipeline_stage_reorder(pipeline=stage.pipeline, stage_ids=ids, by_user=request.user),
        "Order saved.",
    )


@login_required
@require_POST
def stage_deactivate(request: HttpRequest, stage_id: int) -> HttpResponse:
    _settings_guard(request)
    stage = _get(selectors.pipeline_stage_get, stage_id=stage_id)

    def act() -> None:
        target = _int(request, "move_to", required=False)
        move_to = selectors.pipeline_stage_get(stage_id=target, field_name="move_to") if target else None
        moved = services.pipeline_stage_deactivate(stage=stage, move_to=move_to, by_user=request.user)
        messages.info(request, f"{moved} deal{'s' if moved != 1 else ''} moved.")

    return _settings_done(request, act, f"Stage “{stage.name}” deactivated.")


@login_required
@require_POST
def stage_delete(request: HttpRequest, stage_id: int) -> HttpResponse:
    _settings_guard(request)
    stage = _get(selectors.pipeline_stage_get, stage_id=stage_id)
    return _settings_done(
        request, lambda: services.pipeline_stage_delete(stage=stage, by_user=request.user), f"Stage “{stage.name}” deleted."
    )
