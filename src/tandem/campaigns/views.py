"""Campaign pages: the list (drafts to review above it), one campaign with its budget and cost entries, create,
edit, clone and close, the sales calendar, and the person page's panel of current campaigns and offers."""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import urlencode

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST
from django.views.decorators.vary import vary_on_headers

from tandem.campaigns import selectors
from tandem.campaigns.models import Campaign
from tandem.campaigns.services import (
    campaign_clone,
    campaign_close,
    campaign_cost_add,
    campaign_cost_delete,
    campaign_create,
    campaign_update,
)
from tandem.core.errors import NotFound, TandemError, ValidationFailed
from tandem.core.http import param_choice, require_perm
from tandem.crm.channels import CHANNELS

DRAFTS_SHOWN = 10


def _get(select: Any, **kwargs: Any) -> Any:
    # Selectors raise NotFound naming the id; the 404 page shows it.
    try:
        return select(**kwargs)
    except NotFound as exc:
        raise Http404(exc.message) from None


class CampaignForm(forms.Form):
    name = forms.CharField(max_length=200)
    channel = forms.ChoiceField(choices=CHANNELS)
    kind = forms.ChoiceField(required=False, choices=Campaign.Kind.choices, label="Kind (on the sales calendar)")
    status = forms.ChoiceField(choices=Campaign.Status.choices)
    started_on = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    ended_on = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    budget = forms.DecimalField(required=False, min_value=0, max_digits=14, decimal_places=2, help_text="What marketing plans to spend")
    utm_source = forms.CharField(required=False, max_length=120, label="UTM source")
    utm_medium = forms.CharField(required=False, max_length=120, label="UTM medium")
    utm_campaign = forms.CharField(required=False, max_length=200, label="UTM campaign", help_text="Touchpoints carrying this tag count for the campaign")
    external_id = forms.CharField(required=False, max_length=120, label="Outside id", help_text="Its id in another tool (the bundle's campaign_id)")
    offer = forms.CharField(required=False, max_length=200, help_text="A promotion's offer, e.g. 20 % off the first year")
    offer_ends_on = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}), label="Offer ends on")
    talking_points = forms.CharField(
        required=False, max_length=5000, widget=forms.Textarea(attrs={"rows": 4}), help_text="One per line: what reps say about it"
    )


def _form_save(form: CampaignForm, save: Any) -> Any:
    """Call `save(**changes)`; a refusal is shown next to its field (or above the form) and None returned."""
    try:
        # A post without a kind (an older form) keeps the campaign's kind.
        return save(**{k: v for k, v in form.cleaned_data.items() if k != "kind" or v})
    except TandemError as exc:
        form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        return None


def _list_url(filters: dict[str, str], cursor: str | None) -> str | None:
    if cursor is None:
        return None
    return f"{reverse('campaigns:list')}?{urlencode({**{k: v for k, v in filters.items() if v}, 'cursor': cursor})}"


@login_required
@vary_on_headers("HX-Request")
def campaign_list(request: HttpRequest) -> HttpResponse:
    filters = {
        "status": param_choice(request, "status", Campaign.Status.values, ""),
        "channel": param_choice(request, "channel", [c for c, _ in CHANNELS], ""),
    }
    error = None
    try:
        page = selectors.campaign_page(
            status=filters["status"], channel=filters["channel"], cursor=request.GET.get("cursor", "").strip()
        )
    except TandemError as exc:
        page, error = selectors.Page(items=[], next_cursor=None, prev_cursor=None), exc
    context: dict[str, Any] = {
        "page": page,
        "filters": filters,
        "error": error,
        "next_url": _list_url(filters, page.next_cursor),
        "prev_url": _list_url(filters, page.prev_cursor),
    }
    htmx: Any = getattr(request, "htmx", None)
    if htmx and not htmx.history_restore_request:
        return render(request, "campaigns/_campaign_results.html", context, status=error.status_code if error else 200)
    drafts = selectors.campaign_drafts(limit=DRAFTS_SHOWN)
    context.update(
        statuses=Campaign.Status.choices,
        channels=CHANNELS,
        drafts=drafts,
        # Counted only when there are more drafts than the box shows.
        draft_count=len(drafts) if len(drafts) < DRAFTS_SHOWN else selectors.campaign_draft_count(),
        can_add=request.user.has_perm("campaigns.add_campaign"),
    )
    return render(request, "campaigns/campaign_list.html", context, status=error.status_code if error else 200)


def _budget(campaign: Campaign) -> dict[str, Any]:
    """Budget against spend for the page: the share spent (percent), what is left or how far over it went."""
    if campaign.budget is None:
        return {"share": None, "left": None, "over": None, "width": 0}
    left = campaign.budget - campaign.actual_cost
    share = float(campaign.actual_cost / campaign.budget * 100) if campaign.budget else None
    return {
        "share": share,
        "left": left,
        "over": -left if left < 0 else None,
        "width": min(100, round(share)) if share is not None else 0,
    }


