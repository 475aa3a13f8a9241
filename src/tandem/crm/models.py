"""Accounts, people, deals, lost reasons and sales activities."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q

from tandem.core.models import TimeStampedModel
from tandem.crm.stages import CHOICES as STAGE_CHOICES


class SizeBand(models.TextChoices):
    S1_10 = "1-10", "1–10"
    S11_50 = "11-50", "11–50"
    S51_200 = "51-200", "51–200"
    S201_1000 = "201-1000", "201–1,000"
    S1001_5000 = "1001-5000", "1,001–5,000"
    S5001 = "5001+", "5,001+"


class Account(TimeStampedModel):
    name = models.CharField(max_length=200, db_index=True)
    domain = models.CharField(max_length=200, null=True, blank=True)
    industry = models.CharField(max_length=80, blank=True, default="", db_index=True)
    size_band = models.CharField(max_length=16, blank=True, default="")
    country = models.CharField(max_length=80, blank=True, default="")
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="accounts"
    )
    custom_fields = models.JSONField(default=dict, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["domain"], condition=Q(domain__isnull=False), name="account_domain_unique"
            ),
        ]
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class LeadStatus(models.TextChoices):
    NEW = "new", "New"
    ATTEMPTING = "attempting", "Attempting contact"
    CONNECTED = "connected", "Connected"
    NURTURING = "nurturing", "Nurturing"
    UNQUALIFIED = "unqualified", "Unqualified"


class Person(TimeStampedModel):
    # email as given; email_normalized is what identity matching uses (unique when present).
    email = models.CharField(max_length=254, blank=True, default="")
    email_normalized = models.CharField(max_length=254, null=True, blank=True)
    first_name = models.CharField(max_length=100, blank=True, default="")
    last_name = models.CharField(max_length=100, blank=True, default="")
    # lower-cased "first last" for index-backed prefix search in the people list.
    name_key = models.CharField(max_length=201, blank=True, default="", db_index=True)
    job_title = models.CharField(max_length=200, blank=True, default="")
    phone = models.CharField(max_length=40, blank=True, default="")
    account = models.ForeignKey(
        Account, null=True, blank=True, on_delete=models.SET_NULL, related_name="people"
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="people"
    )
    # Written only by tandem.crm.services (a test enforces it).
    # Empty until the first StageChange sets it.
    lifecycle_stage = models.CharField(max_length=16, choices=STAGE_CHOICES, blank=True, default="")
    lead_status = models.CharField(max_length=16, choices=LeadStatus.choices, default=LeadStatus.NEW)
    original_channel = models.CharField(max_length=40, blank=True, default="")
    original_campaign = models.ForeignKey(
        "campaigns.Campaign", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    latest_channel = models.CharField(max_length=40, blank=True, default="")
    latest_campaign = models.ForeignKey(
        "campaigns.Campaign", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    consent_email = models.BooleanField(default=False)
    consent_calls = models.BooleanField(default=False)
    custom_fields = models.JSONField(default=dict, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["email_normalized"],
                condition=Q(email_normalized__isnull=False),
                name="person_email_normalized_unique",
            ),
        ]
        # Keyset pagination of the people list walks these (created_at, id) orders.
        indexes = [
            models.Index(fields=["created_at", "id"], name="person_recent"),
            models.Index(fields=["lifecycle_stage", "created_at", "id"], name="person_stage_recent"),
            models.Index(fields=["owner", "created_at", "id"], name="person_owner_recent"),
            models.Index(fields=["original_channel", "created_at", "id"], name="person_channel_recent"),
            models.Index(fields=["name_key", "id"], name="person_name_key"),
            models.Index(fields=["email_normalized", "id"], name="person_email_key"),
        ]

    def __str__(self) -> str:
        return self.full_name or self.email or f"Person #{self.pk}"

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()


class ExternalId(models.Model):
    """A person's id in another system (a CRM, a marketing tool, a spreadsheet's key)."""

    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="external_ids")
    system = models.CharField(max_length=60)
    external_id = models.CharField(max_length=200)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["system", "external_id"], name="external_id_unique_per_system"),
        ]

    def __str__(self) -> str:
        return f"{self.system}:{self.external_id}"


class LostReason(models.Model):
    name = models.CharField(max_length=120, unique=True)
    description = models.TextField(blank=True, default="")
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class DealStage(models.TextChoices):
    OPEN = "open", "Open"
    WON = "won", "Won"
    LOST = "lost", "Lost"


class Deal(TimeStampedModel):
    external_id = models.CharField(max_length=120, null=True, blank=True)
    name = models.CharField(max_length=200, blank=True, default="")
    person = models.ForeignKey(Person, null=True, blank=True, on_delete=models.SET_NULL, related_name="deals")
    account = models.ForeignKey(
        Account, null=True, blank=True, on_delete=models.SET_NULL, related_name="deals"
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="deals"
    )
    amount = models.DecimalField(
        max_digits=14, decimal_places=2, default=Decimal("0"), validators=[MinValueValidator(Decimal("0"))]
    )
    currency = models.CharField(max_length=3, default="USD")
    stage = models.CharField(max_length=8, choices=DealStage.choices, default=DealStage.OPEN, db_index=True)
    closed_at = models.DateTimeField(null=True, blank=True, db_index=True)
    lost_reason = models.ForeignKey(
        LostReason, null=True, blank=True, on_delete=models.PROTECT, related_name="deals"
    )
    custom_fields = models.JSONField(default=dict, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["external_id"], condition=Q(external_id__isnull=False), name="deal_external_id_unique"
            ),
            models.CheckConstraint(condition=Q(amount__gte=0), name="deal_amount_not_negative"),
            models.CheckConstraint(
                condition=Q(stage="open", closed_at__isnull=True) | ~Q(stage="open"),
                name="deal_open_has_no_close_date",
            ),
        ]

    def __str__(self) -> str:
        return self.name or self.external_id or f"Deal #{self.pk}"


class ActivityKind(models.TextChoices):
    CALL = "call", "Call"
    EMAIL = "email", "Email"
    MEETING = "meeting", "Meeting"


class Activity(models.Model):
    """A rep's call, email or meeting with its outcome."""

    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="activities")
    deal = models.ForeignKey(
        Deal, null=True, blank=True, on_delete=models.SET_NULL, related_name="activities"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="activities"
    )
    kind = models.CharField(max_length=12, choices=ActivityKind.choices)
    outcome = models.CharField(max_length=60, blank=True, default="")
    occurred_at = models.DateTimeField()
    duration_minutes = models.PositiveIntegerField(null=True, blank=True)
    notes = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [
            models.Index(fields=["person", "occurred_at"]),
            models.Index(fields=["user", "occurred_at"]),
        ]
        ordering = ["-occurred_at"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.occurred_at:%Y-%m-%d}"


class StageChange(models.Model):
    """One move of a person between lifecycle stages: from, to, when, by whom or which rule, and why."""

    person = models.ForeignKey("crm.Person", on_delete=models.CASCADE, related_name="stage_changes")
    from_stage = models.CharField(max_length=16, choices=STAGE_CHOICES, blank=True, default="")
    to_stage = models.CharField(max_length=16, choices=STAGE_CHOICES)
    changed_at = models.DateTimeField()
    by_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    rule = models.CharField(max_length=120, blank=True, default="")
    rule_version = models.PositiveIntegerField(null=True, blank=True)
    reason = models.TextField(blank=True, default="")
    details = models.JSONField(default=dict, blank=True)
    recorded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["changed_at", "id"]
        indexes = [
            models.Index(fields=["person", "changed_at"], name="stagechange_person"),
            models.Index(fields=["to_stage", "changed_at"], name="stagechange_to"),
        ]

    def __str__(self) -> str:
        return f"{self.from_stage or '∅'} → {self.to_stage} at {self.changed_at:%Y-%m-%d}"
