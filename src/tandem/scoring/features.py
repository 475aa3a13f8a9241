"""Leakage-proof features without the ORM: what was known about each person at their cut-off time.

Input is columnar (``ScoringInput``): one cut-off time per person, profile columns with optional
per-field "known since" times, and one flat table of events (touchpoints and activities). The builder
first cuts the input down to what was visible at each person's cut-off — events with a vectorised
``time <= cutoff`` mask, profile values known later blanked — and every aggregate is computed from that
cut-down input only, so nothing after the cut-off can reach a feature. Fields named in the leakage
denylist (filled in after the hand-off, or the outcome itself) are refused outright.

Times are POSIX seconds (float64). ``inputs_from_records`` builds the columnar input from per-person
records, which is what single-person rescoring uses.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, cast

import numpy as np

from tandem.core.errors import ValidationFailed
from tandem.scoring.rules import (
    SECONDS_PER_DAY,
    EngagementConfig,
    FitConfig,
    decay_weight,
    encode_values,
    fit_points_batch,
    is_missing,
)

# Field names (normalised: lower case, non-alphanumerics as '_') that are filled in during or after the
# sales follow-up, or that are the outcome itself. A feature spec naming any of them is refused.
LEAKAGE_DENYLIST: frozenset[str] = frozenset(
    {
        # the outcome and what is only known once it happened
        "converted",
        "outcome",
        "won",
        "is_won",
        "won_at",
        "won_date",
        "lost",
        "lost_at",
        "lost_reason",
        "closed_at",
        "close_date",
        "deal_amount",
        "deal_stage",
        "amount_won",
        "customer_since",
        "lifecycle_stage",
        "stage",
        "probability",
        # set by sales during or after the hand-off
        "owner",
        "owner_id",
        "sales_owner",
        "handoff_at",
        "sql_at",
        "sal_at",
        "opportunity_at",
        "disqualified_reason",
        "rep_notes",
        # X Education columns filled by sales after the follow-up
        "tags",
        "lead_quality",
        "last_activity",
        "last_notable_activity",
        "lead_profile",
        "asymmetrique_activity_index",
        "asymmetrique_profile_index",
        "asymmetrique_activity_score",
        "asymmetrique_profile_score",
        # Olist closed-deal columns (only exist for won leads)
        "seller_id",
        "sdr_id",
        "sr_id",
        "business_segment",
        "lead_type",
        "lead_behaviour_profile",
        "has_company",
        "has_gtin",
        "average_stock",
        "business_type",
        "declared_product_catalog_size",
        "declared_monthly_revenue",
    }
)


# Name of the one-hot column that gathers values too rare (or unseen at fit time) for their own column.
RARE_LEVEL = "(rare value)"


def normalise_field_name(name: str) -> str:
    """'Lead Quality' -> 'lead_quality': the form the denylist is written in."""
    return re.sub(r"[^0-9a-z]+", "_", name.casefold()).strip("_")


def check_no_leakage(fields: Iterable[str], *, extra_denylist: Iterable[str] = ()) -> None:
    """Refuse any field on the leakage denylist (or the extra one), naming the first offender."""
    denied = LEAKAGE_DENYLIST | {normalise_field_name(f) for f in extra_denylist}
    for name in fields:
        if normalise_field_name(name) in denied:
            raise ValidationFailed(
                f"'{name}' is only known after the hand-off or the outcome; it cannot be a scoring feature.",
                field="features",
                value=name,
            )


@dataclass(frozen=True)
class Event:
    """One touchpoint or activity of a person."""

    time: float
    kind: str
    channel: str = ""
    campaign: str = ""


@dataclass(frozen=True)
class PersonRecord:
    """Everything about one person: profile, per-field known-since times, events and the cut-off."""

    cutoff: float
    profile: Mapping[str, object] = field(default_factory=dict)
    known_since: Mapping[str, float] = field(default_factory=dict)
    events: Sequence[Event] = ()


@dataclass(frozen=True, eq=False)  # holds arrays
class EventTable:
    """Events of many people, one array per attribute; ``person`` indexes the people (0..n-1)."""

    person: np.ndarray
    time: np.ndarray
    kind: np.ndarray
    channel: np.ndarray
    campaign: np.ndarray

    @classmethod
    def build(
        cls,
        *,
        person: Sequence[int] | np.ndarray,
        time: Sequence[float] | np.ndarray,
        kind: Sequence[str] | np.ndarray,
        channel: Sequence[str] | np.ndarray | None = None,
        campaign: Sequence[str] | np.ndarray | None = None,
    ) -> EventTable:
        """Check lengths and types; channel and campaign default to empty strings."""
        people = np.asarray(person, dtype=np.int64)
        times = np.asarray(time, dtype=np.float64)
        size = len(people)
        kinds = np.asarray(kind, dtype=object)
        channels = np.full(size, "", dtype=object) if channel is None else np.asarray(channel, dtype=object)
        campaigns = np.full(size, "", dtype=object) if campaign is None else np.asarray(campaign, dtype=object)
        for name, column in (("time", times), ("kind", kinds), ("channel", channels), ("campaign", campaigns)):
            if len(column) != size:
                raise ValidationFailed(
                    f"Event column '{name}' has {len(column)} values for {size} events.", field=name, value=len(column)
                )
        if size and not np.all(np.isfinite(times)):
            raise ValidationFailed("Every event needs a finite time.", field="time", value=times[~np.isfinite(times)][0])
        return cls(person=people, time=times, kind=kinds, channel=channels, campaign=campaigns)

    @classmethod
    def empty(cls) -> EventTable:
        return cls.build(person=[], time=[], kind=[])

    def __len__(self) -> int:
        return len(self.person)

    def take(self, mask: np.ndarray) -> EventTable:
        return EventTable(
            person=self.person[mask],
            time=self.time[mask],
            kind=self.kind[mask],
            channel=self.channel[mask],
            campaign=self.campaign[mask],
        )


@dataclass(frozen=True, eq=False)  # holds arrays
class ScoringInput:
    """Many people at once: cut-offs, profile columns, known-since times (NaN: always known) and events."""

    cutoffs: np.ndarray
    profile: Mapping[str, Sequence[object]]
    known_since: Mapping[str, np.ndarray]
    events: EventTable

    @classmethod
    def build(
        cls,
        *,
        cutoffs: Sequence[float] | np.ndarray,
        profile: Mapping[str, Sequence[object]] | None = None,
        known_since: Mapping[str, Sequence[float] | np.ndarray] | None = None,
        events: EventTable | None = None,
    ) -> ScoringInput:
        """Check that every column has one value per person and every event points at a person."""
        cut = np.asarray(cutoffs, dtype=np.float64)
        size = len(cut)
        if size and not np.all(np.isfinite(cut)):
            raise ValidationFailed("Every person needs a finite cut-off time.", field="cutoffs", value=cut[~np.isfinite(cut)][0])
        columns = dict(profile or {})
        for name, column in columns.items():
            if len(column) != size:
                raise ValidationFailed(
                    f"Profile column '{name}' has {len(column)} values for {size} people.", field=name, value=len(column)
                )
        since: dict[str, np.ndarray] = {}
        for name, times in (known_since or {}).items():
            known = np.asarray(times, dtype=np.float64)
            if len(known) != size:
                raise ValidationFailed(
                    f"Known-since column '{name}' has {len(known)} values for {size} people.", field=name, value=len(known)
                )
            since[name] = known
        table = events if events is not None else EventTable.empty()
        if len(table) and (table.person.min() < 0 or table.person.max() >= size):
            raise ValidationFailed(
                "An event points at a person outside the input.", field="person", value=int(table.person.max())
            )
        return cls(cutoffs=cut, profile=columns, known_since=since, events=table)

    @property
    def size(self) -> int:
        return len(self.cutoffs)


def inputs_from_records(records: Sequence[PersonRecord]) -> ScoringInput:
    """Columnar input from per-person records (fields missing from a profile are None)."""
    fields: dict[str, None] = {}
    since_fields: dict[str, None] = {}
    for record in records:
        fields.update(dict.fromkeys(record.profile))
        since_fields.update(dict.fromkeys(record.known_since))
    profile = {name: [r.profile.get(name) for r in records] for name in fields}
    known = {name: [r.known_since.get(name, math.nan) for r in records] for name in since_fields}
    person: list[int] = []
    time: list[float] = []
    kind: list[str] = []
    channel: list[str] = []
    campaign: list[str] = []
    for index, record in enumerate(records):
        for event in record.events:
            person.append(index)
            time.append(event.time)
            kind.append(event.kind)
            channel.append(event.channel)
            campaign.append(event.campaign)
    events = EventTable.build(person=person, time=time, kind=kind, channel=channel, campaign=campaign)
    return ScoringInput.build(cutoffs=[r.cutoff for r in records], profile=profile, known_since=known, events=events)


@dataclass(frozen=True)
class FieldChange:
    """A profile field set to ``value`` at ``time`` (from the field history)."""

    person: int
    field: str
    time: float
    value: object


def profile_as_of(
    changes: Sequence[FieldChange], cutoffs: Sequence[float] | np.ndarray, fields: Sequence[str]
) -> tuple[dict[str, list[object]], dict[str, np.ndarray]]:
    """Each field's value at each person's cut-off from a change history, and when it became known.

    The value is the last change at or before the cut-off; with none, the field is missing (None, NaN).
    """
    cut = np.asarray(cutoffs, dtype=np.float64)
    size = len(cut)
    values: dict[str, list[object]] = {}
    known: dict[str, np.ndarray] = {}
    for name in fields:
        rows = [c for c in changes if c.field == name]
        column: list[object] = [None] * size
        since = np.full(size, np.nan)
        if rows:
            person = np.array([c.person for c in rows], dtype=np.int64)
            time = np.array([c.time for c in rows], dtype=np.float64)
            if person.min() < 0 or person.max() >= size:
                raise ValidationFailed("A field change points at a person outside the input.", field=name, value=int(person.max()))
            visible = np.flatnonzero(time <= cut[person])
            order = visible[np.lexsort((time[visible], person[visible]))]
            # The last visible change per person: first occurrence in the reversed order.
            reversed_order = order[::-1]
            people, first = np.unique(person[reversed_order], return_index=True)
            for who, position in zip(people.tolist(), reversed_order[first].tolist(), strict=True):
                column[who] = rows[position].value
                since[who] = time[position]
        values[name] = column
        known[name] = since
    return values, known


def outcome_labels(
    cutoffs: Sequence[float] | np.ndarray,
    won_at: Sequence[float] | np.ndarray,
    *,
    horizon_days: float,
    now: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Training labels: (won within the horizon after the cut-off, outcome already known at ``now``).

    A person is usable for training when they were won in the horizon, or the horizon has fully passed.
    People already won at their cut-off are not usable (nothing left to predict).
    """
    if not (math.isfinite(horizon_days) and horizon_days > 0):
        raise ValidationFailed("The horizon must be a positive number of days.", field="horizon_days", value=horizon_days)
    cut = np.asarray(cutoffs, dtype=np.float64)
    won = np.asarray(won_at, dtype=np.float64)
    if len(won) != len(cut):
        raise ValidationFailed("won_at needs one value per person (NaN when not won).", field="won_at", value=len(won))
    horizon = horizon_days * SECONDS_PER_DAY
    has_won = ~np.isnan(won)
    already = has_won & (won <= cut)
    positive = has_won & (won > cut) & (won <= cut + horizon)
    usable = ~already & (positive | (cut + horizon <= now))
    return positive, usable


