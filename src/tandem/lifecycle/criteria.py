"""Qualification definitions (what makes an MQL or an SQL) and their evaluation, without the ORM.

A definition is a versioned, named set of criteria in two groups: every criterion in ``all`` must hold, and
when ``any`` is not empty at least one of its criteria must hold too. Definitions round-trip through
JSON-compatible dicts (``to_dict`` / ``from_dict``) so the service can store each version as JSON.

Decisions:
- Profile criteria read a flat dict of facts (``industry``, ``size_band``, ``country`` from the account;
  ``job_title``, ``consent_email``, ``consent_calls`` and custom fields from the person; ``fit_grade``,
  ``engagement_score``, ``predictive_probability`` from scoring). A missing value (None, blank, NaN)
  never satisfies a criterion — not even "not in": "country is not RU" asks for a known country.
- Text comparisons ignore case and surrounding spaces. Job-title keywords match whole words
  ("vp" matches "VP Sales" and "vp-marketing" but not "mvp"); an excluded keyword vetoes the match.
- Fit grades are ordered A (best) to D: "B or better" is A or B.
- Behaviour windows are closed at both ends: a touchpoint counts for "in the last D days" when
  ``as_of - D days <= occurred_at <= as_of``. Touchpoints after ``as_of`` never count.
- The dry run (``definition_first_met``) replays history: a person meets the definition at the first
  touchpoint (or creation) time at which all criteria hold. Profile facts and scores are taken as they
  are known today, because their history is not kept: a title changed last week is applied to last year's
  touchpoints too. The dry run is therefore an estimate of the behaviour part, not an audit.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, ClassVar, NamedTuple, cast

import numpy as np

from tandem.core.errors import ValidationFailed
from tandem.crm.stages import Stage
from tandem.stats.intervals import wilson_bounds

GRADES: tuple[str, ...] = ("A", "B", "C", "D")
COMPARISONS: tuple[str, ...] = (">=", "<=", "between")
CONSENT_CHANNELS: tuple[str, ...] = ("email", "calls")
DEFINITION_NAMES: tuple[str, ...] = (Stage.MQL.value, Stage.SQL.value)
SECONDS_PER_DAY = 86_400
# Behaviour windows longer than ten years are almost certainly a typo.
MAX_DAYS = 3_660


class Touch(NamedTuple):
    """One touchpoint as the evaluator sees it (a plain 4-tuple works too)."""

    occurred_at: datetime
    kind: str
    channel: str
    campaign_id: int | None


def is_missing(value: object) -> bool:
    """None, a blank string or a float NaN count as 'not known'."""
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    return isinstance(value, float) and math.isnan(value)


def _norm(value: object) -> str:
    return str(value).strip().casefold()


def _quoted(values: Sequence[str], joiner: str = "or") -> str:
    items = [f"'{v}'" for v in values]
    if len(items) == 1:
        return items[0]
    return f"{', '.join(items[:-1])} {joiner} {items[-1]}"


def _label(field_name: str) -> str:
    return field_name.replace("_", " ").replace(".", " ").strip().capitalize()


def _number(value: object) -> float | None:
    if is_missing(value) or isinstance(value, bool):
        return None
    try:
        number = float(cast(Any, value))
    except (TypeError, ValueError):
        return None
    return None if math.isnan(number) else number


def _fmt(number: float) -> str:
    return f"{number:g}"


def _strings(data: Mapping[str, Any], key: str) -> tuple[str, ...]:
    raw = data.get(key) or ()
    if isinstance(raw, str):
        raw = (raw,)
    if not isinstance(raw, Sequence):
        raise ValidationFailed(f"'{key}' must be a list of words.", field=key, value=raw)
    return tuple(str(v).strip() for v in raw if str(v).strip())


def _optional_float(data: Mapping[str, Any], key: str) -> float | None:
    raw = data.get(key)
    if raw is None:
        return None
    number = _number(raw)
    if number is None or not math.isfinite(number):
        raise ValidationFailed(f"'{key}' must be a number.", field=key, value=raw)
    return number


def _whole(data: Mapping[str, Any], key: str, default: int | None = None) -> int:
    raw = data.get(key, default)
    if isinstance(raw, bool) or raw is None:
        raise ValidationFailed(f"'{key}' must be a whole number.", field=key, value=raw)
    try:
        number = int(raw)
    except (TypeError, ValueError, OverflowError) as exc:  # OverflowError: an infinite float from JSON's 1e999
        raise ValidationFailed(f"'{key}' must be a whole number.", field=key, value=raw) from exc
    if number != float(raw):
        raise ValidationFailed(f"'{key}' must be a whole number.", field=key, value=raw)
    return number


def note_lines(text: str) -> str:
    """Free text with its line breaks as \\n (a browser's text box sends \\r\\n)."""
    return str(text).replace("\r\n", "\n").replace("\r", "\n")


def _check_id(criterion_id: str) -> None:
    if not criterion_id.strip():
        raise ValidationFailed("Every criterion needs an id.", field="id", value=criterion_id)


# --- profile criteria -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FieldIn:
    """The field's value is (``negate``: is not) one of ``values``, ignoring case."""

    id: str
    field: str
    values: tuple[str, ...]
    negate: bool = False
    label: str = ""

    behaviour: ClassVar[bool] = False

    def __post_init__(self) -> None:
        _check_id(self.id)
        if not self.field.strip():
            raise ValidationFailed("A list criterion needs a field name.", field="field", value=self.id)
        if not self.values:
            raise ValidationFailed("A list criterion needs at least one value.", field="values", value=self.id)
        object.__setattr__(self, "values", tuple(str(v) for v in self.values))

    @property
    def type(self) -> str:
        return "field_not_in" if self.negate else "field_in"

    def describe(self) -> str:
        if self.label:
            return self.label
        verb = "is not" if self.negate else "is"
        return f"{_label(self.field)} {verb} {_quoted(self.values)}"

    def value_holds(self, value: object) -> bool:
        if is_missing(value):
            return False
        inside = _norm(value) in {_norm(v) for v in self.values}
        return inside != self.negate

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "type": self.type, "field": self.field, "values": list(self.values), "label": self.label}


