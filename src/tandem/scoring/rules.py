"""Rule scores without the ORM: a fit grade (A–D) from profile rules and an engagement score with decay.

Both configurations are plain frozen dataclasses that round-trip through JSON-compatible dicts
(``to_dict`` / ``from_dict``) so admins can edit them later from a settings page or a file.
Times are POSIX seconds (float); ``epoch_seconds`` converts an aware datetime.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, cast

import numpy as np

from tandem.core.errors import ValidationFailed

SECONDS_PER_DAY = 86_400.0

RuleOp = Literal["in", "not_in", "between", "contains_any", "present", "missing"]
RULE_OPS: tuple[str, ...] = ("in", "not_in", "between", "contains_any", "present", "missing")
GRADES: tuple[str, ...] = ("A", "B", "C", "D")


def epoch_seconds(moment: datetime) -> float:
    """POSIX seconds of an aware datetime (naive datetimes are refused: their instant is ambiguous)."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValidationFailed("Scoring times must carry a time zone.", field="time", value=moment)
    return moment.timestamp()


def is_missing(value: object) -> bool:
    """None, an empty/blank string or a float NaN count as 'not given'."""
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    return isinstance(value, float) and math.isnan(value)


def _norm(value: object) -> str:
    return str(value).strip().casefold()


def _as_number(value: object) -> float | None:
    if is_missing(value):
        return None
    try:
        number = float(cast(Any, value))
    except (TypeError, ValueError):
        return None
    return None if math.isnan(number) else number


def encode_values(values: Sequence[Any] | np.ndarray, decide: Callable[[Any], Any], *, dtype: Any = np.int64) -> np.ndarray:
    """``decide(v)`` for every value, calling it once per distinct value (columns repeat a few values a lot)."""
    seq = values.tolist() if isinstance(values, np.ndarray) else list(values)
    try:
        table = {value: decide(value) for value in set(seq)}
    except TypeError:  # unhashable values: decide each one
        return np.fromiter((decide(v) for v in seq), dtype=dtype, count=len(seq))
    return np.fromiter(map(table.__getitem__, seq), dtype=dtype, count=len(seq))


