"""Accounts, people, deals, lost reasons and sales activities."""

from __future__ import annotations

from decimal import Decimal
from typing import ClassVar

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q

from tandem.core.models import TimeStampedModel
from tandem.crm.stages import CHOICES as STAGE_CHOICES


class SizeBand(models.TextChoices):
    S1_10 = "1-10", "1–10"
    S11_50 = "11-50", "11–50"
    S51_200 = "51-200", "51–200"
    S201_1000 = "201-1000", "201–1,000"
    S1001_5000 = "1001-5000", "1,001–5,000"
    S5001 = "5001+", "5,001+"


class Account(TimeStampedModel):
    # Record-level access (tandem.users.access): its owner, or whoever sells to its people or deals.
    access_paths: ClassVar[tuple[str, ...]] = ("owner", "people__owner", "deals__owner")

    name = models.CharField(max_length=200, db_index=True)
    domain = models.CharField(max_length=200, null=True, blank=True)
    industry = models.CharField(max_length=80, blank=True, default="", db_index=True)
    size_band = models.CharField(max_length=16, blank=True, default="")
    country = models.CharField(max_length=80, blank=True, default="")
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="accounts"
    )
    custom_fields = models.JSONField(default=dict, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["domain"], condition=Q(domain__isnull=False), name="account_domain_unique"
            ),
        ]
        ordering = ["name"]
        # The data version reads MAX(updated_at) from it (tandem.core.dataversion).
        indexes = [models.Index(fields=["updated_at"], name="account_updated")]

    def __str__(self) -> str:
        return self.name


class LeadStatus(models.TextChoices):
    NEW = "new", "New"
    ATTEMPTING = "attempting", "Attempting contact"
    CONNECTED = "connected", "Connected"
    NURTURING = "nurturing", "Nurturing"
    UNQUALIFIED = "unqualified", "Unqualified"


class Person(TimeStampedModel):
    # Record-level access (tandem.users.access): the person's owner.
    access_paths: ClassVar[tuple[str, ...]] = ("owner",)

    # email as given; email_normalized is what identity matching uses (unique when present).
    email = models.CharField(max_length=254, blank=True, default="")
    email_normalized = models.CharField(max_length=254, null=True, blank=True)
    first_name = models.CharField(max_length=100, blank=True, default="")
    last_name = models.CharField(max_length=100, blank=True, default="")
    # lower-cased "first last" for index-backed prefix search in the people list.
    name_key = models.CharField(max_length=201, blank=True, default="", db_index=True)
    job_title = models.CharField(max_length=200, blank=True, default="")
    phone = models.CharField(max_length=40, blank=True, default="")
    account = models.ForeignKey(
        Account, null=True, blank=True, on_delete=models.SET_NULL, related_name="people"
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="people"
    )
    # Written only by tandem.crm.services (a test enforces it).
    # Empty until the first StageChange sets it.
    lifecycle_stage = models.CharField(max_length=16, choices=STAGE_CHOICES, blank=True, default="")
    lead_status = models.CharField(max_length=16, choices=LeadStatus.choices, default=LeadStatus.NEW)
    original_channel = models.CharField(max_length=40, blank=True, default="")
    original_campaign = models.ForeignKey(
        "campaigns.Campaign", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    latest_channel = models.CharField(max_length=40, blank=True, default="")
    latest_campaign = models.ForeignKey(
        "campaigns.Campaign", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # The current consent per channel, denormalised from the newest ConsentRecord of each channel so filters
    # stay one indexed column: written only by tandem.crm.consent.services, in the record's transaction.
    consent_email = models.BooleanField(default=False)
    consent_calls = models.BooleanField(default=False)
    custom_fields = models.JSONField(default=dict, blank=True)
    # When the person was erased (tandem.privacy): the row stays, emptied of everything personal, so the
    # anonymous history hanging off it (stages, touchpoints, deals) keeps every report's totals true.
    erased_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["email_normalized"],
                condition=Q(email_normalized__isnull=False),
                name="person_email_normalized_unique",
            ),
        ]
        # Keyset pagination of the people list walks these (created_at, id) orders.
        indexes = [
            models.Index(fields=["created_at", "id"], name="person_recent"),
            models.Index(fields=["lifecycle_stage", "created_at", "id"], name="person_stage_recent"),
            models.Index(fields=["owner", "created_at", "id"], name="person_owner_recent"),
            models.Index(fields=["original_channel", "created_at", "id"], name="person_channel_recent"),
            models.Index(fields=["name_key", "id"], name="person_name_key"),
            models.Index(fields=["email_normalized", "id"], name="person_email_key"),
            # The data version reads MAX(updated_at) from it (tandem.core.dataversion).
            models.Index(fields=["updated_at"], name="person_updated"),
        ]

    def __str__(self) -> str:
        if self.erased_at is not None:
            return f"Erased person #{self.pk}"
        return self.full_name or self.email or f"Person #{self.pk}"

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()


