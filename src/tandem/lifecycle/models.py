"""The hand-off's versioned rules (definitions, routing, SLA policy) and its notifications."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from tandem.core.versioning import VersionedSpec


class DefinitionVersion(VersionedSpec):
    """One published version of the MQL or SQL definition (Definition.to_dict()); the highest of a stage is current."""

    class Name(models.TextChoices):
        MQL = "mql", "MQL"
        SQL = "sql", "SQL"

    stage = models.CharField(max_length=8, choices=Name.choices)
    # Numbered per stage: unique together with the stage (the constraint below), not on its own.
    version = models.PositiveIntegerField()

    class Meta:
        ordering = ["stage", "-version"]
        constraints = [models.UniqueConstraint(fields=["stage", "version"], name="definition_stage_version")]

    def __str__(self) -> str:
        return f"{self.stage.upper()} v{self.version}"


class RoutingConfig(VersionedSpec):
    """One version of the ordered routing rules (RoutingRules.to_dict()); the highest version is in force."""

    def __str__(self) -> str:
        return f"routing v{self.version}"


class RoutingState(models.Model):
    """The round-robin tallies (RoundRobinState.to_dict()); one row, locked while a batch is routed."""

    state = models.JSONField(default=dict)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"routing state at {self.updated_at:%Y-%m-%d %H:%M}"


class SlaPolicyVersion(VersionedSpec):
    """One version of the two-sided SLA policy (SlaPolicy.to_dict()); the highest version is in force."""

    def __str__(self) -> str:
        return f"SLA v{self.version}"


class Notification(models.Model):
    """An in-app message to one user (SLA breaches); read when the user has seen it."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications")
    kind = models.CharField(max_length=40)
    text = models.TextField()
    url = models.CharField(max_length=300, blank=True, default="")
    created_at = models.DateTimeField()
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["user", "read_at"], name="notification_unread")]

    def __str__(self) -> str:
        return f"{self.kind} for user #{self.user_id}"