def _costs_context(request: HttpRequest, campaign: Campaign, *, cursor: str = "", **extra: Any) -> dict[str, Any]:
    try:
        page = selectors.campaign_costs_page(campaign_id=campaign.pk, cursor=cursor)
    except TandemError:
        # A mangled cursor in the address shows the first page rather than an error page.
        page = selectors.campaign_costs_page(campaign_id=campaign.pk)
    base = reverse("campaigns:campaign", args=[campaign.pk])
    return {
        "campaign": campaign,
        "costs": page,
        "costs_next_url": f"{base}?{urlencode({'costs': page.next_cursor})}#campaign-costs" if page.next_cursor else None,
        "costs_prev_url": f"{base}?{urlencode({'costs': page.prev_cursor})}#campaign-costs" if page.prev_cursor else None,
        "can_edit": request.user.has_perm("campaigns.change_campaign"),
        "budget": _budget(campaign),
        "cost_form": extra.pop("cost_form", {}),
        "cost_errors": extra.pop("cost_errors", {}),
        **extra,
    }


@login_required
def campaign_detail(request: HttpRequest, pk: int) -> HttpResponse:
    campaign = _get(selectors.campaign_get, campaign_id=pk)
    context = _costs_context(request, campaign, cursor=request.GET.get("costs", "").strip())
    context.update(
        summary=selectors.campaign_summary(campaign=campaign, user=request.user),
        can_add=request.user.has_perm("campaigns.add_campaign"),
    )
    return render(request, "campaigns/campaign_detail.html", context)


@login_required
@permission_required("campaigns.add_campaign", raise_exception=True)
@require_http_methods(["GET", "POST"])
def campaign_new(request: HttpRequest) -> HttpResponse:
    form = CampaignForm(request.POST or None, initial={"status": Campaign.Status.ACTIVE, "kind": Campaign.Kind.CAMPAIGN})
    status = 200
    if request.method == "POST":
        created = _form_save(form, lambda **v: campaign_create(by_user=request.user, **v)) if form.is_valid() else None
        if created is not None:
            messages.success(request, f"{created.name} created.")
            return redirect("campaigns:campaign", pk=created.pk)
        status = 422
    return render(request, "campaigns/campaign_form.html", {"form": form, "campaign": None, "creating": True}, status=status)


@login_required
@permission_required("campaigns.change_campaign", raise_exception=True)
@require_http_methods(["GET", "POST"])
def campaign_edit(request: HttpRequest, pk: int) -> HttpResponse:
    campaign = _get(selectors.campaign_get, campaign_id=pk)
    initial = {k: getattr(campaign, k) for k in CampaignForm.base_fields}
    form = CampaignForm(request.POST or None, initial=initial)
    status = 200
    if request.method == "POST":
        saved = _form_save(form, lambda **v: campaign_update(campaign=campaign, by_user=request.user, **v)) if form.is_valid() else None
        if saved is not None:
            messages.success(request, f"{campaign.name} saved.")
            return redirect("campaigns:campaign", pk=pk)
        status = 422
    return render(request, "campaigns/campaign_form.html", {"form": form, "campaign": campaign}, status=status)


@login_required
@permission_required("campaigns.add_campaign", raise_exception=True)
@require_POST
def campaign_clone_view(request: HttpRequest, pk: int) -> HttpResponse:
    campaign = _get(selectors.campaign_get, campaign_id=pk)
    copy = campaign_clone(campaign=campaign, by_user=request.user)
    messages.success(request, f"Cloned as the draft {copy.name}: set its dates and activate it.")
    return redirect("campaigns:campaign-edit", pk=copy.pk)


@login_required
@permission_required("campaigns.change_campaign", raise_exception=True)
@require_POST
def campaign_close_view(request: HttpRequest, pk: int) -> HttpResponse:
    campaign = _get(selectors.campaign_get, campaign_id=pk)
    try:
        campaign_close(campaign=campaign, by_user=request.user, reason=request.POST.get("reason", ""))
    except TandemError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"{campaign.name} closed.")
    return redirect("campaigns:campaign", pk=pk)


def _costs_answer(request: HttpRequest, campaign: Campaign, *, error: TandemError | None, form: dict[str, str], done: str) -> HttpResponse:
    htmx: Any = getattr(request, "htmx", None)
    if not htmx:
        # Without JavaScript the form posts the whole page: say what happened and go back to the campaign.
        if error:
            messages.error(request, error.message)
        else:
            messages.success(request, done)
        return redirect(reverse("campaigns:campaign", args=[campaign.pk]) + "#campaign-costs")
    errors = {(error.field if error.field in COST_FIELDS else "form"): error.message} if error else {}
    context = _costs_context(
        request, campaign, cost_form=form if error else {}, cost_errors=errors, saved=None if error else done
    )
    return render(request, "campaigns/_costs.html", context, status=error.status_code if error else 200)