class ExternalId(models.Model):
    """A person's id in another system (a CRM, a marketing tool, a spreadsheet's key)."""

    # Record-level access: as the person's.
    access_paths: ClassVar[tuple[str, ...]] = ("person__owner",)

    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="external_ids")
    system = models.CharField(max_length=60)
    external_id = models.CharField(max_length=200)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["system", "external_id"], name="external_id_unique_per_system"),
        ]

    def __str__(self) -> str:
        return f"{self.system}:{self.external_id}"


class ConsentChannel(models.TextChoices):
    """How a person may be contacted; consent is given or withdrawn per channel."""

    EMAIL = "email", "E-mail"
    CALLS = "calls", "Calls"


class ConsentSource(models.TextChoices):
    """Where a consent record came from."""

    FORM = "form", "Web form"
    IMPORT = "import", "CSV import"
    BUNDLE = "bundle", "Bundle import"
    API = "api", "API"
    UI = "ui", "Web app"
    MIGRATED = "migrated", "Before consent records were kept"
    DEMO = "demo", "Demo data"


class ConsentRecord(models.Model):
    """One grant or withdrawal of a person's consent on one channel: when, where from, by whom, and why.

    Append-only: the newest record per channel (by `at`, then id) is the person's current consent there."""

    # Record-level access: as the person's.
    access_paths: ClassVar[tuple[str, ...]] = ("person__owner",)

    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="consent_records")
    channel = models.CharField(max_length=8, choices=ConsentChannel.choices)
    granted = models.BooleanField()
    at = models.DateTimeField()
    source = models.CharField(max_length=12, choices=ConsentSource.choices)
    by_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    note = models.TextField(blank=True, default="")
    recorded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(channel__in=ConsentChannel.values), name="consent_channel_known"),
            models.CheckConstraint(condition=Q(source__in=ConsentSource.values), name="consent_source_known"),
        ]
        indexes = [models.Index(fields=["person", "channel", "at", "id"], name="consent_person_latest")]

    def __str__(self) -> str:
        return f"{self.channel} {'granted' if self.granted else 'withdrawn'} at {self.at:%Y-%m-%d}"


class LostReason(models.Model):
    name = models.CharField(max_length=120, unique=True)
    description = models.TextField(blank=True, default="")
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class DealStage(models.TextChoices):
    """Where a deal stands overall; every pipeline stage is of one of these kinds."""

    OPEN = "open", "Open"
    WON = "won", "Won"
    LOST = "lost", "Lost"


class Pipeline(models.Model):
    """An admin-defined sales process: ordered stages a deal moves through, one pipeline the default."""

    name = models.CharField(max_length=120, unique=True)
    is_default = models.BooleanField(default=False)
    is_active = models.BooleanField(default=True)
    position = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["position", "name"]
        constraints = [
            models.UniqueConstraint(fields=["is_default"], condition=Q(is_default=True), name="pipeline_one_default"),
        ]

    def __str__(self) -> str:
        return self.name


