"""Attribution of conversions (won deals) and revenue to keys (channels or campaigns): pure numpy, no Django.

A journey is one person's touchpoints in time order, up to the close of their first won deal (all of them
if they never won). Many journeys are held column-wise in a `Journeys` (CSR-like: concatenated touch codes
plus per-journey offsets), so a million journeys are attributed without a Python loop over journeys.

Models (`attribute(journeys, model, ...)` dispatches on the name, see `MODELS`):

- rule-based shares of each converted journey: `first_touch`, `last_touch`, `linear`, `time_decay`,
  `position_based` (40/20/40) and `w_shaped` (30/30/30 + 10);
- data-driven shares: `markov` (first-order removal effect, exact absorbing-chain solve) and `shapley`
  (Shapley values of the conversion-rate game over each journey's channel set);
- `incremental`: a logistic conversion model on channel-touched indicators and the person's profile; a
  channel's incremental conversions are the summed drop in predicted probability when its touches are
  removed, with Poisson-bootstrap intervals.

Decisions (docs/reports.md, "Attribution", says the same for users):

- Each converted journey hands out exactly 1 conversion × its `count` and exactly its revenue, so the rows
  of every model except `incremental` add up to the totals.
- `revenue` is the total revenue of a journey row (over its `count`); it must be 0 when not converted.
- A converted journey without touches is credited to the key `(none)` (`NO_TOUCH`), a row that appears only
  when such conversions exist; the data-driven models are fitted on journeys with touches only.
- Repeated consecutive touches of the same key are kept: they count as touches in linear, time-decay,
  position-based and W-shaped, and as self-transitions in the Markov chain, where (first order) they cannot
  change any absorption probability, so the removal effects equal those of ChannelAttribution's chain,
  which drops self-transitions (its heuristic models keep repeated touches, as here).
- Time decay weights a touch by 2^(−age / half_life) with its age measured from the conversion; the shares
  are normalised per journey, so measuring from the conversion or from the last touch gives the same
  shares, and no conversion time is needed. Without touch times, a touch's time is its position (so the
  half-life is in touches).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from threadpoolctl import threadpool_limits

from tandem.core.errors import ValidationFailed

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
BoolArray = NDArray[np.bool_]

NO_TOUCH = "(none)"
HEURISTIC_MODELS = ("first_touch", "last_touch", "linear", "time_decay", "position_based", "w_shaped")
MODELS = (*HEURISTIC_MODELS, "markov", "shapley", "incremental")
DEFAULT_HALF_LIFE = 7.0
# Shapley enumerates the subsets of each converted journey's channel set: 2^20 subsets is the ceiling.
SHAPLEY_MAX_KEYS_PER_JOURNEY = 20
SHAPLEY_MAX_KEYS = 63


# ---------------------------------------------------------------------------------------------------------
# Data


def _fail(message: str, field_name: str, value: Any) -> ValidationFailed:
    return ValidationFailed(message, field=field_name, value=value)


def _as_1d(values: ArrayLike, dtype: type, name: str) -> NDArray[Any]:
    try:
        arr: NDArray[Any] = np.asarray(values, dtype=dtype)
    except (TypeError, ValueError) as exc:
        raise _fail(f"{name} must be numbers ({exc})", name, None) from exc
    if arr.ndim != 1:
        raise _fail(f"{name} must be one-dimensional, got shape {arr.shape}", name, arr.shape)
    return arr


@dataclass(frozen=True, eq=False)
class Journeys:
    """Many journeys in columns: touch codes and times concatenated, journey i is codes[offsets[i]:offsets[i+1]].

    keys: the names codes index (channels or campaigns). times: touch times in any unit shared with the
    time-decay half-life (days in Tandem), or None (then a touch's position is its time). converted, revenue
    (total over the row, 0 when not converted) and count (identical journeys the row stands for) are per
    journey. lead_index / opportunity_index: position within the journey of the touch that created the lead /
    the opportunity, −1 when absent (W-shaped). profile: a (journeys × features) matrix for the incremental
    model; use categorical or binned features so identical rows collapse.
    """

    keys: tuple[str, ...]
    codes: IntArray
    offsets: IntArray
    converted: BoolArray
    revenue: FloatArray
    count: IntArray
    times: FloatArray | None = None
    lead_index: IntArray | None = None
    opportunity_index: IntArray | None = None
    profile: FloatArray | None = None

    def __post_init__(self) -> None:
        keys = tuple(str(k) for k in self.keys)
        if len(set(keys)) != len(keys):
            raise _fail("keys must be unique", "keys", next(k for k in keys if keys.count(k) > 1))
        if NO_TOUCH in keys:
            raise _fail(f"{NO_TOUCH!r} is reserved for conversions without touches", "keys", NO_TOUCH)
        object.__setattr__(self, "keys", keys)
        codes = _as_1d(self.codes, np.int64, "codes")
        offsets = _as_1d(self.offsets, np.int64, "offsets")
        if offsets.size == 0 or offsets[0] != 0 or offsets[-1] != codes.size:
            raise _fail(
                f"offsets must start at 0 and end at the number of touches ({codes.size})",
                "offsets",
                None if offsets.size == 0 else int(offsets[-1]),
            )
        if np.any(np.diff(offsets) < 0):
            raise _fail("offsets must not decrease", "offsets", None)
        if codes.size and (codes.min() < 0 or codes.max() >= len(keys)):
            bad = int(codes.min()) if codes.min() < 0 else int(codes.max())
            raise _fail(f"touch codes must index keys (0..{len(keys) - 1})", "codes", bad)
        n = offsets.size - 1
        converted = _as_1d(self.converted, np.bool_, "converted")
        revenue = _as_1d(self.revenue, np.float64, "revenue")
        count = _as_1d(self.count, np.int64, "count")
        for name, arr in (("converted", converted), ("revenue", revenue), ("count", count)):
            if arr.size != n:
                raise _fail(f"{name} has {arr.size} values for {n} journeys", name, arr.size)
        if not np.all(np.isfinite(revenue)) or np.any(revenue < 0):
            raise _fail("revenue must be finite and not negative", "revenue", None)
        if np.any(revenue[~converted] != 0):
            raise _fail("revenue must be 0 for journeys that did not convert", "revenue", None)
        if np.any(count < 0):
            raise _fail("count must not be negative", "count", int(count.min()))
        if np.any(revenue[count == 0] != 0):
            raise _fail("revenue must be 0 for journeys with a count of 0", "revenue", None)
        object.__setattr__(self, "codes", codes)
        object.__setattr__(self, "offsets", offsets)
        object.__setattr__(self, "converted", converted)
        object.__setattr__(self, "revenue", revenue)
        object.__setattr__(self, "count", count)
        lengths = np.diff(offsets)
        if self.times is not None:
            times = _as_1d(self.times, np.float64, "times")
            if times.size != codes.size:
                raise _fail(f"times has {times.size} values for {codes.size} touches", "times", times.size)
            if not np.all(np.isfinite(times)):
                raise _fail("times must be finite", "times", None)
            jid = np.repeat(np.arange(n), lengths)
            if np.any((np.diff(times) < 0) & (jid[1:] == jid[:-1])):
                raise _fail("touches must be in time order within each journey", "times", None)
            object.__setattr__(self, "times", times)
        for name in ("lead_index", "opportunity_index"):
            raw = getattr(self, name)
            if raw is None:
                continue
            idx = _as_1d(raw, np.int64, name)
            if idx.size != n:
                raise _fail(f"{name} has {idx.size} values for {n} journeys", name, idx.size)
            if np.any(idx < -1) or np.any(idx >= lengths):
                raise _fail(f"{name} must be −1 or a position within its journey", name, None)
            object.__setattr__(self, name, idx)
        if self.profile is not None:
            profile = np.asarray(self.profile, dtype=np.float64)
            if profile.ndim == 1:
                profile = profile[:, None]
            if profile.ndim != 2 or profile.shape[0] != n:
                raise _fail(f"profile must have one row per journey ({n})", "profile", profile.shape)
            if not np.all(np.isfinite(profile)):
                raise _fail("profile must be finite", "profile", None)
            object.__setattr__(self, "profile", profile)

    @property
    def n_journeys(self) -> int:
        return int(self.offsets.size - 1)

    @property
    def lengths(self) -> IntArray:
        return np.diff(self.offsets)

    @classmethod
    def from_paths(
        cls,
        paths: Sequence[Sequence[str]],
        *,
        converted: Sequence[bool] | ArrayLike,
        revenue: ArrayLike | None = None,
        count: ArrayLike | None = None,
        times: Sequence[Sequence[float]] | None = None,
        lead_index: ArrayLike | None = None,
        opportunity_index: ArrayLike | None = None,
        profile: ArrayLike | None = None,
        keys: Sequence[str] | None = None,
    ) -> Journeys:
        """Journeys from lists of key names (one list per journey); keys default to the sorted names seen."""
        if keys is None:
            keys = sorted({k for path in paths for k in path})
        index = {k: i for i, k in enumerate(keys)}
        lengths = np.fromiter((len(p) for p in paths), dtype=np.int64, count=len(paths))
        offsets = np.zeros(len(paths) + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        try:
            codes = np.fromiter((index[k] for p in paths for k in p), dtype=np.int64, count=int(offsets[-1]))
        except KeyError as exc:
            raise _fail(f"touch key {exc.args[0]!r} is not among keys", "keys", exc.args[0]) from exc
        n = len(paths)
        flat_times = None
        if times is not None:
            if len(times) != n or any(len(t) != len(p) for t, p in zip(times, paths, strict=True)):
                raise _fail("times must have one time per touch of each path", "times", None)
            flat_times = np.fromiter((t for ts in times for t in ts), dtype=np.float64, count=int(offsets[-1]))
        return cls(
            keys=tuple(keys),
            codes=codes,
            offsets=offsets,
            converted=np.asarray(converted, dtype=bool),
            revenue=np.zeros(n) if revenue is None else np.asarray(revenue, dtype=np.float64),
            count=np.ones(n, dtype=np.int64) if count is None else np.asarray(count, dtype=np.int64),
            times=flat_times,
            lead_index=None if lead_index is None else np.asarray(lead_index, dtype=np.int64),
            opportunity_index=None if opportunity_index is None else np.asarray(opportunity_index, dtype=np.int64),
            profile=None if profile is None else np.asarray(profile, dtype=np.float64),
        )

    @classmethod
    def from_touches(
        cls,
        *,
        keys: Sequence[str],
        journey: ArrayLike,
        codes: ArrayLike,
        times: ArrayLike,
        converted: ArrayLike,
        revenue: ArrayLike,
        count: ArrayLike | None = None,
        cutoff: ArrayLike | None = None,
        lead_touch: ArrayLike | None = None,
        opportunity_touch: ArrayLike | None = None,
        profile: ArrayLike | None = None,
    ) -> Journeys:
        """Journeys from a touch table in any order: per touch its journey number, key code and time.

        Per journey: converted, revenue, count, profile and cutoff, the close time of its first won deal
        (NaN when it never won): touches after the cutoff are left out, so a journey ends at its conversion.
        lead_touch / opportunity_touch flag, per touch, the touch that created the lead / the opportunity
        (the earliest flagged touch kept counts). Sorting is by journey, then time, then table order.
        """
        conv = _as_1d(converted, np.bool_, "converted")
        n = conv.size
        jid = _as_1d(journey, np.int64, "journey")
        code = _as_1d(codes, np.int64, "codes")
        time = _as_1d(times, np.float64, "times")
        flags = {
            name: None if raw is None else _as_1d(raw, np.bool_, name)
            for name, raw in (("lead_touch", lead_touch), ("opportunity_touch", opportunity_touch))
        }
        for name, arr in (("codes", code), ("times", time), *flags.items()):
            if arr is not None and arr.size != jid.size:
                raise _fail(f"{name} has {arr.size} values for {jid.size} touches", name, arr.size)
        if jid.size and (jid.min() < 0 or jid.max() >= n):
            raise _fail(f"journey numbers must be 0..{n - 1} (one per converted flag)", "journey", None)
        keep = np.ones(jid.size, dtype=bool)
        if cutoff is not None:
            limit = _as_1d(cutoff, np.float64, "cutoff")
            if limit.size != n:
                raise _fail(f"cutoff has {limit.size} values for {n} journeys", "cutoff", limit.size)
            touch_limit = limit[jid]
            keep = np.isnan(touch_limit) | (time <= touch_limit)
        order = np.flatnonzero(keep)
        order = order[np.lexsort((time[order], jid[order]))]
        jid, code, time = jid[order], code[order], time[order]
        lengths = np.bincount(jid, minlength=n).astype(np.int64)
        offsets = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        pos = np.arange(jid.size, dtype=np.int64) - offsets[jid]
        milestones: dict[str, IntArray | None] = {}
        for name, flag in flags.items():
            if flag is None:
                milestones[name] = None
                continue
            flagged = flag[order]
            first = np.full(n, np.iinfo(np.int64).max, dtype=np.int64)
            np.minimum.at(first, jid[flagged], pos[flagged])
            milestones[name] = np.where(first == np.iinfo(np.int64).max, -1, first)
        return cls(
            keys=tuple(keys),
            codes=code,
            offsets=offsets,
            converted=conv,
            revenue=np.asarray(revenue, dtype=np.float64),
            count=np.ones(n, dtype=np.int64) if count is None else np.asarray(count, dtype=np.int64),
            times=time,
            lead_index=milestones["lead_touch"],
            opportunity_index=milestones["opportunity_touch"],
            profile=None if profile is None else np.asarray(profile, dtype=np.float64),
        )

    @classmethod
    def from_aggregated(
        cls,
        paths: Sequence[Sequence[str] | str],
        *,
        conversions: ArrayLike,
        conversion_value: ArrayLike,
        nulls: ArrayLike,
        sep: str = ">",
        keys: Sequence[str] | None = None,
    ) -> Journeys:
        """Journeys from aggregated path rows (ChannelAttribution's PathData shape), without expanding them.

        Row i stands for conversions[i] converted journeys (revenue conversion_value[i] in total) and nulls[i]
        journeys that did not convert, all along paths[i] (a list of names or a string split on `sep`); it
        becomes up to two journeys, one converted and one not (rows with a zero count are dropped).
        """
        split = [
            [part.strip() for part in p.split(sep) if part.strip()] if isinstance(p, str) else list(p) for p in paths
        ]
        conv = _as_1d(conversions, np.float64, "conversions")
        value = _as_1d(conversion_value, np.float64, "conversion_value")
        null = _as_1d(nulls, np.float64, "nulls")
        for name, arr in (("conversions", conv), ("conversion_value", value), ("nulls", null)):
            if arr.size != len(split):
                raise _fail(f"{name} has {arr.size} values for {len(split)} paths", name, arr.size)
        for name, arr in (("conversions", conv), ("nulls", null)):
            if np.any(arr < 0) or np.any(arr != np.round(arr)):
                raise _fail(f"{name} must be whole numbers, not negative", name, None)
        if np.any((conv == 0) & (value != 0)):
            raise _fail("conversion_value must be 0 on rows without conversions", "conversion_value", None)
        paths_out: list[list[str]] = []
        converted: list[bool] = []
        count: list[int] = []
        revenue: list[float] = []
        for path, c, v, nn in zip(split, conv.tolist(), value.tolist(), null.tolist(), strict=True):
            if c > 0:
                paths_out.append(path)
                converted.append(True)
                count.append(int(c))
                revenue.append(v)
            if nn > 0:
                paths_out.append(path)
                converted.append(False)
                count.append(int(nn))
                revenue.append(0.0)
        return cls.from_paths(
            paths_out,
            converted=converted,
            count=np.array(count, dtype=np.int64),
            revenue=revenue,
            keys=keys,
        )


@dataclass(frozen=True, eq=False)
class AttributionResult:
    """Credit per key (arrays aligned with keys); low/high and removal_effect only where the model has them."""

    model: str
    keys: tuple[str, ...]
    conversions: FloatArray
    revenue: FloatArray
    total_conversions: float
    total_revenue: float
    conversions_low: FloatArray | None = None
    conversions_high: FloatArray | None = None
    revenue_low: FloatArray | None = None
    revenue_high: FloatArray | None = None
    removal_effect: FloatArray | None = None
    params: dict[str, Any] = field(default_factory=dict)

    def to_rows(self) -> list[dict[str, Any]]:
        """JSON rows, most conversions first (ties by key): key, conversions, revenue and the optional columns."""
        optional = {
            name: getattr(self, name)
            for name in ("conversions_low", "conversions_high", "revenue_low", "revenue_high", "removal_effect")
            if getattr(self, name) is not None
        }
        order = sorted(range(len(self.keys)), key=lambda i: (-float(self.conversions[i]), self.keys[i]))
        rows = []
        for i in order:
            row: dict[str, Any] = {
                "key": self.keys[i],
                "conversions": float(self.conversions[i]),
                "revenue": float(self.revenue[i]),
            }
            for name, arr in optional.items():
                row[name] = None if math.isnan(arr[i]) else float(arr[i])
            rows.append(row)
        return rows

    def to_dict(self, *, by: str) -> dict[str, Any]:
        """The report's JSON shape: model, by (e.g. "channel" or "campaign"), totals and rows."""
        return {
            "model": self.model,
            "by": by,
            "total_conversions": float(self.total_conversions),
            "total_revenue": float(self.total_revenue),
            "rows": self.to_rows(),
        }


# ---------------------------------------------------------------------------------------------------------
# Shared plumbing


@dataclass(frozen=True)
class _Touches:
    """The touches of the converted journeys that have touches, with their journey's weights."""

    codes: IntArray
    pos: IntArray  # position within the journey
    jid: IntArray  # index into the selected journeys
    lengths: IntArray  # per selected journey
    starts: IntArray  # per selected journey, into codes
    conv: FloatArray  # per selected journey: count
    rev: FloatArray  # per selected journey
    journeys: IntArray  # per selected journey: index in the Journeys


def _converted_touches(j: Journeys) -> _Touches:
    lengths = j.lengths
    sel = np.flatnonzero(j.converted & (lengths > 0) & (j.count > 0))
    sel_len = lengths[sel]
    n_touch = int(sel_len.sum())
    jid = np.repeat(np.arange(sel.size, dtype=np.int64), sel_len)
    sel_starts = np.zeros(sel.size, dtype=np.int64)
    if sel.size:
        np.cumsum(sel_len[:-1], out=sel_starts[1:])
    pos = np.arange(n_touch, dtype=np.int64) - sel_starts[jid]
    src = j.offsets[sel][jid] + pos
    return _Touches(
        codes=j.codes[src],
        pos=pos,
        jid=jid,
        lengths=sel_len,
        starts=sel_starts,
        conv=j.count[sel].astype(np.float64),
        rev=j.revenue[sel],
        journeys=sel,
    )


def _exact_sum(values: FloatArray) -> float:
    """The correctly rounded sum: independent of order and of zeros in between, so journeys that earn
    nothing (non-converted ones, which a database may leave out or group) cannot change a total's last bit."""
    return math.fsum(values[values != 0].tolist())


def _totals(j: Journeys) -> tuple[float, float, float, float]:
    """Total conversions and revenue, and the part of each from converted journeys without touches."""
    weight = np.where(j.converted, j.count, 0).astype(np.float64)
    empty = j.lengths == 0
    return (
        _exact_sum(weight),
        _exact_sum(j.revenue),
        _exact_sum(weight[empty]),
        _exact_sum(j.revenue[empty]),
    )


def _result(
    model: str,
    j: Journeys,
    conversions: FloatArray,
    revenue: FloatArray,
    *,
    params: dict[str, Any] | None = None,
    removal_effect: FloatArray | None = None,
) -> AttributionResult:
    """Wrap per-key credits, appending the `(none)` row when converted journeys without touches exist."""
    total_conv, total_rev, none_conv, none_rev = _totals(j)
    keys = j.keys
    if none_conv > 0:
        keys = (*keys, NO_TOUCH)
        conversions = np.append(conversions, none_conv)
        revenue = np.append(revenue, none_rev)
        if removal_effect is not None:
            removal_effect = np.append(removal_effect, np.nan)
    return AttributionResult(
        model=model,
        keys=keys,
        conversions=conversions,
        revenue=revenue,
        total_conversions=total_conv,
        total_revenue=total_rev,
        removal_effect=removal_effect,
        params=params or {},
    )


def _credit(model: str, j: Journeys, t: _Touches, share: FloatArray, params: dict[str, Any]) -> AttributionResult:
    """Hand out each converted journey's conversions and revenue along per-touch shares (summing to 1)."""
    k = len(j.keys)
    conversions = np.bincount(t.codes, weights=share * t.conv[t.jid], minlength=k).astype(np.float64)
    revenue = np.bincount(t.codes, weights=share * t.rev[t.jid], minlength=k).astype(np.float64)
    return _result(model, j, conversions, revenue, params=params)


# ---------------------------------------------------------------------------------------------------------
# Rule-based models


def first_touch(journeys: Journeys) -> AttributionResult:
    """All credit of a converted journey to its first touch."""
    t = _converted_touches(journeys)
    return _credit("first_touch", journeys, t, (t.pos == 0).astype(np.float64), {})


def last_touch(journeys: Journeys) -> AttributionResult:
    """All credit of a converted journey to its last touch."""
    t = _converted_touches(journeys)
    return _credit("last_touch", journeys, t, (t.pos == t.lengths[t.jid] - 1).astype(np.float64), {})


def linear(journeys: Journeys) -> AttributionResult:
    """Equal credit to every touch of a converted journey (1/n each)."""
    t = _converted_touches(journeys)
    return _credit("linear", journeys, t, 1.0 / t.lengths[t.jid], {})


def time_decay(journeys: Journeys, *, half_life: float = DEFAULT_HALF_LIFE) -> AttributionResult:
    """Credit ∝ 2^(−age/half_life), age = conversion time − touch time; shares normalised per journey."""
    half_life = _check_half_life(half_life)
    t = _converted_touches(journeys)
    if journeys.times is None:
        times = t.pos.astype(np.float64)
    else:
        times = journeys.times[journeys.offsets[t.journeys][t.jid] + t.pos]
    last = times[t.starts + t.lengths - 1] if t.lengths.size else np.zeros(0)
    # Measured from the last touch the newest weight is 1, so the sum never underflows; the common factor
    # 2^(−(conversion − last touch)/half_life) cancels in the normalisation.
    weight = np.exp2(-(last[t.jid] - times) / half_life)
    total = np.bincount(t.jid, weights=weight, minlength=t.lengths.size)
    return _credit("time_decay", journeys, t, weight / total[t.jid], {"half_life": half_life})


def position_based(journeys: Journeys) -> AttributionResult:
    """40 % first, 40 % last, 20 % split over the middle; 1 touch gets 100 %, 2 touches 50/50."""
    t = _converted_touches(journeys)
    n = t.lengths[t.jid]
    ends = (t.pos == 0) | (t.pos == n - 1)
    middle = np.maximum(n - 2, 1).astype(np.float64)
    share = np.where(n == 1, 1.0, np.where(n == 2, 0.5, np.where(ends, 0.4, 0.2 / middle)))
    return _credit("position_based", journeys, t, share, {})


def w_shaped(journeys: Journeys) -> AttributionResult:
    """30 % each to the first, lead-creation and opportunity-creation touches, 10 % over the other touches.

    Coinciding milestones merge their shares (lead created by the first touch: 60 %). A missing milestone
    (index −1) drops out and the milestones present share the 90 % equally (only the first touch: 90 %).
    With no other touch, the milestones present share 100 % equally instead.
    """
    t = _converted_touches(journeys)
    n_sel = t.lengths.size
    lead = np.full(n_sel, -1, dtype=np.int64)
    opp = np.full(n_sel, -1, dtype=np.int64)
    if journeys.lead_index is not None:
        lead = journeys.lead_index[t.journeys]
    if journeys.opportunity_index is not None:
        opp = journeys.opportunity_index[t.journeys]
    slots = 1 + (lead >= 0) + (opp >= 0)
    pos = t.pos
    hits = (pos == 0).astype(np.int64) + (pos == lead[t.jid]) + (pos == opp[t.jid])
    others = np.bincount(t.jid, weights=(hits == 0).astype(np.float64), minlength=n_sel)
    milestone_total = np.where(others > 0, 0.9, 1.0)
    per_slot = milestone_total / slots
    other_share = np.where(others > 0, 0.1 / np.maximum(others, 1.0), 0.0)
    share = np.where(hits > 0, hits * per_slot[t.jid], other_share[t.jid])
    return _credit("w_shaped", journeys, t, share, {})


def _check_half_life(half_life: float) -> float:
    try:
        value = float(half_life)
    except (TypeError, ValueError) as exc:
        raise _fail(f"half_life must be a number, got {half_life!r}", "half_life", half_life) from exc
    if not math.isfinite(value) or value <= 0:
        raise _fail(f"half_life must be a positive number, got {half_life!r}", "half_life", half_life)
    return value


# ---------------------------------------------------------------------------------------------------------
# Markov


@dataclass(frozen=True)
class MarkovChain:
    """First-order chain: state 0 is start, state 1+k is key k; transition probabilities to absorption."""

    transient: FloatArray  # (K+1, K+1) probabilities between start and keys
    to_conversion: FloatArray  # (K+1,)
    to_null: FloatArray  # (K+1,)
    conversions: float  # conversions of the journeys with touches
    revenue: float


def markov_transition_counts(journeys: Journeys) -> FloatArray:
    """Transitions counted (weighted by count) over the journeys with touches: a (K+1) × (K+3) matrix whose
    rows are start and the keys, columns start (never a target), the keys, conversion and null."""
    j = journeys
    k = len(j.keys)
    lengths = j.lengths
    sel = np.flatnonzero((lengths > 0) & (j.count > 0))
    weight = j.count[sel].astype(np.float64)
    first = j.codes[j.offsets[sel]]
    last = j.codes[j.offsets[sel] + lengths[sel] - 1]
    conv = j.converted[sel]
    counts = np.zeros((k + 1, k + 3))
    counts[0, 1 : k + 1] = np.bincount(first, weights=weight, minlength=k)
    # A touch has a successor within its journey unless it is the journey's last touch.
    has_next = np.ones(j.codes.size, dtype=bool)
    has_next[j.offsets[1:][lengths > 0] - 1] = False
    touch_weight = np.repeat(j.count.astype(np.float64), lengths)
    src = np.flatnonzero(has_next & (touch_weight > 0))
    pairs = j.codes[src] * k + j.codes[src + 1]
    counts[1 : k + 1, 1 : k + 1] = np.bincount(pairs, weights=touch_weight[src], minlength=k * k).reshape(k, k)
    counts[1 : k + 1, k + 1] = np.bincount(last[conv], weights=weight[conv], minlength=k)
    counts[1 : k + 1, k + 2] = np.bincount(last[~conv], weights=weight[~conv], minlength=k)
    return counts


def _chain_of_counts(counts: FloatArray, j: Journeys) -> MarkovChain:
    k = len(j.keys)
    sel = (j.lengths > 0) & (j.count > 0)
    out = counts.sum(axis=1)
    prob = counts / np.where(out > 0, out, 1.0)[:, None]
    return MarkovChain(
        transient=prob[:, : k + 1].copy(),
        to_conversion=prob[:, k + 1].copy(),
        to_null=prob[:, k + 2].copy(),
        conversions=_exact_sum(np.where(j.converted[sel], j.count[sel], 0).astype(np.float64)),
        revenue=_exact_sum(j.revenue[sel]),
    )


def markov_chain(journeys: Journeys) -> MarkovChain:
    """Transition probabilities counted (weighted by count) from the journeys that have touches."""
    return _chain_of_counts(markov_transition_counts(journeys), journeys)


def markov_removal_effects(chain: MarkovChain) -> tuple[float, FloatArray]:
    """P(conversion) from start, and per key 1 − P(conversion with the key removed) / P(conversion).

    Absorption probabilities x solve (I − Q) x = r (Q: transient block, r: one-step conversion). Removing
    key k redirects all its transitions to null: its row becomes x_k = 0. One dense solve per key.
    """
    q = chain.transient
    r = chain.to_conversion
    size = q.shape[0]
    k = size - 1
    a = np.eye(size) - q
    base = float(np.linalg.solve(a, r)[0]) if size else 0.0
    if base <= 0 or k == 0:
        return base, np.zeros(k)
    stacked = np.broadcast_to(a, (k, size, size)).copy()
    rhs = np.broadcast_to(r, (k, size)).copy()
    states = np.arange(1, size)
    stacked[np.arange(k), states, :] = 0.0
    stacked[np.arange(k), states, states] = 1.0
    rhs[np.arange(k), states] = 0.0
    removed = np.linalg.solve(stacked, rhs[:, :, None])[:, 0, 0]
    effect: FloatArray = np.asarray(1.0 - removed / base, dtype=np.float64)
    return base, effect


def markov(journeys: Journeys) -> AttributionResult:
    """Conversions (and revenue) of journeys with touches shared in proportion to each key's removal effect."""
    return markov_with_counts(journeys, None)


def markov_with_counts(journeys: Journeys, unconverted_counts: ArrayLike | None) -> AttributionResult:
    """`markov` of journeys plus further non-converted journeys given only by their transition counts.

    unconverted_counts: a (K+1) × (K+3) matrix laid out as `markov_transition_counts` (e.g. counted by a
    database: start → first key, key → next key, last key → null); its conversion column must be 0. The
    counts add to those of `journeys`, so the result equals `markov` on all the journeys together exactly.
    """
    counts = markov_transition_counts(journeys)
    if unconverted_counts is not None:
        extra = np.asarray(unconverted_counts, dtype=np.float64)
        if extra.shape != counts.shape:
            raise _fail(f"unconverted_counts must have shape {counts.shape}, got {extra.shape}", "unconverted_counts", extra.shape)
        if np.any(extra < 0) or np.any(extra != np.round(extra)) or np.any(extra[:, len(journeys.keys) + 1] != 0):
            raise _fail(
                "unconverted_counts must be whole numbers ≥ 0 with no transition to conversion", "unconverted_counts", None
            )
        counts = counts + extra
    chain = _chain_of_counts(counts, journeys)
    base, effect = markov_removal_effects(chain)
    total_effect = float(effect.sum())
    share = effect / total_effect if total_effect > 0 else np.zeros_like(effect)
    return _result(
        "markov",
        journeys,
        chain.conversions * share,
        chain.revenue * share,
        removal_effect=effect,
        params={"conversion_probability": base},
    )


# ---------------------------------------------------------------------------------------------------------
# Shapley


def _journey_masks(j: Journeys) -> tuple[NDArray[np.uint64], IntArray]:
    """Per journey, its set of keys as a bitmask over the touched keys; and which key each bit stands for."""
    used = np.flatnonzero(np.bincount(j.codes, minlength=len(j.keys)) > 0)
    if used.size > SHAPLEY_MAX_KEYS:
        raise _fail(
            f"Shapley attribution handles at most {SHAPLEY_MAX_KEYS} touched keys, got {used.size}; "
            "attribute by channel or a narrower set of campaigns",
            "keys",
            int(used.size),
        )
    bit = np.full(len(j.keys), -1, dtype=np.int64)
    bit[used] = np.arange(used.size)
    touch_bits = np.left_shift(np.uint64(1), bit[j.codes].astype(np.uint64))
    masks = np.zeros(j.n_journeys, dtype=np.uint64)
    nonempty = j.lengths > 0
    if touch_bits.size:
        masks[nonempty] = np.bitwise_or.reduceat(touch_bits, j.offsets[:-1][nonempty])
    return masks, used


def _popcount(values: NDArray[np.uint64]) -> IntArray:
    v = values.astype(np.uint64)
    v = v - ((v >> np.uint64(1)) & np.uint64(0x5555555555555555))
    v = (v & np.uint64(0x3333333333333333)) + ((v >> np.uint64(2)) & np.uint64(0x3333333333333333))
    v = (v + (v >> np.uint64(4))) & np.uint64(0x0F0F0F0F0F0F0F0F)
    return ((v * np.uint64(0x0101010101010101)) >> np.uint64(56)).astype(np.int64)


def _shapley_coefficients(size: int) -> FloatArray:
    """C[i, s]: weight of v(subset s) in the Shapley value of member i of a size-member game.

    φ_i = Σ_{S ∌ i} |S|!(n−|S|−1)!/n! (v(S ∪ i) − v(S)), regrouped by subset: + w(|s|−1) when i ∈ s,
    − w(|s|) when i ∉ s.
    """
    subsets = np.arange(1 << size, dtype=np.int64)
    members = (subsets[None, :] >> np.arange(size)[:, None]) & 1
    sizes = members.sum(axis=0)
    w = np.array(
        [math.factorial(s) * math.factorial(size - s - 1) / math.factorial(size) for s in range(size)] + [0.0]
    )
    return np.where(members == 1, w[np.maximum(sizes - 1, 0)], -w[np.minimum(sizes, size)])


def shapley(journeys: Journeys) -> AttributionResult:
    """Each converted journey's credit split by Shapley values of the conversion-rate game on its channel set.

    v(S) = conversion rate (count-weighted) of the journeys whose set of touched keys is exactly S, and
    v(S) = 0 when no journey has exactly S (v(∅) = 0). For a converted journey with key set T, key i ∈ T
    gets φ_i(T) / v(T), where φ(T) are the Shapley values of v restricted to subsets of T; they sum to
    v(T) − v(∅) = v(T) > 0, so the journey hands out exactly one conversion. A key whose presence lowers the
    observed conversion rate can receive a negative share. Exact: every subset of T is enumerated.
    """
    j = journeys
    k = len(j.keys)
    masks, used = _journey_masks(j)
    weight = j.count.astype(np.float64)
    conv_weight = np.where(j.converted, weight, 0.0)
    unique, inverse = np.unique(masks, return_inverse=True)
    journeys_n = np.bincount(inverse, weights=weight, minlength=unique.size)
    conv_n = np.bincount(inverse, weights=conv_weight, minlength=unique.size)
    rev_n = np.bincount(inverse, weights=j.revenue, minlength=unique.size)
    rate = np.where(journeys_n > 0, conv_n / np.where(journeys_n > 0, journeys_n, 1.0), 0.0)
    rate[unique == 0] = 0.0
    conversions = np.zeros(k)
    revenue = np.zeros(k)
    targets = np.flatnonzero((conv_n > 0) & (unique != 0))
    sizes = _popcount(unique[targets])
    too_big = sizes > SHAPLEY_MAX_KEYS_PER_JOURNEY
    if np.any(too_big):
        raise _fail(
            f"Shapley attribution handles journeys touching at most {SHAPLEY_MAX_KEYS_PER_JOURNEY} distinct keys",
            "keys",
            int(sizes.max()),
        )
    shifts = np.arange(64, dtype=np.uint64)
    for size in np.unique(sizes):
        group = targets[sizes == size]
        coef = _shapley_coefficients(int(size))  # (size, 2^size)
        subset_ids = np.arange(1 << int(size), dtype=np.int64)
        member = ((subset_ids[:, None] >> np.arange(int(size))[None, :]) & 1).astype(bool)  # (2^size, size)
        chunk = max(1, 4_000_000 >> int(size))
        for start in range(0, group.size, chunk):
            part = group[start : start + chunk]
            bits = ((unique[part][:, None] >> shifts[None, :]) & np.uint64(1)).astype(bool)
            positions = np.nonzero(bits)[1].reshape(part.size, int(size))  # bit numbers, ascending
            bit_values = np.left_shift(np.uint64(1), positions.astype(np.uint64))
            subsets = np.zeros((part.size, 1 << int(size)), dtype=np.uint64)
            for i in range(int(size)):
                subsets |= np.where(member[None, :, i], bit_values[:, i : i + 1], np.uint64(0))
            where = np.searchsorted(unique, subsets)
            where = np.minimum(where, unique.size - 1)
            values = np.where(unique[where] == subsets, rate[where], 0.0)
            phi = values @ coef.T  # (part, size)
            share = phi / rate[part][:, None]
            key_index = used[positions]
            np.add.at(conversions, key_index.ravel(), (share * conv_n[part][:, None]).ravel())
            np.add.at(revenue, key_index.ravel(), (share * rev_n[part][:, None]).ravel())
    return _result("shapley", j, conversions, revenue)


# ---------------------------------------------------------------------------------------------------------
# Incremental (model-based)


def _distinct_rows(indicators: BoolArray, profile: FloatArray | None) -> tuple[IntArray, IntArray]:
    """Group identical (indicators, profile) rows: each row's group, and one row standing for each group.

    np.unique(axis=0) sorts rows as opaque bytes, seconds for a million rows; packing the indicators into
    bytes and coding each profile column, then folding the columns into one integer, sorts integers only.
    """
    n = indicators.shape[0]
    binary = np.zeros((n, 0), dtype=bool)
    coded: list[IntArray] = []
    if profile is not None:
        # One-hot (0/1) profile columns are packed with the indicators: one sort per other column only.
        is_binary = np.all((profile == 0.0) | (profile == 1.0), axis=0)
        binary = profile[:, is_binary] == 1.0
        coded = [
            np.unique(col, return_inverse=True)[1].ravel().astype(np.int64) for col in profile[:, ~is_binary].T
        ]
    columns = [col.astype(np.int64) for col in np.packbits(np.hstack([indicators, binary]), axis=1).T] + coded
    code = np.zeros(n, dtype=np.int64)
    for col in columns:
        radix = int(col.max()) + 1 if col.size else 1
        if int(code.max(initial=0)) >= (1 << 62) // radix:
            code = np.unique(code, return_inverse=True)[1].ravel().astype(np.int64)
        code = code * radix + col
    _, first, inverse = np.unique(code, return_index=True, return_inverse=True)
    return inverse.ravel().astype(np.int64), first.astype(np.int64)


@dataclass(frozen=True)
class _Logit:
    """A fitted logistic regression: coefficients (1 × features) and intercept (1,), sklearn's layout; the
    Cholesky factor of the objective's Hessian at the fit; the steps taken."""

    coef_: FloatArray
    intercept_: FloatArray
    hessian_factor: Any
    iterations: int


def _logistic_fit(
    features: FloatArray, ones: FloatArray, zeros: FloatArray, regularization: float, start: _Logit | None = None
) -> _Logit:
    """L2-penalised logistic regression on grouped rows, solved to a gradient below 1e-9 per unit of weight.

    Minimises Σ_i [n_i·log(1 + e^{z_i}) − y_i·z_i] + regularization·‖β‖²/2 with z = Xβ + b, where y_i and
    n_i = y_i + zeros_i are a row's converted and total weights and the intercept b is not penalised: the
    objective sklearn's LogisticRegression(C=1/regularization) minimises on the expanded rows, but each
    distinct row is visited once. From scratch: Newton's method with the exact Hessian and a backtracking
    line search. Warm-started from `start` (a bootstrap refit): steps with start's Hessian (the chord
    method), each costing one gradient instead of a Hessian; a resample's Hessian is within a few percent of
    the full data's, so each step cuts the error ~20-fold; if that fails to converge, Newton takes over.
    """
    from scipy.linalg import cho_factor, cho_solve

    keep = (ones + zeros) > 0
    x = np.hstack([features[keep], np.ones((int(keep.sum()), 1))])
    y = ones[keep]
    n = y + zeros[keep]
    width = x.shape[1]
    penalty = np.full(width, float(regularization))
    penalty[-1] = 0.0
    tol = 1e-9 * max(float(n.sum()), 1.0)

    def gradient(t: FloatArray) -> tuple[FloatArray, FloatArray]:
        mu = _sigmoid(x @ t)
        return x.T @ (n * mu - y) + penalty * t, mu

    def objective(t: FloatArray) -> float:
        z = x @ t
        return float(n @ np.logaddexp(0.0, z) - y @ z + 0.5 * (penalty * t) @ t)

    def factor(mu: FloatArray) -> Any:
        root = np.sqrt(n * mu * (1.0 - mu))[:, None] * x
        hessian = root.T @ root
        hessian[np.diag_indices(width)] += penalty
        # Fitted probabilities of exactly 0 or 1 leave the unpenalised intercept without curvature: a tiny
        # ridge keeps the step defined (the line search still decides how far to go).
        jitter = 0.0
        while True:
            try:
                return cho_factor(hessian + jitter * np.eye(width))
            except np.linalg.LinAlgError:
                jitter = max(jitter * 100.0, 1e-10 * max(float(np.trace(hessian)) / width, 1.0))

    iterations = 0
    theta = np.zeros(width)
    if start is not None:
        origin = np.append(start.coef_[0], start.intercept_[0])
        theta = origin
        smallest = np.inf
        for _ in range(30):
            grad, mu = gradient(theta)
            size = float(np.abs(grad).max())
            if size <= tol:
                return _Logit(theta[None, :-1].copy(), theta[-1:].copy(), start.hessian_factor, iterations)
            # The gradient's largest entry may wobble while the steps converge; growing tenfold means they
            # diverge (the start's Hessian is too far off): Newton from the start instead.
            if size > 10.0 * smallest:
                theta = origin
                break
            smallest = min(smallest, size)
            theta = theta - cho_solve(start.hessian_factor, grad)
            iterations += 1
    current = objective(theta)
    for _ in range(100):
        grad, mu = gradient(theta)
        fac = factor(mu)
        if np.abs(grad).max() <= tol:
            break
        step = cho_solve(fac, grad)
        decrement = float(grad @ step)
        size = 1.0
        while True:
            trial = theta - size * step
            value = objective(trial)
            if value <= current - 0.25 * size * decrement or size < 1e-10:
                break
            size *= 0.5
        theta, current = trial, value
        iterations += 1
    return _Logit(theta[None, :-1].copy(), theta[-1:].copy(), fac, iterations)


def _sigmoid(z: FloatArray) -> FloatArray:
    out: FloatArray = 0.5 * (1.0 + np.tanh(0.5 * z))
    return out


def _incremental_conversions(
    model: _Logit, features: FloatArray, touched: NDArray[np.bool_], weight: FloatArray, n_keys: int
) -> FloatArray:
    """Σ over patterns touching key c of weight × [p(x) − p(x with c's indicator set to 0)], per c."""
    coef = model.coef_[0]
    z = features @ coef + model.intercept_[0]
    p = _sigmoid(z)
    out = np.zeros(n_keys)
    for c in range(n_keys):
        rows = touched[:, c]
        if rows.any():
            drop = p[rows] - _sigmoid(z[rows] - coef[c])
            out[c] = float(weight[rows] @ drop)
    return out


def incremental(
    journeys: Journeys,
    *,
    bootstrap: int = 200,
    level: float = 0.9,
    seed: int = 0,
    regularization: float = 1.0,
) -> AttributionResult:
    """Conversions each key caused by the model: Σ over journeys touching it of p(x) − p(x without its touches).

    A logistic regression of conversion on key-touched indicators and the profile features, fitted on the
    distinct feature rows with their converted / not-converted counts as weights (L2 penalty
    `regularization`·‖β‖²/2, negligible against thousands of journeys). Intervals: Poisson bootstrap (each
    journey reweighted by Poisson(1), i.e. each pattern's counts redrawn as Poisson(count)), refit, and the
    (1 − level)/2 and (1 + level)/2 quantiles. Revenue: incremental conversions × the average revenue per
    conversion of the converted journeys touching the key. Rows need not add up to the total: the rest is
    the baseline (conversions that would have happened anyway) and interactions.
    """
    j = journeys
    if isinstance(bootstrap, bool) or not isinstance(bootstrap, int | np.integer) or bootstrap < 0:
        raise _fail(f"bootstrap must be a whole number ≥ 0, got {bootstrap!r}", "bootstrap", bootstrap)
    if not 0.0 < float(level) < 1.0:
        raise _fail(f"level must be between 0 and 1 (exclusive), got {level!r}", "level", level)
    if not float(regularization) > 0:
        raise _fail(f"regularization must be positive, got {regularization!r}", "regularization", regularization)
    k = len(j.keys)
    n = j.n_journeys
    jid = np.repeat(np.arange(n, dtype=np.int64), j.lengths)
    touched_keys = np.zeros((n, k), dtype=bool)
    touched_keys[jid, j.codes] = True
    used = np.flatnonzero(touched_keys.any(axis=0))
    inverse, first = _distinct_rows(touched_keys[:, used], j.profile)
    patterns = touched_keys[first][:, used].astype(np.float64)
    if j.profile is not None:
        patterns = np.hstack([patterns, j.profile[first]])
    weight = j.count.astype(np.float64)
    ones: FloatArray = np.bincount(
        inverse, weights=np.where(j.converted, weight, 0.0), minlength=first.size
    ).astype(np.float64)
    zeros: FloatArray = np.bincount(
        inverse, weights=np.where(j.converted, 0.0, weight), minlength=first.size
    ).astype(np.float64)
    total_conv, total_rev, _, _ = _totals(j)
    conversions = np.zeros(k)
    low = np.zeros(k)
    high = np.zeros(k)
    avg_revenue = np.zeros(k)
    params: dict[str, Any] = {"bootstrap": bootstrap, "level": level, "seed": seed, "regularization": regularization}
    if used.size and ones.sum() > 0 and zeros.sum() > 0:
        touched = patterns[:, : used.size] > 0.5
        # The fits multiply (patterns × ~50) matrices: a multithreaded BLAS only adds thread handoffs there,
        # and on a busy server (several workers per core) its spinning threads made each product 10–60×
        # slower than one thread (docs/benchmarks.md, "Incremental attribution").
        with threadpool_limits(limits=1, user_api="blas"):
            model = _logistic_fit(patterns, ones, zeros, float(regularization))
            point = _incremental_conversions(model, patterns, touched, ones + zeros, used.size)
            conversions[used] = point
            if bootstrap > 0:
                rng = np.random.default_rng(seed)
                draws = np.empty((bootstrap, used.size))
                for b in range(bootstrap):
                    ones_b = rng.poisson(ones).astype(np.float64)
                    zeros_b = rng.poisson(zeros).astype(np.float64)
                    if ones_b.sum() == 0 or zeros_b.sum() == 0:
                        # A resample where everyone (or no one) converted: every touch changes nothing.
                        draws[b] = 0.0
                        continue
                    fit_b = _logistic_fit(patterns, ones_b, zeros_b, float(regularization), start=model)
                    draws[b] = _incremental_conversions(fit_b, patterns, touched, ones_b + zeros_b, used.size)
                low[used] = np.quantile(draws, (1.0 - level) / 2.0, axis=0)
                high[used] = np.quantile(draws, (1.0 + level) / 2.0, axis=0)
            else:
                low[used] = high[used] = point
        conv_w = np.where(j.converted, weight, 0.0)
        key_conv = touched_keys.T.astype(np.float64) @ conv_w
        # Correctly rounded per key: grouping identical non-converted journeys leaves every figure unchanged.
        earning = np.flatnonzero(j.revenue != 0)
        key_rev = np.array([_exact_sum(j.revenue[earning][touched_keys[earning, c]]) for c in range(k)])
        avg_revenue = np.where(key_conv > 0, key_rev / np.where(key_conv > 0, key_conv, 1.0), 0.0)
        params["coefficients"] = dict(
            zip([j.keys[c] for c in used], (float(v) for v in model.coef_[0][: used.size]), strict=True)
        )
    return AttributionResult(
        model="incremental",
        keys=j.keys,
        conversions=conversions,
        revenue=conversions * avg_revenue,
        total_conversions=total_conv,
        total_revenue=total_rev,
        conversions_low=low,
        conversions_high=high,
        revenue_low=low * avg_revenue,
        revenue_high=high * avg_revenue,
        params=params,
    )


# ---------------------------------------------------------------------------------------------------------
# Dispatch


def attribute(journeys: Journeys, model: str, **options: Any) -> AttributionResult:
    """Run the named model (one of MODELS) with its options (half_life; bootstrap, level, seed, regularization)."""
    allowed: dict[str, tuple[str, ...]] = {name: () for name in MODELS}
    allowed["time_decay"] = ("half_life",)
    allowed["incremental"] = ("bootstrap", "level", "seed", "regularization")
    if model not in allowed:
        raise _fail(f"unknown attribution model {model!r}; choose one of {', '.join(MODELS)}", "model", model)
    unknown = sorted(set(options) - set(allowed[model]))
    if unknown:
        raise _fail(f"model {model!r} takes no option {unknown[0]!r}", unknown[0], options[unknown[0]])
    functions = {
        "first_touch": first_touch,
        "last_touch": last_touch,
        "linear": linear,
        "time_decay": time_decay,
        "position_based": position_based,
        "w_shaped": w_shaped,
        "markov": markov,
        "shapley": shapley,
        "incremental": incremental,
    }
    result: AttributionResult = functions[model](journeys, **options)
    return result
