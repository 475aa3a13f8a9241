"""Scheduled mail (the weekly alignment report, the daily SLA digest): who wants which, and what was sent per
period; and the tracked links in e-mailed content."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q


class MailKind(models.TextChoices):
    WEEKLY_REPORT = "weekly_report", "Weekly alignment report"
    SLA_DIGEST = "sla_digest", "Daily SLA digest"


class MailSubscription(models.Model):
    """A user's own choice for one kind of scheduled mail; without a row, their role's default applies."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="mail_subscriptions"
    )
    kind = models.CharField(max_length=20, choices=MailKind.choices)
    subscribed = models.BooleanField()
    changed_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "kind"], name="mail_subscription_one_per_kind"),
            models.CheckConstraint(
                condition=Q(kind__in=MailKind.values), name="mail_subscription_kind_known"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user_id} {self.kind} {'on' if self.subscribed else 'off'}"


class MailSend(models.Model):
    """One scheduled mail to one user for one period (the report's week, the digest's day). The row is written
    before the mail goes out and is unique per (user, kind, period), so a restarted or second worker never
    sends a period twice; a failed send is retried on the next run, one still "sending" (a worker that died
    mid-send) is not, as it may have reached the server."""

    class Status(models.TextChoices):
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"
        EMPTY = "empty", "Nothing to send"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="mail_sends")
    kind = models.CharField(max_length=20, choices=MailKind.choices)
    # The Monday of the report's week, or the digest's day (YYYY-MM-DD).
    period = models.CharField(max_length=10)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.SENDING)
    to_address = models.CharField(max_length=254, blank=True, default="")
    attempts = models.PositiveSmallIntegerField(default=1)
    error = models.TextField(blank=True, default="")
    created_at = models.DateTimeField()
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["user", "kind", "period"], name="mail_send_once_per_period"),
            models.CheckConstraint(condition=Q(kind__in=MailKind.values), name="mail_send_kind_known"),
            models.CheckConstraint(
                condition=Q(status__in=["sending", "sent", "failed", "empty"]), name="mail_send_status_known"
            ),
            models.CheckConstraint(
                condition=Q(status="sent", sent_at__isnull=False) | ~Q(status="sent"),
                name="mail_send_sent_has_time",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.period} to {self.user_id}: {self.status}"


class TrackedLink(models.Model):
    """The link in an e-mailed asset (/l/<signed id>): opening it records the click on the person and leads to
    the asset. One per send; it follows the content use (a merge moves it, an erasure removes it)."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        SENT = "sent", "E-mailed"
        FAILED = "failed", "Not delivered"

    use = models.OneToOneField("enablement.ContentUse", on_delete=models.CASCADE, related_name="tracked_link")
    to_address = models.CharField(max_length=254)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.QUEUED)
    error = models.TextField(blank=True, default="")
    created_at = models.DateTimeField()
    emailed_at = models.DateTimeField(null=True, blank=True)
    clicks = models.PositiveIntegerField(default=0)
    first_clicked_at = models.DateTimeField(null=True, blank=True)
    last_clicked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=["queued", "sent", "failed"]), name="tracked_link_status_known"
            ),
        ]

    def __str__(self) -> str:
        return f"link for use {self.use_id}"
