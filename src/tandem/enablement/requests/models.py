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
    # Set when marketing marks a "suggested for the library" group that holds this request as handled: the
    # request then no longer counts towards suggestions, so only new repeats bring one back.
    suggestion_handled_at = models.DateTimeField(null=True, blank=True)
    suggestion_handled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # The library asset that now answers it, when marketing named one; a deleted asset leaves it handled.
    suggestion_asset = models.ForeignKey(
        "enablement.Asset", null=True, blank=True, on_delete=models.SET_NULL, related_name="answered_requests"
    )

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
            models.CheckConstraint(
                condition=Q(suggestion_handled_at__isnull=False) | Q(suggestion_asset__isnull=True),
                name="collateral_answer_only_when_handled",
            ),
        ]
        indexes = [models.Index(fields=["status", "due_on"], name="collateral_board")]
        ordering = ["due_on", "id"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} for {self.purpose[:60]}"