COST_FIELDS = ("amount", "spent_on", "spent_until", "note")


def _date_field(text: str, field: str) -> dt.date | None:
    if not text.strip():
        return None
    try:
        return dt.date.fromisoformat(text.strip())
    except ValueError:
        raise ValidationFailed(f"{field} must be a date (YYYY-MM-DD), got {text!r}", field=field, value=text) from None


@login_required
@permission_required("campaigns.change_campaign", raise_exception=True)
@require_POST
def campaign_cost_new(request: HttpRequest, pk: int) -> HttpResponse:
    campaign = _get(selectors.campaign_get, campaign_id=pk)
    form = {k: request.POST.get(k, "") for k in COST_FIELDS}
    error = None
    try:
        if not form["amount"].strip():
            raise ValidationFailed("enter the amount spent", field="amount", value="")
        spent_on = _date_field(form["spent_on"], "spent_on")
        if spent_on is None:
            raise ValidationFailed("enter the day it was spent", field="spent_on", value="")
        campaign_cost_add(
            campaign=campaign,
            amount=form["amount"].strip().replace(",", ""),
            spent_on=spent_on,
            spent_until=_date_field(form["spent_until"], "spent_until"),
            note=form["note"],
            by_user=request.user,
        )
    except TandemError as exc:
        error = exc
    return _costs_answer(request, campaign, error=error, form=form, done="Cost entry added.")


@login_required
@permission_required("campaigns.change_campaign", raise_exception=True)
@require_POST
def campaign_cost_remove(request: HttpRequest, pk: int, cost_id: int) -> HttpResponse:
    campaign = _get(selectors.campaign_get, campaign_id=pk)
    error = None
    try:
        cost = selectors.campaign_cost_get(campaign_id=pk, cost_id=cost_id)
        campaign_cost_delete(cost=cost, by_user=request.user, reason=request.POST.get("reason", ""))
        campaign.refresh_from_db()
    except TandemError as exc:
        error = exc
    return _costs_answer(request, campaign, error=error, form={}, done="Cost entry deleted.")


def _calendar_context(request: HttpRequest) -> dict[str, Any]:
    from django.utils import timezone

    from tandem.campaigns import calendar as cal

    today = timezone.localdate()
    first = cal.month_parse(text=request.GET.get("month", ""), today=today)
    last = cal.month_last(first)
    kind = request.GET.get("kind", "")
    kind = kind if kind in Campaign.Kind.values else ""
    view = "list" if request.GET.get("view") == "list" else "month"
    items = selectors.campaign_calendar(first=first, last=last, kind=kind, today=today)
    spans = [cal.Span(c.pk, c.name, c.kind, c.started_on, c.ended_on, c.offer, c.offer_ends_on) for c in items if c.started_on]
    markers = cal.day_markers(spans=spans, first=first, last=last)
    rows = [
        {
            "campaign": c,
            "offer_applies": cal.offer_applies(offer=c.offer, offer_ends_on=c.offer_ends_on, started_on=c.started_on, ended_on=c.ended_on, today=today),
            "offer_ends_on": cal.offer_ends(offer=c.offer, offer_ends_on=c.offer_ends_on, ended_on=c.ended_on),
        }
        for c in items
    ]
    return {
        "first": first,
        "today": today,
        "kind": kind,
        "kinds": Campaign.Kind.choices,
        "view": view,
        "weeks": [[(day, markers.get(day, [])) for day in week] for week in cal.month_weeks(first)],
        "rows": rows,
        "prev": cal.month_step(first, -1),
        "next": cal.month_step(first, 1),
        "can_edit": request.user.has_perm("campaigns.change_campaign"),
    }


@login_required
def calendar(request: HttpRequest) -> HttpResponse:
    """What marketing runs when: a month grid and the list of campaigns, promotions, events and launches."""
    try:
        context = _calendar_context(request)
    except TandemError as exc:
        return render(request, "campaigns/calendar.html", {"error": exc}, status=exc.status_code)
    htmx: Any = getattr(request, "htmx", None)
    if htmx and not htmx.history_restore_request:
        return render(request, "campaigns/_calendar.html", context)
    return render(request, "campaigns/calendar.html", context)


@login_required
def person_campaigns(request: HttpRequest, person_id: int) -> HttpResponse:
    """The person page's lazy panel: current campaigns that touched the person and the offer that applies."""
    from django.http import Http404
    from django.utils import timezone

    from tandem.crm.models import Person
    from tandem.users.access import access_seen

    require_perm(request, "crm.view_person", message="You cannot see people.")
    # A person out of the user's sight does not exist for them (tandem.users.access).
    if not access_seen(Person.objects.filter(pk=person_id), user=request.user).exists():
        raise Http404(f"no person with id {person_id}")
    today = timezone.localdate()
    return render(
        request,
        "campaigns/_person_campaigns.html",
        {"rows": selectors.campaigns_current_for_person(person_id=person_id, today=today), "today": today},
    )