@dataclass(frozen=True)
class NumberCompare:
    """A number (a score, a probability, a numeric custom field) is >= ``value``, <= ``value`` or between
    ``low`` and ``high`` (both ends included)."""

    id: str
    field: str
    op: str
    value: float | None = None
    low: float | None = None
    high: float | None = None
    label: str = ""

    behaviour: ClassVar[bool] = False
    type: ClassVar[str] = "number"

    def __post_init__(self) -> None:
        _check_id(self.id)
        if not self.field.strip():
            raise ValidationFailed("A number criterion needs a field name.", field="field", value=self.id)
        if self.op not in COMPARISONS:
            raise ValidationFailed(f"Unknown comparison; use one of {', '.join(COMPARISONS)}.", field="op", value=self.op)
        if self.op == "between":
            if self.low is None or self.high is None:
                raise ValidationFailed("'between' needs both 'low' and 'high'.", field="low", value=self.id)
            if self.low > self.high:
                raise ValidationFailed("'between' needs low <= high.", field="high", value=self.high)
            # Bounds the comparison does not read are dropped, so the stored form holds only what counts
            # (and the editor in words can show, and save back, every stored criterion unchanged).
            object.__setattr__(self, "value", None)
        elif self.value is None:
            raise ValidationFailed(f"'{self.op}' needs a 'value'.", field="value", value=self.id)
        else:
            object.__setattr__(self, "low", None)
            object.__setattr__(self, "high", None)

    def describe(self) -> str:
        if self.label:
            return self.label
        name = _label(self.field)
        if self.op == "between":
            return f"{name} is between {_fmt(cast(float, self.low))} and {_fmt(cast(float, self.high))}"
        word = "at least" if self.op == ">=" else "at most"
        return f"{name} is {word} {_fmt(cast(float, self.value))}"

    def value_holds(self, value: object) -> bool:
        number = _number(value)
        if number is None:
            return False
        if self.op == ">=":
            return number >= cast(float, self.value)
        if self.op == "<=":
            return number <= cast(float, self.value)
        return cast(float, self.low) <= number <= cast(float, self.high)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "type": self.type,
            "field": self.field,
            "op": self.op,
            "value": self.value,
            "low": self.low,
            "high": self.high,
            "label": self.label,
        }


