"""Reads of enablement: the library, usage and win rates, content gaps, personas and a person's panel."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Q, QuerySet
from django.utils import timezone

from tandem.core.erasure import rows_plain
from tandem.core.errors import NotFound, ValidationFailed
from tandem.core.paging import PAGE_SIZE, KeysetPage, keyset_page
from tandem.crm.models import Deal, Person
from tandem.enablement import stats
from tandem.enablement.matching import (
    Candidate,
    RuleSet,
    persona_pick,
    rules_describe,
    rules_parse,
    rules_reasons,
)
from tandem.enablement.models import Asset, AssetKind, ContentUse, Persona, Product
from tandem.enablement.services import user_can_edit_library
from tandem.feedback.models import Question, Theme
from tandem.lifecycle.services import people_facts
from tandem.users.access import access_seen

LIBRARY_LIMIT = 200
SUGGESTIONS = 5
EXPIRING_DAYS = 30
SHOW_CHOICES = ("current", "expired", "all")
MAX_ID = 2**62


def today_local() -> dt.date:
    return timezone.localdate()


def _current(qs: QuerySet[Asset], today: dt.date) -> QuerySet[Asset]:
    return qs.filter(Q(expires_on__isnull=True) | Q(expires_on__gte=today))


def assets_for_user(*, user: Any, today: dt.date | None = None) -> QuerySet[Asset]:
    """The assets this user may see: everything for editors, unexpired ones for everyone else."""
    qs = Asset.objects.all()
    return qs if user_can_edit_library(user=user) else _current(qs, today or today_local())


def asset_get(*, asset_id: int, user: Any) -> Asset:
    """One asset the user may see (NotFound otherwise, also for a rep asking for an expired one)."""
    asset = None
    if 0 < asset_id <= MAX_ID:
        asset = (
            assets_for_user(user=user)
            .select_related("persona", "product", "owner")
            .prefetch_related("themes", "campaigns")
            .filter(pk=asset_id)
            .first()
        )
    if asset is None:
        raise NotFound(f"there is no asset {asset_id}", field="asset_id", value=asset_id)
    return asset


@dataclass
class LibraryFilters:
    q: str = ""
    kind: str = ""
    persona_id: int | None = None
    stage: str = ""
    product_id: int | None = None
    theme_id: int | None = None
    show: str = "current"


def library_filters_parse(raw: Any) -> LibraryFilters:
    """Filters from a query string (unknown or malformed values are refused, naming the field)."""
    def number(key: str) -> int | None:
        value = str(raw.get(key) or "").strip()
        if not value:
            return None
        if not value.isdigit() or not 0 < int(value) <= MAX_ID:
            raise ValidationFailed(f"'{key}' must be an id.", field=key, value=value)
        return int(value)

    kind = str(raw.get("kind") or "").strip()
    if kind and kind not in AssetKind.values:
        raise ValidationFailed("Unknown asset type.", field="kind", value=kind)
    show = str(raw.get("show") or "current").strip()
    if show not in SHOW_CHOICES:
        raise ValidationFailed(f"'show' is one of {', '.join(SHOW_CHOICES)}.", field="show", value=show)
    return LibraryFilters(
        q=str(raw.get("q") or "").strip()[:200],
        kind=kind,
        persona_id=number("persona"),
        stage=str(raw.get("stage") or "").strip()[:16],
        product_id=number("product"),
        theme_id=number("theme"),
        show=show,
    )


def asset_library(*, user: Any, filters: LibraryFilters, limit: int = LIBRARY_LIMIT) -> list[Asset]:
    """Assets matching the search and filters, newest first; reps never see expired ones."""
    return list(_library(user=user, filters=filters).order_by("-created_at", "-id")[:limit])


def asset_library_page(*, user: Any, filters: LibraryFilters, cursor: str = "", limit: int = PAGE_SIZE) -> KeysetPage:
    """A keyset page of the library as asset_library filters it, newest first (the API's list)."""
    return keyset_page(queryset=_library(user=user, filters=filters), order="assets-newest", field="created_at", cursor=cursor, limit=limit)


def _library(*, user: Any, filters: LibraryFilters) -> QuerySet[Asset]:
    today = today_local()
    qs = assets_for_user(user=user, today=today)
    if filters.show == "expired":
        qs = qs.filter(expires_on__lt=today)
    elif filters.show == "current":
        qs = _current(qs, today)
    if filters.q:
        qs = qs.filter(
            Q(title__icontains=filters.q) | Q(description__icontains=filters.q) | Q(original_name__icontains=filters.q)
        )
    if filters.kind:
        qs = qs.filter(kind=filters.kind)
    if filters.persona_id:
        qs = qs.filter(persona_id=filters.persona_id)
    if filters.stage:
        qs = qs.filter(Q(stage=filters.stage) | Q(stage=""))
    if filters.product_id:
        qs = qs.filter(product_id=filters.product_id)
    if filters.theme_id:
        qs = qs.filter(themes__id=filters.theme_id)
    return qs.select_related("persona", "product", "owner").prefetch_related("themes").distinct()


def assets_flagged_for_owner(*, user: Any, within_days: int = EXPIRING_DAYS) -> dict[str, list[Asset]]:
    """The user's own assets that have expired, or expire within `within_days` days."""
    if not getattr(user, "pk", None):
        return {"expired": [], "expiring": []}
    today = today_local()
    rows = list(
        Asset.objects.filter(owner=user, expires_on__lte=today + dt.timedelta(days=within_days)).order_by("expires_on", "id")
    )
    return {
        "expired": [a for a in rows if a.expires_on is not None and a.expires_on < today],
        "expiring": [a for a in rows if a.expires_on is not None and a.expires_on >= today],
    }


def assets_expired_by_owner(*, today: dt.date | None = None, within_days: int = 0) -> list[Asset]:
    """Assets expired (or expiring within `within_days` days), with their owners, for the CLI and API."""
    day = (today or today_local()) + dt.timedelta(days=within_days)
    return list(Asset.objects.filter(expires_on__lte=day).select_related("owner").order_by("expires_on", "id"))


# --- usage and win rates ----------------------------------------------------------------------------------


def _usage_inputs(asset_ids: Sequence[int] | None) -> tuple[list[stats.UseRow], list[stats.DealRow]]:
    uses_qs = ContentUse.objects.all()
    if asset_ids is not None:
        uses_qs = uses_qs.filter(asset_id__in=list(asset_ids))
    uses = [
        stats.UseRow(*row)
        for row in uses_qs.values_list("asset_id", "person_id", "deal_id", "used_at", "helped").order_by()
    ]
    person_ids = {u.person_id for u in uses if u.deal_id is None}
    deal_ids = {u.deal_id for u in uses if u.deal_id is not None}
    deals_qs = Deal.objects.filter(Q(person_id__in=person_ids) | Q(pk__in=deal_ids)) if uses else Deal.objects.none()
    deals = [
        stats.DealRow(*row)
        for row in deals_qs.values_list("id", "person_id", "created_at", "closed_at", "stage").order_by()
    ]
    return uses, deals


def asset_usage_for(*, asset_ids: Sequence[int]) -> dict[int, stats.AssetUsage]:
    """Usage, win rate (Wilson 95 %) and helped share for these assets: two queries."""
    if not asset_ids:
        return {}
    uses, deals = _usage_inputs(asset_ids)
    return stats.asset_usage(uses, deals, asset_ids)


@dataclass
class UsageReport:
    rows: list[tuple[Asset, stats.AssetUsage]]
    baseline: stats.Baseline

    def to_dict(self) -> dict[str, Any]:
        return {
            "baseline": self.baseline.to_dict(),
            "assets": [
                {"id": a.pk, "title": a.title, "kind": a.kind, "expires_on": a.expires_on.isoformat() if a.expires_on else None}
                | u.to_dict()
                for a, u in self.rows
            ],
        }


def content_usage_report() -> UsageReport:
    """Every asset with its usage and the win rate of the deals it was used on, against all closed deals."""
    assets = list(Asset.objects.order_by("title", "id"))
    uses, deals = _usage_inputs(None)
    usage = stats.asset_usage(uses, deals, [a.pk for a in assets])
    closed = Deal.objects.filter(stage__in=("won", "lost")).values_list("id", "person_id", "created_at", "closed_at", "stage")
    base = stats.baseline(stats.DealRow(*row) for row in closed.order_by())
    rows = sorted(
        ((a, usage[a.pk]) for a in assets),
        key=lambda pair: (-pair[1].uses, -pair[1].closed, pair[0].title.casefold(), pair[0].pk),
    )
    return UsageReport(rows=rows, baseline=base)


def asset_uses_recent(*, asset_id: int, user: Any = None, limit: int = 20) -> list[ContentUse]:
    """The latest uses of an asset with person, deal and rep (those `user` may see, when given: the asset's usage
    numbers stay the company's)."""
    return list(
        access_seen(ContentUse.objects.filter(asset_id=asset_id), user=user)
        .select_related("person", "deal", "used_by")
        .order_by("-used_at", "-id")[:limit]
    )


# --- content gaps ----------------------------------------------------------------------------------------


def content_gaps_report(*, min_questions: int = 3, today: dt.date | None = None) -> list[stats.Gap]:
    """Live themes heard at least `min_questions` times with no unexpired asset, most lost deals first."""
    if min_questions < 1:
        raise ValidationFailed("min_questions is at least 1.", field="min_questions", value=min_questions)
    day = today or today_local()
    themes = [stats.ThemeRow(*row) for row in Theme.objects.filter(retired_at__isnull=True).values_list("id", "label")]
    answered = set(
        _current(Asset.objects.all(), day).filter(themes__isnull=False).values_list("themes__id", flat=True).distinct()
    )
    open_ids = [t.theme_id for t in themes if t.theme_id not in answered]
    asked = [
        stats.AskedRow(*row)
        for row in Question.objects.filter(theme_id__in=open_ids).values_list("theme_id", "person_id").order_by()
    ]
    people = {a.person_id for a in asked}
    deals = [
        stats.DealRow(*row)
        for row in Deal.objects.filter(person_id__in=people, stage__in=("won", "lost"))
        .values_list("id", "person_id", "created_at", "closed_at", "stage")
        .order_by()
    ]
    examples = dict(Theme.objects.filter(pk__in=open_ids).values_list("id", "examples"))
    return stats.content_gaps(
        themes=themes,
        asked=asked,
        deals=deals,
        answered=answered,
        min_questions=min_questions,
        examples={k: [str(e.get("text", e)) if isinstance(e, dict) else str(e) for e in (v or [])] for k, v in examples.items()},
    )


# --- products and personas --------------------------------------------------------------------------------


def products_list() -> list[Product]:
    """Products by name."""
    return list(Product.objects.order_by("name"))


def product_get(*, product_id: int) -> Product:
    """One product (NotFound naming the id otherwise)."""
    product = Product.objects.filter(pk=product_id).first() if 0 < product_id <= MAX_ID else None
    if product is None:
        raise NotFound(f"there is no product {product_id}", field="product_id", value=product_id)
    return product


def personas_list() -> list[Persona]:
    """Personas in matching order, with products and objections."""
    return list(Persona.objects.prefetch_related("products", "objections").order_by("priority", "name", "id"))


def persona_get(*, persona_id: int) -> Persona:
    """One persona with its products and objections (NotFound naming the id otherwise)."""
    persona = (
        Persona.objects.prefetch_related("products", "objections").filter(pk=persona_id).first()
        if 0 < persona_id <= MAX_ID
        else None
    )
    if persona is None:
        raise NotFound(f"there is no persona {persona_id}", field="persona_id", value=persona_id)
    return persona


def persona_rules_text(*, persona: Persona) -> list[str]:
    """The persona's matching rules in sentences."""
    return rules_describe(_rules(persona.rules))


def _rules(raw: Any) -> RuleSet:
    try:
        return rules_parse(raw)
    except ValidationFailed:  # a rule stored by an older version that no longer parses matches nobody
        return RuleSet()


@dataclass
class PersonaMatch:
    persona: Persona | None
    reasons: list[str] = field(default_factory=list)


def person_persona(*, person_id: int) -> PersonaMatch:
    """The person's persona: the first active one (by priority) whose rules hold, and why."""
    facts = people_facts(person_ids=[person_id]).get(person_id)
    if facts is None:
        raise NotFound(f"there is no person {person_id}", field="person_id", value=person_id)
    personas = {p.pk: p for p in Persona.objects.filter(is_active=True)}
    candidates = [Candidate(p.pk, p.name, p.priority, _rules(p.rules)) for p in personas.values()]
    picked = persona_pick(candidates, facts)
    if picked is None:
        return PersonaMatch(persona=None)
    return PersonaMatch(persona=personas[picked.id], reasons=rules_reasons(picked.rules, facts))


@dataclass
class Suggestion:
    asset: Asset
    usage: stats.AssetUsage
    why: list[str]
    sent_at: dt.datetime | None


@dataclass
class PersonPanel:
    person: Person
    match: PersonaMatch
    objections: list[Any]
    suggestions: list[Suggestion]
    deals: list[Deal]
    activities: list[Any]


def _suggestions(*, person: Person, persona: Persona | None, limit: int) -> list[Suggestion]:
    stage = person.lifecycle_stage
    qs = _current(Asset.objects.all(), today_local()).filter(Q(stage=stage) | Q(stage=""))
    qs = qs.filter(Q(persona=persona) | Q(persona__isnull=True)) if persona else qs.filter(persona__isnull=True)
    candidates = list(qs.select_related("persona").prefetch_related("themes").order_by("-created_at", "-id")[:100])
    asked = set(
        Question.objects.filter(person=person, theme__isnull=False).values_list("theme_id", flat=True).distinct()
    )
    usage = asset_usage_for(asset_ids=[a.pk for a in candidates])
    sent = dict(
        ContentUse.objects.filter(person=person, asset_id__in=[a.pk for a in candidates])
        .order_by("asset_id", "used_at")
        .values_list("asset_id", "used_at")
    )
    ranked = []
    for asset in candidates:
        why = []
        score = 0
        answered = [t.label for t in asset.themes.all() if t.pk in asked]
        if answered:
            score += 4
            why.append("answers what they asked: " + ", ".join(answered))
        if persona is not None and asset.persona_id == persona.pk:
            score += 2
            why.append(f"made for {persona.name}")
        if stage and asset.stage == stage:
            score += 1
            why.append("made for their stage")
        u = usage[asset.pk]
        ranked.append((-score, -u.win_low, -(u.helped_rate or 0.0), -asset.pk, Suggestion(asset, u, why, sent.get(asset.pk))))
    ranked.sort(key=lambda r: r[:4])
    return [r[4] for r in ranked[:limit]]


def person_enablement_panel(*, person_id: int, user: Any = None, limit: int = SUGGESTIONS) -> PersonPanel:
    """A person's persona with its talking points and the best unexpired assets for their stage (NotFound when
    `user` may not see the person)."""
    person = access_seen(Person.objects.all(), user=user).filter(pk=person_id).first() if 0 < person_id <= MAX_ID else None
    if person is None:
        raise NotFound(f"there is no person {person_id}", field="person_id", value=person_id)
    match = person_persona(person_id=person_id)
    objections = list(match.persona.objections.all()) if match.persona else []
    return PersonPanel(
        person=person,
        match=match,
        objections=objections,
        suggestions=_suggestions(person=person, persona=match.persona, limit=limit),
        deals=list(access_seen(Deal.objects.filter(person=person), user=user).order_by("-created_at", "-id")[:10]),
        activities=list(person.activities.order_by("-occurred_at", "-id")[:10]),
    )


def themes_live() -> list[Theme]:
    """Live themes by label, for asset tagging and filters."""
    return list(Theme.objects.filter(retired_at__isnull=True).order_by("label", "id"))


# ---- personal data (tandem.privacy): content used with one person ----


def content_uses_export_person(*, person_id: int) -> list[dict[str, Any]]:
    """Every asset used with or sent to one person, oldest first, as plain values (the per-person export)."""
    return rows_plain(
        ContentUse.objects.filter(person_id=person_id)
        .order_by("used_at", "id")
        .values(
            "id", "asset_id", "asset__title", "how", "helped", "note", "deal_id", "activity_id", "used_by_id",
            "used_at", "created_at",
        )
    )
