"""Calendar feeds: a user's secret .ics address for calendar apps."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q


class CalendarFeed(models.Model):
    """A user's secret calendar URL (/calendar/<token>.ics). Only the token's SHA-256 is kept, so the address is
    shown once; a revoked feed answers 404. One live feed per user: regenerating revokes the old one."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="calendar_feeds"
    )
    token_hash = models.CharField(max_length=64, unique=True)
    # The token's first characters, so the page can tell the user which address is live.
    prefix = models.CharField(max_length=8)
    created_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_fetched_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["user"], condition=Q(revoked_at__isnull=True), name="calendar_feed_one_live_per_user"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user_id} {self.prefix}…"
