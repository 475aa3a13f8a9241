"""An audience's definition in words, without the ORM: parse and check its JSON, say it in sentences.

An audience spec is a JSON object (stored whole with each version, as the hand-off's definitions are):

    {"consent": "email",            # the channel the audience is for: "email" or "calls" (required consent)
     "match": "all",                # every criterion must hold ("all") or at least one ("any")
     "criteria": [
        {"type": "stage", "stages": ["mql"]},
        {"type": "score_tier", "tiers": ["hot", "gray"]},
        {"type": "fit_grade", "grades": ["A", "B"]},
        {"type": "persona", "persona_ids": [3]},
        {"type": "theme", "theme_ids": [7], "days": 90},          # days optional: asked in the last N days
        {"type": "campaign", "campaign_ids": [12], "days": 30},   # days optional: touched in the last N days
        {"type": "segment", "field": "industry", "values": ["Healthcare"]},
        {"type": "owner", "owner_ids": [4]}]}

Decisions:
- No criteria means everyone (who has the consent): a newsletter audience is "everyone with e-mail consent".
- The consent is not a criterion that may be left out: only people with it are ever members. Erased people
  never are. Both are applied by the query (selectors.py), never by this module.
- A segment is one value of a field the segments report groups leads by (industry, size band, country, job
  title, first-touch channel, first-touch campaign): the same words as /statistics/segments/. Values match
  ignoring case, as a user typing "healthcare" means the "Healthcare" segment.
- Errors name the criterion's place and field, e.g. ``criteria[2].stages``, and the value refused.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from tandem.core.errors import ValidationFailed
from tandem.crm.stages import LABELS, Stage

CONSENTS: tuple[str, ...] = ("email", "calls")
MATCHES: tuple[str, ...] = ("all", "any")
TIERS: tuple[str, ...] = ("hot", "gray", "junk")
GRADES: tuple[str, ...] = ("A", "B", "C", "D")
# Fields of the segments report (analytics/statistics), without its "persona" column: a persona here is
# enablement's (criterion "persona"), matched by the persona's rules.
SEGMENT_FIELDS: tuple[str, ...] = ("industry", "size_band", "country", "job_title", "channel", "campaign")
SEGMENT_LABELS: dict[str, str] = {
    "industry": "industry",
    "size_band": "company size",
    "country": "country",
    "job_title": "job title",
    "channel": "first-touch channel",
    "campaign": "first-touch campaign",
}
TYPES: tuple[str, ...] = (
    "stage",
    "score_tier",
    "fit_grade",
    "persona",
    "theme",
    "campaign",
    "segment",
    "owner",
)
MAX_DAYS = 3_660
MAX_ITEMS = 200
VALUE_MAX = 200
ID_MAX = 2**63 - 1


@dataclass(frozen=True)
class Criterion:
    """One criterion: its type and what it names (stages, tiers, grades, ids or segment values)."""

    type: str
    values: tuple[Any, ...]
    field: str = ""  # the segment's field
    days: int | None = None  # theme / campaign: within the last N days

    def to_dict(self) -> dict[str, Any]:
        key = LIST_KEYS[self.type]
        out: dict[str, Any] = {"type": self.type}
        if self.type == "segment":
            out["field"] = self.field
        out[key] = list(self.values)
        if self.type in ("theme", "campaign"):
            out["days"] = self.days
        return out


@dataclass(frozen=True)
class AudienceSpec:
    consent: str = "email"
    match: str = "all"
    criteria: tuple[Criterion, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict[str, Any]:
        return {
            "consent": self.consent,
            "match": self.match,
            "criteria": [c.to_dict() for c in self.criteria],
        }

    def ids(self, kind: str) -> set[int]:
        """Every id the criteria of `kind` name (persona, theme, campaign, owner), to check and to name."""
        return {int(v) for c in self.criteria if c.type == kind for v in c.values}


LIST_KEYS: dict[str, str] = {
    "stage": "stages",
    "score_tier": "tiers",
    "fit_grade": "grades",
    "persona": "persona_ids",
    "theme": "theme_ids",
    "campaign": "campaign_ids",
    "segment": "values",
    "owner": "owner_ids",
}


def _list(data: Mapping[str, Any], key: str, where: str) -> list[Any]:
    raw = data.get(key)
    if not isinstance(raw, Sequence) or isinstance(raw, str | bytes) or not raw:
        raise ValidationFailed(f"{where}.{key} must be a non-empty list.", field=f"{where}.{key}", value=raw)
    if len(raw) > MAX_ITEMS:
        raise ValidationFailed(
            f"{where}.{key} may name at most {MAX_ITEMS} values.", field=f"{where}.{key}", value=len(raw)
        )
    return list(raw)


def _choices(values: list[Any], allowed: Sequence[str], name: str, *, upper: bool = False) -> tuple[str, ...]:
    out: list[str] = []
    for value in values:
        text = str(value).strip().upper() if upper else str(value).strip().lower()
        if not isinstance(value, str) or text not in allowed:
            raise ValidationFailed(
                f"{name}: {value!r} is not one of {', '.join(allowed)}.", field=name, value=value
            )
        if text not in out:
            out.append(text)
    return tuple(out)


def _ids(values: list[Any], name: str) -> tuple[int, ...]:
    out: list[int] = []
    for value in values:
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= ID_MAX:
            raise ValidationFailed(f"{name}: {value!r} is not an id.", field=name, value=value)
        if value not in out:
            out.append(value)
    return tuple(out)


def _texts(values: list[Any], name: str) -> tuple[str, ...]:
    out: list[str] = []
    for value in values:
        text = value.strip() if isinstance(value, str) else ""
        if not text or len(text) > VALUE_MAX or "\x00" in text:
            raise ValidationFailed(
                f"{name}: {value!r} must be a text of 1 to {VALUE_MAX} characters.", field=name, value=value
            )
        if text.casefold() not in {o.casefold() for o in out}:
            out.append(text)
    return tuple(out)


def _days(data: Mapping[str, Any], where: str) -> int | None:
    raw = data.get("days")
    if raw is None or raw == "":
        return None
    if isinstance(raw, bool) or not isinstance(raw, int) or not 1 <= raw <= MAX_DAYS:
        raise ValidationFailed(
            f"{where}.days must be a whole number of days from 1 to {MAX_DAYS} (or empty: any time).",
            field=f"{where}.days",
            value=raw,
        )
    return raw


def criterion_parse(data: Any, *, where: str) -> Criterion:
    """One criterion from its JSON form; `where` (e.g. criteria[2]) prefixes the field an error names."""
    if not isinstance(data, Mapping):
        raise ValidationFailed(f"{where} must be an object.", field=where, value=data)
    kind = data.get("type")
    if kind not in TYPES:
        raise ValidationFailed(
            f"{where}.type must be one of {', '.join(TYPES)}.", field=f"{where}.type", value=kind
        )
    key = LIST_KEYS[kind]
    allowed = (
        {"type", key}
        | ({"field"} if kind == "segment" else set())
        | ({"days"} if kind in ("theme", "campaign") else set())
    )
    unknown = sorted(set(map(str, data)) - allowed)
    if unknown:
        raise ValidationFailed(
            f"{where} has no '{unknown[0]}'.", field=f"{where}.{unknown[0]}", value=data[unknown[0]]
        )
    values = _list(data, key, where)
    name = f"{where}.{key}"
    if kind == "stage":
        return Criterion(kind, _choices(values, [s.value for s in Stage], name))
    if kind == "score_tier":
        return Criterion(kind, _choices(values, TIERS, name))
    if kind == "fit_grade":
        return Criterion(kind, _choices(values, GRADES, name, upper=True))
    if kind == "segment":
        seg = data.get("field")
        if seg not in SEGMENT_FIELDS:
            raise ValidationFailed(
                f"{where}.field must be one of {', '.join(SEGMENT_FIELDS)}.",
                field=f"{where}.field",
                value=seg,
            )
        return Criterion(kind, _texts(values, name), field=str(seg))
    days = _days(data, where) if kind in ("theme", "campaign") else None
    return Criterion(kind, _ids(values, name), days=days)


def spec_parse(data: Any) -> AudienceSpec:
    """Build and check an audience spec from JSON, naming the bad field and value on error."""
    if not isinstance(data, Mapping):
        raise ValidationFailed("The audience spec must be an object.", field="spec", value=data)
    unknown = sorted(set(map(str, data)) - {"consent", "match", "criteria"})
    if unknown:
        raise ValidationFailed(f"The spec has no '{unknown[0]}'.", field=unknown[0], value=data[unknown[0]])
    consent = data.get("consent", "email")
    if consent not in CONSENTS:
        raise ValidationFailed("consent must be 'email' or 'calls'.", field="consent", value=consent)
    match = data.get("match", "all")
    if match not in MATCHES:
        raise ValidationFailed("match must be 'all' or 'any'.", field="match", value=match)
    raw = data.get("criteria", [])
    if raw is None:
        raw = []
    if not isinstance(raw, Sequence) or isinstance(raw, str | bytes):
        raise ValidationFailed("criteria must be a list.", field="criteria", value=raw)
    if len(raw) > 50:
        raise ValidationFailed("An audience has at most 50 criteria.", field="criteria", value=len(raw))
    criteria = tuple(criterion_parse(item, where=f"criteria[{i}]") for i, item in enumerate(raw))
    return AudienceSpec(consent=str(consent), match=str(match), criteria=criteria)


# ---- in words ----


def _or(items: Sequence[str]) -> str:
    items = list(items)
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} or {items[-1]}"


def _window(days: int | None) -> str:
    return "" if days is None else f" in the last {days} day{'s' if days != 1 else ''}"


def criterion_describe(criterion: Criterion, names: Mapping[tuple[str, int], str] | None = None) -> str:
    """The criterion as a sentence; `names` maps (kind, id) to a persona's, theme's, campaign's or user's name."""
    names = names or {}

    def named(kind: str) -> list[str]:
        return [f"'{names.get((kind, int(v)), f'#{v}')}'" for v in criterion.values]

    kind = criterion.type
    if kind == "stage":
        return "Lifecycle stage is " + _or([LABELS[Stage(v)] for v in criterion.values])
    if kind == "score_tier":
        return "Score tier is " + _or(list(criterion.values))
    if kind == "fit_grade":
        return "Fit grade is " + _or(list(criterion.values))
    if kind == "persona":
        return "Persona is " + _or(named("persona"))
    if kind == "theme":
        return "Asked a question about " + _or(named("theme")) + _window(criterion.days)
    if kind == "campaign":
        return "Touched campaign " + _or(named("campaign")) + _window(criterion.days)
    if kind == "segment":
        return f"{SEGMENT_LABELS[criterion.field].capitalize()} is " + _or(
            [f"'{v}'" for v in criterion.values]
        )
    return "Owner is " + _or(named("owner"))


def spec_describe(spec: AudienceSpec, names: Mapping[tuple[str, int], str] | None = None) -> list[str]:
    """The audience in sentences: its criteria (joined by all/any) and the consent it requires."""
    lines = [criterion_describe(c, names) for c in spec.criteria]
    consent = "e-mail" if spec.consent == "email" else "calls"
    if not lines:
        head = ["Everyone"]
    elif len(lines) == 1:
        head = lines
    else:
        head = [("All of:" if spec.match == "all" else "At least one of:")] + [f"– {line}" for line in lines]
    return [*head, f"Only people who consented to {consent} (erased people never)"]