class PipelineStage(models.Model):
    """One step of a pipeline with its default win probability; won and lost stages close the deal."""

    pipeline = models.ForeignKey(Pipeline, on_delete=models.CASCADE, related_name="stages")
    name = models.CharField(max_length=80)
    position = models.PositiveSmallIntegerField(default=0)
    # Percent, 0-100: the forecast weighs an open deal's amount by it.
    probability = models.PositiveSmallIntegerField(default=0)
    kind = models.CharField(max_length=8, choices=DealStage.choices, default=DealStage.OPEN)
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["pipeline", "position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["pipeline", "name"], name="pipeline_stage_name_unique"),
            models.CheckConstraint(condition=Q(probability__lte=100), name="pipeline_stage_probability_percent"),
            models.CheckConstraint(
                condition=~Q(kind="won") | Q(probability=100), name="pipeline_stage_won_is_certain"
            ),
            models.CheckConstraint(condition=~Q(kind="lost") | Q(probability=0), name="pipeline_stage_lost_is_zero"),
        ]

    def __str__(self) -> str:
        return f"{self.pipeline.name}: {self.name}" if "pipeline" in self.__dict__ else self.name


class Deal(TimeStampedModel):
    # Record-level access (tandem.users.access): the deal's owner.
    access_paths: ClassVar[tuple[str, ...]] = ("owner",)

    external_id = models.CharField(max_length=120, null=True, blank=True)
    name = models.CharField(max_length=200, blank=True, default="")
    # The main contact; further people join through DealContact with their role.
    person = models.ForeignKey(Person, null=True, blank=True, on_delete=models.SET_NULL, related_name="deals")
    account = models.ForeignKey(
        Account, null=True, blank=True, on_delete=models.SET_NULL, related_name="deals"
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="deals"
    )
    amount = models.DecimalField(
        max_digits=14, decimal_places=2, default=Decimal("0"), validators=[MinValueValidator(Decimal("0"))]
    )
    currency = models.CharField(max_length=3, default="USD")
    # open / won / lost: always the kind of pipeline_stage (crm.services keep the two together).
    stage = models.CharField(max_length=8, choices=DealStage.choices, default=DealStage.OPEN, db_index=True)
    pipeline = models.ForeignKey(Pipeline, on_delete=models.PROTECT, related_name="deals")
    pipeline_stage = models.ForeignKey(PipelineStage, on_delete=models.PROTECT, related_name="deals")
    stage_entered_at = models.DateTimeField(null=True, blank=True)
    expected_close_on = models.DateField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True, db_index=True)
    lost_reason = models.ForeignKey(
        LostReason, null=True, blank=True, on_delete=models.PROTECT, related_name="deals"
    )
    custom_fields = models.JSONField(default=dict, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["external_id"], condition=Q(external_id__isnull=False), name="deal_external_id_unique"
            ),
            models.CheckConstraint(condition=Q(amount__gte=0), name="deal_amount_not_negative"),
            models.CheckConstraint(
                condition=Q(stage="open", closed_at__isnull=True) | ~Q(stage="open"),
                name="deal_open_has_no_close_date",
            ),
        ]
        indexes = [
            models.Index(fields=["pipeline", "pipeline_stage", "id"], name="deal_board"),
            models.Index(fields=["stage", "expected_close_on"], name="deal_forecast"),
            models.Index(fields=["account", "created_at"], name="deal_account"),
            # The data version reads MAX(updated_at) from it (tandem.core.dataversion).
            models.Index(fields=["updated_at"], name="deal_updated"),
        ]

    def __str__(self) -> str:
        return self.name or self.external_id or f"Deal #{self.pk}"


class DealStageChange(models.Model):
    """One move of a deal between pipeline stages: from, to, when, by whom and why."""

    # Record-level access: as the deal's.
    access_paths: ClassVar[tuple[str, ...]] = ("deal__owner",)

    deal = models.ForeignKey(Deal, on_delete=models.CASCADE, related_name="stage_changes")
    from_stage = models.ForeignKey(
        PipelineStage, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    to_stage = models.ForeignKey(PipelineStage, on_delete=models.PROTECT, related_name="+")
    changed_at = models.DateTimeField()
    by_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reason = models.TextField(blank=True, default="")
    recorded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["changed_at", "id"]
        indexes = [models.Index(fields=["deal", "changed_at"], name="dealstagechange_deal")]

    def __str__(self) -> str:
        return f"deal #{self.deal_id}: stage #{self.from_stage_id} → #{self.to_stage_id}"


class DealContact(models.Model):
    """A person on a deal's buying team, with the role they play."""

    # Record-level access: as the deal's.
    access_paths: ClassVar[tuple[str, ...]] = ("deal__owner",)

    class Role(models.TextChoices):
        DECISION_MAKER = "decision_maker", "Decision maker"
        ECONOMIC_BUYER = "economic_buyer", "Economic buyer"
        CHAMPION = "champion", "Champion"
        INFLUENCER = "influencer", "Influencer"
        TECHNICAL_BUYER = "technical_buyer", "Technical buyer"
        USER = "user", "User"
        BLOCKER = "blocker", "Blocker"
        OTHER = "other", "Other"

    deal = models.ForeignKey(Deal, on_delete=models.CASCADE, related_name="contacts")
    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="deal_roles")
    role = models.CharField(max_length=20, choices=Role.choices, default=Role.OTHER)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["deal", "person"], name="deal_contact_once")]

    def __str__(self) -> str:
        return f"{self.get_role_display()} on deal #{self.deal_id}"


