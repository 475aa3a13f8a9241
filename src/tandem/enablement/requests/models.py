"""A rep's request for material (flyer, deck, swag, ...) and where marketing has got with it."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from tandem.core.models import TimeStampedModel


class RequestKind(models.TextChoices):
    FLYER = "flyer", "Flyer"
    BROCHURE = "brochure", "Brochure"
    DECK = "deck", "Deck"
    SWAG = "swag", "Swag"
    CASE_STUDY = "case_study", "Custom case study"
    OTHER = "other", "Other"


class RequestStatus(models.TextChoices):
    NEW = "new", "New"
    ACCEPTED = "accepted", "Accepted"
    IN_PROGRESS = "in_progress", "In progress"
    DELIVERED = "delivered", "Delivered"
    DECLINED = "declined", "Declined"


class CollateralRequest(TimeStampedModel):
    kind = models.CharField(max_length=16, choices=RequestKind.choices, db_index=True)
    purpose = models.TextField()
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="collateral_requests"
    )
    deal = models.ForeignKey("crm.Deal", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    account = models.ForeignKey("crm.Account", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    quantity = models.PositiveIntegerField(default=1)
    due_on = models.DateField()
    status = models.CharField(
        max_length=12, choices=RequestStatus.choices, default=RequestStatus.NEW, db_index=True
    )
    # The marketer who accepted it; set on the first move off "new".
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    status_changed_at = models.DateTimeField()
    delivered_at = models.DateTimeField(null=True, blank=True)
    delivery_note = models.TextField(blank=True, default="")
    decline_reason = models.TextField(blank=True, default="")

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gte=1), name="collateral_quantity_at_least_one"),
            models.CheckConstraint(
                condition=~Q(status="declined") | ~Q(decline_reason=""), name="collateral_declined_has_reason"
            ),
            models.CheckConstraint(
                condition=~Q(status="delivered") | Q(delivered_at__isnull=False),
                name="collateral_delivered_has_time",
            ),
        ]
        indexes = [models.Index(fields=["status", "due_on"], name="collateral_board")]
        ordering = ["due_on", "id"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} for {self.purpose[:60]}"