@dataclass(frozen=True)
class GradeCompare:
    """The fit grade is ``grade`` or better (``>=``), ``grade`` or worse (``<=``), or from ``low`` up to
    ``high`` (``between``; A is the best grade)."""

    id: str
    op: str
    grade: str = ""
    low: str = ""
    high: str = ""
    field: str = "fit_grade"
    label: str = ""

    behaviour: ClassVar[bool] = False
    type: ClassVar[str] = "fit_grade"

    def __post_init__(self) -> None:
        _check_id(self.id)
        if self.op not in COMPARISONS:
            raise ValidationFailed(f"Unknown comparison; use one of {', '.join(COMPARISONS)}.", field="op", value=self.op)
        object.__setattr__(self, "grade", self.grade.strip().upper())
        object.__setattr__(self, "low", self.low.strip().upper())
        object.__setattr__(self, "high", self.high.strip().upper())
        needed = ("low", "high") if self.op == "between" else ("grade",)
        for key in needed:
            if getattr(self, key) not in GRADES:
                raise ValidationFailed("Fit grades are A, B, C or D.", field=key, value=getattr(self, key) or None)
        if self.op == "between" and GRADES.index(self.high) > GRADES.index(self.low):
            raise ValidationFailed("'between' goes from a low grade up to a better one (e.g. C to A).", field="high", value=self.high)
        # As for numbers: grades the comparison does not read are dropped.
        for key in {"grade", "low", "high"} - set(needed):
            object.__setattr__(self, key, "")

    @property
    def allowed(self) -> tuple[str, ...]:
        """The grades that satisfy the criterion, best first."""
        if self.op == ">=":
            return GRADES[: GRADES.index(self.grade) + 1]
        if self.op == "<=":
            return GRADES[GRADES.index(self.grade) :]
        return GRADES[GRADES.index(self.high) : GRADES.index(self.low) + 1]

    def describe(self) -> str:
        if self.label:
            return self.label
        if self.op == ">=":
            return f"Fit grade is {self.grade} or better" if self.grade != "A" else "Fit grade is A"
        if self.op == "<=":
            return f"Fit grade is {self.grade} or worse" if self.grade != "D" else "Fit grade is D"
        allowed = self.allowed
        return "Fit grade is " + (allowed[0] if len(allowed) == 1 else f"{', '.join(allowed[:-1])} or {allowed[-1]}")

    def value_holds(self, value: object) -> bool:
        return not is_missing(value) and str(value).strip().upper() in self.allowed

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "type": self.type,
            "field": self.field,
            "op": self.op,
            "grade": self.grade,
            "low": self.low,
            "high": self.high,
            "label": self.label,
        }


@dataclass(frozen=True)
class TitleKeywords:
    """The job title contains any of ``keywords`` as whole words, and none of ``exclude``."""

    id: str
    keywords: tuple[str, ...]
    exclude: tuple[str, ...] = ()
    field: str = "job_title"
    label: str = ""

    behaviour: ClassVar[bool] = False
    type: ClassVar[str] = "title_keywords"

    def __post_init__(self) -> None:
        _check_id(self.id)
        if not self.keywords:
            raise ValidationFailed("A job-title criterion needs at least one keyword.", field="keywords", value=self.id)
        object.__setattr__(self, "keywords", tuple(str(k).strip() for k in self.keywords))
        object.__setattr__(self, "exclude", tuple(str(k).strip() for k in self.exclude))
        for key in ("keywords", "exclude"):
            if any(not k for k in getattr(self, key)):
                raise ValidationFailed("Keywords must not be blank.", field=key, value=self.id)

    def _pattern(self, words: tuple[str, ...]) -> re.Pattern[str]:
        # \b fails next to punctuation ("c++"), so words are delimited by "not a letter or digit" instead.
        body = "|".join(re.escape(w.casefold()) for w in words)
        return re.compile(rf"(?<![^\W_])(?:{body})(?![^\W_])")

    def describe(self) -> str:
        if self.label:
            return self.label
        text = f"{_label(self.field)} contains {_quoted(self.keywords)}"
        if self.exclude:
            text += f" (but not {_quoted(self.exclude)})"
        return text

    def value_holds(self, value: object) -> bool:
        if is_missing(value):
            return False
        text = str(value).casefold()
        if self.exclude and self._pattern(self.exclude).search(text):
            return False
        return self._pattern(self.keywords).search(text) is not None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "type": self.type,
            "field": self.field,
            "keywords": list(self.keywords),
            "exclude": list(self.exclude),
            "label": self.label,
        }


@dataclass(frozen=True)
class ConsentRequired:
    """The person has consented to be contacted on ``channel`` (email or calls)."""

    id: str
    channel: str = "email"
    label: str = ""

    behaviour: ClassVar[bool] = False
    type: ClassVar[str] = "consent"

    def __post_init__(self) -> None:
        _check_id(self.id)
        if self.channel not in CONSENT_CHANNELS:
            raise ValidationFailed("Consent is for 'email' or 'calls'.", field="channel", value=self.channel)

    @property
    def field(self) -> str:
        return f"consent_{self.channel}"

    def describe(self) -> str:
        return self.label or f"Has consented to {self.channel}"

    def value_holds(self, value: object) -> bool:
        if isinstance(value, str):
            return _norm(value) in ("true", "yes", "1")
        if isinstance(value, bool | np.bool_):
            return bool(value)
        # 1 / 0 columns (SQLite booleans, numpy integer arrays) count as well; anything else is not consent.
        return isinstance(value, int | np.integer) and int(value) == 1

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "type": self.type, "channel": self.channel, "label": self.label}


