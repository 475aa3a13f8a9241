"""The lifecycle funnel: counts, stage-to-stage conversion and velocity from stage changes (pure numpy, no Django).

Decisions (docs/reports.md, "Funnel", says the same for users):

- Stages: lead → MQL → SAL → SQL → opportunity → customer (`STAGES`); subscriber, recycled and disqualified
  are off the main line and ignored.
- A person reached a stage when a stage change took them there **or past it**: imports and won deals skip
  stages (a lead whose deal is won becomes a customer at once), so reaching stage k at time t also reaches
  every earlier stage not reached before t. The time a person reached stage k is therefore the earliest
  change to any stage at or after k. As a consequence everyone who reached stage k+1 reached stage k.
- Conversion stage k → k+1 = reached(k+1) / reached(k), with its Wilson 95 % interval and n = reached(k).
- Cohort = the calendar month or quarter (UTC) in which the person reached "lead".
- Velocity k → k+1 = median and 80th percentile (linear interpolation) of the days between reaching k and
  reaching k+1, over the people who reached both; a skipped stage counts as reached at the same moment (0 days).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from tandem.core.errors import ValidationFailed
from tandem.stats.intervals import wilson_bounds

FloatArray = NDArray[np.float64]

STAGES: tuple[str, ...] = ("lead", "mql", "sal", "sql", "opportunity", "customer")
PERIODS: tuple[str, ...] = ("month", "quarter")
DAY = 86400.0


def reach_times(*, person: ArrayLike, to_stage: Sequence[str], times: ArrayLike, n_people: int) -> FloatArray:
    """(n_people × 6) seconds at which each person reached each funnel stage (NaN if never), from change rows.

    person: 0..n_people−1 per change; to_stage: stage names (others than STAGES ignored); times: seconds.
    """
    pid = np.asarray(person, dtype=np.int64)
    t = np.asarray(times, dtype=np.float64)
    index = {name: i for i, name in enumerate(STAGES)}
    stage = np.fromiter((index.get(s, -1) for s in to_stage), dtype=np.int64, count=len(to_stage))
    if not pid.size == t.size == stage.size:
        raise ValidationFailed(
            f"person, to_stage and times need one value per change ({pid.size}, {stage.size}, {t.size})",
            field="times",
            value=t.size,
        )
    if pid.size and (pid.min() < 0 or pid.max() >= n_people):
        raise ValidationFailed(f"person numbers must be 0..{n_people - 1}", field="person", value=int(pid.max()))
    on_line = stage >= 0
    direct = np.full((n_people, len(STAGES)), np.inf)
    np.minimum.at(direct, (pid[on_line], stage[on_line]), t[on_line])
    # Reaching a later stage reaches the skipped ones: a reversed running minimum along the stages.
    reached = np.minimum.accumulate(direct[:, ::-1], axis=1)[:, ::-1]
    reached[np.isinf(reached)] = np.nan
    return reached


def cohort_labels(times: ArrayLike, *, period: str) -> list[str]:
    """Calendar period (UTC) of each time in seconds: "2026-03" by month, "2026-Q1" by quarter, "" for NaN."""
    if period not in PERIODS:
        raise ValidationFailed(f"period must be one of {', '.join(PERIODS)}, got {period!r}", field="period", value=period)
    t = np.asarray(times, dtype=np.float64)
    ok = ~np.isnan(t)
    months = np.zeros(t.size, dtype=np.int64)
    months[ok] = np.floor(t[ok]).astype("datetime64[s]").astype("datetime64[M]").astype(np.int64)
    labels: list[str] = []
    for good, m in zip(ok.tolist(), months.tolist(), strict=True):
        if not good:
            labels.append("")
        elif period == "month":
            labels.append(f"{1970 + m // 12}-{m % 12 + 1:02d}")
        else:
            labels.append(f"{1970 + m // 12}-Q{m % 12 // 3 + 1}")
    return labels


@dataclass(frozen=True)
class StepStats:
    """Conversion and velocity from one stage to the next."""

    from_stage: str
    to_stage: str
    n: int
    converted: int
    rate: float | None
    low: float
    high: float
    days_median: float | None
    days_p80: float | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "from": self.from_stage,
            "to": self.to_stage,
            "n": self.n,
            "converted": self.converted,
            "rate": self.rate,
            "rate_low": self.low,
            "rate_high": self.high,
            "days_median": self.days_median,
            "days_p80": self.days_p80,
        }


@dataclass(frozen=True)
class FunnelGroup:
    """One group's funnel: people per stage and the steps between consecutive stages."""

    key: str
    counts: tuple[int, ...]
    steps: tuple[StepStats, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "counts": dict(zip(STAGES, self.counts, strict=True)),
            "steps": [s.to_dict() for s in self.steps],
        }


