"""A/B experiments and who was assigned to which arm."""

from __future__ import annotations

from django.db import models
from django.db.models import Q


class Experiment(models.Model):
    """An A/B(/n) test on a campaign, form, landing page or email, judged on one metric."""

    class Subject(models.TextChoices):
        CAMPAIGN = "campaign", "Campaign"
        FORM = "form", "Form"
        LANDING_PAGE = "landing_page", "Landing page"
        EMAIL = "email", "Email"

    class Metric(models.TextChoices):
        SQL_RATE = "sql_rate", "SQL rate"
        WON_RATE = "won_rate", "Win rate"
        REVENUE_PER_LEAD = "revenue_per_lead", "Revenue per lead"
        CLICKS = "clicks", "Click rate"

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        RUNNING = "running", "Running"
        STOPPED = "stopped", "Stopped"

    name = models.CharField(max_length=120, unique=True)
    description = models.TextField(blank=True, default="")
    subject_type = models.CharField(max_length=16, choices=Subject.choices, default=Subject.CAMPAIGN)
    # The tested thing's id or key (campaign id, form key, page URL, email name): free text on purpose.
    subject_ref = models.CharField(max_length=300, blank=True, default="")
    metric = models.CharField(max_length=20, choices=Metric.choices, default=Metric.SQL_RATE)
    minimum_effect = models.FloatField(default=0.01)
    alpha = models.FloatField(default=0.05)
    power = models.FloatField(default=0.8)
    planned_n = models.PositiveIntegerField(null=True, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT)
    # Variant names in order; the first one is the control.
    variants = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(minimum_effect__gt=0), name="experiment_min_effect_positive"),
            models.CheckConstraint(condition=Q(alpha__gt=0) & Q(alpha__lt=1), name="experiment_alpha_in_range"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def control(self) -> str | None:
        return self.variants[0] if self.variants else None


class ExperimentAssignment(models.Model):
    """One unit (visitor, lead, recipient) in one variant, with its outcome."""

    experiment = models.ForeignKey(Experiment, on_delete=models.CASCADE, related_name="assignments")
    unit_id = models.CharField(max_length=200)
    person = models.ForeignKey(
        "crm.Person", null=True, blank=True, on_delete=models.SET_NULL, related_name="experiment_assignments"
    )
    variant = models.CharField(max_length=80)
    assigned_at = models.DateTimeField()
    converted = models.BooleanField(default=False)
    revenue = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["experiment", "unit_id"], name="experiment_unit_unique"),
        ]
        indexes = [models.Index(fields=["experiment", "variant", "assigned_at"], name="assignment_variant_day")]

    def __str__(self) -> str:
        return f"{self.unit_id} → {self.variant}"