# --- behaviour criteria -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Touchpoints:
    """At least ``min_count`` touchpoints in the last ``days`` days, optionally only of some kinds, channels
    or campaigns. Type ``touchpoint`` ("has a touchpoint of kind K") is the same with ``min_count`` 1 and at
    least one kind."""

    id: str
    days: int
    min_count: int = 1
    kinds: tuple[str, ...] = ()
    channels: tuple[str, ...] = ()
    campaign_ids: tuple[int, ...] = ()
    single: bool = False
    label: str = ""

    behaviour: ClassVar[bool] = True

    def __post_init__(self) -> None:
        _check_id(self.id)
        if not 1 <= self.days <= MAX_DAYS:
            raise ValidationFailed(f"'days' must be between 1 and {MAX_DAYS}.", field="days", value=self.days)
        if self.min_count < 1:
            raise ValidationFailed("'min_count' must be at least 1.", field="min_count", value=self.min_count)
        if self.single and not self.kinds:
            raise ValidationFailed("A touchpoint criterion needs the kind of touchpoint.", field="kinds", value=self.id)
        if self.single and self.min_count != 1:
            raise ValidationFailed("Use 'touchpoint_count' to ask for more than one touchpoint.", field="min_count", value=self.min_count)
        object.__setattr__(self, "kinds", tuple(_norm(k) for k in self.kinds))
        object.__setattr__(self, "channels", tuple(_norm(c) for c in self.channels))
        object.__setattr__(self, "campaign_ids", tuple(int(c) for c in self.campaign_ids))

    @property
    def type(self) -> str:
        return "touchpoint" if self.single else "touchpoint_count"

    def describe(self) -> str:
        if self.label:
            return self.label
        extra = []
        if self.channels:
            extra.append(f"on channel {_quoted(self.channels)}")
        if self.campaign_ids:
            extra.append(f"from campaign {_quoted([str(c) for c in self.campaign_ids]).replace(chr(39), '')}")
        tail = (" " + " ".join(extra)) if extra else ""
        window = f"in the last {self.days} day{'s' if self.days != 1 else ''}"
        if self.single:
            return f"Has a {_quoted(self.kinds)} touchpoint{tail} {window}"
        noun = "touchpoint" if self.min_count == 1 else "touchpoints"
        kinds = f" of kind {_quoted(self.kinds)}" if self.kinds else ""
        return f"At least {self.min_count} {noun}{kinds}{tail} {window}"

    def touch_counts(self, kind: str, channel: str, campaign_id: int | None) -> bool:
        if self.kinds and _norm(kind) not in self.kinds:
            return False
        if self.channels and _norm(channel) not in self.channels:
            return False
        return not self.campaign_ids or (campaign_id is not None and int(campaign_id) in self.campaign_ids)

    def holds(self, touches: Sequence[Touch | tuple[datetime, str, str, int | None]], as_of: datetime) -> bool:
        since = as_of - timedelta(days=self.days)
        count = sum(1 for at, kind, channel, campaign in touches if since <= at <= as_of and self.touch_counts(kind, channel, campaign))
        return count >= self.min_count

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "type": self.type, "days": self.days}
        if not self.single:
            out["min_count"] = self.min_count
        out.update(kinds=list(self.kinds), channels=list(self.channels), campaign_ids=list(self.campaign_ids), label=self.label)
        return out


ProfileCriterion = FieldIn | NumberCompare | GradeCompare | TitleKeywords | ConsentRequired
Criterion = ProfileCriterion | Touchpoints
CRITERION_TYPES: tuple[str, ...] = (
    "field_in",
    "field_not_in",
    "number",
    "fit_grade",
    "title_keywords",
    "consent",
    "touchpoint",
    "touchpoint_count",
)