@dataclass(frozen=True)
class FitRule:
    """One profile rule: when ``field`` matches, add ``points`` (negative points lower the fit).

    ``in`` / ``not_in`` compare case-insensitively with ``values``; ``contains_any`` looks for any of
    ``values`` as a case-insensitive substring (job title keywords); ``between`` matches a number with
    ``low <= x < high`` (either bound may be None); ``present`` / ``missing`` test whether a value is given.
    ``not_in`` does not match a missing value.
    """

    field: str
    op: RuleOp
    points: float
    values: tuple[str, ...] = ()
    low: float | None = None
    high: float | None = None
    label: str = ""

    def __post_init__(self) -> None:
        if not self.field.strip():
            raise ValidationFailed("A fit rule needs a field name.", field="field", value=self.field)
        if self.op not in RULE_OPS:
            raise ValidationFailed(f"Unknown fit rule operator; use one of {', '.join(RULE_OPS)}.", field="op", value=self.op)
        if not math.isfinite(self.points):
            raise ValidationFailed("Fit rule points must be a finite number.", field="points", value=self.points)
        if self.op in ("in", "not_in", "contains_any") and not self.values:
            raise ValidationFailed(f"A '{self.op}' rule needs at least one value.", field="values", value=self.field)
        if self.op == "between":
            if self.low is None and self.high is None:
                raise ValidationFailed("A 'between' rule needs a low or a high bound.", field="low", value=self.field)
            if self.low is not None and self.high is not None and self.low >= self.high:
                raise ValidationFailed("A 'between' rule needs low < high.", field="high", value=self.high)
        object.__setattr__(self, "values", tuple(str(v) for v in self.values))

    @property
    def description(self) -> str:
        """Plain words for the rule, e.g. 'Industry is Software' (the admin's label when given)."""
        if self.label:
            return self.label
        name = self.field.replace("_", " ").capitalize()
        if self.op == "in":
            return f"{name} is {' or '.join(self.values)}"
        if self.op == "not_in":
            return f"{name} is not {' or '.join(self.values)}"
        if self.op == "contains_any":
            return f"{name} mentions {' or '.join(self.values)}"
        if self.op == "present":
            return f"{name} given"
        if self.op == "missing":
            return f"{name} not given"
        low = "" if self.low is None else f"{self.low:g}"
        high = "" if self.high is None else f"{self.high:g}"
        return f"{name} in [{low}, {high})"

    def matches(self, value: object) -> bool:
        """Whether one profile value satisfies the rule."""
        if self.op == "missing":
            return is_missing(value)
        if is_missing(value):
            return False
        if self.op == "present":
            return True
        if self.op == "between":
            number = _as_number(value)
            if number is None:
                return False
            return (self.low is None or number >= self.low) and (self.high is None or number < self.high)
        text = _norm(value)
        wanted = {_norm(v) for v in self.values}
        if self.op == "in":
            return text in wanted
        if self.op == "not_in":
            return text not in wanted
        return any(word in text for word in wanted)

    def to_dict(self) -> dict[str, Any]:
        return {
            "field": self.field,
            "op": self.op,
            "points": self.points,
            "values": list(self.values),
            "low": self.low,
            "high": self.high,
            "label": self.label,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FitRule:
        for key in ("field", "op", "points"):
            if key not in data:
                raise ValidationFailed(f"A fit rule needs '{key}'.", field=key, value=dict(data))
        try:
            points = float(data["points"])
            low = None if data.get("low") is None else float(data["low"])
            high = None if data.get("high") is None else float(data["high"])
        except (TypeError, ValueError) as exc:
            raise ValidationFailed("Fit rule points and bounds must be numbers.", field="points", value=dict(data)) from exc
        values = data.get("values") or ()
        if isinstance(values, str):
            values = (values,)
        return cls(
            field=str(data["field"]),
            op=cast(RuleOp, str(data["op"])),
            points=points,
            values=tuple(str(v) for v in values),
            low=low,
            high=high,
            label=str(data.get("label") or ""),
        )


@dataclass(frozen=True)
class FitConfig:
    """Profile rules plus the minimum points for grades A, B and C (anything below is D)."""

    rules: tuple[FitRule, ...]
    grade_minimums: tuple[float, float, float] = (60.0, 35.0, 15.0)

    def __post_init__(self) -> None:
        a, b, c = self.grade_minimums
        if not (a > b > c):
            raise ValidationFailed(
                "Grade minimums must decrease from A to C.", field="grade_minimums", value=self.grade_minimums
            )
        object.__setattr__(self, "rules", tuple(self.rules))

    def to_dict(self) -> dict[str, Any]:
        return {"rules": [r.to_dict() for r in self.rules], "grade_minimums": list(self.grade_minimums)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FitConfig:
        rules = data.get("rules")
        if not isinstance(rules, list):
            raise ValidationFailed("Fit configuration needs a list of rules.", field="rules", value=rules)
        minimums = data.get("grade_minimums", [60.0, 35.0, 15.0])
        if not isinstance(minimums, list | tuple) or len(minimums) != 3:
            raise ValidationFailed("grade_minimums needs three numbers (A, B, C).", field="grade_minimums", value=minimums)
        try:
            a, b, c = (float(m) for m in minimums)
        except (TypeError, ValueError) as exc:
            raise ValidationFailed("grade_minimums must be numbers.", field="grade_minimums", value=minimums) from exc
        return cls(rules=tuple(FitRule.from_dict(r) for r in rules), grade_minimums=(a, b, c))


@dataclass(frozen=True)
class FitResult:
    points: float
    grade: str
    matched: tuple[FitRule, ...]


def grade_for_points(points: float, config: FitConfig) -> str:
    """A, B, C or D for a number of fit points."""
    for grade, minimum in zip(GRADES, config.grade_minimums, strict=False):
        if points >= minimum:
            return grade
    return "D"


def fit_evaluate(profile: Mapping[str, object], config: FitConfig) -> FitResult:
    """Fit points, grade and the rules that matched for one person's profile."""
    matched = tuple(rule for rule in config.rules if rule.matches(profile.get(rule.field)))
    points = float(sum(rule.points for rule in matched))
    return FitResult(points=points, grade=grade_for_points(points, config), matched=matched)


def fit_points_batch(columns: Mapping[str, Sequence[object]], size: int, config: FitConfig) -> np.ndarray:
    """Fit points for many people at once from column lists (a field absent from ``columns`` is missing)."""
    total = np.zeros(size, dtype=np.float64)
    for rule in config.rules:
        column = columns.get(rule.field)
        if column is None:
            if rule.op == "missing":
                total += rule.points
            continue
        hits = encode_values(column, rule.matches, dtype=np.bool_)
        total += hits * rule.points
    return total


def grades_batch(points: np.ndarray, config: FitConfig) -> np.ndarray:
    """Grades (array of 'A'..'D') for an array of fit points."""
    a, b, c = config.grade_minimums
    return np.where(points >= a, "A", np.where(points >= b, "B", np.where(points >= c, "C", "D")))


@dataclass(frozen=True)
class EngagementConfig:
    """Points per touchpoint/activity kind, halved every ``half_life_days`` of age."""

    points_by_kind: Mapping[str, float] = field(default_factory=dict)
    half_life_days: float = 30.0
    default_points: float = 0.0

    def __post_init__(self) -> None:
        if not (math.isfinite(self.half_life_days) and self.half_life_days > 0):
            raise ValidationFailed(
                "The engagement half-life must be a positive number of days.",
                field="half_life_days",
                value=self.half_life_days,
            )
        for kind, points in self.points_by_kind.items():
            if not math.isfinite(float(points)):
                raise ValidationFailed("Engagement points must be finite numbers.", field=f"points_by_kind.{kind}", value=points)
        object.__setattr__(self, "points_by_kind", {str(k): float(v) for k, v in self.points_by_kind.items()})

    def points_for(self, kind: str) -> float:
        """Points of one kind; kinds match case-insensitively ("Webinar" is "webinar")."""
        if kind in self.points_by_kind:
            return float(self.points_by_kind[kind])
        wanted = _norm(kind)
        for name, points in self.points_by_kind.items():
            if _norm(name) == wanted:
                return float(points)
        return float(self.default_points)

    def to_dict(self) -> dict[str, Any]:
        return {
            "points_by_kind": dict(self.points_by_kind),
            "half_life_days": self.half_life_days,
            "default_points": self.default_points,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> EngagementConfig:
        points = data.get("points_by_kind", {})
        if not isinstance(points, Mapping):
            raise ValidationFailed("points_by_kind must map kinds to points.", field="points_by_kind", value=points)
        try:
            return cls(
                points_by_kind={str(k): float(v) for k, v in points.items()},
                half_life_days=float(data.get("half_life_days", 30.0)),
                default_points=float(data.get("default_points", 0.0)),
            )
        except (TypeError, ValueError) as exc:
            raise ValidationFailed("Engagement points and half-life must be numbers.", field="points_by_kind", value=dict(data)) from exc


def decay_weight(age_seconds: np.ndarray | float, half_life_days: float) -> np.ndarray:
    """0.5 ** (age in days / half-life): 1 for an event now, 0.5 one half-life ago."""
    age_days = np.asarray(age_seconds, dtype=np.float64) / SECONDS_PER_DAY
    return cast(np.ndarray, np.exp2(-age_days / half_life_days))


def engagement_score(
    kinds: Sequence[str], times: Sequence[float] | np.ndarray, at: float, config: EngagementConfig
) -> float:
    """Decayed engagement of one person at time ``at``; events after ``at`` are ignored."""
    when = np.asarray(times, dtype=np.float64)
    if len(kinds) != len(when):
        raise ValidationFailed("Each event needs one kind and one time.", field="times", value=len(when))
    points = np.array([config.points_for(k) for k in kinds], dtype=np.float64)
    keep = when <= at
    return float(np.sum(points[keep] * decay_weight(at - when[keep], config.half_life_days)))


def rule_score(fit_points: np.ndarray, engagement: np.ndarray) -> np.ndarray:
    """The rule score: fit points plus engagement points (the baseline a model must beat)."""
    return np.asarray(fit_points, dtype=np.float64) + np.asarray(engagement, dtype=np.float64)
