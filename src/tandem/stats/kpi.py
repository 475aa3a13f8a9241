"""The shared KPI dashboard and the weekly report, in plain Python and numpy (no ORM).

Periods are calendar months or quarters; weeks start on Monday; every one is a half-open [start, next start)
(tandem.core.periods, the one definition). Days are ``datetime.date`` values turned
into ordinals so that bucketing 20,000 leads is a few numpy calls. The definitions (docs/reports.md says the
same):

- MQLs / SQLs of a period: people whose *first* day at MQL (or SQL) or any later stage falls in it;
- pipeline: the amount of deals created in the period, whatever their stage now;
- revenue: the amount of deals won (closed) in the period;
- win rate: won ÷ (won + lost) among deals closed in the period;
- CAC: campaign spend in the period ÷ new customers (people who first became a customer in the period, by a
  stage change or a won deal, as on the control charts); spend follows the unit-economics rule: a campaign's
  actual cost spread evenly over the days it ran (see ``economics``).
"""

from __future__ import annotations

import calendar
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from itertools import pairwise
from typing import Any

import numpy as np
from numpy.typing import NDArray

from tandem.core import periods
from tandem.core.errors import ValidationFailed
from tandem.stats import economics, spc

PERIODS = ("month", "quarter")
METRICS = ("mqls", "sqls", "pipeline", "revenue", "cac", "win_rate")
METRIC_LABELS = {
    "mqls": "MQLs",
    "sqls": "SQLs",
    "pipeline": "Pipeline created",
    "revenue": "Revenue",
    "cac": "CAC",
    "win_rate": "Win rate",
}
# count: whole numbers that add up over time; money: amounts that add up; rate/ratio: judged as they stand.
METRIC_UNITS = {"mqls": "count", "sqls": "count", "pipeline": "money", "revenue": "money", "cac": "money", "win_rate": "rate"}
CUMULATIVE = frozenset({"mqls", "sqls", "pipeline", "revenue"})
LOWER_IS_BETTER = frozenset({"cac"})

FloatArray = NDArray[np.float64]


# -------------------------------------------------------------------------------------------- periods


def period_check(period: str) -> None:
    """Refuse anything but 'month' or 'quarter'."""
    if period not in PERIODS:
        raise ValidationFailed("period must be 'month' or 'quarter'", field="period", value=period)


def day_check(day: date, field: str) -> None:
    """Refuse days so far out that the periods around them leave the calendar (years 1900–9000 are fine)."""
    if not 1900 <= day.year <= 9000:
        raise ValidationFailed("the date must lie between the years 1900 and 9000", field=field, value=day.isoformat())


def period_start(day: date, period: str) -> date:
    """The first day of the month or quarter holding ``day`` (core.periods, the one definition)."""
    period_check(period)
    return periods.period_start(day, period)


def period_next(start: date, period: str) -> date:
    """The first day of the following month or quarter: the period's exclusive end."""
    return periods.period_next(start, period)


def period_end(start: date, period: str) -> date:
    """The last day of the month or quarter starting on ``start``."""
    return period_next(start, period) - timedelta(days=1)


def period_label(start: date, period: str) -> str:
    """'Nov 2026' or 'Q4 2026'."""
    if period == "month":
        return f"{calendar.month_abbr[start.month]} {start.year}"
    return f"Q{(start.month - 1) // 3 + 1} {start.year}"


def periods_until(day: date, period: str, count: int) -> list[date]:
    """The starts of ``count`` periods ending with the one holding ``day``, oldest first."""
    starts = [period_start(day, period)]
    while len(starts) < count:
        prev = starts[0] - timedelta(days=1)
        starts.insert(0, period_start(prev, period))
    return starts


def week_start(day: date) -> date:
    """The Monday of the week holding ``day``."""
    return periods.period_start(day, "week")


# ------------------------------------------------------------------------------------------- bucketing


