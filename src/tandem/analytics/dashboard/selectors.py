"""Reads for the shared KPI dashboard: goals in force, actuals per month or quarter, weekly signal checks.

The data (lead cohorts in three queries, shared with the control charts so "an MQL" means the same on both
pages, deals, campaign costs) are kept per process until they change, like the other report pages; each
request then asks for the data's fingerprint (five small queries), the goals in force and their history.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any
from urllib.parse import urlencode

import numpy as np
from django.db.models import CharField
from django.db.models.functions import Cast
from django.urls import reverse
from django.utils import timezone

from tandem.analytics.dashboard.models import Goal
from tandem.analytics.reports.selectors import reports_fingerprint
from tandem.analytics.statistics.selectors import LeadCohorts, _day_parser, lead_cohorts_load
from tandem.campaigns.models import Campaign
from tandem.core.errors import ValidationFailed
from tandem.crm.models import Deal, DealStage
from tandem.stats.kpi import (
    CUMULATIVE,
    LOWER_IS_BETTER,
    METRIC_LABELS,
    METRIC_UNITS,
    METRICS,
    STATUS_WORDS,
    KpiInputs,
    day_check,
    goal_status,
    kpi_actuals,
    ordinals,
    period_check,
    period_end,
    period_label,
    period_next,
    periods_until,
    week_start,
    weekly_check,
)

PERIODS_SHOWN = {"month": 6, "quarter": 4}
WEEKS_CHARTED = 26
# The control chart on /statistics/ that looks at the same thing from the lead side, per KPI.
RELATED_CHARTS: dict[str, list[tuple[str, str]]] = {
    "mqls": [("volume", "lead volume"), ("mql_rate", "lead→MQL rate")],
    "sqls": [("sql_rate", "MQL→SQL rate")],
    "pipeline": [("sql_rate", "MQL→SQL rate")],
    "revenue": [("win_rate", "lead→customer rate")],
    "cac": [("win_rate", "lead→customer rate")],
    "win_rate": [("win_rate", "lead→customer rate")],
}
WEEKLY_LABELS = {
    "mqls": "weekly MQLs",
    "sqls": "weekly SQLs",
    "pipeline": "weekly pipeline created",
    "revenue": "weekly revenue",
    "win_rate": "weekly win rate",
}


@dataclass(frozen=True)
class DashboardData:
    """The KPI inputs and the lead cohorts they came from (the weekly report needs both)."""

    inputs: KpiInputs
    cohorts: LeadCohorts


def kpi_data_load(*, as_of: date | None = None) -> DashboardData:
    """Lead cohorts, deals and campaign costs as arrays (five queries)."""
    cohorts = lead_cohorts_load()
    created: list[date | None] = []
    closed: list[date | None] = []
    stages: list[str] = []
    amounts: list[float] = []
    # Timestamps as text, cut to the local day, as the control charts read them (cheaper than datetimes).
    day = _day_parser()
    for created_at, closed_at, stage, amount in Deal.objects.values_list(
        Cast("created_at", CharField()), Cast("closed_at", CharField()), "stage", "amount"
    ):
        created.append(day(created_at))
        closed.append(None if closed_at is None else day(closed_at))
        stages.append(stage)
        amounts.append(float(amount or 0))
    today = as_of or timezone.localdate()
    camp_starts: list[int] = []
    camp_ends: list[int] = []
    costs: list[float] = []
    for started, ended, made, cost in Campaign.objects.values_list("started_on", "ended_on", "created_at", "actual_cost"):
        # As selectors_economics.campaign_spend_get: a running campaign has spent its cost up to today; one
        # without dates sits on the day it was created.
        start = started or ended or timezone.localdate(made)
        end = ended or max(start, today)
        camp_starts.append(start.toordinal())
        camp_ends.append(max(end, start).toordinal())
        costs.append(float(cost or 0))
    stage_arr = np.array(stages, dtype=object)
    inputs = KpiInputs(
        mql_days=ordinals(cohorts.mql_day),
        sql_days=ordinals(cohorts.sql_day),
        deal_created=ordinals(created),
        deal_closed=ordinals(closed),
        deal_won=stage_arr == DealStage.WON.value if stages else np.zeros(0, dtype=bool),
        deal_lost=stage_arr == DealStage.LOST.value if stages else np.zeros(0, dtype=bool),
        deal_amount=np.array(amounts, dtype=np.float64),
        customer_days=ordinals(cohorts.won_day),
        campaign_starts=np.array(camp_starts, dtype=np.int64),
        campaign_ends=np.array(camp_ends, dtype=np.int64),
        campaign_costs=np.array(costs, dtype=np.float64),
    )
    return DashboardData(inputs=inputs, cohorts=cohorts)


_DATA_CACHE: dict[tuple[Any, ...], DashboardData] = {}


def kpi_data_cached(*, as_of: date) -> DashboardData:
    """``kpi_data_load``, kept in this process until the day or the data's fingerprint changes (five small queries)."""
    key = (as_of, reports_fingerprint())
    hit = _DATA_CACHE.get(key)
    if hit is None:
        _DATA_CACHE.clear()  # one entry: the arrays of every lead are not small
        hit = _DATA_CACHE[key] = kpi_data_load(as_of=as_of)
    return hit


def goals_current(*, period: str, starts: list[date]) -> dict[tuple[str, date], Goal]:
    """The goals in force for these periods, by (metric, period start) (one query)."""
    period_check(period)
    return {
        (g.metric, g.period_start): g
        for g in Goal.objects.filter(period=period, period_start__in=starts, is_current=True).select_related("set_by")
    }


