"""Scoring rules (versioned), trained model versions and each person's latest score."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from tandem.core.versioning import Versioned


class ScoringConfig(Versioned):
    """One version of the admin-edited fit rules and engagement points (the latest row is in force)."""

    # Older than the shared versioning: the table keeps its auto_now_add column (spec_publish's time is overridden).
    created_at = models.DateTimeField(auto_now_add=True)
    # The rules live in three columns rather than one spec document, and a change carries no reason.
    fit = models.JSONField(default=dict)
    engagement = models.JSONField(default=dict)
    # Features are taken this long after a person's creation when training (the lead's first days).
    cutoff_days = models.FloatField(default=7.0)

    def __str__(self) -> str:
        return f"Scoring rules v{self.version}"


class ModelStatus(models.TextChoices):
    CANDIDATE = "candidate", "Candidate"
    ACTIVE = "active", "Active"
    RETIRED = "retired", "Retired"
    REFUSED = "refused", "Refused"


class ScoringModel(models.Model):
    """A trained model version with its validation metrics, tiers and serialized bytes."""

    version = models.CharField(max_length=40, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    trained_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    horizon_days = models.FloatField()
    config_version = models.PositiveIntegerField(null=True, blank=True)
    status = models.CharField(max_length=12, choices=ModelStatus.choices, default=ModelStatus.CANDIDATE, db_index=True)
    kind = models.CharField(max_length=16, blank=True, default="")
    reason = models.TextField(blank=True, default="")
    # Summary metrics of the model and both baselines on validation, plus split sizes.
    metrics = models.JSONField(default=dict)
    # Full evaluations (calibration table, lift by decile) keyed by model / naive_bayes / rule_score.
    evaluations = models.JSONField(default=dict)
    tiers = models.JSONField(default=dict)
    feature_importance = models.JSONField(default=list)
    # The latest drift report (``drift.DriftSummary.as_dict``), rewritten by each full refresh of scores.
    drift = models.JSONField(default=dict, blank=True)
    model_bytes = models.BinaryField()

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"Scoring model {self.version} ({self.status})"


class PersonScore(models.Model):
    """A person's latest score: predictive probability, tier, expected value, fit grade, engagement."""

    person = models.OneToOneField("crm.Person", on_delete=models.CASCADE, primary_key=True, related_name="score")
    model = models.ForeignKey(ScoringModel, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    probability = models.FloatField(null=True, blank=True)
    tier = models.CharField(max_length=8, blank=True, default="")
    expected_value = models.FloatField(null=True, blank=True)
    fit_grade = models.CharField(max_length=1, blank=True, default="")
    fit_points = models.FloatField(default=0.0)
    engagement = models.FloatField(default=0.0)
    # {"raising": [{"text", "contribution"}...], "lowering": [...]}
    factors = models.JSONField(default=dict)
    # The moment the score is "as of" (the features' cut-off); may be given by the caller.
    scored_at = models.DateTimeField()
    # When this row was last written (wall clock at the write, set by the scoring services on every insert
    # and update, never by the caller). Indexed so that other sweeps can watermark on it: "every score
    # written since T" is one index range. Rows deleted because the person's outcome closed do not show here.
    updated_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        indexes = [
            models.Index(fields=["-expected_value", "person"], name="score_value"),
            models.Index(fields=["-probability", "person"], name="score_probability"),
        ]

    def __str__(self) -> str:
        return f"Score of person #{self.person_id}"