class ActivityKind(models.TextChoices):
    """The built-in activity kinds; admins add more as ActivityType rows."""

    CALL = "call", "Call"
    EMAIL = "email", "Email"
    MEETING = "meeting", "Meeting"
    NOTE = "note", "Note"


class ActivityType(models.Model):
    """A kind of sales activity (call, e-mail, meeting, note, or one an admin added) and whether it is a touch."""

    key = models.SlugField(max_length=24, unique=True)
    label = models.CharField(max_length=60)
    # Touches are what the SLA's sales side counts (first touch, attempts); a note is not a touch.
    counts_as_touch = models.BooleanField(default=True)
    builtin = models.BooleanField(default=False)
    is_active = models.BooleanField(default=True)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["position", "key"]

    def __str__(self) -> str:
        return self.label


class ActivityOutcome(models.TextChoices):
    CONNECTED = "connected", "Connected"
    NO_ANSWER = "no_answer", "No answer"
    LEFT_VOICEMAIL = "left_voicemail", "Left voicemail"
    BUSY = "busy", "Busy"
    WRONG_NUMBER = "wrong_number", "Wrong number"
    SENT = "sent", "Sent"
    REPLIED = "replied", "Replied"
    BOUNCED = "bounced", "Bounced"
    SCHEDULED = "scheduled", "Scheduled"
    HELD = "held", "Held"
    NO_SHOW = "no_show", "No-show"
    RESCHEDULED = "rescheduled", "Rescheduled"
    CANCELED = "canceled", "Canceled"


class ActivityDirection(models.TextChoices):
    OUTBOUND = "outbound", "Outbound"
    INBOUND = "inbound", "Inbound"


class Activity(models.Model):
    """A rep's call, e-mail, meeting or note with a person, its outcome, and who did it."""

    # Record-level access: as the person's, and always its author's.
    access_paths: ClassVar[tuple[str, ...]] = ("person__owner", "user")

    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="activities")
    deal = models.ForeignKey(
        Deal, null=True, blank=True, on_delete=models.SET_NULL, related_name="activities"
    )
    account = models.ForeignKey(
        Account, null=True, blank=True, on_delete=models.SET_NULL, related_name="activities"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="activities"
    )
    # The column keeps its readable key ("call"), and the database refuses a kind no ActivityType defines.
    kind = models.ForeignKey(
        ActivityType, to_field="key", db_column="kind", on_delete=models.PROTECT, related_name="activities"
    )
    direction = models.CharField(max_length=8, choices=ActivityDirection.choices, blank=True, default="")
    outcome = models.CharField(max_length=20, choices=ActivityOutcome.choices, blank=True, default="")
    subject = models.CharField(max_length=200, blank=True, default="")
    occurred_at = models.DateTimeField()
    duration_minutes = models.PositiveIntegerField(null=True, blank=True)
    notes = models.TextField(blank=True, default="")
    # The activity's id in the system it was imported from (HubSpot, Salesforce…): re-imports update, not duplicate.
    external_id = models.CharField(max_length=120, null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["external_id"], condition=Q(external_id__isnull=False), name="activity_external_id_unique"
            ),
            models.CheckConstraint(
                condition=Q(outcome__in=["", *ActivityOutcome.values]), name="activity_outcome_known"
            ),
            models.CheckConstraint(
                condition=Q(direction__in=["", *ActivityDirection.values]), name="activity_direction_known"
            ),
        ]
        indexes = [
            models.Index(fields=["person", "occurred_at"]),
            models.Index(fields=["user", "occurred_at"]),
            models.Index(fields=["occurred_at", "id"], name="activity_recent"),
            models.Index(fields=["deal", "occurred_at"], name="activity_deal"),
            models.Index(fields=["account", "occurred_at"], name="activity_account"),
        ]
        ordering = ["-occurred_at"]

    def __str__(self) -> str:
        return f"{self.kind_id} {self.occurred_at:%Y-%m-%d}"