def criterion_from_dict(data: Mapping[str, Any], *, default_id: str = "") -> Criterion:
    """Build one criterion from its JSON form (see docs/handoff.md), naming the bad field on error."""
    if not isinstance(data, Mapping):
        raise ValidationFailed("A criterion must be an object.", field="criteria", value=data)
    kind = str(data.get("type") or "")
    criterion_id = str(data.get("id") or default_id)
    label = str(data.get("label") or "")
    if kind not in CRITERION_TYPES:
        raise ValidationFailed(f"Unknown criterion type; use one of {', '.join(CRITERION_TYPES)}.", field="type", value=kind or None)
    if kind in ("field_in", "field_not_in"):
        return FieldIn(
            id=criterion_id,
            field=str(data.get("field") or ""),
            values=_strings(data, "values"),
            negate=kind == "field_not_in",
            label=label,
        )
    if kind == "number":
        return NumberCompare(
            id=criterion_id,
            field=str(data.get("field") or ""),
            op=str(data.get("op") or ""),
            value=_optional_float(data, "value"),
            low=_optional_float(data, "low"),
            high=_optional_float(data, "high"),
            label=label,
        )
    if kind == "fit_grade":
        return GradeCompare(
            id=criterion_id,
            op=str(data.get("op") or ""),
            grade=str(data.get("grade") or ""),
            low=str(data.get("low") or ""),
            high=str(data.get("high") or ""),
            field=str(data.get("field") or "fit_grade"),
            label=label,
        )
    if kind == "title_keywords":
        return TitleKeywords(
            id=criterion_id,
            keywords=_strings(data, "keywords"),
            exclude=_strings(data, "exclude"),
            field=str(data.get("field") or "job_title"),
            label=label,
        )
    if kind == "consent":
        return ConsentRequired(id=criterion_id, channel=str(data.get("channel") or "email"), label=label)
    campaigns = data.get("campaign_ids") or ()
    if not isinstance(campaigns, Sequence) or isinstance(campaigns, str):
        raise ValidationFailed("'campaign_ids' must be a list of campaign ids.", field="campaign_ids", value=campaigns)
    try:
        campaign_ids = tuple(int(c) for c in campaigns)
    except (TypeError, ValueError, OverflowError) as exc:
        raise ValidationFailed("'campaign_ids' must be whole numbers.", field="campaign_ids", value=campaigns) from exc
    return Touchpoints(
        id=criterion_id,
        days=_whole(data, "days"),
        min_count=_whole(data, "min_count", 1),
        kinds=_strings(data, "kinds"),
        channels=_strings(data, "channels"),
        campaign_ids=campaign_ids,
        single=kind == "touchpoint",
        label=label,
    )


# --- definitions ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Definition:
    """A versioned qualification definition: ``name`` is 'mql' or 'sql'."""

    name: str
    version: int
    all_of: tuple[Criterion, ...] = ()
    any_of: tuple[Criterion, ...] = ()
    note: str = ""

    def __post_init__(self) -> None:
        if self.name not in DEFINITION_NAMES:
            raise ValidationFailed("A definition is named 'mql' or 'sql'.", field="name", value=self.name)
        if isinstance(self.version, bool) or not isinstance(self.version, int) or self.version < 1:
            raise ValidationFailed("The version is a whole number from 1.", field="version", value=self.version)
        if not self.all_of and not self.any_of:
            raise ValidationFailed("A definition needs at least one criterion.", field="all", value=self.name)
        # Line breaks are stored as \n whatever sent them (a browser's text box sends \r\n).
        object.__setattr__(self, "note", note_lines(self.note))
        seen: set[str] = set()
        for criterion in self.criteria:
            if criterion.id in seen:
                raise ValidationFailed("Criterion ids must be unique within a definition.", field="id", value=criterion.id)
            seen.add(criterion.id)

    @property
    def criteria(self) -> tuple[Criterion, ...]:
        return self.all_of + self.any_of

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "all": [c.to_dict() for c in self.all_of],
            "any": [c.to_dict() for c in self.any_of],
            "note": self.note,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Definition:
        if not isinstance(data, Mapping):
            raise ValidationFailed("A definition must be an object.", field="definition", value=data)
        groups: dict[str, tuple[Criterion, ...]] = {}
        for key in ("all", "any"):
            raw = data.get(key) or []
            if not isinstance(raw, Sequence) or isinstance(raw, str):
                raise ValidationFailed(f"'{key}' must be a list of criteria.", field=key, value=raw)
            groups[key] = tuple(criterion_from_dict(item, default_id=f"{key}-{i + 1}") for i, item in enumerate(raw))
        return cls(
            name=str(data.get("name") or ""),
            version=_whole(data, "version", 1),
            all_of=groups["all"],
            any_of=groups["any"],
            note=str(data.get("note") or ""),
        )