def ordinals(days: Sequence[date | None]) -> FloatArray:
    """Day ordinals as floats, NaN for a missing day."""
    return np.fromiter((math.nan if d is None else d.toordinal() for d in days), dtype=np.float64, count=len(days))


def bucket_sums(days: FloatArray, edges: Sequence[date], weights: FloatArray | None = None) -> FloatArray:
    """Per bucket [edges[i], edges[i+1]): how many days (or their summed weights) fall in it.

    Every bucket is half-open, the last one too (numpy's histogram closes its last bin, which gave the weekly
    report's week an eighth day: the next Monday).
    """
    bounds = np.array([e.toordinal() for e in edges], dtype=np.float64)
    ok = ~np.isnan(days)
    slot = np.searchsorted(bounds, days[ok], side="right") - 1
    inside = (slot >= 0) & (slot < len(bounds) - 1)
    w = None if weights is None else weights[ok][inside]
    return np.bincount(slot[inside], weights=w, minlength=max(len(bounds) - 1, 0)).astype(np.float64)


@dataclass(frozen=True)
class KpiInputs:
    """Everything the KPIs are computed from, one array per column (days as ordinals, NaN when none)."""

    mql_days: FloatArray
    sql_days: FloatArray
    deal_created: FloatArray
    deal_closed: FloatArray
    deal_won: NDArray[np.bool_]
    deal_lost: NDArray[np.bool_]
    deal_amount: FloatArray
    customer_days: FloatArray  # per lead: the day they first became a customer (stage change or won deal)
    # Campaign costs: per cost entry (or entries sharing a span), the first and last day it covers (ordinals,
    # inclusive; the same day for a one-day entry) and its amount.
    campaign_starts: NDArray[np.int64]
    campaign_ends: NDArray[np.int64]
    campaign_costs: FloatArray


@dataclass(frozen=True)
class KpiActuals:
    """Per bucket: each KPI's actual value, and the parts the two ratios are made of."""

    mqls: list[float]
    sqls: list[float]
    pipeline: list[float]
    revenue: list[float]
    cac: list[float | None]  # None: no new customer in the bucket
    win_rate: list[float | None]  # None: no deal closed in the bucket
    won: list[float]
    closed: list[float]
    spend: list[float]
    customers: list[float]

    def of(self, metric: str) -> list[float | None]:
        """The values of one KPI by name."""
        values: list[float | None] = getattr(self, metric)
        return values


def kpi_actuals(inputs: KpiInputs, edges: Sequence[date]) -> KpiActuals:
    """Each KPI's actual value in every bucket [edges[i], edges[i+1])."""
    won_closed = np.where(inputs.deal_won, inputs.deal_closed, np.nan)
    lost_closed = np.where(inputs.deal_lost, inputs.deal_closed, np.nan)
    won = bucket_sums(won_closed, edges)
    lost = bucket_sums(lost_closed, edges)
    customers = bucket_sums(inputs.customer_days, edges)
    # The unit-economics page's spend rule, so CAC here equals its CAC for the same month.
    spend = np.array(
        [
            economics.spread_spend(
                cost=inputs.campaign_costs,
                start_day=inputs.campaign_starts,
                end_day=inputs.campaign_ends,
                window_from=lo.toordinal(),
                window_to=hi.toordinal() - 1,
            ).sum()
            for lo, hi in pairwise(edges)
        ],
        dtype=np.float64,
    )
    return KpiActuals(
        mqls=bucket_sums(inputs.mql_days, edges).tolist(),
        sqls=bucket_sums(inputs.sql_days, edges).tolist(),
        pipeline=bucket_sums(inputs.deal_created, edges, inputs.deal_amount).tolist(),
        revenue=bucket_sums(won_closed, edges, inputs.deal_amount).tolist(),
        cac=[float(s / c) if c else None for s, c in zip(spend, customers, strict=True)],
        win_rate=[float(w / (w + lo)) if w + lo else None for w, lo in zip(won, lost, strict=True)],
        won=won.tolist(),
        closed=(won + lost).tolist(),
        spend=spend.tolist(),
        customers=customers.tolist(),
    )