class Task(TimeStampedModel):
    """A reminder for one user ("call back Tuesday"), perhaps about a person, deal or account."""

    # Record-level access (tandem.users.access): the task's owner.
    access_paths: ClassVar[tuple[str, ...]] = ("owner",)

    class Priority(models.TextChoices):
        LOW = "low", "Low"
        NORMAL = "normal", "Normal"
        HIGH = "high", "High"

    title = models.CharField(max_length=200)
    notes = models.TextField(blank=True, default="")
    due_at = models.DateTimeField()
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="tasks")
    person = models.ForeignKey(Person, null=True, blank=True, on_delete=models.CASCADE, related_name="tasks")
    deal = models.ForeignKey(Deal, null=True, blank=True, on_delete=models.SET_NULL, related_name="tasks")
    account = models.ForeignKey(Account, null=True, blank=True, on_delete=models.SET_NULL, related_name="tasks")
    priority = models.CharField(max_length=8, choices=Priority.choices, default=Priority.NORMAL)
    # What doing the task means (a call, an e-mail…): completing it can log that activity in the same step.
    activity_kind = models.ForeignKey(
        ActivityType, to_field="key", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # Why the task exists when a rule made it (e.g. "sla.first_touch"); empty for a task a person wrote.
    source = models.CharField(max_length=40, blank=True, default="")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    done_at = models.DateTimeField(null=True, blank=True)
    done_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    activity = models.ForeignKey(
        Activity, null=True, blank=True, on_delete=models.SET_NULL, related_name="tasks"
    )
    # When the owner was told it is overdue, so they are told once.
    overdue_notified_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["due_at", "id"]
        constraints = [
            models.CheckConstraint(condition=~Q(title=""), name="task_has_title"),
            models.CheckConstraint(
                condition=Q(done_at__isnull=False) | Q(done_by__isnull=True), name="task_done_by_only_when_done"
            ),
        ]
        indexes = [
            models.Index(fields=["owner", "done_at", "due_at", "id"], name="task_owner_open"),
            models.Index(fields=["done_at", "due_at"], name="task_overdue"),
            models.Index(fields=["person", "due_at"], name="task_person"),
        ]

    def __str__(self) -> str:
        return self.title


class StageChange(models.Model):
    """One move of a person between lifecycle stages: from, to, when, by whom or which rule, and why."""

    # Record-level access: as the person's.
    access_paths: ClassVar[tuple[str, ...]] = ("person__owner",)

    person = models.ForeignKey("crm.Person", on_delete=models.CASCADE, related_name="stage_changes")
    from_stage = models.CharField(max_length=16, choices=STAGE_CHOICES, blank=True, default="")
    to_stage = models.CharField(max_length=16, choices=STAGE_CHOICES)
    changed_at = models.DateTimeField()
    by_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    rule = models.CharField(max_length=120, blank=True, default="")
    rule_version = models.PositiveIntegerField(null=True, blank=True)
    reason = models.TextField(blank=True, default="")
    details = models.JSONField(default=dict, blank=True)
    recorded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["changed_at", "id"]
        indexes = [
            models.Index(fields=["person", "changed_at"], name="stagechange_person"),
            models.Index(fields=["to_stage", "changed_at"], name="stagechange_to"),
            # the audit log pages through every stage change newest first
            models.Index(fields=["changed_at", "id"], name="stagechange_time"),
        ]

    def __str__(self) -> str:
        return f"{self.from_stage or '∅'} → {self.to_stage} at {self.changed_at:%Y-%m-%d}"
