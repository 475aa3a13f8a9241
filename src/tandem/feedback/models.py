"""What sales hears: questions and objections, lead-quality ratings (later issues add themes)."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class Question(models.Model):
    """A question or objection a rep heard from a person."""

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
    custom_fields = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-asked_at"]
        indexes = [models.Index(fields=["person", "asked_at"])]

    def __str__(self) -> str:
        return self.text[:60]