@dataclass(frozen=True)
class CriterionOutcome:
    id: str
    text: str

    def to_dict(self) -> dict[str, str]:
        return {"id": self.id, "text": self.text}


@dataclass(frozen=True)
class Evaluation:
    """Whether the definition is met, and which criteria held (``matched``) and which did not (``unmet``)."""

    definition: str
    version: int
    met: bool
    matched: tuple[CriterionOutcome, ...]
    unmet: tuple[CriterionOutcome, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "definition": self.definition,
            "version": self.version,
            "met": self.met,
            "matched": [m.to_dict() for m in self.matched],
            "unmet": [u.to_dict() for u in self.unmet],
        }


def _criterion_holds(
    criterion: Criterion, facts: Mapping[str, Any], touches: Sequence[Touch | tuple[datetime, str, str, int | None]], as_of: datetime
) -> bool:
    if isinstance(criterion, Touchpoints):
        return criterion.holds(touches, as_of)
    return criterion.value_holds(facts.get(criterion.field))


def _holds_each(
    definition: Definition,
    person_facts: Mapping[str, Any],
    touchpoints: Sequence[Touch | tuple[datetime, str, str, int | None]],
    as_of: datetime,
) -> tuple[dict[str, bool], bool]:
    if as_of.tzinfo is None:
        raise ValidationFailed("as_of must carry a time zone.", field="as_of", value=as_of)
    results = {c.id: _criterion_holds(c, person_facts, touchpoints, as_of) for c in definition.criteria}
    met = all(results[c.id] for c in definition.all_of) and (
        not definition.any_of or any(results[c.id] for c in definition.any_of)
    )
    return results, met


def definition_met(
    definition: Definition,
    person_facts: Mapping[str, Any],
    touchpoints: Sequence[Touch | tuple[datetime, str, str, int | None]],
    as_of: datetime,
) -> bool:
    """Whether one person meets the definition at `as_of`: definition_evaluate's `met`, without the sentences."""
    return _holds_each(definition, person_facts, touchpoints, as_of)[1]


def definition_evaluate(
    definition: Definition,
    person_facts: Mapping[str, Any],
    touchpoints: Sequence[Touch | tuple[datetime, str, str, int | None]],
    as_of: datetime,
) -> Evaluation:
    """Evaluate one person against a definition at `as_of` (touchpoints after it are ignored)."""
    results, met = _holds_each(definition, person_facts, touchpoints, as_of)
    matched = tuple(CriterionOutcome(c.id, c.describe()) for c in definition.criteria if results[c.id])
    unmet = tuple(CriterionOutcome(c.id, c.describe()) for c in definition.criteria if not results[c.id])
    return Evaluation(definition.name, definition.version, met, matched, unmet)


def definition_describe(definition: Definition) -> list[str]:
    """Plain-English sentences for the definitions page, one per line."""
    lines = [c.describe() for c in definition.all_of]
    if len(definition.any_of) == 1:
        lines.append(definition.any_of[0].describe())
    elif definition.any_of:
        lines.append("At least one of: " + "; or ".join(c.describe() for c in definition.any_of))
    return lines


def definition_changes(old: Definition, new: Definition) -> list[str]:
    """What changed between two versions, in words, for the history of the definitions page."""
    def index(d: Definition) -> dict[str, tuple[str, str]]:
        return {c.id: ("all" if c in d.all_of else "any", c.describe()) for c in d.criteria}

    before, after = index(old), index(new)
    lines: list[str] = []
    for cid, (group, text) in after.items():
        if cid not in before:
            lines.append(f"Added: {text}")
        elif before[cid] != (group, text):
            was_group, was_text = before[cid]
            if was_text != text:
                lines.append(f"Changed: {text} (was: {was_text})")
            if was_group != group:
                lines.append(f"Moved to '{'all of' if group == 'all' else 'any of'}': {text}")
    lines.extend(f"Removed: {text}" for cid, (_, text) in before.items() if cid not in after)
    return lines


# --- dry run: vectorised replay over history --------------------------------------------------------------

NAT = np.datetime64("NaT", "s")
_SHIFT = np.int64(1) << np.int64(34)  # per-person block in the sorted key; 2**34 s is over 500 years


def _seconds(values: Any) -> np.ndarray:
    arr = np.asarray(values)
    if np.issubdtype(arr.dtype, np.datetime64):
        secs = arr.astype("datetime64[s]")
        out = secs.astype(np.int64).astype(np.float64)
        return np.where(np.isnat(secs), np.nan, out)
    return arr.astype(np.float64)


