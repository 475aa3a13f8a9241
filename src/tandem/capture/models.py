"""Capture: web-to-lead forms, the ingestion journal, rate-limit windows, and CSV import mappings and jobs."""

from __future__ import annotations

import secrets

from django.conf import settings
from django.db import models
from django.db.models import Q

from tandem.core.models import TimeStampedModel


def new_public_key() -> str:
    """A form's public key: it is printed in web pages, so it identifies the form but grants nothing else."""
    return "f_" + secrets.token_urlsafe(18)


class Form(TimeStampedModel):
    """A web-to-lead form marketing defines: its fields, consent boxes, campaign and what happens after."""

    class Kind(models.TextChoices):
        FORM_SUBMIT = "form_submit", "Form submitted"
        DEMO_REQUEST = "demo_request", "Demo requested"
        CONTENT_DOWNLOAD = "content_download", "Content downloaded"
        WEBINAR = "webinar", "Webinar registration"

    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=80, unique=True)
    public_key = models.CharField(max_length=40, unique=True, default=new_public_key)
    # [{"name": "email", "label": "Work email", "type": "email", "required": true, "choices": []}, ...]
    fields = models.JSONField(default=list)
    campaign = models.ForeignKey(
        "campaigns.Campaign", null=True, blank=True, on_delete=models.SET_NULL, related_name="forms"
    )
    touchpoint_kind = models.CharField(max_length=24, choices=Kind.choices, default=Kind.FORM_SUBMIT)
    submit_label = models.CharField(max_length=60, default="Send")
    thank_you_message = models.TextField(default="Thank you! We will be in touch soon.")
    redirect_url = models.URLField(max_length=500, blank=True, default="")
    is_active = models.BooleanField(default=True)
    rate_limit_per_minute = models.PositiveIntegerField(default=120)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class SubmissionStatus(models.TextChoices):
    RECEIVED = "received", "Received"
    PROCESSED = "processed", "Processed"
    REJECTED = "rejected", "Rejected (bad input)"
    FAILED = "failed", "Failed (to replay)"
    SPAM = "spam", "Spam (honeypot)"


class Submission(models.Model):
    """The ingestion journal: what arrived, raw, before anything was made of it, and what became of it."""

    class Source(models.TextChoices):
        FORM = "form", "Web form (hosted page or snippet)"
        FORM_JSON = "form_json", "Form JSON endpoint"
        TRACK = "track", "Tracking endpoint"

    received_at = models.DateTimeField(db_index=True)
    source = models.CharField(max_length=12, choices=Source.choices)
    form = models.ForeignKey(Form, null=True, blank=True, on_delete=models.SET_NULL, related_name="submissions")
    # The key the sender presented (a form's public key, or "token:<id>"), kept even when it was unknown.
    key = models.CharField(max_length=80, blank=True, default="")
    idempotency_key = models.CharField(max_length=200, null=True, blank=True)
    content_type = models.CharField(max_length=200, blank=True, default="")
    remote_addr = models.CharField(max_length=64, blank=True, default="")
    user_agent = models.CharField(max_length=400, blank=True, default="")
    referrer = models.CharField(max_length=2000, blank=True, default="")
    body_size = models.PositiveIntegerField(default=0)
    # As it arrived (decoded as UTF-8 with replacement); cut at the size limit when oversize.
    payload = models.TextField(blank=True, default="")
    status = models.CharField(
        max_length=10, choices=SubmissionStatus.choices, default=SubmissionStatus.RECEIVED
    )
    http_status = models.PositiveSmallIntegerField(default=0)
    error = models.TextField(blank=True, default="")
    error_field = models.CharField(max_length=120, blank=True, default="")
    attempts = models.PositiveSmallIntegerField(default=0)
    processed_at = models.DateTimeField(null=True, blank=True)
    person = models.ForeignKey(
        "crm.Person", null=True, blank=True, on_delete=models.SET_NULL, related_name="submissions"
    )
    result = models.JSONField(default=dict, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["key", "idempotency_key"],
                condition=Q(idempotency_key__isnull=False),
                name="submission_idempotency_unique",
            ),
        ]
        indexes = [
            models.Index(fields=["status", "received_at"], name="submission_status_time"),
        ]
        ordering = ["-received_at", "-id"]

    def __str__(self) -> str:
        return f"{self.source} #{self.pk} ({self.status})"


