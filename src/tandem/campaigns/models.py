"""Campaigns and the touchpoints people have with them."""

from __future__ import annotations

from decimal import Decimal
from typing import ClassVar

from django.conf import settings
from django.db import models
from django.db.models import Q

from tandem.core.models import TimeStampedModel
from tandem.crm.channels import CHANNELS, TOUCHPOINT_KINDS


class Campaign(TimeStampedModel):
    class Kind(models.TextChoices):
        CAMPAIGN = "campaign", "Campaign"
        PROMOTION = "promotion", "Promotion"
        EVENT = "event", "Event"
        LAUNCH = "launch", "Launch"

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft (to review)"
        ACTIVE = "active", "Active"
        ARCHIVED = "archived", "Archived"

    external_id = models.CharField(max_length=120, null=True, blank=True)
    name = models.CharField(max_length=200)
    channel = models.CharField(max_length=40, db_index=True)
    # What sales sees on the calendar: a campaign, a promotion (with an offer), an event or a launch.
    kind = models.CharField(max_length=60, choices=Kind.choices, default=Kind.CAMPAIGN, db_index=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    started_on = models.DateField(null=True, blank=True)
    ended_on = models.DateField(null=True, blank=True)
    budget = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    # The total of the campaign's cost entries (CampaignCost), kept by campaigns.services in the same
    # transaction as every entry written or deleted: pages and totals read it without summing.
    actual_cost = models.DecimalField(max_digits=14, decimal_places=2, default=Decimal("0"))
    utm_source = models.CharField(max_length=120, blank=True, default="")
    utm_medium = models.CharField(max_length=120, blank=True, default="")
    utm_campaign = models.CharField(max_length=200, blank=True, default="", db_index=True)
    custom_fields = models.JSONField(default=dict, blank=True)
    offer = models.CharField(max_length=200, blank=True, default="")
    offer_ends_on = models.DateField(null=True, blank=True)
    # One point per line: what reps say about it.
    talking_points = models.TextField(blank=True, default="")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["external_id"],
                condition=Q(external_id__isnull=False),
                name="campaign_external_id_unique",
            ),
            models.CheckConstraint(condition=Q(actual_cost__gte=0), name="campaign_cost_not_negative"),
            models.CheckConstraint(
                condition=Q(ended_on__isnull=True)
                | Q(started_on__isnull=True)
                | Q(ended_on__gte=models.F("started_on")),
                name="campaign_ends_after_start",
            ),
        ]
        ordering = ["-started_on", "name"]

    def __str__(self) -> str:
        return self.name

    @property
    def talking_point_list(self) -> list[str]:
        return [line.strip(" -•\t") for line in self.talking_points.splitlines() if line.strip(" -•\t")]


class CampaignCost(models.Model):
    """One amount a campaign cost: an invoice, a day's ad spend, a booth fee; unit economics reads these by date."""

    # The (campaign, spent_on, id) index below serves every lookup by campaign: no index of its own.
    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="costs", db_index=False)
    spent_on = models.DateField()
    # An entry for a span of days (a monthly invoice, a cost known only as a total) is spread evenly over
    # spent_on..spent_until, both included; an entry for one day leaves it empty.
    spent_until = models.DateField(null=True, blank=True)
    amount = models.DecimalField(max_digits=14, decimal_places=2)
    note = models.CharField(max_length=200, blank=True, default="")
    entered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    entered_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(amount__gte=0), name="campaign_cost_amount_not_negative"),
            models.CheckConstraint(
                condition=Q(spent_until__isnull=True) | Q(spent_until__gt=models.F("spent_on")),
                name="campaign_cost_until_after_on",
            ),
        ]
        indexes = [
            # The campaign page lists its entries newest first, a keyset page at a time.
            models.Index(fields=["campaign", "spent_on", "id"], name="campaign_cost_list"),
            # Reports read the entries of a period.
            models.Index(fields=["spent_on"], name="campaign_cost_day"),
        ]
        ordering = ["-spent_on", "-id"]

    def __str__(self) -> str:
        return f"{self.amount} on {self.spent_on}"


class Touchpoint(models.Model):
    # Record-level access: as the person's.
    access_paths: ClassVar[tuple[str, ...]] = ("person__owner",)

    person = models.ForeignKey("crm.Person", on_delete=models.CASCADE, related_name="touchpoints")
    occurred_at = models.DateTimeField()
    channel = models.CharField(max_length=40, db_index=True)
    campaign = models.ForeignKey(
        Campaign, null=True, blank=True, on_delete=models.SET_NULL, related_name="touchpoints"
    )
    kind = models.CharField(max_length=24, default="page_view")
    utm_source = models.CharField(max_length=120, blank=True, default="")
    utm_medium = models.CharField(max_length=120, blank=True, default="")
    utm_campaign = models.CharField(max_length=200, blank=True, default="")
    utm_term = models.CharField(max_length=200, blank=True, default="")
    utm_content = models.CharField(max_length=200, blank=True, default="")
    url = models.CharField(max_length=2000, blank=True, default="")
    referrer = models.CharField(max_length=2000, blank=True, default="")
    custom_fields = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [
            models.Index(fields=["person", "occurred_at"], name="touchpoint_journey"),
            models.Index(fields=["campaign", "occurred_at"], name="touchpoint_campaign"),
            models.Index(fields=["occurred_at"], name="touchpoint_time"),
        ]
        ordering = ["occurred_at", "id"]

    def __str__(self) -> str:
        return f"{self.kind} via {self.channel} at {self.occurred_at:%Y-%m-%d %H:%M}"


KIND_CHOICES = TOUCHPOINT_KINDS
CHANNEL_CHOICES = CHANNELS
