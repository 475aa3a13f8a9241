"""Campaign pages: the list (drafts made from unknown UTM tags first, for review), one campaign, its edit."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from tandem.campaigns import selectors
from tandem.campaigns.channels import CHANNELS
from tandem.campaigns.models import Campaign
from tandem.campaigns.services import campaign_update
from tandem.core.errors import TandemError


class CampaignForm(forms.Form):
    name = forms.CharField(max_length=200)
    channel = forms.ChoiceField(choices=CHANNELS)
    status = forms.ChoiceField(choices=Campaign.Status.choices)
    started_on = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    ended_on = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    budget = forms.DecimalField(required=False, min_value=0, max_digits=14, decimal_places=2)
    actual_cost = forms.DecimalField(required=False, min_value=0, max_digits=14, decimal_places=2, label="Spent so far")


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
            campaign_update(campaign=campaign, by_user=request.user, **form.cleaned_data)
        except TandemError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
            status = exc.status_code
        else:
            messages.success(request, f"{campaign.name} saved.")
            return redirect("campaigns:campaign", pk=pk)
    elif request.method == "POST":
        status = 422
    return render(request, "campaigns/campaign_form.html", {"form": form, "campaign": campaign}, status=status)
