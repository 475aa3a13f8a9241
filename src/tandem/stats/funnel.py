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
from tandem.stats.constants import PERIODS  # re-exported: `tandem report --help` reads it there
from tandem.stats.intervals import wilson_bounds

FloatArray = NDArray[np.float64]

STAGES: tuple[str, ...] = ("lead", "mql", "sal", "sql", "opportunity", "customer")
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
    x = (hit[:, :-1] & hit[:, 1:]).sum(axis=0).astype(np.int64)
    days = []
    for k in range(len(STAGES) - 1):
        both = hit[:, k] & hit[:, k + 1]
        days.append((r[both, k + 1] - r[both, k]) / DAY)
    return funnel_group_of_counts(key=key, counts=counts, converted=x, days=days, confidence=confidence)


def funnel_group_of_counts(
    *,
    key: str,
    counts: ArrayLike,
    converted: ArrayLike,
    days: Sequence[ArrayLike],
    confidence: float = 0.95,
) -> FunnelGroup:
    """A group's funnel from its people per stage, per step those who reached both stages and their days between.

    What `funnel_group` computes from reach times, for callers that counted in the database: `days[k]` holds the
    days from stage k to k+1 of every person who reached both, in any order (median and p80 do not depend on it).
    """
    counts = np.asarray(counts, dtype=np.int64).reshape(len(STAGES))
    x = np.asarray(converted, dtype=np.int64).reshape(len(STAGES) - 1)
    if len(days) != len(STAGES) - 1:
        raise ValidationFailed(f"days needs one array per step ({len(STAGES) - 1}), got {len(days)}", field="days")
    n = counts[:-1]
    low, high = wilson_bounds(x, n, confidence=confidence)
    steps = []
    for k in range(len(STAGES) - 1):
        d = np.asarray(days[k], dtype=np.float64).ravel()
        steps.append(
            StepStats(
                from_stage=STAGES[k],
                to_stage=STAGES[k + 1],
                n=int(n[k]),
                converted=int(x[k]),
                rate=float(x[k] / n[k]) if n[k] else None,
                low=float(low[k]),
                high=float(high[k]),
                days_median=float(np.median(d)) if d.size else None,
                days_p80=float(np.percentile(d, 80)) if d.size else None,
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


def _cohort_label(month: int, period: str) -> str:
    """ "2026-03" or "2026-Q1" for a month counted from January 1970 (as cohort_labels writes them)."""
    if period == "month":
        return f"{1970 + month // 12}-{month % 12 + 1:02d}"
    return f"{1970 + month // 12}-Q{month % 12 // 3 + 1}"


def _groups_of_counts(
    *,
    labels: Sequence[str],
    cell_group: NDArray[np.int64],
    cell_counts: NDArray[np.int64],
    step_group: NDArray[np.int64],
    step: NDArray[np.int64],
    step_days: FloatArray,
    step_people: NDArray[np.int64],
) -> list[FunnelGroup]:
    """One funnel per label: the cells' counts summed, each step's days expanded from (days, people) rows."""
    steps = len(STAGES) - 1
    counts = np.zeros((len(labels), len(STAGES)), dtype=np.int64)
    np.add.at(counts, cell_group, cell_counts)
    # Rows sorted by (group, step): each group's step is then one slice.
    slot = step_group * steps + step
    order = np.argsort(slot, kind="stable")
    bounds = np.searchsorted(slot[order], np.arange(len(labels) * steps + 1))
    days_sorted, people_sorted = step_days[order], step_people[order]
    out = []
    for g, label in enumerate(labels):
        days = []
        for k in range(steps):
            lo, hi = bounds[g * steps + k], bounds[g * steps + k + 1]
            days.append(np.repeat(days_sorted[lo:hi], people_sorted[lo:hi]))
        # Reach is monotone (reaching k+1 reaches k), so those who reached both k and k+1 are Count(k+1).
        out.append(funnel_group_of_counts(key=label, counts=counts[g], converted=counts[g, 1:], days=days))
    return out


def funnel_report_of_counts(
    *,
    period: str,
    by: str,
    cell_month: ArrayLike,
    cell_segment: Sequence[str] | None,
    cell_counts: ArrayLike,
    step_month: ArrayLike,
    step_segment: Sequence[str] | None,
    step: ArrayLike,
    step_days: ArrayLike,
    step_people: ArrayLike,
) -> dict[str, Any]:
    """`funnel_report` from counts the database made, equal to it to the last bit.

    Cells: per (month of reaching lead, counted from January 1970; segment label) the people who reached each
    stage (m × 6). Step rows: per (month, segment, step k → k+1, days between) the number of people who took
    exactly those days (days computed as funnel_group does: the difference of the two reach times in seconds,
    over 86,400). Segments are None when the report is not split by segment.
    """
    if period not in PERIODS:
        raise ValidationFailed(f"period must be one of {', '.join(PERIODS)}, got {period!r}", field="period", value=period)
    months = np.asarray(cell_month, dtype=np.int64).ravel()
    counts = np.asarray(cell_counts, dtype=np.int64).reshape(-1, len(STAGES))
    s_month = np.asarray(step_month, dtype=np.int64).ravel()
    s_step = np.asarray(step, dtype=np.int64).ravel()
    s_days = np.asarray(step_days, dtype=np.float64).ravel()
    s_people = np.asarray(step_people, dtype=np.int64).ravel()
    same_cells = months.size == counts.shape[0] == (months.size if cell_segment is None else len(cell_segment))
    same_steps = s_month.size == s_step.size == s_days.size == s_people.size
    if not (same_cells and same_steps and (step_segment is None or len(step_segment) == s_month.size)):
        raise ValidationFailed("cells and step rows need one value per row in each column", field="cell_counts")
    common: dict[str, Any] = {"step": s_step, "step_days": s_days, "step_people": s_people, "cell_counts": counts}
    total = _groups_of_counts(
        labels=["all"],
        cell_group=np.zeros(months.size, dtype=np.int64),
        step_group=np.zeros(s_month.size, dtype=np.int64),
        **common,
    )[0]
    # Cohorts: months folded into quarters when asked; labels sort as the periods do.
    fold = 1 if period == "month" else 3
    periods, cell_cohort = np.unique(months // fold, return_inverse=True)
    step_cohort = np.searchsorted(periods, s_month // fold)
    cohorts = _groups_of_counts(
        labels=[_cohort_label(int(p) * fold, period) for p in periods.tolist()],
        cell_group=cell_cohort.ravel().astype(np.int64),
        step_group=step_cohort.astype(np.int64),
        **common,
    )
    segments: list[FunnelGroup] = []
    if cell_segment is not None and step_segment is not None:
        names = sorted(set(cell_segment))
        code = {name: i for i, name in enumerate(names)}
        segments = _groups_of_counts(
            labels=names,
            cell_group=np.fromiter((code[s] for s in cell_segment), dtype=np.int64, count=len(cell_segment)),
            step_group=np.fromiter((code[s] for s in step_segment), dtype=np.int64, count=len(step_segment)),
            **common,
        )
        segments.sort(key=lambda g: (-g.counts[0], g.key))
    return {
        "period": period,
        "by": by,
        "stages": list(STAGES),
        "total": total.to_dict(),
        "cohorts": [g.to_dict() for g in sorted(cohorts, key=lambda g: g.key)],
        "segments": [g.to_dict() for g in segments],
    }
