"""Users, teams and roles. Roles are Django groups with permissions; a user's role decides its home page."""

from __future__ import annotations

import hashlib

from django.contrib.auth.models import AbstractUser
from django.db import models


class Role(models.TextChoices):
    ADMIN = "admin", "Admin"
    MARKETING = "marketing", "Marketing"
    SALES_REP = "sales_rep", "Sales rep"
    SALES_MANAGER = "sales_manager", "Sales manager"
    VIEWER = "viewer", "Viewer"


class RepAccess(models.TextChoices):
    """How far a team's reps reach beyond their own records (an admin's setting per team)."""

    OWN = "own", "Own records only"
    TEAM_VIEW = "team_view", "See the team's records, change their own"
    TEAM_CHANGE = "team_change", "See and change the team's records"


class Team(models.Model):
    name = models.CharField(max_length=120, unique=True)
    kind = models.CharField(
        max_length=16, choices=[("sales", "Sales"), ("marketing", "Marketing")], default="sales"
    )
    time_zone = models.CharField(max_length=64, default="UTC")
    manager = models.ForeignKey(
        "users.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="managed_teams"
    )
    # The team's business calendar in its time zone: {"hours": {"mon": [["09:00", "17:00"]], ...},
    # "holidays": [{"date": "2026-12-25", "name": "Christmas Day"}]}. Empty: Monday–Friday 09:00–17:00,
    # no holidays. The SLA reads it for the owner's team (tandem.lifecycle validates and edits it).
    calendar = models.JSONField(default=dict, blank=True)
    # Record-level access (tandem.users.access) reads it for the team's reps; managers always reach the team.
    rep_access = models.CharField(max_length=16, choices=RepAccess.choices, default=RepAccess.OWN)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(rep_access__in=["own", "team_view", "team_change"]), name="team_rep_access_known"
            )
        ]

    def __str__(self) -> str:
        return self.name


class User(AbstractUser):
    role = models.CharField(max_length=20, choices=Role.choices, default=Role.VIEWER, db_index=True)
    team = models.ForeignKey(Team, null=True, blank=True, on_delete=models.SET_NULL, related_name="members")
    time_zone = models.CharField(max_length=64, default="UTC")
    # Routing reads these: an away rep gets no new leads; capacity weights round-robin.
    is_away = models.BooleanField(default=False)
    capacity = models.PositiveSmallIntegerField(default=100)
    # Set by an admin (force a reset): every page sends the user to the change-password page until they change it.
    must_change_password = models.BooleanField(default=False)

    class Meta:
        ordering = ["username"]

    def __str__(self) -> str:
        return self.get_full_name() or self.username


class ApiToken(models.Model):
    """A personal API token; only its SHA-256 is stored, the token itself is shown once."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=120)
    prefix = models.CharField(max_length=12, db_index=True)
    digest = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @staticmethod
    def digest_of(token: str) -> str:
        return hashlib.sha256(token.encode()).hexdigest()