def goal_history(*, period: str | None = None, metric: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
    """Goal versions, newest change first: who set which target, when and why (one query)."""
    rows = Goal.objects.select_related("set_by").order_by("-set_at", "-id")
    if period:
        period_check(period)
        rows = rows.filter(period=period)
    if metric:
        if metric not in METRICS:
            raise ValidationFailed(f"metric must be one of {', '.join(METRICS)}", field="metric", value=metric)
        rows = rows.filter(metric=metric)
    return [goal_to_dict(g) for g in rows[:limit]]


def goal_to_dict(goal: Goal) -> dict[str, Any]:
    """One goal version as plain data (the API's shape)."""
    return {
        "id": goal.pk,
        "metric": goal.metric,
        "label": METRIC_LABELS[goal.metric],
        "period": goal.period,
        "period_start": goal.period_start.isoformat(),
        "period_label": period_label(goal.period_start, goal.period),
        "target": None if goal.target is None else float(goal.target),
        "version": goal.version,
        "is_current": goal.is_current,
        "set_by": goal.set_by.username if goal.set_by else None,
        "set_at": goal.set_at.isoformat(),
        "reason": goal.reason,
    }


def _stats_url(metric: str) -> str:
    return f"{reverse('stats:spc')}?{urlencode({'metric': metric, 'by': 'all', 'period': 'week'})}"


def weeks_until(day: date, count: int) -> list[date]:
    """The Mondays of ``count`` weeks ending with the week holding ``day``, oldest first."""
    last = week_start(day)
    return [last - timedelta(weeks=count - 1 - i) for i in range(count)]


def _weekly_checks(inputs: KpiInputs, as_of: date) -> dict[str, Any]:
    weeks = weeks_until(as_of, WEEKS_CHARTED)
    actual = kpi_actuals(inputs, [*weeks, weeks[-1] + timedelta(weeks=1)])
    checks: dict[str, Any] = {}
    for metric in METRICS:
        if metric == "cac":
            continue  # a handful of customers a week makes weekly CAC swing wildly: judged monthly only
        if metric == "win_rate":
            checks[metric] = weekly_check(
                key=metric, label=WEEKLY_LABELS[metric], starts=weeks, values=actual.won, trials=actual.closed, as_of=as_of
            )
        else:
            checks[metric] = weekly_check(key=metric, label=WEEKLY_LABELS[metric], starts=weeks, values=actual.of(metric), as_of=as_of)
    return checks


def dashboard_get(
    *, period: str = "month", as_of: date | None = None, count: int | None = None, data: DashboardData | None = None
) -> dict[str, Any]:
    """Every KPI for the current and recent months or quarters: actual, goal, status, trend and weekly signal."""
    period_check(period)
    today = as_of or timezone.localdate()
    day_check(today, "as_of")
    n = count or PERIODS_SHOWN[period]
    starts = periods_until(today, period, n)
    edges = [*starts, period_next(starts[-1], period)]
    loaded = data or kpi_data_cached(as_of=today)
    actual = kpi_actuals(loaded.inputs, edges)
    goals = goals_current(period=period, starts=starts)
    checks = _weekly_checks(loaded.inputs, today)
    periods: list[dict[str, Any]] = []
    elapsed_of: list[float] = []
    for s in starts:
        days = (period_end(s, period) - s).days + 1
        elapsed = min(max((today - s).days + 1, 0), days) / days
        elapsed_of.append(elapsed)
        periods.append({"start": s.isoformat(), "end": period_end(s, period).isoformat(), "label": period_label(s, period), "fraction_elapsed": elapsed})
    kpis = []
    for metric in METRICS:
        series = []
        for i, s in enumerate(starts):
            goal = goals.get((metric, s))
            target = None if goal is None or goal.target is None else float(goal.target)
            value = actual.of(metric)[i]
            row: dict[str, Any] = {
                "start": s.isoformat(),
                "label": periods[i]["label"],
                "actual": value,
                "goal": target,
                "goal_version": None if goal is None else goal.version,
                "progress": (value / target) if value is not None and target else None,
                "status": goal_status(metric=metric, actual=value, goal=target, fraction_elapsed=elapsed_of[i]),
            }
            if metric in CUMULATIVE and target is not None:
                row["expected_to_date"] = target * elapsed_of[i]
            if metric == "win_rate":
                row.update(won=actual.won[i], closed=actual.closed[i])
            if metric == "cac":
                row.update(spend=actual.spend[i], customers=actual.customers[i])
            series.append(row)
        current, previous = series[-1], series[-2] if len(series) > 1 else None
        check = checks.get(metric)
        kpis.append(
            {
                "metric": metric,
                "label": METRIC_LABELS[metric],
                "unit": METRIC_UNITS[metric],
                "better": "lower" if metric in LOWER_IS_BETTER else "higher",
                "current": current,
                "status_text": STATUS_WORDS.get(current["status"] or "", "no goal set" if current["goal"] is None else ""),
                "previous": previous,
                "series": series,
                "signal": None if check is None else check.to_dict(),
                "related_charts": [{"label": lbl, "url": _stats_url(m)} for m, lbl in RELATED_CHARTS[metric]],
            }
        )
    return {"period": period, "as_of": today.isoformat(), "periods": periods, "kpis": kpis}