# Lead age: days from a person's arrival to the cut-off, counted up to the last training landmark. Open
# leads are scored "now", at any age, so the model must learn from people at several ages (landmarks),
# not only in their first week, and it must be told the age: that is what this column is.
LEAD_AGE = "lead_age_days"
LANDMARK_DAYS: tuple[float, ...] = (30.0, 90.0, 180.0, 365.0)


def lead_age_days(created: np.ndarray, cutoffs: np.ndarray, *, cap_days: float = LANDMARK_DAYS[-1]) -> np.ndarray:
    """Days from arrival to the cut-off, at least 0 and at most ``cap_days`` (the oldest age trained on)."""
    age = (np.asarray(cutoffs, dtype=np.float64) - np.asarray(created, dtype=np.float64)) / SECONDS_PER_DAY
    return np.clip(age, 0.0, cap_days)


def landmark_rows(
    created: np.ndarray,
    won_at: np.ndarray,
    lost_at: np.ndarray,
    *,
    ages_days: Sequence[float],
    now: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Training snapshots (person index, cut-off): each person at each age they reached while still open.

    A snapshot exists when arrival + age is not after ``now`` and the person had neither been won nor
    lost by then: only open leads get scored, so only open leads are learnt from. Ordered by age, then person.
    """
    born = np.asarray(created, dtype=np.float64)
    won = np.asarray(won_at, dtype=np.float64)
    lost = np.asarray(lost_at, dtype=np.float64)
    people: list[np.ndarray] = []
    cutoffs: list[np.ndarray] = []
    for age in sorted({float(a) for a in ages_days}):
        cut = born + age * SECONDS_PER_DAY
        with np.errstate(invalid="ignore"):
            still_open = ~(won <= cut) & ~(lost <= cut)  # NaN compares False: never closed
        keep = (cut <= now) & still_open
        people.append(np.flatnonzero(keep))
        cutoffs.append(cut[keep])
    return np.concatenate(people or [np.zeros(0, dtype=np.int64)]), np.concatenate(cutoffs or [np.zeros(0)])


def inputs_repeat(inputs: ScoringInput, rows: np.ndarray, cutoffs: np.ndarray) -> ScoringInput:
    """The people of ``rows`` (repeats allowed) with new cut-offs; each copy gets its person's events."""
    rows = np.asarray(rows, dtype=np.int64)
    events = inputs.events
    # Events grouped by person: copy k of person p takes p's whole block (the cut-off filters them later).
    order = np.argsort(events.person, kind="stable")
    counts = np.bincount(events.person, minlength=inputs.size) if len(events) else np.zeros(inputs.size, dtype=np.int64)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]]) if inputs.size else np.zeros(0, dtype=np.int64)
    taken = counts[rows]
    total = int(taken.sum())
    new_person = np.repeat(np.arange(len(rows)), taken)
    offsets = np.arange(total) - np.repeat(np.cumsum(taken) - taken, taken)
    picked = order[np.repeat(starts[rows], taken) + offsets] if total else np.zeros(0, dtype=np.int64)
    picked_rows = rows.tolist()
    table = EventTable(
        person=new_person,
        time=events.time[picked],
        kind=events.kind[picked],
        channel=events.channel[picked],
        campaign=events.campaign[picked],
    )
    return ScoringInput.build(
        cutoffs=cutoffs,
        profile={name: [column[i] for i in picked_rows] for name, column in inputs.profile.items()},
        known_since={name: times[rows] for name, times in inputs.known_since.items()},
        events=table,
    )