def _column_holds(criterion: ProfileCriterion, column: Any, n_people: int) -> np.ndarray:
    seq = column.tolist() if isinstance(column, np.ndarray) else list(column)
    if len(seq) != n_people:
        raise ValidationFailed("Every fact column needs one value per person.", field=criterion.field, value=len(seq))
    try:
        table = {value: criterion.value_holds(value) for value in set(seq)}
        return np.fromiter(map(table.__getitem__, seq), dtype=bool, count=n_people)
    except TypeError:  # unhashable values: decide each one
        return np.fromiter((criterion.value_holds(v) for v in seq), dtype=bool, count=n_people)


def _in_set(values: np.ndarray, wanted: tuple[str, ...]) -> np.ndarray:
    """Case-insensitive membership, deciding once per distinct value (kinds and channels repeat a lot)."""
    seq = values.tolist()
    table = {v: _norm(v) in wanted for v in set(seq)}
    return np.fromiter(map(table.__getitem__, seq), dtype=bool, count=len(seq))


def definition_first_met(
    definition: Definition,
    people_facts: Mapping[str, Any],
    *,
    n_people: int,
    touch_person: Any,
    touch_at: Any,
    touch_kind: Any,
    touch_channel: Any,
    touch_campaign: Any,
    created_at: Any | None = None,
    as_of: np.datetime64 | None = None,
) -> np.ndarray:
    """For each person (0..n_people-1) the first moment they met the definition, as datetime64[s] (NaT: never).

    ``people_facts`` maps a fact name to a column (one value per person; a missing column means unknown).
    Touchpoints are parallel arrays: person index, time (datetime64), kind, channel, campaign id (-1: none).
    The moments tried are each person's touchpoint times and, when given, their ``created_at``.
    """
    person = np.asarray(touch_person, dtype=np.int64)
    t = _seconds(touch_at)
    kinds = np.asarray(touch_kind, dtype=object)
    channels = np.asarray(touch_channel, dtype=object)
    campaigns = np.asarray(touch_campaign, dtype=np.int64)
    m = len(person)
    if not (len(t) == len(kinds) == len(channels) == len(campaigns) == m):
        raise ValidationFailed("Touchpoint arrays must have the same length.", field="touch_at", value=len(t))
    if m and (person.min() < 0 or person.max() >= n_people):
        raise ValidationFailed("A touchpoint's person index is out of range.", field="touch_person", value=int(person.max()))
    keep = ~np.isnan(t)
    limit = None if as_of is None else float(np.asarray(as_of, dtype="datetime64[s]").astype(np.int64))
    if limit is not None:
        keep &= t <= limit
    # Sorted by (person, time): the touchpoints double as sorted queries, which searchsorted answers fastest.
    order = np.lexsort((t[keep], person[keep]))
    person, t = person[keep][order], t[keep][order]
    kinds, channels, campaigns = kinds[keep][order], channels[keep][order], campaigns[keep][order]

    # Profile criteria are one boolean per person.
    static: dict[str, np.ndarray] = {}
    for criterion in definition.criteria:
        if not isinstance(criterion, Touchpoints):
            column = people_facts.get(criterion.field)
            static[criterion.id] = (
                np.zeros(n_people, dtype=bool) if column is None else _column_holds(criterion, column, n_people)
            )

    # Moments at which to evaluate: every touchpoint, plus creation.
    q_person, q_time = person, t
    if created_at is not None:
        created = _seconds(created_at)
        if len(created) != n_people:
            raise ValidationFailed("created_at needs one value per person.", field="created_at", value=len(created))
        ok = ~np.isnan(created) if limit is None else (~np.isnan(created) & (created <= limit))
        q_person = np.concatenate([q_person, np.flatnonzero(ok)])
        q_time = np.concatenate([q_time, created[ok]])
    if len(q_time) == 0:
        return np.full(n_people, NAT)

    base = float(min(q_time.min(), t.min() if len(t) else q_time.min()))
    keys = person * _SHIFT + (t - base).astype(np.int64)
    qt_rel = (q_time - base).astype(np.int64)
    hi = np.searchsorted(keys, q_person * _SHIFT + qt_rel, side="right")

    def holds(criterion: Criterion) -> np.ndarray:
        if not isinstance(criterion, Touchpoints):
            return static[criterion.id][q_person]
        mask = np.ones(len(keys), dtype=bool)
        if criterion.kinds:
            mask &= _in_set(kinds, criterion.kinds)
        if criterion.channels:
            mask &= _in_set(channels, criterion.channels)
        if criterion.campaign_ids:
            mask &= np.isin(campaigns, criterion.campaign_ids)
        cumulative = np.concatenate([[0], np.cumsum(mask)])
        since = np.maximum(qt_rel - criterion.days * SECONDS_PER_DAY, 0)
        lo = np.searchsorted(keys, q_person * _SHIFT + since, side="left")
        return (cumulative[hi] - cumulative[lo]) >= criterion.min_count

    met = np.ones(len(q_time), dtype=bool)
    for criterion in definition.all_of:
        met &= holds(criterion)
    if definition.any_of:
        some = np.zeros(len(q_time), dtype=bool)
        for criterion in definition.any_of:
            some |= holds(criterion)
        met &= some
    first = np.full(n_people, np.iinfo(np.int64).max, dtype=np.int64)
    np.minimum.at(first, q_person[met], q_time[met].astype(np.int64))
    out = first.astype("datetime64[s]")
    out[first == np.iinfo(np.int64).max] = NAT
    return out