def funnel_group(reached: FloatArray, *, key: str = "all", confidence: float = 0.95) -> FunnelGroup:
    """The funnel of the people in `reached` (rows of reach_times): counts, Wilson-interval rates, velocity."""
    r = np.asarray(reached, dtype=np.float64).reshape(-1, len(STAGES))
    hit = ~np.isnan(r)
    counts = hit.sum(axis=0).astype(np.int64)
    n = counts[:-1]
    x = (hit[:, :-1] & hit[:, 1:]).sum(axis=0).astype(np.int64)
    low, high = wilson_bounds(x, n, confidence=confidence)
    steps = []
    for k in range(len(STAGES) - 1):
        both = hit[:, k] & hit[:, k + 1]
        days = (r[both, k + 1] - r[both, k]) / DAY
        steps.append(
            StepStats(
                from_stage=STAGES[k],
                to_stage=STAGES[k + 1],
                n=int(n[k]),
                converted=int(x[k]),
                rate=float(x[k] / n[k]) if n[k] else None,
                low=float(low[k]),
                high=float(high[k]),
                days_median=float(np.median(days)) if days.size else None,
                days_p80=float(np.percentile(days, 80)) if days.size else None,
            )
        )
    return FunnelGroup(key=key, counts=tuple(int(c) for c in counts), steps=tuple(steps))


def funnel_by(reached: FloatArray, groups: Sequence[str]) -> list[FunnelGroup]:
    """One funnel per distinct group label (people who reached "lead" only), largest group first."""
    r = np.asarray(reached, dtype=np.float64).reshape(-1, len(STAGES))
    labels = np.asarray(list(groups), dtype=object)
    if labels.size != r.shape[0]:
        raise ValidationFailed(f"{labels.size} group labels for {r.shape[0]} people", field="groups", value=labels.size)
    in_funnel = ~np.isnan(r[:, 0])
    r, labels = r[in_funnel], labels[in_funnel]
    if not labels.size:
        return []
    unique, inverse = np.unique(labels.astype(str), return_inverse=True)
    out = [funnel_group(r[inverse == i], key=str(u)) for i, u in enumerate(unique)]
    return sorted(out, key=lambda g: (-g.counts[0], g.key))


def funnel_report(
    reached: FloatArray, *, segments: Sequence[str] | None, period: str, by: str = "none"
) -> dict[str, Any]:
    """The whole report: the overall funnel, one per cohort period (of reaching lead) and one per segment."""
    r = np.asarray(reached, dtype=np.float64).reshape(-1, len(STAGES))
    in_funnel = ~np.isnan(r[:, 0])
    cohorts = cohort_labels(r[:, 0], period=period)
    by_cohort = sorted(funnel_by(r, cohorts), key=lambda g: g.key)
    return {
        "period": period,
        "by": by,
        "stages": list(STAGES),
        "total": funnel_group(r[in_funnel]).to_dict(),
        "cohorts": [g.to_dict() for g in by_cohort],
        "segments": [] if segments is None else [g.to_dict() for g in funnel_by(r, segments)],
    }
