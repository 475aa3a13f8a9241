"""Audiences: saved, named sets of people in words (a versioned spec), and the membership snapshot webhooks diff."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from tandem.core.versioning import VersionedSpec


class Audience(models.Model):
    """A named audience; its spec in force is the newest AudienceVersion (copied here so reads need no join)."""

    name = models.CharField(max_length=120, unique=True)
    description = models.TextField(blank=True, default="")
    # The spec and version in force, written only by tandem.audiences.services in the version's transaction.
    spec = models.JSONField(default=dict)
    version = models.PositiveIntegerField(default=1)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField(auto_now=True)
    # When the worker last compared the live query with the snapshot (None: never yet).
    synced_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.CheckConstraint(condition=~Q(name=""), name="audience_name_not_blank"),
            models.CheckConstraint(condition=Q(version__gte=1), name="audience_version_positive"),
        ]

    def __str__(self) -> str:
        return self.name


class AudienceVersion(VersionedSpec):
    """One published version of an audience's spec (spec.AudienceSpec.to_dict()), with who and why."""

    audience = models.ForeignKey(Audience, on_delete=models.CASCADE, related_name="versions")
    # Numbered per audience: unique together with it (the constraint below), not on its own.
    version = models.PositiveIntegerField()

    class Meta:
        ordering = ["audience", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["audience", "version"], name="audience_version_unique")
        ]

    def __str__(self) -> str:
        return f"{self.audience_id} v{self.version}"


class AudienceMember(models.Model):
    """Who was in the audience at its last sync: the next sync's diff against the live query says who joined
    and who left (audience.member_added / member_removed webhooks)."""

    audience = models.ForeignKey(Audience, on_delete=models.CASCADE, related_name="members")
    person = models.ForeignKey("crm.Person", on_delete=models.CASCADE, related_name="audience_memberships")
    added_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["audience", "person"], name="audience_member_unique")]
        indexes = [models.Index(fields=["person"], name="audience_member_person")]

    def __str__(self) -> str:
        return f"{self.audience_id}:{self.person_id}"
