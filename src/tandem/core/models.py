"""Shared base model and the append-only event log every state change writes to."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class TimeStampedModel(models.Model):
    created_at = models.DateTimeField(db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True

    def save(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        # created_at is settable (imports carry the data's own timestamps) but never left empty.
        if self.created_at is None:
            from django.utils import timezone

            self.created_at = timezone.now()
        super().save(*args, **kwargs)


class DataVersion(models.Model):
    """One slot of the report data's change counter, bumped after a writer commits (tandem.core.dataversion).

    Several slots, each writer picking one at random, so concurrent writers rarely wait on the same row; the
    counter is their sum.
    """

    slot = models.PositiveSmallIntegerField(primary_key=True)
    bumps = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"data version slot {self.slot}: {self.bumps}"


class Event(models.Model):
    """One row per state change: who did what to which object, when, why, under which rule version."""

    occurred_at = models.DateTimeField(db_index=True)
    kind = models.CharField(max_length=64, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    rule = models.CharField(max_length=120, blank=True, default="")
    rule_version = models.PositiveIntegerField(null=True, blank=True)
    subject_type = models.CharField(max_length=64, db_index=True)
    subject_id = models.BigIntegerField(null=True, blank=True)
    reason = models.TextField(blank=True, default="")
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["subject_type", "subject_id", "occurred_at"]),
            # The audit log's "kind" and "by whom" filters read newest first (tandem.crm.audit).
            models.Index(fields=["kind", "occurred_at", "id"], name="event_kind_recent"),
            models.Index(fields=["actor", "occurred_at", "id"], name="event_actor_recent"),
        ]
        ordering = ["-occurred_at", "-id"]

    def __str__(self) -> str:
        return f"{self.kind} {self.subject_type}#{self.subject_id} at {self.occurred_at:%Y-%m-%d %H:%M}"


class JobStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"


ACTIVE_JOB_STATUSES = (JobStatus.QUEUED, JobStatus.RUNNING)


class Job(models.Model):
    """One piece of long work run off the request (training, theme mining): its status, progress and result.

    A request creates it and answers 202 with its status URL; the background worker runs it and records its
    progress here, so pages and API clients follow it without holding a server worker (core.jobs).
    """

    kind = models.CharField(max_length=64, db_index=True)
    # What the pages call it ("Training"), set by the app that starts it: core knows no app's words.
    label = models.CharField(max_length=120)
    status = models.CharField(max_length=16, choices=JobStatus.choices, default=JobStatus.QUEUED)
    # An exclusive kind runs at most once at a time: a second request is refused (409) while one is active.
    exclusive = models.BooleanField(default=False)
    params = models.JSONField(default=dict, blank=True)
    progress_done = models.PositiveIntegerField(default=0)
    progress_total = models.PositiveIntegerField(default=0)
    progress_message = models.CharField(max_length=300, blank=True, default="")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # Last sign of life (any write to the row): an active job silent for long is taken as abandoned.
    updated_at = models.DateTimeField()
    result = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["requested_by", "created_at"])]
        constraints = [
            # The database, not a check-then-insert, keeps two requests at the same moment from both starting.
            models.UniqueConstraint(
                fields=["kind"],
                condition=models.Q(exclusive=True, status__in=["queued", "running"]),
                name="core_job_one_active_per_exclusive_kind",
            ),
            models.CheckConstraint(
                condition=models.Q(status__in=["queued", "running", "succeeded", "failed"]),
                name="core_job_status_known",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.label} (job {self.pk}, {self.status})"

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_JOB_STATUSES

    @property
    def percent(self) -> int:
        """How far along, 0 to 100 (a finished job is at 100 whatever its steps said)."""
        if self.status == JobStatus.SUCCEEDED:
            return 100
        if not self.progress_total:
            return 0
        return min(100, int(100 * self.progress_done / self.progress_total))


class PendingTask(models.Model):
    """The outbox: background work a write asked for, stored in the write's own transaction.

    The row commits with the write; the task is handed to the queue after the commit, and the row is deleted
    once the queue took it. When the queue (Redis, or Huey's SQLite file) is down the row stays and the worker's
    outbox loop hands it over later, so a write never fails after it committed and no queued work is lost.
    """

    # The dotted path of a Huey task (module.function), imported when it is handed over.
    task = models.CharField(max_length=200)
    args = models.JSONField(default=list, blank=True)
    kwargs = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField()
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(db_index=True)
    # Whoever hands a row over claims it until then, so the request and the worker's loop never both send it.
    claimed_until = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.task} (pending since {self.created_at:%Y-%m-%d %H:%M})"


class IdempotencyKey(models.Model):
    """The first answer to a create sent with an `Idempotency-Key` header, kept so a retry gets it again.

    Written in the create's own transaction (tandem.core.idempotency): the key exists exactly when the record
    does. A second request with the key waits on the unique constraint while the first is at work, then reads
    its answer. Kept IDEMPOTENCY_KEY_HOURS, then pruned by the worker.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    method = models.CharField(max_length=10)
    path = models.CharField(max_length=500)
    # SHA-256 of method, path and body: the same key with another request is refused, not replayed.
    request_hash = models.CharField(max_length=64)
    status_code = models.PositiveSmallIntegerField()
    content_type = models.CharField(max_length=100)
    response_body = models.TextField(blank=True, default="")
    # A Location header of the first answer, sent again with the replay.
    location = models.CharField(max_length=500, blank=True, default="")
    created_at = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["user", "key"], name="core_idempotency_key_once_per_user")]

    def __str__(self) -> str:
        return f"{self.method} {self.path} key {self.key!r} ({self.status_code})"