class RateWindow(models.Model):
    """Requests counted per key and minute, shared by every server process through the database."""

    key = models.CharField(max_length=80)
    window = models.BigIntegerField()  # minutes since the epoch
    count = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["key", "window"], name="rate_window_unique")]

    def __str__(self) -> str:
        return f"{self.key} @ {self.window}: {self.count}"


class UnknownUtm(models.Model):
    """A utm_campaign tag that arrived anonymously (a form post, a tracking event) and names no campaign.

    Anonymous senders never create campaigns: the touchpoint is kept without one, under the visit's channel,
    and the tag is counted here, one row per tag, source and medium, for marketing to review (make a campaign
    of it, or ignore it).
    """

    class Status(models.TextChoices):
        NEW = "new", "To review"
        IGNORED = "ignored", "Ignored"
        CAMPAIGN = "campaign", "Campaign created"

    value = models.CharField(max_length=200)  # the utm_campaign tag as it arrived
    utm_source = models.CharField(max_length=200, blank=True, default="")
    utm_medium = models.CharField(max_length=200, blank=True, default="")
    # The channel the first visit's tags and referrer read as: the proposed channel of a campaign made from it.
    channel = models.CharField(max_length=40, blank=True, default="")
    first_seen = models.DateTimeField()
    last_seen = models.DateTimeField()
    count = models.PositiveIntegerField(default=0)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.NEW)
    campaign = models.ForeignKey(
        "campaigns.Campaign", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["value", "utm_source", "utm_medium"], name="unknown_utm_unique"),
        ]
        ordering = ["-last_seen", "-id"]

    def __str__(self) -> str:
        return f"{self.value} ({self.utm_source or '-'} / {self.utm_medium or '-'}): {self.count}"


class ImportKind(models.TextChoices):
    PEOPLE = "people", "People"
    TOUCHPOINTS = "touchpoints", "Touchpoints"
    DEALS = "deals", "Deals"
    ACTIVITIES = "activities", "Activities"


class ImportMapping(TimeStampedModel):
    """A saved CSV column mapping: which header feeds which field, and how values are translated."""

    name = models.SlugField(max_length=80, unique=True)
    kind = models.CharField(max_length=12, choices=ImportKind.choices)
    description = models.CharField(max_length=300, blank=True, default="")
    # {"Email": "email", "Lead Source": "original_channel", ...}
    columns = models.JSONField(default=dict)
    # Value translations, empty markers, the external id system and the like (see docs/capture.md).
    options = models.JSONField(default=dict, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class ImportJob(TimeStampedModel):
    """One CSV import (or dry run) and its progress, counts and refused rows."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    class Mode(models.TextChoices):
        ALL_OR_NOTHING = "all_or_nothing", "All or nothing"
        GOOD_ROWS = "good_rows", "Import good rows, return the refused ones"

    kind = models.CharField(max_length=12, choices=ImportKind.choices)
    file_name = models.CharField(max_length=300)
    # Storage names in the default storage (tandem.core.uploads), so any node reads them; the upload is removed
    # (and this emptied) once a real run of it ended, a successful dry run keeping it for "run for real".
    stored_path = models.CharField(max_length=500, blank=True, default="")
    mapping_name = models.CharField(max_length=80, blank=True, default="")
    mapping = models.JSONField(default=dict, blank=True)
    mode = models.CharField(max_length=16, choices=Mode.choices, default=Mode.ALL_OR_NOTHING)
    dry_run = models.BooleanField(default=False)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.QUEUED)
    total_rows = models.PositiveIntegerField(default=0)
    processed_rows = models.PositiveIntegerField(default=0)
    counts = models.JSONField(default=dict, blank=True)
    report = models.JSONField(default=list, blank=True)
    refused_path = models.CharField(max_length=500, blank=True, default="")
    error = models.TextField(blank=True, default="")
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.kind} import of {self.file_name} ({self.status})"
