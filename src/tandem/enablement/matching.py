"""Persona matching rules: which persona a person is, from their profile facts (pure, no ORM).

Rules reuse the qualification criteria of `tandem.lifecycle.criteria` (the same JSON, the same sentences),
limited to profile criteria: a persona is who someone is, not what they did last week. A rule set is
``{"all": [...], "any": [...]}``: every "all" criterion must hold and, when "any" is not empty, at least
one of those. A persona without criteria matches nobody (it can still be chosen for assets). The first
active persona in priority order (then by name) whose rules hold is the person's persona.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from tandem.core.errors import ValidationFailed
from tandem.lifecycle.criteria import Criterion, Touchpoints, criterion_from_dict

BEHAVIOUR_TYPES = frozenset({"touchpoint", "touchpoint_count"})


@dataclass(frozen=True)
class RuleSet:
    all_of: tuple[Criterion, ...] = ()
    any_of: tuple[Criterion, ...] = ()

    @property
    def criteria(self) -> tuple[Criterion, ...]:
        return self.all_of + self.any_of

    def to_dict(self) -> dict[str, Any]:
        return {"all": [c.to_dict() for c in self.all_of], "any": [c.to_dict() for c in self.any_of]}


def rules_parse(data: Any) -> RuleSet:
    """Build and check a persona's rules from JSON, naming the bad field on error."""
    if data in (None, "", {}):
        return RuleSet()
    if not isinstance(data, Mapping):
        raise ValidationFailed("Persona rules must be an object with 'all' and/or 'any' lists.", field="rules", value=data)
    unknown = sorted(set(data) - {"all", "any"})
    if unknown:
        raise ValidationFailed("Persona rules have only 'all' and 'any' lists.", field="rules", value=unknown[0])
    groups: dict[str, tuple[Criterion, ...]] = {}
    seen: set[str] = set()
    for key in ("all", "any"):
        raw = data.get(key) or []
        if not isinstance(raw, Sequence) or isinstance(raw, str):
            raise ValidationFailed(f"'{key}' must be a list of criteria.", field=key, value=raw)
        items = []
        for i, item in enumerate(raw):
            kind = item.get("type") if isinstance(item, Mapping) else None
            if kind in BEHAVIOUR_TYPES:
                raise ValidationFailed("Persona rules look at profile fields only (not touchpoints).", field="type", value=kind)
            criterion = criterion_from_dict(item, default_id=f"{key}-{i + 1}")
            if isinstance(criterion, Touchpoints):  # a behaviour type added to the criteria later
                raise ValidationFailed(
                    "Persona rules look at profile fields only (not touchpoints).", field="type", value=criterion.type
                )
            if criterion.id in seen:
                raise ValidationFailed("Criterion ids must be unique within a persona.", field="id", value=criterion.id)
            seen.add(criterion.id)
            items.append(criterion)
        groups[key] = tuple(items)
    return RuleSet(all_of=groups["all"], any_of=groups["any"])


def _holds(criterion: Criterion, facts: Mapping[str, Any]) -> bool:
    return criterion.value_holds(facts.get(criterion.field))  # type: ignore[union-attr]


def rules_hold(rules: RuleSet, facts: Mapping[str, Any]) -> bool:
    """Whether a person with these facts matches the rules (never, for empty rules)."""
    if not rules.criteria:
        return False
    if not all(_holds(c, facts) for c in rules.all_of):
        return False
    return not rules.any_of or any(_holds(c, facts) for c in rules.any_of)


def rules_reasons(rules: RuleSet, facts: Mapping[str, Any]) -> list[str]:
    """The sentences of the criteria that hold for this person (why they matched)."""
    return [c.describe() for c in rules.criteria if _holds(c, facts)]


def rules_describe(rules: RuleSet) -> list[str]:
    """The rules in plain sentences, for the persona page."""
    lines = [c.describe() for c in rules.all_of]
    if len(rules.any_of) == 1:
        lines.append(rules.any_of[0].describe())
    elif rules.any_of:
        lines.append("At least one of: " + "; or ".join(c.describe() for c in rules.any_of))
    return lines


@dataclass(frozen=True)
class Candidate:
    id: int
    name: str
    priority: int
    rules: RuleSet


def persona_pick(candidates: Sequence[Candidate], facts: Mapping[str, Any]) -> Candidate | None:
    """The first candidate (by priority, then name) whose rules hold, or None."""
    for candidate in sorted(candidates, key=lambda c: (c.priority, c.name.casefold(), c.id)):
        if rules_hold(candidate.rules, facts):
            return candidate
    return None