# ----------------------------------------------------------------------------------------------- goals


def goal_status(*, metric: str, actual: float | None, goal: float | None, fraction_elapsed: float) -> str | None:
    """'met', 'on_pace', 'behind', 'missed' or None (no goal or no actual) for one period.

    Totals (MQLs, SQLs, pipeline, revenue) are met once the actual reaches the goal; before the period ends
    they are on pace when the actual reaches the goal's share of the days elapsed. Rates are judged as they
    stand (CAC must stay at or under its goal); a running period is 'on_pace' or 'behind', a finished one
    'met' or 'missed'.
    """
    if goal is None or actual is None:
        return None
    finished = fraction_elapsed >= 1.0
    if metric in CUMULATIVE:
        if actual >= goal:
            return "met"
        if finished:
            return "missed"
        return "on_pace" if actual >= goal * fraction_elapsed else "behind"
    good = actual <= goal if metric in LOWER_IS_BETTER else actual >= goal
    if finished:
        return "met" if good else "missed"
    return "on_pace" if good else "behind"


STATUS_WORDS = {"met": "goal met", "on_pace": "on pace", "behind": "behind pace", "missed": "goal missed"}


# ------------------------------------------------------------------------------------- weekly signals


@dataclass(frozen=True)
class WeeklyCheck:
    """A weekly control chart of one KPI and what it says about its latest complete week."""

    chart: spc.ChartSeries
    is_signal: bool | None  # None when there is no normal range yet
    latest_start: date | None
    latest_value: float | None
    center: float | None
    text: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "is_signal": self.is_signal,
            "week": None if self.latest_start is None else self.latest_start.isoformat(),
            "value": self.latest_value,
            "center": self.center,
            "text": self.text,
            "points": [p.to_dict() for p in self.chart.points],
        }


def weekly_check(
    *,
    key: str,
    label: str,
    starts: Sequence[date],
    values: Sequence[float | None],
    trials: Sequence[float] | None = None,
    as_of: date,
) -> WeeklyCheck:
    """Judge the latest complete week with the control-chart rules of ``spc``: XmR for totals, p-chart for rates.

    ``trials`` makes it a p-chart of values = successes ÷ trials (values then hold the successes).
    """
    v = np.array([math.nan if x is None else x for x in values], dtype=np.float64)
    if trials is not None:
        n = np.asarray(trials, dtype=np.float64)
        chart = spc.p_chart(key=key, starts=starts, successes=v, trials=n, period="week", as_of=as_of, label=label)
    else:
        chart = spc.xmr_chart(key=key, starts=starts, values=v, period="week", as_of=as_of, label=label)
    # spc's sentence speaks of maturing outcomes; for a weekly total the young week is simply not over yet.
    text = _RUNNING_TAIL.sub(" This week is still running and is not judged yet.", chart.summary)
    mature = [i for i, p in enumerate(chart.points) if p.mature and p.value is not None]
    if not mature:
        return WeeklyCheck(chart, None, None, None, None, text)
    last = chart.points[mature[-1]]
    if last.center is None:
        return WeeklyCheck(chart, None, last.start, last.value, None, text)
    is_signal = any(s.end == last.start for s in chart.signals)
    return WeeklyCheck(chart, is_signal, last.start, last.value, last.center, text)


_RUNNING_TAIL = re.compile(r" The 1 most recent week is too recent to judge: outcomes are still maturing\.$")


def sigma_distance(check: WeeklyCheck) -> float:
    """How many standard deviations the latest week lies from the centre (0 without limits)."""
    point = next((p for p in reversed(check.chart.points) if p.start == check.latest_start), None)
    if point is None or point.center is None or point.ucl is None or point.value is None:
        return 0.0
    sigma = (point.ucl - point.center) / 3
    return abs(point.value - point.center) / sigma if sigma > 0 else 0.0
