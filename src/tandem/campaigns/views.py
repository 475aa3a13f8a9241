"""Campaign pages: the list (drafts made from unknown UTM tags first, for review), one campaign, its edit,
the sales calendar, and the person page's panel of current campaigns and offers."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from tandem.campaigns import selectors
from tandem.campaigns.models import Campaign
from tandem.campaigns.services import campaign_update
from tandem.core.errors import TandemError
from tandem.core.http import require_perm
from tandem.crm.channels import CHANNELS


class CampaignForm(forms.Form):
    name = forms.CharField(max_length=200)
    channel = forms.ChoiceField(choices=CHANNELS)
    status = forms.ChoiceField(choices=Campaign.Status.choices)
    started_on = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    ended_on = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    budget = forms.DecimalField(required=False, min_value=0, max_digits=14, decimal_places=2)
    actual_cost = forms.DecimalField(required=False, min_value=0, max_digits=14, decimal_places=2, label="Spent so far")
    kind = forms.ChoiceField(required=False, choices=Campaign.Kind.choices, label="Kind (on the sales calendar)")
    offer = forms.CharField(required=False, max_length=200, help_text="A promotion's offer, e.g. 20 % off the first year")
    offer_ends_on = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}), label="Offer ends on")
    talking_points = forms.CharField(
        required=False, max_length=5000, widget=forms.Textarea(attrs={"rows": 4}), help_text="One per line: what reps say about it"
    )


@login_required
def campaign_list(request: HttpRequest) -> HttpResponse:
    status = request.GET.get("status", "")
    status = status if status in Campaign.Status.values else ""
    return render(
        request,
        "campaigns/campaign_list.html",
        {
            "campaigns": selectors.campaign_list(status=status),
            "status": status,
            "statuses": Campaign.Status.choices,
            "drafts": Campaign.objects.filter(status=Campaign.Status.DRAFT).count(),
        },
    )


@login_required
def campaign_detail(request: HttpRequest, pk: int) -> HttpResponse:
    campaign = selectors.campaign_get(campaign_id=pk)
    return render(
        request,
        "campaigns/campaign_detail.html",
        {
            "campaign": campaign,
            "summary": selectors.campaign_summary(campaign=campaign),
            "can_edit": request.user.has_perm("campaigns.change_campaign"),
        },
    )


@login_required
@permission_required("campaigns.change_campaign", raise_exception=True)
@require_http_methods(["GET", "POST"])
def campaign_edit(request: HttpRequest, pk: int) -> HttpResponse:
    campaign = selectors.campaign_get(campaign_id=pk)
    initial = {k: getattr(campaign, k) for k in CampaignForm.base_fields}
    form = CampaignForm(request.POST or None, initial=initial)
    status = 200
    if request.method == "POST" and form.is_valid():
        try:
            # A post without a kind (an older form) keeps the campaign's kind.
            changes = {k: v for k, v in form.cleaned_data.items() if k != "kind" or v}
            campaign_update(campaign=campaign, by_user=request.user, **changes)
        except TandemError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
            status = exc.status_code
        else:
            messages.success(request, f"{campaign.name} saved.")
            return redirect("campaigns:campaign", pk=pk)
    elif request.method == "POST":
        status = 422
    return render(request, "campaigns/campaign_form.html", {"form": form, "campaign": campaign}, status=status)


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
    from django.utils import timezone

    require_perm(request, "crm.view_person", message="You cannot see people.")
    today = timezone.localdate()
    return render(
        request,
        "campaigns/_person_campaigns.html",
        {"rows": selectors.campaigns_current_for_person(person_id=person_id, today=today), "today": today},
    )
