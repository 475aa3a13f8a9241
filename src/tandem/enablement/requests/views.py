"""Collateral pages: a rep's own requests and the form to file one; marketing's board with its moves,
library suggestions (which marketing marks handled) and lead times."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from tandem.core.errors import TandemError, ValidationFailed
from tandem.core.http import require_perm
from tandem.enablement.requests import selectors, services
from tandem.enablement.requests.board import COLUMNS, DUE_SOON_DAYS
from tandem.enablement.requests.models import RequestKind, RequestStatus
from tandem.enablement.requests.permissions import can_file, can_work_board


def _deal_choices(user: Any) -> list[tuple[str, str]]:
    from tandem.crm.models import Deal

    deals = Deal.objects.filter(owner=user, stage="open").select_related("account").order_by("-created_at", "-id")[:200]
    return [("", "—")] + [(str(d.pk), f"{d}{f' ({d.account.name})' if d.account else ''}") for d in deals]


def _account_choices(user: Any) -> list[tuple[str, str]]:
    from django.db.models import Q

    from tandem.crm.models import Account

    accounts = Account.objects.filter(Q(owner=user) | Q(deals__owner=user, deals__stage="open")).distinct().order_by("name")[:300]
    return [("", "—")] + [(str(a.pk), a.name) for a in accounts]


class RequestForm(forms.Form):
    kind = forms.ChoiceField(choices=RequestKind.choices, label="What do you need?")
    purpose = forms.CharField(
        max_length=services.PURPOSE_MAX,
        widget=forms.Textarea(attrs={"rows": 3, "placeholder": "What it is for, who will see it, what it must say"}),
    )
    deal = forms.TypedChoiceField(coerce=int, required=False, empty_value=None, label="Related deal")
    account = forms.TypedChoiceField(coerce=int, required=False, empty_value=None, label="Related account")
    quantity = forms.IntegerField(min_value=1, max_value=services.QUANTITY_MAX, initial=1)
    due_on = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}), label="Needed by")

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["deal"].choices = _deal_choices(user)  # type: ignore[attr-defined]
        self.fields["account"].choices = _account_choices(user)  # type: ignore[attr-defined]


def _mine_context(request: HttpRequest, form: RequestForm) -> dict[str, Any]:
    return {
        "form": form,
        "cards": selectors.collateral_requests_of(user=request.user),
        "lead_times": selectors.collateral_lead_times(),
        "kind_labels": dict(RequestKind.choices),
        "can_file": can_file(request.user),
        "can_work_board": can_work_board(request.user),
        "soon_days": DUE_SOON_DAYS,
    }


@login_required
def mine(request: HttpRequest) -> HttpResponse:
    form = RequestForm(user=request.user)
    return render(request, "collateral/mine.html", _mine_context(request, form))


@login_required
@require_POST
def request_new(request: HttpRequest) -> HttpResponse:
    form = RequestForm(request.POST, user=request.user)
    status = 422
    if form.is_valid():
        data = form.cleaned_data
        try:
            filed = services.collateral_request_file(
                by_user=request.user, kind=data["kind"], purpose=data["purpose"], due_on=data["due_on"],
                quantity=data["quantity"], deal_id=data["deal"], account_id=data["account"],
            )
        except TandemError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
            status = exc.status_code
        else:
            messages.success(request, f"Request #{filed.pk} sent to marketing: {filed.get_kind_display()}, needed by {filed.due_on:%Y-%m-%d}.")
            return redirect("collateral:mine")
    return render(request, "collateral/mine.html", _mine_context(request, form), status=status)


def _board_context(request: HttpRequest) -> dict[str, Any]:
    columns = selectors.collateral_board(user=request.user)
    labels = dict(RequestStatus.choices)
    return {
        "columns": [(status, labels[status], columns[status]) for status in COLUMNS],
        "can_move": can_work_board(request.user),
        "soon_days": DUE_SOON_DAYS,
        "today": timezone.localdate(),
    }


@login_required
def board_page(request: HttpRequest) -> HttpResponse:
    context = _board_context(request)
    context["suggestions"] = selectors.collateral_suggestions()
    context["lead_times"] = selectors.collateral_lead_times()
    context["kind_labels"] = dict(RequestKind.choices)
    return render(request, "collateral/board.html", context)


@login_required
@require_POST
def move(request: HttpRequest, pk: int) -> HttpResponse:
    error: TandemError | None = None
    try:
        moved = services.collateral_request_move(
            request_id=pk, to=request.POST.get("to", ""), by_user=request.user,
            reason=request.POST.get("reason", ""), note=request.POST.get("note", ""),
        )
    except TandemError as exc:
        error = exc
    if not getattr(request, "htmx", False):
        if error is not None:
            messages.error(request, error.message)
        else:
            messages.success(request, f"Request #{pk} moved to {moved.get_status_display().lower()}.")
        return redirect("collateral:board")
    context = _board_context(request)
    context.update({"error": error, "focus": pk})
    return render(request, "collateral/_board.html", context, status=error.status_code if error else 200)


def _board_mover(request: HttpRequest) -> None:
    require_perm(
        request,
        allowed=can_work_board(request.user),
        message="Only marketing and admins mark library suggestions handled.",
    )


def _ids_parse(values: list[str], *, field: str) -> list[int]:
    ids = []
    for value in values:
        try:
            ids.append(int(value))
        except ValueError:
            raise ValidationFailed(f"not an id: {value[:20]!r}", field=field, value=value[:20]) from None
    return ids


@login_required
@require_POST
def suggestion_handle(request: HttpRequest) -> HttpResponse:
    _board_mover(request)
    error: TandemError | None = None
    handled: list[Any] = []
    try:
        asset = request.POST.get("asset_id", "").strip()
        handled = services.collateral_suggestion_handle(
            actor=request.user,
            request_ids=_ids_parse(request.POST.getlist("request_ids"), field="request_ids"),
            asset=_ids_parse([asset], field="asset_id")[0] if asset else None,
        )
    except TandemError as exc:
        error = exc
    done = f"Suggestion marked handled ({len(handled)} request{'s' if len(handled) != 1 else ''})." if handled else ""
    if not getattr(request, "htmx", False):
        if error is not None:
            messages.error(request, error.message)
        else:
            messages.success(request, done)
        return redirect("collateral:board")
    context = {"suggestions": selectors.collateral_suggestions(), "can_move": True, "error": error, "done": done}
    return render(request, "collateral/_suggestions.html", context, status=error.status_code if error else 200)


@login_required
def suggestion_assets(request: HttpRequest) -> HttpResponse:
    _board_mover(request)
    return render(request, "collateral/_answer_assets.html", {"assets": selectors.collateral_answer_assets()})
