"""Control charts for lead flow and lead quality (pure numpy, no Django).

A control chart separates a real change from ordinary noise: it estimates, from a *baseline* stretch of the
series, where the metric normally lies (the centre line) and how far it normally wanders (the control
limits, 3 standard deviations either side), then applies a few rules that almost never fire by chance.

Charts (each decision here is also explained for non-statisticians in docs/statistics.md):

- **p-chart** (weekly conversion proportions: MQL rate, SQL rate, win rate, acceptance rate). Centre
  p̄ = Σ conversions / Σ leads over the baseline; each point gets its own limits
  p̄ ± 3·√(p̄(1 − p̄)/n_t), clipped to [0, 1], so a week with few leads gets wide limits.
- **Weekday-adjusted u-chart** (daily lead or MQL counts). Daily counts are treated as Poisson. From the
  baseline we take the mean daily count (the rate λ) and, for each weekday w, a factor f_w = mean count on
  weekday w / λ; the expected count is centre_t = λ·f_w (which is the baseline mean for that weekday) and the
  limits are centre_t ± 3·√centre_t (the Poisson standard deviation), the lower one floored at 0. A weekday
  absent from the baseline gets factor 1.
- **XmR (individuals) chart** (weekly volume, or any single value per period). Centre = baseline mean;
  σ = MR̄ / 1.128 where MR̄ is the mean absolute difference between consecutive baseline points (1.128 is
  d₂ for ranges of two); limits centre ± 3σ, the lower one floored at ``floor`` (0 for counts).
- Any chart may be given a known standard instead (``known_rate`` / ``known_center`` + ``known_sigma``),
  e.g. last year's figures; then no baseline is estimated.

Baseline: the caller may pass ``baseline=(start, stop)``, a half-open range of point indices; otherwise the
first 20 mature points (28 days for the daily chart) are used. Limits are computed once, baseline points
outside them are dropped (once, not repeatedly: a second pass would keep narrowing the limits) and the
limits are recomputed, provided at least ``min_baseline`` points remain. With fewer than ``min_baseline``
mature baseline points (5; 14 days for the daily chart) no limits are drawn and no signals are given.

Maturity: outcome-based rates (win rate) need time. A point is *mature* when every lead of its cohort has had
``maturity_days`` to convert, i.e. when ``as_of >= start + period length + maturity_days`` (so with
``maturity_days=0`` the still-running week is immature too). Immature points are drawn with their limits and
``mature: false`` but are kept out of the baseline and of every rule: a young cohort whose deals have not
closed yet is never reported as a drop.

Rules (``rules=``), evaluated on the mature points in order:

- ``beyond_limits`` — a point outside the 3σ limits (Western Electric rule 1; 0.27 % of points by chance).
- ``run`` — 8 points in a row on the same side of the centre line (Western Electric / Nelson rule 2; we pick
  8, Nelson's number, rather than Western Electric's 9; a point exactly on the centre breaks a run).
  By chance a given point ends such a run with probability 2·(1/2)⁸ = 1/128.
- ``trend`` — 6 points in a row each higher (or each lower) than the one before (Nelson rule 3); by chance
  2/6! = 1/360 per point.
- ``two_of_three`` (off by default) — 2 of 3 consecutive points beyond 2σ on the same side (Western
  Electric rule 2).

Consecutive flagged points of one rule and direction form one signal, dated from the first point of the
pattern (for a run or a trend, the first point of the run). Each signal and the latest point (when it is not
part of a signal) get a plain-words sentence.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, Literal

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from numpy.typing import ArrayLike, NDArray

from tandem.core.errors import ValidationFailed

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int8]
Period = Literal["day", "week"]

RULES = ("beyond_limits", "run", "trend", "two_of_three")
DEFAULT_RULES = ("beyond_limits", "run", "trend")
RUN_LENGTH = 8
TREND_LENGTH = 6
PERIOD_DAYS = {"day": 1, "week": 7}
D2 = 1.128  # expected range of two independent standard normal values


# ---------------------------------------------------------------------------------------------- results


@dataclass(frozen=True)
class ChartPoint:
    """One period of a chart: its value, sample size, centre and limits (None when there is no baseline)."""

    start: date
    value: float | None
    n: float | None
    center: float | None
    lcl: float | None
    ucl: float | None
    mature: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "start": self.start.isoformat(),
            "value": self.value,
            "n": self.n,
            "center": self.center,
            "lcl": self.lcl,
            "ucl": self.ucl,
            "mature": self.mature,
        }


@dataclass(frozen=True)
class Signal:
    """A rule that fired: the first period of the pattern, the rule id, up/down and a sentence."""

    start: date
    rule: str
    direction: Literal["up", "down"]
    text: str
    end: date = field(compare=False, default=date.min)
    periods: int = 1

    def to_dict(self) -> dict[str, Any]:
        return {"start": self.start.isoformat(), "rule": self.rule, "direction": self.direction, "text": self.text}


@dataclass(frozen=True)
class ChartSeries:
    """A charted series (one channel, campaign or the whole company) with its signals and a summary sentence.

    ``flags`` holds, per rule, +1/−1/0 for every point (0 for immature points), for callers and tests that
    need per-point detail; ``baseline`` the indices of the points the limits were computed from.
    """

    key: str
    points: tuple[ChartPoint, ...]
    signals: tuple[Signal, ...]
    summary: str
    baseline: tuple[int, ...] = ()
    flags: dict[str, tuple[int, ...]] = field(default_factory=dict, compare=False)

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "points": [p.to_dict() for p in self.points],
            "signals": [s.to_dict() for s in self.signals],
            "summary": self.summary,
        }


@dataclass(frozen=True)
class ControlChart:
    """The answer of ``tandem report spc``: one metric and period, one series per key."""

    metric: str
    period: str
    series: tuple[ChartSeries, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"metric": self.metric, "period": self.period, "series": [s.to_dict() for s in self.series]}


def control_chart(*, metric: str, period: str, series: Sequence[ChartSeries]) -> ControlChart:
    """Bundle charted series under one metric and period."""
    if period not in PERIOD_DAYS:
        raise ValidationFailed(f"period must be 'day' or 'week', got {period!r}", field="period", value=period)
    return ControlChart(metric=metric, period=period, series=tuple(series))


# ------------------------------------------------------------------------------- vectorised rule flags


def beyond_limits_flags(values: ArrayLike, lcl: ArrayLike, ucl: ArrayLike) -> IntArray:
    """+1 where a value is above its upper limit, −1 below its lower limit, else 0 (any array shape)."""
    v = np.asarray(values, dtype=np.float64)
    return (np.greater(v, ucl).astype(np.int8) - np.less(v, lcl).astype(np.int8)).astype(np.int8)


def _window_all(mask: NDArray[np.bool_], length: int) -> NDArray[np.bool_]:
    """True at t when mask[t-length+1 .. t] are all True, along the last axis."""
    out = np.zeros(mask.shape, dtype=bool)
    if mask.shape[-1] >= length:
        out[..., length - 1 :] = sliding_window_view(mask, length, axis=-1).all(axis=-1)
    return out


def run_flags(values: ArrayLike, center: ArrayLike, *, length: int = RUN_LENGTH) -> IntArray:
    """+1 (−1) at each point that ends ``length`` points in a row above (below) the centre line."""
    v = np.asarray(values, dtype=np.float64)
    up = _window_all(np.greater(v, center), length)
    down = _window_all(np.less(v, center), length)
    return (up.astype(np.int8) - down.astype(np.int8)).astype(np.int8)


def trend_flags(values: ArrayLike, *, length: int = TREND_LENGTH) -> IntArray:
    """+1 (−1) at each point that ends ``length`` points in a row, each higher (lower) than the previous."""
    v = np.asarray(values, dtype=np.float64)
    out = np.zeros(v.shape, dtype=np.int8)
    if v.shape[-1] < length:
        return out
    d = np.diff(v, axis=-1)
    up = _window_all(d > 0, length - 1)
    down = _window_all(d < 0, length - 1)
    out[..., 1:] = up.astype(np.int8) - down.astype(np.int8)
    return out


def two_of_three_flags(values: ArrayLike, center: ArrayLike, sigma: ArrayLike) -> IntArray:
    """+1 (−1) at each point that ends 3 points of which at least 2 are beyond centre + 2σ (− 2σ)."""
    v = np.asarray(values, dtype=np.float64)
    c = np.broadcast_to(np.asarray(center, dtype=np.float64), v.shape)
    s = np.broadcast_to(np.asarray(sigma, dtype=np.float64), v.shape)
    out = np.zeros(v.shape, dtype=np.int8)
    if v.shape[-1] < 3:
        return out
    hi = sliding_window_view(v > c + 2 * s, 3, axis=-1).sum(axis=-1) >= 2
    lo = sliding_window_view(v < c - 2 * s, 3, axis=-1).sum(axis=-1) >= 2
    out[..., 2:] = hi.astype(np.int8) - lo.astype(np.int8)
    return out


# ------------------------------------------------------------------------------------------- helpers


def _to_date(value: date | str, *, field_name: str) -> date:
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise ValidationFailed(
            f"{field_name} must be an ISO date (YYYY-MM-DD), got {value!r}", field=field_name, value=value
        ) from None


def _dates(values: Sequence[date | str], *, field_name: str) -> list[date]:
    days = [_to_date(v, field_name=field_name) for v in values]
    for i in range(1, len(days)):
        if days[i] <= days[i - 1]:
            raise ValidationFailed(
                f"{field_name} must be in increasing order without repeats: {days[i]} follows {days[i - 1]}",
                field=field_name,
                value=days[i].isoformat(),
            )
    return days


def _check_rules(rules: Sequence[str]) -> tuple[str, ...]:
    for r in rules:
        if r not in RULES:
            raise ValidationFailed(f"unknown rule {r!r}; known rules: {', '.join(RULES)}", field="rules", value=r)
    return tuple(rules)


def _pct(v: float) -> str:
    x = 100.0 * v
    text = f"{x:.2f}" if 0 < abs(x) < 1 else f"{x:.1f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return f"{text}%"


def _num(v: float) -> str:
    if abs(v - round(v)) < 0.05:
        return f"{round(v):,}"
    return f"{v:,.1f}"


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


@dataclass
class _Limits:
    center: FloatArray
    lcl: FloatArray
    ucl: FloatArray
    sigma: FloatArray


@dataclass
class _Spec:
    key: str
    label: str
    period: str
    fmt: str  # "percent" | "count"
    starts: list[date]
    values: FloatArray  # NaN where undefined (n = 0)
    n: FloatArray | None
    mature: NDArray[np.bool_]
    rules: tuple[str, ...]
    constant_center: bool


def _maturity(
    starts: list[date], period: str, as_of: date | str | None, maturity_days: int
) -> NDArray[np.bool_]:
    if maturity_days < 0:
        raise ValidationFailed("maturity_days must not be negative", field="maturity_days", value=maturity_days)
    if as_of is None:
        return np.ones(len(starts), dtype=bool)
    cutoff = _to_date(as_of, field_name="as_of")
    span = timedelta(days=PERIOD_DAYS[period] + maturity_days)
    return np.array([s + span <= cutoff for s in starts], dtype=bool)


def _baseline_candidates(
    valid: NDArray[np.bool_], baseline: tuple[int, int] | None, default_size: int
) -> NDArray[np.intp]:
    idx = np.flatnonzero(valid)
    if baseline is None:
        return idx[:default_size]
    start, stop = baseline
    if not 0 <= start < stop <= valid.size:
        raise ValidationFailed(
            f"baseline must be a range of point indices within 0..{valid.size}, got {baseline}",
            field="baseline",
            value=baseline,
        )
    return idx[(idx >= start) & (idx < stop)]


def _fit_with_one_exclusion(
    values: FloatArray,
    candidates: NDArray[np.intp],
    fit: Any,
    min_baseline: int,
) -> tuple[_Limits | None, NDArray[np.intp]]:
    if candidates.size < min_baseline:
        return None, candidates
    limits = fit(candidates)
    if limits is None:
        return None, candidates
    v = values[candidates]
    inside = (v >= limits.lcl[candidates]) & (v <= limits.ucl[candidates])
    kept = candidates[inside]
    if kept.size < candidates.size and kept.size >= min_baseline:
        refit = fit(kept)
        if refit is not None:
            return refit, kept
    return limits, candidates


def _validate_period(period: str) -> None:
    if period not in PERIOD_DAYS:
        raise ValidationFailed(f"period must be 'day' or 'week', got {period!r}", field="period", value=period)


# ------------------------------------------------------------------------------------------- charts


def p_chart(
    *,
    key: str,
    starts: Sequence[date | str],
    successes: ArrayLike,
    trials: ArrayLike,
    period: Period = "week",
    as_of: date | str | None = None,
    maturity_days: int = 0,
    baseline: tuple[int, int] | None = None,
    label: str | None = None,
    rules: Sequence[str] = DEFAULT_RULES,
    known_rate: float | None = None,
    default_baseline: int = 20,
    min_baseline: int = 5,
) -> ChartSeries:
    """p-chart of conversion proportions with per-point limits p̄ ± 3√(p̄(1−p̄)/n_t) clipped to [0, 1]."""
    _validate_period(period)
    days = _dates(starts, field_name="starts")
    x = np.asarray(successes, dtype=np.float64)
    n = np.asarray(trials, dtype=np.float64)
    if not (x.shape == n.shape == (len(days),)):
        raise ValidationFailed("starts, successes and trials must have the same length", field="trials")
    if np.any(n < 0) or np.any(x < 0) or np.any(x > n):
        bad = int(np.flatnonzero((n < 0) | (x < 0) | (x > n))[0])
        raise ValidationFailed(
            f"point {bad} ({days[bad]}): successes must lie between 0 and trials", field="successes", value=x[bad]
        )
    if known_rate is not None and not 0.0 <= known_rate <= 1.0:
        raise ValidationFailed("known_rate must lie in [0, 1]", field="known_rate", value=known_rate)
    with np.errstate(divide="ignore", invalid="ignore"):
        values = np.where(n > 0, x / np.where(n > 0, n, 1.0), np.nan)

    def fit(idx: NDArray[np.intp]) -> _Limits | None:
        total = n[idx].sum()
        if known_rate is None and total <= 0:
            return None
        pbar = known_rate if known_rate is not None else float(x[idx].sum() / total)
        with np.errstate(divide="ignore", invalid="ignore"):
            sigma = np.where(n > 0, np.sqrt(pbar * (1.0 - pbar) / np.where(n > 0, n, 1.0)), np.nan)
        center = np.full(n.shape, pbar)
        return _Limits(center, np.clip(center - 3 * sigma, 0.0, 1.0), np.clip(center + 3 * sigma, 0.0, 1.0), sigma)

    spec = _Spec(
        key=key,
        label=label or key.replace("_", " "),
        period=period,
        fmt="percent",
        starts=days,
        values=values,
        n=n,
        mature=_maturity(days, period, as_of, maturity_days),
        rules=_check_rules(rules),
        constant_center=True,
    )
    return _build(spec, fit, baseline, default_baseline, min_baseline, known=known_rate is not None)


def xmr_chart(
    *,
    key: str,
    starts: Sequence[date | str],
    values: ArrayLike,
    period: Period = "week",
    as_of: date | str | None = None,
    maturity_days: int = 0,
    baseline: tuple[int, int] | None = None,
    label: str | None = None,
    rules: Sequence[str] = DEFAULT_RULES,
    floor: float | None = 0.0,
    known_center: float | None = None,
    known_sigma: float | None = None,
    percent: bool = False,
    default_baseline: int = 20,
    min_baseline: int = 5,
) -> ChartSeries:
    """Individuals (XmR) chart: centre x̄, σ = MR̄/1.128, limits x̄ ± 3σ (lower floored at ``floor``)."""
    _validate_period(period)
    days = _dates(starts, field_name="starts")
    v = np.asarray(values, dtype=np.float64)
    if v.shape != (len(days),):
        raise ValidationFailed("starts and values must have the same length", field="values")
    if (known_center is None) != (known_sigma is None):
        raise ValidationFailed("give both known_center and known_sigma, or neither", field="known_sigma")
    if known_sigma is not None and known_sigma <= 0:
        raise ValidationFailed("known_sigma must be positive", field="known_sigma", value=known_sigma)

    def fit(idx: NDArray[np.intp]) -> _Limits | None:
        if known_center is not None and known_sigma is not None:
            center_value, sigma_value = known_center, known_sigma
        else:
            pairs = idx[:-1][np.diff(idx) == 1]
            if pairs.size == 0:
                return None
            center_value = float(v[idx].mean())
            sigma_value = float(np.abs(v[pairs + 1] - v[pairs]).mean() / D2)
        center = np.full(v.shape, center_value)
        sigma = np.full(v.shape, sigma_value)
        lcl = center - 3 * sigma
        if floor is not None:
            lcl = np.maximum(lcl, floor)
        return _Limits(center, lcl, center + 3 * sigma, sigma)

    spec = _Spec(
        key=key,
        label=label or key.replace("_", " "),
        period=period,
        fmt="percent" if percent else "count",
        starts=days,
        values=v,
        n=None,
        mature=_maturity(days, period, as_of, maturity_days),
        rules=_check_rules(rules),
        constant_center=True,
    )
    return _build(spec, fit, baseline, default_baseline, min_baseline, known=known_center is not None)


def u_chart_daily(
    *,
    key: str,
    days: Sequence[date | str],
    counts: ArrayLike,
    as_of: date | str | None = None,
    maturity_days: int = 0,
    baseline: tuple[int, int] | None = None,
    label: str | None = None,
    rules: Sequence[str] = DEFAULT_RULES,
    default_baseline: int = 28,
    min_baseline: int = 14,
) -> ChartSeries:
    """Weekday-adjusted Poisson chart of daily counts: centre_t = λ·f_weekday, limits centre ± 3√centre."""
    parsed = _dates(days, field_name="days")
    c = np.asarray(counts, dtype=np.float64)
    if c.shape != (len(parsed),):
        raise ValidationFailed("days and counts must have the same length", field="counts")
    if np.any(c < 0):
        raise ValidationFailed("counts must not be negative", field="counts", value=c.min())
    weekday = np.array([d.weekday() for d in parsed], dtype=np.intp)

    def fit(idx: NDArray[np.intp]) -> _Limits | None:
        rate = float(c[idx].mean())
        factors = np.ones(7)
        if rate > 0:
            for w in range(7):
                on_w = idx[weekday[idx] == w]
                if on_w.size:
                    factors[w] = c[on_w].mean() / rate
        center = rate * factors[weekday]
        sigma = np.sqrt(center)
        return _Limits(center, np.maximum(center - 3 * sigma, 0.0), center + 3 * sigma, sigma)

    spec = _Spec(
        key=key,
        label=label or key.replace("_", " "),
        period="day",
        fmt="count",
        starts=parsed,
        values=c,
        n=None,
        mature=_maturity(parsed, "day", as_of, maturity_days),
        rules=_check_rules(rules),
        constant_center=False,
    )
    return _build(spec, fit, baseline, default_baseline, min_baseline, known=False)


# ------------------------------------------------------------------------------------ assembling


def _build(
    spec: _Spec,
    fit: Any,
    baseline: tuple[int, int] | None,
    default_baseline: int,
    min_baseline: int,
    *,
    known: bool,
) -> ChartSeries:
    values = spec.values
    valid = spec.mature & ~np.isnan(values)
    candidates = _baseline_candidates(valid, baseline, default_baseline)
    if known:
        limits, used = fit(candidates), candidates
    else:
        limits, used = _fit_with_one_exclusion(values, candidates, fit, min_baseline)
    size = values.size
    flags: dict[str, NDArray[np.int8]] = {r: np.zeros(size, dtype=np.int8) for r in spec.rules}
    signals: list[Signal] = []
    noun = "week" if spec.period == "week" else "day"
    if limits is None:
        summary = (
            f"{_cap(spec.label)}: not enough data to set a normal range yet "
            f"({candidates.size} mature {noun}s in the baseline; at least {min_baseline} are needed)."
        )
    else:
        pos = np.flatnonzero(valid)
        seq = values[pos]
        for rule in spec.rules:
            if rule == "beyond_limits":
                f = beyond_limits_flags(seq, limits.lcl[pos], limits.ucl[pos])
            elif rule == "run":
                f = run_flags(seq, limits.center[pos])
            elif rule == "trend":
                f = trend_flags(seq)
            else:
                f = two_of_three_flags(seq, limits.center[pos], limits.sigma[pos])
            flags[rule][pos] = f
            signals.extend(_episodes(spec, rule, f, pos, limits, used))
        signals.sort(key=lambda s: (s.start, RULES.index(s.rule)))
        summary = _summary(spec, limits, valid, signals)
    points = tuple(
        ChartPoint(
            start=spec.starts[i],
            value=None if math.isnan(values[i]) else float(values[i]),
            n=None if spec.n is None else _count(spec.n[i]),
            center=_opt(limits.center[i]) if limits else None,
            lcl=_opt(limits.lcl[i]) if limits else None,
            ucl=_opt(limits.ucl[i]) if limits else None,
            mature=bool(spec.mature[i]),
        )
        for i in range(size)
    )
    return ChartSeries(
        key=spec.key,
        points=points,
        signals=tuple(signals),
        summary=summary,
        baseline=tuple(int(i) for i in used) if limits else (),
        flags={r: tuple(int(v) for v in a) for r, a in flags.items()},
    )


def _count(v: float) -> float:
    """Whole sample sizes as int, so the JSON reads "n": 120, not 120.0."""
    return int(v) if float(v).is_integer() else float(v)


def _opt(v: float) -> float | None:
    return None if math.isnan(v) else float(v)


def _fmt(spec: _Spec, v: float) -> str:
    return _pct(v) if spec.fmt == "percent" else _num(v)


def _episodes(
    spec: _Spec,
    rule: str,
    f: IntArray,
    pos: NDArray[np.intp],
    limits: _Limits,
    used: NDArray[np.intp],
) -> list[Signal]:
    """Group consecutive flagged points (same direction) into signals with sentences."""
    out: list[Signal] = []
    lead = {"run": RUN_LENGTH - 1, "trend": TREND_LENGTH - 1}.get(rule, 0)
    k = 0
    m = f.size
    if f.size == 0 or not f.any():
        return out
    if used.size:
        base_values = spec.values[used]
        before = f"before that it varied between {_fmt(spec, base_values.min())} and {_fmt(spec, base_values.max())}"
    else:
        # A known standard with no mature baseline point: there is no observed range to quote.
        before = "the normal range comes from the given standard"
    noun = "week" if spec.period == "week" else "day"
    while k < m:
        if f[k] == 0:
            k += 1
            continue
        d = int(f[k])
        end = k
        while end + 1 < m and f[end + 1] == d:
            end += 1
        first = max(0, k - lead)
        i0, i1 = int(pos[first]), int(pos[end])
        periods = end - first + 1
        ongoing = end == m - 1
        direction: Literal["up", "down"] = "up" if d > 0 else "down"
        text = _signal_text(spec, rule, direction, i0, i1, periods, ongoing, limits, before, noun)
        out.append(
            Signal(
                start=spec.starts[i0], rule=rule, direction=direction, text=text, end=spec.starts[i1], periods=periods
            )
        )
        k = end + 1
    return out


def _when(spec: _Spec, i0: int, i1: int, periods: int, ongoing: bool, noun: str, *, in_a_row: bool = False) -> str:
    s0, s1 = spec.starts[i0].isoformat(), spec.starts[i1].isoformat()
    span = f"for {periods} {noun}s{' in a row' if in_a_row else ''}"
    if ongoing:
        return f"{span} since {s0}" if periods > 1 else f"since {s0}"
    return f"{span}, from {s0} to {s1}" if periods > 1 else f"in the {noun} of {s0}"


def _signal_text(
    spec: _Spec,
    rule: str,
    direction: str,
    i0: int,
    i1: int,
    periods: int,
    ongoing: bool,
    limits: _Limits,
    before: str,
    noun: str,
) -> str:
    label = _cap(spec.label)
    side = "below" if direction == "down" else "above"
    has = "has been" if ongoing else "was"
    if rule == "beyond_limits":
        if periods == 1:
            when = f"on {spec.starts[i0].isoformat()}" if noun == "day" else f"in the week of {spec.starts[i0]}"
            return (
                f"{label} {'is' if ongoing else 'was'} {side} its normal range {when}: {_fmt(spec, spec.values[i0])} "
                f"against a normal range of {_fmt(spec, limits.lcl[i0])} to {_fmt(spec, limits.ucl[i0])}; {before}."
            )
        return f"{label} {has} {side} its normal range {_when(spec, i0, i1, periods, ongoing, noun)}; {before}."
    if rule == "run":
        level = f"its usual level of {_fmt(spec, limits.center[i0])}" if spec.constant_center else "its usual level"
        return (
            f"{label} {has} {side} {level} {_when(spec, i0, i1, periods, ongoing, noun, in_a_row=True)}; "
            f"{RUN_LENGTH} or more {noun}s in a row on one side rarely happen by chance; {before}."
        )
    if rule == "trend":
        verb = ("has fallen" if ongoing else "fell") if direction == "down" else ("has risen" if ongoing else "rose")
        return (
            f"{label} {verb} {noun} after {noun} {_when(spec, i0, i1, periods, ongoing, noun)} "
            f"({_fmt(spec, spec.values[i0])} to {_fmt(spec, spec.values[i1])}); {before}."
        )
    edge = "bottom" if direction == "down" else "top"
    return (
        f"{label} {has} near the {edge} of its normal range (2 of 3 {noun}s beyond 2 standard deviations) "
        f"{_when(spec, i0, i1, periods, ongoing, noun)}; {before}."
    )


def _summary(spec: _Spec, limits: _Limits, valid: NDArray[np.bool_], signals: list[Signal]) -> str:
    noun = "week" if spec.period == "week" else "day"
    pos = np.flatnonzero(valid)
    immature_tail = int((~spec.mature[pos[-1] + 1 :]).sum()) if pos.size else int((~spec.mature).sum())
    tail = ""
    if immature_tail:
        tail = (
            f" The {immature_tail} most recent {noun}{'s are' if immature_tail > 1 else ' is'} too recent to judge: "
            "outcomes are still maturing."
        )
    if pos.size == 0:
        return f"{_cap(spec.label)}: no mature {noun} to judge yet.{tail}"
    last = int(pos[-1])
    current = [s for s in signals if s.end == spec.starts[last]]
    if current:
        return " ".join(s.text for s in current) + tail
    v, c = spec.values[last], limits.center[last]
    what = f"dip to {_fmt(spec, v)}" if v < c else (f"rise to {_fmt(spec, v)}" if v > c else f"value {_fmt(spec, v)}")
    when = f"on {spec.starts[last]}" if noun == "day" else f"in the week of {spec.starts[last]}"
    return (
        f"{_cap(spec.label)}: the latest {what} ({when}, average {_fmt(spec, c)}) is within normal variation "
        f"(normal range {_fmt(spec, limits.lcl[last])} to {_fmt(spec, limits.ucl[last])}).{tail}"
    )