@dataclass(frozen=True)
class MonthRow:
    """MQLs first qualified in one month and how many of them later reached SQL and were won."""

    month: str
    mqls: int
    to_sql: int
    won: int
    sql_rate: float
    sql_low: float
    sql_high: float
    won_rate: float

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class DryRunSummary:
    months: tuple[MonthRow, ...]
    total: MonthRow

    def to_dict(self) -> dict[str, Any]:
        return {"months": [m.to_dict() for m in self.months], "total": self.total.to_dict()}


def dry_run_summary(first_met: Any, sql_at: Any, won_at: Any) -> DryRunSummary:
    """MQLs per calendar month (UTC) and their conversion to SQL and to won at or after qualifying.

    All three arrays are datetime64 per person (NaT: never). Months between the first and last MQL month
    with no MQL appear with zeros. Rates carry 95 % Wilson intervals for SQL; the won rate is a point value.
    """
    mql = np.asarray(first_met, dtype="datetime64[s]")
    sql = np.asarray(sql_at, dtype="datetime64[s]")
    won = np.asarray(won_at, dtype="datetime64[s]")
    if not (mql.shape == sql.shape == won.shape):
        raise ValidationFailed("first_met, sql_at and won_at need one value per person.", field="sql_at", value=sql.shape)
    is_mql = ~np.isnat(mql)
    # Reaching SQL before qualifying under the proposed definition is not a conversion of that MQL.
    to_sql = is_mql & ~np.isnat(sql) & (sql >= mql)
    to_won = is_mql & ~np.isnat(won) & (won >= mql)
    if not is_mql.any():
        empty = MonthRow("total", 0, 0, 0, 0.0, 0.0, 1.0, 0.0)
        return DryRunSummary(months=(), total=empty)
    months = mql[is_mql].astype("datetime64[M]")
    first_month, last_month = months.min(), months.max()
    n_months = int((last_month - first_month).astype(np.int64)) + 1
    slot = (months - first_month).astype(np.int64)
    counts = np.bincount(slot, minlength=n_months)
    sqls = np.bincount(slot, weights=to_sql[is_mql].astype(np.float64), minlength=n_months).astype(np.int64)
    wins = np.bincount(slot, weights=to_won[is_mql].astype(np.float64), minlength=n_months).astype(np.int64)
    totals = np.array([counts.sum()]), np.array([sqls.sum()]), np.array([wins.sum()])
    all_counts = np.concatenate([counts, totals[0]])
    all_sqls = np.concatenate([sqls, totals[1]])
    all_wins = np.concatenate([wins, totals[2]])
    low, high = wilson_bounds(all_sqls, all_counts)
    with np.errstate(divide="ignore", invalid="ignore"):
        sql_rate = np.where(all_counts > 0, all_sqls / all_counts, 0.0)
        won_rate = np.where(all_counts > 0, all_wins / all_counts, 0.0)
    labels = [str(first_month + np.timedelta64(i, "M")) for i in range(n_months)] + ["total"]
    rows = [
        MonthRow(
            month=labels[i],
            mqls=int(all_counts[i]),
            to_sql=int(all_sqls[i]),
            won=int(all_wins[i]),
            sql_rate=float(sql_rate[i]),
            sql_low=float(low[i]),
            sql_high=float(high[i]),
            won_rate=float(won_rate[i]),
        )
        for i in range(n_months + 1)
    ]
    return DryRunSummary(months=tuple(rows[:-1]), total=rows[-1])
