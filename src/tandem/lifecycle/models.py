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


class ChangeProposal(models.Model):
    """A proposed change to a definition, the routing rules or the SLA policy, waiting for an approver.

    Approving publishes the spec through the same path as a direct publish (the next version, its event); a
    proposal made against a version that is no longer in force is refused (see services.proposal_approve).
    """

    class Kind(models.TextChoices):
        DEFINITION = "definition", "Definition"
        ROUTING = "routing", "Routing rules"
        SLA = "sla", "SLA policy"

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        PUBLISHED = "published", "Published"
        REJECTED = "rejected", "Rejected"

    kind = models.CharField(max_length=12, choices=Kind.choices)
    # "mql" or "sql" for a definition; blank for routing and the SLA.
    stage = models.CharField(max_length=8, blank=True, default="")
    # The whole proposed document in the form the publish service stores (its version is numbered on approval).
    spec = models.JSONField()
    reason = models.TextField()
    # The version in force when it was proposed (0: none was published yet).
    base_version = models.PositiveIntegerField()
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.OPEN)
    proposed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    proposed_at = models.DateTimeField()
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    decided_at = models.DateTimeField(null=True, blank=True)
    # Why it was rejected (required then); blank when published.
    decision_reason = models.TextField(blank=True, default="")
    published_version = models.PositiveIntegerField(null=True, blank=True)
    # How many leads publishing promoted to MQL at once (MQL definitions only).
    promoted = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        permissions = [("approve_changeproposal", "Can approve (publish) or reject proposed hand-off changes")]
        indexes = [models.Index(fields=["status", "id"], name="proposal_status_id")]
        constraints = [
            models.CheckConstraint(condition=models.Q(kind__in=["definition", "routing", "sla"]), name="proposal_kind_known"),
            models.CheckConstraint(
                condition=(models.Q(kind="definition") & models.Q(stage__in=["mql", "sql"]))
                | (~models.Q(kind="definition") & models.Q(stage="")),
                name="proposal_stage_only_for_definitions",
            ),
            models.CheckConstraint(condition=~models.Q(reason=""), name="proposal_has_reason"),
            models.CheckConstraint(
                condition=(
                    models.Q(status="open", decided_at__isnull=True, published_version__isnull=True)
                    | models.Q(status="published", decided_at__isnull=False, published_version__isnull=False)
                    | (models.Q(status="rejected", decided_at__isnull=False, published_version__isnull=True) & ~models.Q(decision_reason=""))
                ),
                name="proposal_decision_consistent",
            ),
        ]

    def __str__(self) -> str:
        what = f"{self.stage.upper()} definition" if self.kind == self.Kind.DEFINITION else self.get_kind_display()
        return f"proposal #{self.pk}: {what}"
