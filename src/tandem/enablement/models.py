"""Enablement: what we sell (products), to whom (personas), and the content library reps use."""

from __future__ import annotations

from typing import ClassVar

from django.conf import settings
from django.db import models
from django.db.models import Q

from tandem.core.models import TimeStampedModel
from tandem.crm.stages import CHOICES as STAGE_CHOICES


def _lines(text: str) -> list[str]:
    return [line.strip() for line in (text or "").splitlines() if line.strip()]


class Product(TimeStampedModel):
    """Something we sell, and what it makes possible (one possibility per line)."""

    name = models.CharField(max_length=120, unique=True)
    summary = models.TextField(blank=True, default="")
    possibilities = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def possibility_list(self) -> list[str]:
        return _lines(self.possibilities)


class Persona(TimeStampedModel):
    """Whom we sell to: matching rules on profile fields, and how we help them (talking points)."""

    name = models.CharField(max_length=120, unique=True)
    summary = models.TextField(blank=True, default="")
    # {"all": [criterion, ...], "any": [criterion, ...]} in the lifecycle criteria JSON (profile criteria only).
    rules = models.JSONField(default=dict, blank=True)
    # Lower first: the first active persona whose rules hold is the person's persona.
    priority = models.PositiveSmallIntegerField(default=100)
    is_active = models.BooleanField(default=True)
    products = models.ManyToManyField(Product, blank=True, related_name="personas")
    pains = models.TextField(blank=True, default="")
    value_propositions = models.TextField(blank=True, default="")
    proof_points = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["priority", "name"]

    def __str__(self) -> str:
        return self.name

    @property
    def pain_list(self) -> list[str]:
        return _lines(self.pains)

    @property
    def value_list(self) -> list[str]:
        return _lines(self.value_propositions)

    @property
    def proof_list(self) -> list[str]:
        return _lines(self.proof_points)


class Objection(models.Model):
    """An objection this persona raises, and the answer that works."""

    persona = models.ForeignKey(Persona, on_delete=models.CASCADE, related_name="objections")
    objection = models.CharField(max_length=300)
    answer = models.TextField()
    position = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["persona", "position", "id"]

    def __str__(self) -> str:
        return self.objection[:60]


class AssetKind(models.TextChoices):
    CASE_STUDY = "case_study", "Case study"
    BROCHURE = "brochure", "Brochure"
    DECK = "deck", "Deck"
    VIDEO = "video", "Video"
    BLOG_POST = "blog_post", "Blog post"
    BATTLE_CARD = "battle_card", "Battle card"


class Asset(TimeStampedModel):
    """A piece of content: an uploaded file or a link, tagged so reps find the right one."""

    title = models.CharField(max_length=200)
    description = models.TextField(blank=True, default="")
    kind = models.CharField(max_length=16, choices=AssetKind.choices, db_index=True)
    # Exactly one of url / file is set (a constraint says so).
    url = models.URLField(max_length=2000, blank=True, default="")
    # A generated relative path under MEDIA_ROOT (enablement.files.stored_name); never the uploaded name.
    file = models.CharField(max_length=200, blank=True, default="")
    original_name = models.CharField(max_length=200, blank=True, default="")
    content_type = models.CharField(max_length=120, blank=True, default="")
    size_bytes = models.PositiveBigIntegerField(default=0)
    persona = models.ForeignKey(Persona, null=True, blank=True, on_delete=models.SET_NULL, related_name="assets")
    # Blank: fits every stage.
    stage = models.CharField(max_length=16, choices=STAGE_CHOICES, blank=True, default="")
    product = models.ForeignKey(Product, null=True, blank=True, on_delete=models.SET_NULL, related_name="assets")
    themes = models.ManyToManyField("feedback.Theme", blank=True, related_name="assets")
    campaigns = models.ManyToManyField("campaigns.Campaign", blank=True, related_name="assets")
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="assets"
    )
    # The last day the asset may be used; after it, reps no longer see it and its owner is told.
    expires_on = models.DateField(null=True, blank=True, db_index=True)
    # The day its owner was told it expired (once per expiry date; a new date clears it).
    expiry_notified_on = models.DateField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=(Q(url="") & ~Q(file="")) | (~Q(url="") & Q(file="")),
                name="asset_is_a_file_or_a_link",
            ),
        ]
        indexes = [models.Index(fields=["persona", "stage"], name="asset_persona_stage")]

    def __str__(self) -> str:
        return self.title

    @property
    def is_file(self) -> bool:
        return bool(self.file)


class ContentUse(models.Model):
    """A rep used (or sent) an asset with a person, perhaps on a deal or a call, and whether it helped."""

    # Record-level access: as the person's, and always whoever used it.
    access_paths: ClassVar[tuple[str, ...]] = ("person__owner", "used_by")

    class How(models.TextChoices):
        SENT = "sent", "Sent"
        USED = "used", "Used in a conversation"

    asset = models.ForeignKey(Asset, on_delete=models.CASCADE, related_name="uses")
    person = models.ForeignKey("crm.Person", on_delete=models.CASCADE, related_name="content_uses")
    deal = models.ForeignKey("crm.Deal", null=True, blank=True, on_delete=models.SET_NULL, related_name="content_uses")
    activity = models.ForeignKey(
        "crm.Activity", null=True, blank=True, on_delete=models.SET_NULL, related_name="content_uses"
    )
    how = models.CharField(max_length=8, choices=How.choices, default=How.USED)
    # None: not said (yet).
    helped = models.BooleanField(null=True, blank=True)
    note = models.TextField(blank=True, default="")
    used_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="content_uses"
    )
    used_at = models.DateTimeField(db_index=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-used_at", "-id"]
        indexes = [
            models.Index(fields=["asset", "used_at"], name="content_use_asset"),
            models.Index(fields=["person", "used_at"], name="content_use_person"),
        ]

    def __str__(self) -> str:
        return f"{self.asset_id} with person #{self.person_id}"


class DealProduct(models.Model):
    """A product sold on a deal: crm's deals cannot point up at products, so the line lives here."""

    # Record-level access: as the deal's.
    access_paths: ClassVar[tuple[str, ...]] = ("deal__owner",)

    deal = models.ForeignKey("crm.Deal", on_delete=models.CASCADE, related_name="product_lines")
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="deal_lines")
    quantity = models.PositiveIntegerField(default=1)
    # The price of one unit on this deal; empty when the source did not say.
    unit_price = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["deal", "product"], name="deal_product_once"),
            models.CheckConstraint(condition=Q(quantity__gte=1), name="deal_product_quantity_positive"),
            models.CheckConstraint(
                condition=Q(unit_price__isnull=True) | Q(unit_price__gte=0), name="deal_product_price_not_negative"
            ),
        ]
        indexes = [models.Index(fields=["product", "deal"], name="deal_product_by_product")]

    def __str__(self) -> str:
        return f"{self.product_id} on deal #{self.deal_id}"
