"""Demo data: KPI goals for the demo company, so the dashboard shows goals met, missed and on pace."""

from __future__ import annotations

import math
from datetime import date
from decimal import Decimal
from typing import Any

from tandem.analytics.dashboard.selectors import goals_current, kpi_data_load
from tandem.analytics.dashboard.services import goal_set
from tandem.stats.kpi import CUMULATIVE, METRICS, kpi_actuals, period_next, periods_until

PAST = {"month": 6, "quarter": 4}  # goals for this many past periods, the current one and the next
LOOKBACK = 3  # a goal is the average of the three periods before it, stretched by UPLIFT
UPLIFT = 1.1


def _nice(metric: str, value: float) -> Decimal:
    """Round a goal the way people write them: 0.27, 350, 1,250,000."""
    if metric == "win_rate":
        return Decimal(str(round(min(value, 0.95), 2)))
    if value <= 0:
        return Decimal(0)
    digits = max(0, math.floor(math.log10(value)) - 1)
    step = 10**digits * (5 if metric in ("mqls", "sqls") and digits == 0 else 1)
    return Decimal(int(round(value / step) * step))


def goals_demo_seed(*, end: date, by_user: Any = None) -> int:
    """Set the demo's goals (past, current and next month and quarter) from its own history; returns how many versions."""
    data = kpi_data_load(as_of=end)
    written = 0
    for period, past in PAST.items():
        starts = periods_until(end, period, past + 1 + LOOKBACK)
        starts.append(period_next(starts[-1], period))
        edges = [*starts, period_next(starts[-1], period)]
        actual = kpi_actuals(data.inputs, edges)
        for metric in METRICS:
            for i in range(LOOKBACK, len(starts)):
                # The next period's goal follows the last complete periods, not the running one.
                window = [v for v in actual.of(metric)[i - LOOKBACK : min(i, len(starts) - 2)] if v is not None]
                if not window:
                    continue
                base = sum(window) / len(window)
                stretch = 1 / UPLIFT if metric == "cac" else UPLIFT if metric in CUMULATIVE else 1.05
                goal_set(
                    metric=metric,
                    period=period,
                    period_start_on=starts[i],
                    target=_nice(metric, base * stretch),
                    actor=by_user,
                    reason="Demo: the average of the three periods before, stretched 10%",
                )
                written += 1
    # One goal revised, so the history shows a second version.
    current = periods_until(end, "month", 1)[0]
    first = goals_current(period="month", starts=[current]).get(("mqls", current))
    if first is not None and first.target is not None:
        goal_set(
            metric="mqls",
            period="month",
            period_start_on=current,
            target=_nice("mqls", float(first.target) * 1.1),
            actor=by_user,
            reason="Demo: raised after the events push was agreed",
        )
        written += 1
    return written
