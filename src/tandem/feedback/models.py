"""What sales hears: questions and objections, lead-quality ratings, and the themes questions group into."""

from __future__ import annotations

from typing import ClassVar

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q


class ThemeSpace(models.Model):
    """One fitted theme mining: vocabulary, idf and LSA axes (themes.ThemeModel.to_dict); the newest is current."""

    model = models.JSONField(default=dict)
    question_count = models.PositiveIntegerField(default=0)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)  # renames, merges and splits rewrite `model`

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"Theme mining #{self.pk} ({self.question_count} questions)"


class Theme(models.Model):
    """A concern prospects keep raising: found by mining, named, merged or split by marketing."""

    label = models.CharField(max_length=120)
    # Named: a person set the label, which mining then never overwrites.
    renamed = models.BooleanField(default=False)
    # Curated: named, merged into or split by a person. Re-mining keeps curated themes as they are.
    curated = models.BooleanField(default=False)
    terms = models.JSONField(default=list, blank=True)
    examples = models.JSONField(default=list, blank=True)
    centroid = models.JSONField(default=list, blank=True)  # unit vector in `space`'s reduced space
    space = models.ForeignKey(
        ThemeSpace, null=True, blank=True, on_delete=models.SET_NULL, related_name="themes"
    )
    question_count = models.PositiveIntegerField(default=0)
    merged_into = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="merged_from"
    )
    split_from = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="split_into"
    )
    # Set when the theme stops being live: merged into another, split, or dropped by a re-mining.
    retired_at = models.DateTimeField(null=True, blank=True, db_index=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-question_count", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(merged_into__isnull=True) | Q(retired_at__isnull=False),
                name="theme_merged_is_retired",
            ),
        ]

    def __str__(self) -> str:
        return self.label

    @property
    def is_live(self) -> bool:
        return self.retired_at is None


class Question(models.Model):
    """A question or objection a rep heard from a person."""

    # Record-level access: as the person's, and always whoever heard it.
    access_paths: ClassVar[tuple[str, ...]] = ("person__owner", "heard_by")

    person = models.ForeignKey("crm.Person", on_delete=models.CASCADE, related_name="questions")
    asked_at = models.DateTimeField(db_index=True)
    text = models.TextField()
    product = models.CharField(max_length=120, blank=True, default="")
    heard_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="questions_heard",
    )
    is_objection = models.BooleanField(default=False)
    # The call, email or meeting during which it was heard, when recorded from one.
    activity = models.ForeignKey(
        "crm.Activity", null=True, blank=True, on_delete=models.SET_NULL, related_name="questions"
    )
    theme = models.ForeignKey(
        Theme, null=True, blank=True, on_delete=models.SET_NULL, related_name="questions"
    )
    custom_fields = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-asked_at"]
        indexes = [models.Index(fields=["person", "asked_at"])]

    def __str__(self) -> str:
        return self.text[:60]


class RatingReason(models.TextChoices):
    """Why a rep rated a lead the way they did."""

    GOOD_FIT = "good_fit", "Good fit for what we sell"
    READY_TO_BUY = "ready_to_buy", "Ready to buy"
    ENGAGED = "engaged", "Engaged and responsive"
    DECISION_MAKER = "decision_maker", "Decision maker"
    NO_BUDGET = "no_budget", "No budget"
    NO_AUTHORITY = "no_authority", "No authority"
    NO_NEED = "no_need", "No need"
    BAD_TIMING = "bad_timing", "Bad timing"
    WRONG_PERSONA = "wrong_persona", "Wrong persona or company size"
    BAD_CONTACT_DATA = "bad_contact_data", "Wrong or missing contact data"
    NOT_A_LEAD = "not_a_lead", "Student, competitor or job seeker"


class LeadRating(models.Model):
    """A rep's 1–5 rating of a lead's quality, with reason codes; the newest per person is current."""

    # Record-level access: as the person's, and always whoever rated it.
    access_paths: ClassVar[tuple[str, ...]] = ("person__owner", "rated_by")

    person = models.ForeignKey("crm.Person", on_delete=models.CASCADE, related_name="lead_ratings")
    rating = models.PositiveSmallIntegerField(validators=[MinValueValidator(1), MaxValueValidator(5)])
    reasons = models.JSONField(default=list, blank=True)  # RatingReason values
    note = models.TextField(blank=True, default="")
    rated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="lead_ratings",
    )
    rated_at = models.DateTimeField(db_index=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-rated_at", "-id"]
        indexes = [models.Index(fields=["person", "rated_at"])]
        constraints = [
            models.CheckConstraint(condition=Q(rating__gte=1, rating__lte=5), name="lead_rating_1_to_5"),
        ]

    def __str__(self) -> str:
        return f"{self.rating}/5 for person #{self.person_id}"