@dataclass(frozen=True)
class FeatureSpec:
    """Which inputs become features. Event kinds and channels are learned from data when None."""

    categorical: tuple[str, ...] = ()
    numeric: tuple[str, ...] = ()
    event_kinds: tuple[str, ...] | None = None
    channels: tuple[str, ...] | None = None
    windows_days: tuple[float, ...] = (7.0, 30.0)
    engagement: EngagementConfig | None = None
    fit: FitConfig | None = None
    labels: Mapping[str, str] = field(default_factory=dict)
    max_levels: int = 30
    min_level_count: int = 10
    use_events: bool = True
    extra_denylist: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "categorical", tuple(self.categorical))
        object.__setattr__(self, "numeric", tuple(self.numeric))
        object.__setattr__(self, "extra_denylist", tuple(self.extra_denylist))
        object.__setattr__(self, "labels", dict(self.labels))
        overlap = set(self.categorical) & set(self.numeric)
        if overlap:
            name = sorted(overlap)[0]
            raise ValidationFailed(f"'{name}' is listed as both categorical and numeric.", field="features", value=name)
        fit_fields = [rule.field for rule in self.fit.rules] if self.fit else []
        check_no_leakage([*self.categorical, *self.numeric, *fit_fields], extra_denylist=self.extra_denylist)
        if self.max_levels < 1 or self.min_level_count < 1:
            raise ValidationFailed("max_levels and min_level_count must be at least 1.", field="max_levels", value=self.max_levels)
        for days in self.windows_days:
            if not (math.isfinite(days) and days > 0):
                raise ValidationFailed("Event windows must be positive numbers of days.", field="windows_days", value=days)

    def label(self, key: str, default: str) -> str:
        return self.labels.get(key, default)

    def to_dict(self) -> dict[str, Any]:
        return {
            "categorical": list(self.categorical),
            "numeric": list(self.numeric),
            "event_kinds": None if self.event_kinds is None else list(self.event_kinds),
            "channels": None if self.channels is None else list(self.channels),
            "windows_days": list(self.windows_days),
            "engagement": None if self.engagement is None else self.engagement.to_dict(),
            "fit": None if self.fit is None else self.fit.to_dict(),
            "labels": dict(self.labels),
            "max_levels": self.max_levels,
            "min_level_count": self.min_level_count,
            "use_events": self.use_events,
            "extra_denylist": list(self.extra_denylist),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FeatureSpec:
        kinds = data.get("event_kinds")
        channels = data.get("channels")
        engagement = data.get("engagement")
        fit = data.get("fit")
        return cls(
            categorical=tuple(data.get("categorical", ())),
            numeric=tuple(data.get("numeric", ())),
            event_kinds=None if kinds is None else tuple(kinds),
            channels=None if channels is None else tuple(channels),
            windows_days=tuple(float(d) for d in data.get("windows_days", (7.0, 30.0))),
            engagement=None if engagement is None else EngagementConfig.from_dict(engagement),
            fit=None if fit is None else FitConfig.from_dict(fit),
            labels=dict(data.get("labels", {})),
            max_levels=int(data.get("max_levels", 30)),
            min_level_count=int(data.get("min_level_count", 10)),
            use_events=bool(data.get("use_events", True)),
            extra_denylist=tuple(data.get("extra_denylist", ())),
        )


GroupKind = Literal["onehot", "numeric"]


@dataclass(frozen=True)
class FeatureGroup:
    """Columns that come from one input (a profile field's one-hot levels, or one numeric feature)."""

    key: str
    label: str
    kind: GroupKind
    columns: tuple[int, ...]
    levels: tuple[str, ...] = ()
    unit: str = ""


@dataclass(frozen=True, eq=False)  # holds arrays
class FeatureMatrix:
    """Numeric features (NaN: unknown), their names and the groups explanations speak about."""

    values: np.ndarray
    names: tuple[str, ...]
    groups: tuple[FeatureGroup, ...]

    @property
    def shape(self) -> tuple[int, int]:
        return cast(tuple[int, int], self.values.shape)

    def take(self, rows: np.ndarray) -> FeatureMatrix:
        return FeatureMatrix(values=self.values[rows], names=self.names, groups=self.groups)


def _text_key(value: object) -> str:
    return str(value).strip().casefold()


def _visible_profile(inputs: ScoringInput, fields: Iterable[str]) -> dict[str, list[object]]:
    """Profile columns as known at each cut-off: a value known only after the cut-off becomes None."""
    out: dict[str, list[object]] = {}
    for name in fields:
        column = inputs.profile.get(name)
        if column is None:
            out[name] = [None] * inputs.size
            continue
        since = inputs.known_since.get(name)
        if since is None:
            out[name] = list(column)
            continue
        late = since > inputs.cutoffs  # NaN compares False: always known
        out[name] = [None if hide else value for value, hide in zip(column, late.tolist(), strict=True)]
    return out


def _visible_events(inputs: ScoringInput) -> EventTable:
    """Only the events at or before their person's cut-off."""
    events = inputs.events
    if not len(events):
        return events
    return events.take(events.time <= inputs.cutoffs[events.person])


def _as_float(value: object) -> float:
    if is_missing(value):
        return math.nan
    try:
        return float(cast(Any, value))
    except (TypeError, ValueError):
        return math.nan


def _numeric_column(column: Sequence[object]) -> np.ndarray:
    try:
        # Fast path: numbers and None (which numpy reads as NaN).
        return np.array(column, dtype=np.float64)
    except (TypeError, ValueError):
        return encode_values(column, _as_float, dtype=np.float64)


def _top_levels(values: Iterable[object], *, max_levels: int, min_count: int) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Most frequent case-insensitive levels (keys, display forms), ties broken alphabetically."""
    counts: Counter[str] = Counter()
    display: dict[str, str] = {}
    for value in values:
        if is_missing(value):
            continue
        key = _text_key(value)
        counts[key] += 1
        display.setdefault(key, str(value).strip())
    ranked = sorted((k for k, c in counts.items() if c >= min_count), key=lambda k: (-counts[k], k))[:max_levels]
    return tuple(ranked), tuple(display[k] for k in ranked)


def _level_coder(levels: Sequence[str]) -> Callable[[object], int]:
    """Value -> column index among ``levels`` (case-insensitive), len(levels) for 'other', -1 when missing."""
    code_of = {key: i for i, key in enumerate(levels)}
    other = len(code_of)

    def code(value: object) -> int:
        return -1 if is_missing(value) else code_of.get(_text_key(value), other)

    return code


def _default_kind_label(kind: str) -> str:
    text = kind.replace("_", " ").strip()
    return text[:1].upper() + text[1:]


@dataclass(frozen=True)
class FeatureBuilder:
    """A spec with the levels learned from training people; turns inputs into a ``FeatureMatrix``."""

    spec: FeatureSpec
    levels: Mapping[str, tuple[str, ...]]
    level_labels: Mapping[str, tuple[str, ...]]
    event_kinds: tuple[str, ...]
    channels: tuple[str, ...]
    has_campaigns: bool
    names: tuple[str, ...]
    groups: tuple[FeatureGroup, ...]

    @classmethod
    def fit(cls, spec: FeatureSpec, inputs: ScoringInput) -> FeatureBuilder:
        """Learn categorical levels, event kinds and channels from what was visible at the cut-offs.

        No outcome is used, so fitting on all people (training and validation) leaks nothing.
        """
        profile = _visible_profile(inputs, spec.categorical)
        levels: dict[str, tuple[str, ...]] = {}
        labels: dict[str, tuple[str, ...]] = {}
        for name in spec.categorical:
            levels[name], labels[name] = _top_levels(
                profile[name], max_levels=spec.max_levels, min_count=spec.min_level_count
            )
        events = _visible_events(inputs) if spec.use_events else EventTable.empty()
        if spec.event_kinds is not None:
            kinds = tuple(spec.event_kinds)
        else:
            kinds, _ = _top_levels(events.kind.tolist(), max_levels=spec.max_levels, min_count=spec.min_level_count)
            kinds = tuple(sorted(kinds))
        if spec.channels is not None:
            channels = tuple(spec.channels)
        else:
            found, _ = _top_levels(events.channel.tolist(), max_levels=spec.max_levels, min_count=spec.min_level_count)
            channels = tuple(sorted(found))
        has_campaigns = bool(len(events)) and any(not is_missing(c) for c in events.campaign.tolist())
        names, groups = cls._layout(spec, levels, labels, kinds, channels, has_campaigns, bool(len(events)))
        return cls(
            spec=spec,
            levels=levels,
            level_labels=labels,
            event_kinds=kinds,
            channels=channels,
            has_campaigns=has_campaigns,
            names=names,
            groups=groups,
        )

    @staticmethod
    def _layout(
        spec: FeatureSpec,
        levels: Mapping[str, tuple[str, ...]],
        labels: Mapping[str, tuple[str, ...]],
        kinds: tuple[str, ...],
        channels: tuple[str, ...],
        has_campaigns: bool,
        has_events: bool,
    ) -> tuple[tuple[str, ...], tuple[FeatureGroup, ...]]:
        names: list[str] = []
        groups: list[FeatureGroup] = []

        def add(key: str, label: str, kind: GroupKind, cols: list[str], group_levels: tuple[str, ...] = (), unit: str = "") -> None:
            start = len(names)
            names.extend(cols)
            groups.append(FeatureGroup(key, label, kind, tuple(range(start, len(names))), group_levels, unit))

        for name in spec.categorical:
            shown = (*labels[name], RARE_LEVEL)
            add(f"profile:{name}", spec.label(name, name), "onehot", [f"{name}={lvl}" for lvl in shown], shown)
        for name in spec.numeric:
            add(f"profile:{name}", spec.label(name, name), "numeric", [name])
        if spec.fit is not None:
            add("rule:fit", spec.label("rule:fit", "Profile fit points"), "numeric", ["fit_points"], unit="points")
        if spec.use_events and (has_events or spec.event_kinds is not None):
            for kind in kinds:
                add(f"kind:{kind}", spec.label(f"kind:{kind}", _default_kind_label(kind)), "numeric", [f"events:{kind}"], unit="times")
            add("kind:other", spec.label("kind:other", "Other activity"), "numeric", ["events:other"], unit="times")
            for channel in channels:
                label = spec.label(f"channel:{channel}", f"Touches via {channel}")
                add(f"channel:{channel}", label, "numeric", [f"channel:{channel}"], unit="times")
            for days in spec.windows_days:
                add(f"window:{days:g}", f"Activity in the last {days:g} days", "numeric", [f"events_last_{days:g}d"], unit="times")
            add("recency:last", "Days since the last activity", "numeric", ["days_since_last_event"], unit="days")
            add("recency:first", "Days since the first activity", "numeric", ["days_since_first_event"], unit="days")
            if has_campaigns:
                add("campaigns", "Campaigns touched", "numeric", ["distinct_campaigns"], unit="campaigns")
            if spec.engagement is not None:
                add("rule:engagement", spec.label("rule:engagement", "Engagement score"), "numeric", ["engagement"], unit="points")
        return tuple(names), tuple(groups)

    def transform(self, inputs: ScoringInput) -> FeatureMatrix:
        """The feature matrix at each person's cut-off (events after it and late profile values unseen)."""
        spec = self.spec
        wanted = [*spec.categorical, *spec.numeric, *(r.field for r in spec.fit.rules)] if spec.fit else [
            *spec.categorical,
            *spec.numeric,
        ]
        profile = _visible_profile(inputs, dict.fromkeys(wanted))
        events = _visible_events(inputs) if spec.use_events else EventTable.empty()
        return self._aggregate(inputs.cutoffs, profile, events)

    def _aggregate(self, cutoffs: np.ndarray, profile: Mapping[str, list[object]], events: EventTable) -> FeatureMatrix:
        # Only the already-cut-down profile and events arrive here: nothing after a cut-off exists.
        size = len(cutoffs)
        spec = self.spec
        values = np.zeros((size, len(self.names)), dtype=np.float64)
        group_at = {g.key: g for g in self.groups}
        for name in spec.categorical:
            group = group_at[f"profile:{name}"]
            codes = encode_values(profile[name], _level_coder(self.levels[name]))
            hit = codes >= 0
            values[np.flatnonzero(hit), np.asarray(group.columns)[codes[hit]]] = 1.0
        for name in spec.numeric:
            values[:, group_at[f"profile:{name}"].columns[0]] = _numeric_column(profile[name])
        if spec.fit is not None:
            values[:, group_at["rule:fit"].columns[0]] = fit_points_batch(profile, size, spec.fit)
        if "kind:other" in group_at:
            self._event_features(values, group_at, cutoffs, events)
        return FeatureMatrix(values=values, names=self.names, groups=self.groups)

    def _event_features(
        self, values: np.ndarray, group_at: Mapping[str, FeatureGroup], cutoffs: np.ndarray, events: EventTable
    ) -> None:
        size = len(cutoffs)
        person = events.person
        # Kinds and channels match case-insensitively, like profile values ("Webinar" is "webinar").
        kind_code = {_text_key(kind): i for i, kind in enumerate(self.event_kinds)}
        other = len(self.event_kinds)
        codes = encode_values(events.kind, lambda k: kind_code.get(_text_key(k), other))
        counts = np.bincount(person * (other + 1) + codes, minlength=size * (other + 1)).reshape(size, other + 1)
        for i, kind in enumerate(self.event_kinds):
            values[:, group_at[f"kind:{kind}"].columns[0]] = counts[:, i]
        values[:, group_at["kind:other"].columns[0]] = counts[:, other]
        if self.channels:
            channel_code = {_text_key(c): i for i, c in enumerate(self.channels)}
            ccodes = encode_values(events.channel, lambda c: channel_code.get(_text_key(c), -1))
            known = ccodes >= 0
            width = len(self.channels)
            per = np.bincount(person[known] * width + ccodes[known], minlength=size * width).reshape(size, width)
            for i, channel in enumerate(self.channels):
                values[:, group_at[f"channel:{channel}"].columns[0]] = per[:, i]
        age = cutoffs[person] - events.time
        for days in self.spec.windows_days:
            recent = age <= days * SECONDS_PER_DAY
            values[:, group_at[f"window:{days:g}"].columns[0]] = np.bincount(person[recent], minlength=size)
        last = np.full(size, -np.inf)
        first = np.full(size, np.inf)
        if len(events):
            np.maximum.at(last, person, events.time)
            np.minimum.at(first, person, events.time)
        with np.errstate(invalid="ignore"):
            values[:, group_at["recency:last"].columns[0]] = np.where(
                np.isfinite(last), (cutoffs - last) / SECONDS_PER_DAY, np.nan
            )
            values[:, group_at["recency:first"].columns[0]] = np.where(
                np.isfinite(first), (cutoffs - first) / SECONDS_PER_DAY, np.nan
            )
        if "campaigns" in group_at:
            campaign_code: dict[object, int] = {}

            def code(value: object) -> int:
                return -1 if is_missing(value) else campaign_code.setdefault(_text_key(value), len(campaign_code))

            gcodes = encode_values(events.campaign, code)
            given = gcodes >= 0
            width = max(len(campaign_code), 1)
            # Distinct (person, campaign) pairs by sorting: numpy's hash-based unique is ten times slower here.
            pairs = np.sort(person[given] * width + gcodes[given])
            if len(pairs):
                pairs = pairs[np.concatenate(([True], pairs[1:] != pairs[:-1]))]
            values[:, group_at["campaigns"].columns[0]] = np.bincount(pairs // width, minlength=size)
        if self.spec.engagement is not None:
            config = self.spec.engagement
            points = encode_values(events.kind, config.points_for, dtype=np.float64)
            weights = points * decay_weight(age, config.half_life_days)
            values[:, group_at["rule:engagement"].columns[0]] = np.bincount(person, weights=weights, minlength=size)

    def describe(self, group: FeatureGroup, row: np.ndarray) -> str:
        """Plain words for one person's value of a group (see ``describe_group``)."""
        return describe_group(group, row)


def describe_group(group: FeatureGroup, row: np.ndarray) -> str:
    """Plain words for one person's value of a group, e.g. 'Occupation: Student', 'Webinar attended: 2 times'."""
    return describe_many(group, np.asarray(row, dtype=np.float64)[None, list(group.columns)])[0]


def describe_many(group: FeatureGroup, block: np.ndarray) -> list[str]:
    """``describe_group`` for many people at once; ``block`` holds the group's columns (people × columns)."""
    if group.kind == "onehot":
        given = block > 0.5
        width = len(group.columns)
        # The last column gathers values too rare to get their own (a real value may be called "other").
        texts = [*(f"{group.label}: {level}" for level in group.levels[: width - 1]), f"{group.label}: a rare value",
                 f"{group.label}: not given"]
        codes = np.where(given.any(axis=1), np.argmax(given, axis=1), width)
        return [texts[c] for c in codes.tolist()]
    values = block[:, 0]
    if group.unit == "days":
        # Shown without decimals ("{:.0f}" rounds the same way, half to even); + 0.0 turns -0 into 0.
        values = np.rint(values) + 0.0
    # Counts and day numbers repeat a lot: word each distinct value once (NaN gets its own slot).
    distinct, codes = np.unique(values, return_inverse=True, equal_nan=True)
    texts = [_describe_number(group, v) for v in distinct.tolist()]
    return [texts[c] for c in codes.ravel().tolist()]


def _describe_number(group: FeatureGroup, value: float) -> str:
    if math.isnan(value):
        return f"{group.label}: none yet" if group.unit == "days" else f"{group.label}: unknown"
    if group.unit == "times":
        return f"{group.label}: never" if value == 0 else f"{group.label}: {value:g} time{'s' if value != 1 else ''}"
    if group.unit == "days":
        return f"{group.label}: {value:.0f}"
    return f"{group.label}: {_format_number(value)}"


def _format_number(value: float) -> str:
    """1532 -> '1,532', 2.5 -> '2.5', 0.1234 -> '0.123' (no scientific notation for a sales rep)."""
    if value.is_integer() or abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:.3g}"
