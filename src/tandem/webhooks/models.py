"""Outbound webhooks: the endpoints that subscribe to event types, and each message's deliveries and attempts."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

# Longest URL we accept (browsers and proxies handle 2,000 reliably).
URL_MAX = 2000
# How much of a receiver's answer we keep per delivery and attempt.
RESPONSE_EXCERPT_MAX = 1000
ERROR_MAX = 1000
ALL_EVENTS = "*"


class Endpoint(models.Model):
    """A receiver's URL, the event types it subscribes to, its signing secret(s) and its health."""

    url = models.CharField(max_length=URL_MAX)
    description = models.CharField(max_length=200, blank=True, default="")
    # A list of catalog names, or ["*"] for every event type.
    event_types = models.JSONField(default=list)
    # `whsec_` + base64 of 24+ random bytes, as Standard Webhooks says; shown once when made or rotated.
    secret = models.CharField(max_length=200)
    # The secret before the last rotation keeps signing (a second signature) until it expires.
    previous_secret = models.CharField(max_length=200, blank=True, default="")
    previous_secret_expires_at = models.DateTimeField(null=True, blank=True)
    active = models.BooleanField(default=True)
    disabled_reason = models.CharField(max_length=500, blank=True, default="")
    disabled_at = models.DateTimeField(null=True, blank=True)
    consecutive_failures = models.PositiveIntegerField(default=0)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]
        permissions = [("manage_webhooks", "Can manage outbound webhook endpoints and their deliveries")]
        constraints = [
            models.CheckConstraint(
                condition=Q(url__startswith="http://") | Q(url__startswith="https://"),
                name="endpoint_url_http",
            ),
            models.CheckConstraint(condition=Q(secret__startswith="whsec_"), name="endpoint_secret_whsec"),
            # A disabled endpoint says when; an active one carries no disabling.
            models.CheckConstraint(
                condition=Q(active=True, disabled_at__isnull=True)
                | Q(active=False, disabled_at__isnull=False),
                name="endpoint_disabled_when",
            ),
            # The previous secret and its expiry come and go together.
            models.CheckConstraint(
                condition=Q(previous_secret="", previous_secret_expires_at__isnull=True)
                | (Q(previous_secret__startswith="whsec_") & Q(previous_secret_expires_at__isnull=False)),
                name="endpoint_previous_secret_expiry",
            ),
        ]

    def __str__(self) -> str:
        return self.url


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    # Every attempt of the schedule failed, or the endpoint was disabled or removed.
    ABANDONED = "abandoned", "Abandoned"


class Delivery(models.Model):
    """One message to one endpoint: its payload as signed, its status and what the receiver last answered.

    `failed` is a delivery whose last attempt failed and that waits for its next one; `abandoned` gets no more
    automatic attempts (a manual replay may still send it again, under the same message id)."""

    endpoint = models.ForeignKey(Endpoint, on_delete=models.CASCADE, related_name="deliveries")
    message_id = models.CharField(max_length=40)
    event_type = models.CharField(max_length=64)
    # The whole Standard Webhooks envelope, {"type", "timestamp", "data"}, as the exact JSON text sent and signed:
    # text rather than a JSON column, so every retry and replay sends the same bytes (jsonb reorders keys).
    body = models.TextField()
    status = models.CharField(max_length=12, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    # Whoever sends it holds it until then, so the worker's task and its loop never send it twice at once.
    claimed_until = models.DateTimeField(null=True, blank=True)
    last_response_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=ERROR_MAX, blank=True, default="")
    response_excerpt = models.CharField(max_length=RESPONSE_EXCERPT_MAX, blank=True, default="")
    last_duration_ms = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField()
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    succeeded_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [
            # The worker's "what is due" read.
            models.Index(fields=["status", "next_attempt_at"], name="delivery_due"),
            models.Index(fields=["endpoint", "id"], name="delivery_endpoint_recent"),
            models.Index(fields=["message_id"], name="delivery_message"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["endpoint", "message_id"], name="delivery_unique_message"),
            models.CheckConstraint(
                condition=Q(message_id__startswith="msg_"), name="delivery_message_id_msg"
            ),
            models.CheckConstraint(
                condition=Q(status__in=[s.value for s in DeliveryStatus]), name="delivery_status_known"
            ),
            # Waiting deliveries say when they are next tried; finished ones are not tried again.
            models.CheckConstraint(
                condition=Q(status__in=["pending", "failed"], next_attempt_at__isnull=False)
                | Q(status__in=["succeeded", "abandoned"], next_attempt_at__isnull=True),
                name="delivery_next_attempt_when_waiting",
            ),
            models.CheckConstraint(
                condition=Q(status="succeeded", succeeded_at__isnull=False) | ~Q(status="succeeded"),
                name="delivery_succeeded_when",
            ),
            models.CheckConstraint(
                condition=Q(last_response_code__isnull=True)
                | Q(last_response_code__gte=100, last_response_code__lte=599),
                name="delivery_response_code_http",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.message_id} {self.event_type} → endpoint #{self.endpoint_id}"


class DeliveryAttempt(models.Model):
    """One POST of a delivery: when, what the receiver answered (or why there was no answer), how long it took."""

    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="attempt_log")
    attempted_at = models.DateTimeField()
    response_code = models.PositiveSmallIntegerField(null=True, blank=True)
    error = models.CharField(max_length=ERROR_MAX, blank=True, default="")
    response_excerpt = models.CharField(max_length=RESPONSE_EXCERPT_MAX, blank=True, default="")
    duration_ms = models.PositiveIntegerField()
    succeeded = models.BooleanField()

    class Meta:
        ordering = ["-attempted_at", "-id"]
        indexes = [models.Index(fields=["delivery", "attempted_at"], name="attempt_delivery_time")]
        constraints = [
            models.CheckConstraint(
                condition=Q(response_code__isnull=True) | Q(response_code__gte=100, response_code__lte=599),
                name="attempt_response_code_http",
            ),
        ]

    def __str__(self) -> str:
        return f"attempt of delivery #{self.delivery_id} at {self.attempted_at:%Y-%m-%d %H:%M:%S}"
