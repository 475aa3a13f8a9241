"""Reads for the shared KPI dashboard (goals in force, actuals per month or quarter, weekly signal checks) and
the weekly alignment report.

The data (leads, MQLs, SQLs and customers per channel and day, by the control charts' definitions so "an MQL"
means the same on both pages; deals per day; campaign costs: three queries that the database groups, a few
thousand numbers at any size) are kept in the report cache until they change, like the other reports
(tandem.core.reportcache); each request then asks for the data version (one query), the goals in force and
their history. The weekly report is cached whole, per reader's reach (its top wins are the deals they may see).

Record-level access (tandem.users.access): every number here (KPIs, funnel counts, SLA shares, channel rows)
is the company's whoever asks, as on the other report pages; only a list of the records behind a number (the
weekly report's top wins, naming deals and people) shows the records the reader may see.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any
from urllib.parse import urlencode

import numpy as np
from django.db import connection
from django.db.models import QuerySet
from django.urls import reverse
from django.utils import timezone

from tandem.analytics.dashboard.models import Goal
from tandem.analytics.statistics.selectors import LEAD_STAGES
from tandem.campaigns.models import Touchpoint
from tandem.campaigns.selectors import campaign_cost_spans
from tandem.core.errors import ValidationFailed
from tandem.core.paging import PAGE_SIZE, keyset_page, page_dict
from tandem.core.periods import period_bounds
from tandem.core.reportcache import report_cached_get
from tandem.crm.models import Deal, DealStage, Person, StageChange
from tandem.lifecycle.selectors import sla_scorecard
from tandem.stats.kpi import (
    CUMULATIVE,
    LOWER_IS_BETTER,
    METRIC_LABELS,
    METRIC_UNITS,
    METRICS,
    STATUS_WORDS,
    KpiInputs,
    bucket_sums,
    day_check,
    goal_status,
    kpi_actuals,
    period_check,
    period_end,
    period_label,
    period_next,
    periods_until,
    sigma_distance,
    week_start,
    weekly_check,
)
from tandem.users.access import access_scope, access_seen

PERIODS_SHOWN = {"month": 6, "quarter": 4}
WEEKS_CHARTED = 26  # the control charts behind "is this change a signal"
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


DayCounts = tuple[np.ndarray, np.ndarray]  # day ordinals (float) and, per day, how many (or how much)


@dataclass(frozen=True)
class DashboardData:
    """Per day, what the KPIs and the weekly report count and sum, as the database grouped it (a few thousand
    numbers whatever the company's size, so the report cache keeps it small)."""

    leads: dict[str, DayCounts]  # per channel ("(none)" when blank): leads by the day they became one
    mqls: dict[str, DayCounts]  # per channel: leads by the day they reached MQL (or beyond)
    sqls: DayCounts
    customers: DayCounts  # leads by the day they first became a customer (stage change or won deal)
    deals_created: DayCounts  # deals created per day, weighted by their summed amount
    deals_closed: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]  # day, won?, how many, summed amount
    campaign_starts: np.ndarray
    campaign_ends: np.ndarray
    campaign_costs: np.ndarray

    @property
    def inputs(self) -> KpiInputs:
        """The KPI inputs: one day per lead, and deal entries that count and sum as the deals do.

        A day with n deals won (or lost) is n entries carrying the day's summed amount on the first; a day's
        created deals are one entry carrying their summed amount (the pipeline only sums amounts).
        """
        created_days, created_sums = self.deals_created
        closed_days, closed_won, closed_n, closed_sums = self.deals_closed
        n = closed_n.astype(np.int64)
        first = np.zeros(int(n.sum()), dtype=np.float64)
        first[np.cumsum(n) - n] = closed_sums
        won = np.repeat(closed_won, n)
        nan_created = np.full(created_days.size, np.nan)
        return KpiInputs(
            mql_days=_repeat(list(self.mqls.values())),
            sql_days=_repeat([self.sqls]),
            deal_created=np.concatenate([created_days, np.full(won.size, np.nan)]),
            deal_closed=np.concatenate([nan_created, np.repeat(closed_days, n)]),
            deal_won=np.concatenate([np.zeros(created_days.size, dtype=bool), won]),
            deal_lost=np.concatenate([np.zeros(created_days.size, dtype=bool), ~won]),
            deal_amount=np.concatenate([created_sums, first]),
            customer_days=_repeat([self.customers]),
            campaign_starts=self.campaign_starts,
            campaign_ends=self.campaign_ends,
            campaign_costs=self.campaign_costs,
        )


def _repeat(parts: list[DayCounts]) -> np.ndarray:
    """One day per counted thing (the KPI inputs' shape)."""
    if not parts:
        return np.zeros(0, dtype=np.float64)
    return np.concatenate([np.repeat(days, counts.astype(np.int64)) for days, counts in parts])


def _day_counts(pairs: dict[float, float]) -> DayCounts:
    days = sorted(pairs)
    return np.array(days, dtype=np.float64), np.array([pairs[d] for d in days], dtype=np.float64)


def _local_day(column: str) -> tuple[str, list[Any]]:
    """SQL for the local day of a timestamp column, as the control charts cut it (the site's time zone)."""
    tz = timezone.get_current_timezone_name()
    if connection.vendor == "sqlite" and tz == "UTC":
        return f"substr({column}, 1, 10)", []  # the stored UTC text: its first ten characters are the day
    sql, params = connection.ops.datetime_cast_date_sql(column, (), tz)
    return sql, list(params)


def _ordinal(value: Any) -> float:
    return float((value if isinstance(value, date) else date.fromisoformat(str(value))).toordinal())


def _lead_days() -> tuple[dict[str, dict[float, float]], ...]:
    """Per kind (lead, MQL, SQL, customer) and channel, leads per local day, grouped by the database (one query).

    A lead is a person with a stage change to lead or beyond, or a won deal, or standing at such a stage; they
    became a lead at their first such change (else when created), MQL at the first change to MQL or beyond, SQL
    to SQL or beyond, customer at the first change to customer or won deal, whichever came first (the same
    definitions as the control charts' lead cohorts, tandem.analytics.statistics).
    """
    qn = connection.ops.quote_name
    stages = ", ".join(f"'{s}'" for s in LEAD_STAGES)  # constants, not user input

    def from_stage(stage: str) -> str:
        return ", ".join(f"'{s}'" for s in LEAD_STAGES[LEAD_STAGES.index(stage) :])

    days, params = [], []
    for column in (
        "COALESCE(r.lead_at, p.created_at)",
        "r.mql_at",
        "r.sql_at",
        "CASE WHEN w.won_at IS NULL OR r.customer_at < w.won_at THEN r.customer_at ELSE w.won_at END",
    ):
        sql, more = _local_day(column)
        days.append(sql)
        params += more
    sql = f"""
        SELECT p.original_channel AS ch, {days[0]} AS d0, {days[1]} AS d1, {days[2]} AS d2, {days[3]} AS d3
        FROM {qn(Person._meta.db_table)} p
        LEFT JOIN (
            SELECT person_id, MIN(CASE WHEN to_stage IN ({stages}) THEN changed_at END) AS lead_at,
                   MIN(CASE WHEN to_stage IN ({from_stage("mql")}) THEN changed_at END) AS mql_at,
                   MIN(CASE WHEN to_stage IN ({from_stage("sql")}) THEN changed_at END) AS sql_at,
                   MIN(CASE WHEN to_stage = 'customer' THEN changed_at END) AS customer_at
            FROM {qn(StageChange._meta.db_table)} GROUP BY person_id
            HAVING MIN(CASE WHEN to_stage IN ({stages}) THEN changed_at END) IS NOT NULL
        ) r ON r.person_id = p.id
        LEFT JOIN (
            SELECT person_id, MIN(closed_at) AS won_at FROM {qn(Deal._meta.db_table)}
            WHERE stage = 'won' AND person_id IS NOT NULL AND closed_at IS NOT NULL GROUP BY person_id
        ) w ON w.person_id = p.id
        WHERE r.person_id IS NOT NULL OR w.person_id IS NOT NULL OR p.lifecycle_stage IN ({stages})
    """
    # Counted per (channel, day) of each kind: four group-bys of one materialized scan (each only over the
    # people who reached that kind, so about a million rows grouped at a million people, not four).
    branches = " UNION ALL ".join(
        f"SELECT ch, {k}, d{k}, COUNT(*) FROM x WHERE d{k} IS NOT NULL GROUP BY ch, d{k}" for k in range(4)
    )
    grouped = f"WITH x AS MATERIALIZED ({sql}) {branches}"
    out: tuple[dict[str, dict[float, float]], ...] = ({}, {}, {}, {})
    with connection.cursor() as cursor:
        cursor.execute(grouped, params)
        for channel, kind, day, n in cursor.fetchall():
            if day is None:
                continue
            per_day = out[kind].setdefault(channel or "(none)", {})
            at = _ordinal(day)
            per_day[at] = per_day.get(at, 0.0) + float(n)
    return out


def _deal_days() -> tuple[DayCounts, tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]:
    """Deals created per local day (summed amount), and won or lost per day closed (how many, summed amount)
    (one query)."""
    created_day, created_params = _local_day("created_at")
    closed_day, closed_params = _local_day("closed_at")
    table = connection.ops.quote_name(Deal._meta.db_table)
    sql = f"""
        SELECT 'created', {created_day}, COUNT(*), SUM(COALESCE(amount, 0)) FROM {table} GROUP BY 2
        UNION ALL
        SELECT stage, {closed_day}, COUNT(*), SUM(COALESCE(amount, 0)) FROM {table}
        WHERE stage IN ('won', 'lost') AND closed_at IS NOT NULL GROUP BY 1, 2
    """
    created: dict[float, float] = {}
    closed: list[tuple[float, bool, float, float]] = []
    with connection.cursor() as cursor:
        cursor.execute(sql, [*created_params, *closed_params])
        for kind, day, n, amount in cursor.fetchall():
            if kind == "created":
                created[_ordinal(day)] = created.get(_ordinal(day), 0.0) + float(amount or 0)
            else:
                closed.append((_ordinal(day), kind == DealStage.WON.value, float(n), float(amount or 0)))
    closed.sort()
    return _day_counts(created), (
        np.array([c[0] for c in closed], dtype=np.float64),
        np.array([c[1] for c in closed], dtype=bool),
        np.array([c[2] for c in closed], dtype=np.float64),
        np.array([c[3] for c in closed], dtype=np.float64),
    )


def kpi_data_load(*, as_of: date | None = None) -> DashboardData:
    """Leads, deals and campaign costs per day, grouped by the database (three queries)."""
    leads, mqls, sqls, customers = _lead_days()
    deals_created, deals_closed = _deal_days()
    camp_starts: list[int] = []
    camp_ends: list[int] = []
    costs: list[float] = []
    # As economics' campaign_spend_get: the campaigns' cost entries on the days they were spent (an entry
    # covering several days spread over them), summed by the database per span.
    for _, first, last, amount in campaign_cost_spans():
        camp_starts.append(first.toordinal())
        camp_ends.append(last.toordinal())
        costs.append(float(amount))
    return DashboardData(
        leads={ch: _day_counts(days) for ch, days in sorted(leads.items())},
        mqls={ch: _day_counts(days) for ch, days in sorted(mqls.items())},
        sqls=_day_counts(_merge(sqls)),
        customers=_day_counts(_merge(customers)),
        deals_created=deals_created,
        deals_closed=deals_closed,
        campaign_starts=np.array(camp_starts, dtype=np.int64),
        campaign_ends=np.array(camp_ends, dtype=np.int64),
        campaign_costs=np.array(costs, dtype=np.float64),
    )


def _merge(per_channel: dict[str, dict[float, float]]) -> dict[float, float]:
    out: dict[float, float] = {}
    for per_day in per_channel.values():
        for day, n in per_day.items():
            out[day] = out.get(day, 0.0) + n
    return out


def kpi_data_cached(*, as_of: date) -> DashboardData:
    """``kpi_data_load``, from the report cache until the day or the data version changes (one query when cached)."""
    return report_cached_get(kind="kpi_data", params={"as_of": as_of}, compute=lambda: kpi_data_load(as_of=as_of))


def goals_current(*, period: str, starts: list[date]) -> dict[tuple[str, date], Goal]:
    """The goals in force for these periods, by (metric, period start) (one query)."""
    period_check(period)
    return {
        (g.metric, g.period_start): g
        for g in Goal.objects.filter(period=period, period_start__in=starts, is_current=True).select_related("set_by")
    }


def _goals(*, period: str | None, metric: str | None) -> QuerySet[Goal]:
    rows = Goal.objects.select_related("set_by").order_by("-set_at", "-id")
    if period:
        period_check(period)
        rows = rows.filter(period=period)
    if metric:
        if metric not in METRICS:
            raise ValidationFailed(f"metric must be one of {', '.join(METRICS)}", field="metric", value=metric)
        rows = rows.filter(metric=metric)
    return rows


def goal_history(*, period: str | None = None, metric: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
    """Goal versions, newest change first: who set which target, when and why (one query)."""
    return [goal_to_dict(g) for g in _goals(period=period, metric=metric)[:limit]]


def goal_page(
    *, period: str | None = None, metric: str | None = None, cursor: str = "", limit: int = PAGE_SIZE
) -> dict[str, Any]:
    """A keyset page of goal versions, newest change first (the API's `/goals`)."""
    page = keyset_page(queryset=_goals(period=period, metric=metric), order="goal-set", field="set_at", cursor=cursor, limit=limit)
    return page_dict(page, goal_to_dict)


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
    inputs = loaded.inputs
    actual = kpi_actuals(inputs, edges)
    goals = goals_current(period=period, starts=starts)
    checks = _weekly_checks(inputs, today)
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


# ---- Reads for the weekly alignment report: one Monday-to-Sunday week for the sales-marketing meeting ----


WEEKS_COMPARED = 4  # "the previous weeks" = the four before the report's week
TOP_WINS = 5
CHANGES_SHOWN = 8
# key, the control chart's label, unit
TOTALS = (
    ("leads", "weekly leads", "count"),
    ("mqls", "weekly MQLs", "count"),
    ("sqls", "weekly SQLs", "count"),
    ("wins", "weekly deals won", "count"),
    ("revenue", "weekly revenue", "money"),
    ("pipeline", "weekly pipeline created", "money"),
)


def weekly_week(*, week: date | None = None, today: date | None = None) -> date:
    """The Monday of the report's week: the week holding ``week``, or by default the last complete week."""
    day = today or timezone.localdate()
    if week is not None:
        day_check(week, "week")
    if week is None:
        return week_start(day) - timedelta(weeks=1)
    if week > day:
        raise ValidationFailed("the week must not be in the future", field="week", value=week.isoformat())
    return week_start(week)


def _compare(series: list[float]) -> dict[str, Any]:
    """This week (the last value), the week before, and the average of the weeks before it."""
    this = series[-1]
    before = series[-1 - WEEKS_COMPARED : -1]
    avg = float(np.mean(before)) if before else None
    return {
        "this_week": this,
        "previous_week": series[-2] if len(series) > 1 else None,
        "previous_average": avg,
        "change": None if avg is None else this - avg,
        "change_pct": None if not avg else (this - avg) / avg,
    }


def _top_wins(start: dt.datetime, end: dt.datetime, user: Any = None) -> list[dict[str, Any]]:
    """The biggest deals won in the week (of those `user` may see, when given) with the campaigns and reps behind
    them (two queries)."""
    deals = list(
        access_seen(Deal.objects.filter(stage=DealStage.WON, closed_at__gte=start, closed_at__lt=end), user=user)
        .select_related("person", "account", "owner", "person__owner")
        .order_by("-amount", "closed_at", "id")[:TOP_WINS]
    )
    people = {d.person_id for d in deals if d.person_id}
    touches: dict[int, list[tuple[dt.datetime, str, str | None]]] = defaultdict(list)
    for pid, at, channel, campaign in (
        Touchpoint.objects.filter(person_id__in=people).order_by("occurred_at", "id").values_list("person_id", "occurred_at", "channel", "campaign__name")
    ):
        touches[pid].append((at, channel, campaign))
    wins = []
    for d in deals:
        journey = [t for t in touches.get(d.person_id or 0, []) if d.closed_at is None or t[0] <= d.closed_at]
        campaigns: list[str] = []
        for _, _, name in journey:
            if name and name not in campaigns:
                campaigns.append(name)
        rep = d.owner or (d.person.owner if d.person else None)
        wins.append(
            {
                "deal_id": d.pk,
                "deal": str(d),
                "amount": float(d.amount),
                "currency": d.currency,
                "closed_at": d.closed_at.isoformat() if d.closed_at else None,
                "account": d.account.name if d.account else None,
                "person_id": d.person_id,
                "person": (f"{d.person.first_name} {d.person.last_name}".strip() or d.person.email) if d.person else None,
                "rep": rep.username if rep else None,
                "campaigns": campaigns,
                "touchpoints": len(journey),
                "first_touch": {"channel": journey[0][1], "campaign": journey[0][2]} if journey else None,
                "last_touch": {"channel": journey[-1][1], "campaign": journey[-1][2]} if journey else None,
            }
        )
    return wins


def _sla(start: dt.datetime, end: dt.datetime, now: dt.datetime | None) -> dict[str, Any]:
    """Both sides of the hand-off SLA for the MQLs handed over in the week, from lifecycle's scorecard."""
    card = sla_scorecard(start=start, end=end, now=now)
    reps = card["reps"]
    met = sum(r["within_sla"] for r in reps)
    breached = sum(r["breached"] for r in reps)
    channels = card["channels"]
    accepted = sum(c["accepted"] for c in channels)
    sqls = sum(c["sqls"] for c in channels)
    mqls = card["mqls"]
    return {
        "policy": card["policy"],
        "mqls": mqls,
        "sales": {
            "within_sla": met,
            "breached": breached,
            "pending": sum(r["pending"] for r in reps),
            "within_rate": met / (met + breached) if met + breached else None,
            "reps": [
                {k: r[k] for k in ("rep", "mqls", "touched", "median_minutes_to_touch", "mean_attempts", "within_sla", "breached", "pending", "within_rate", "within_low", "within_high")}
                for r in sorted(reps, key=lambda r: (-r["mqls"], r["rep"]))
            ],
        },
        "marketing": {
            "accepted": accepted,
            "acceptance_rate": accepted / mqls if mqls else None,
            "sqls": sqls,
            "sql_rate": sqls / mqls if mqls else None,
            "channels": [
                {k: c[k] for k in ("key", "mqls", "accepted", "acceptance_rate", "acceptance_low", "acceptance_high", "sqls", "sql_rate", "sql_rate_status")}
                for c in sorted(channels, key=lambda c: (-c["mqls"], c["key"]))
            ],
        },
    }


def weekly_report_cached(*, week: date | None = None, user: Any = None) -> dict[str, Any]:
    """``weekly_report_get`` for now, from the report cache per reader's reach while the data version and the
    minute stand (the SLA's open hand-offs age with the clock; a minute is the scorecard's precision)."""
    # Keyed by the minute, computed at the real clock: a truncated `now` would put a touch logged earlier in
    # this minute in the future (not yet counted), while the data version already says it is there.
    now = timezone.now()
    today = timezone.localdate(now)
    monday = weekly_week(week=week, today=today)
    return report_cached_get(
        kind="weekly",
        params={"week": monday, "today": today, "minute": now.replace(second=0, microsecond=0)},
        scope=access_scope(user=user),
        compute=lambda: weekly_report_get(week=monday, today=today, now=now, user=user),
    )


def weekly_report_get(
    *,
    week: date | None = None,
    today: date | None = None,
    now: dt.datetime | None = None,
    data: DashboardData | None = None,
    user: Any = None,
) -> dict[str, Any]:
    """The weekly alignment report: what came in, what converted, SLA both sides, top wins, biggest changes (the
    numbers are the company's; the top wins are the deals `user` may see, when given)."""
    monday = weekly_week(week=week, today=today)
    weeks = weeks_until(monday, WEEKS_CHARTED)
    edges = [*weeks, monday + timedelta(weeks=1)]
    loaded = data or kpi_data_cached(as_of=today or timezone.localdate())
    actual = kpi_actuals(loaded.inputs, edges)
    zero = np.zeros(len(edges) - 1)
    leads_of = {ch: bucket_sums(days, edges, counts) for ch, (days, counts) in loaded.leads.items()}
    mqls_of = {ch: bucket_sums(days, edges, counts) for ch, (days, counts) in loaded.mqls.items()}
    series: dict[str, list[float]] = {
        "leads": sum(leads_of.values(), zero).tolist(),
        "mqls": actual.mqls,
        "sqls": actual.sqls,
        "wins": actual.won,
        "revenue": actual.revenue,
        "pipeline": actual.pipeline,
    }
    by_channel = []
    per_channel_series: list[tuple[str, str, str, list[float]]] = []
    for ch in sorted(loaded.leads):  # every lead's channel
        leads = leads_of[ch].tolist()
        mqls = mqls_of.get(ch, zero).tolist()
        if not (leads[-1] or mqls[-1] or sum(leads[-1 - WEEKS_COMPARED :]) or sum(mqls[-1 - WEEKS_COMPARED :])):
            continue
        by_channel.append(
            {
                "channel": ch,
                "leads": leads[-1],
                "leads_previous_average": float(np.mean(leads[-1 - WEEKS_COMPARED : -1])),
                "mqls": mqls[-1],
                "mqls_previous_average": float(np.mean(mqls[-1 - WEEKS_COMPARED : -1])),
            }
        )
        per_channel_series += [(f"leads:{ch}", f"weekly {ch.replace('_', ' ')} leads", "count", leads), (f"mqls:{ch}", f"weekly {ch.replace('_', ' ')} MQLs", "count", mqls)]
    by_channel.sort(key=lambda r: (-r["leads"], r["channel"]))
    as_of = monday + timedelta(weeks=1)  # the report's week is complete: it is the latest mature point
    changes = []
    candidates = [(key, label, unit, series[key]) for key, label, unit in TOTALS] + per_channel_series
    for key, label, unit, values in candidates:
        check = weekly_check(key=key, label=label, starts=weeks, values=values, as_of=as_of)
        compared = _compare(values)
        changes.append(
            {
                "key": key,
                "label": label,
                "unit": unit,
                **compared,
                "signal": check.is_signal,
                "sigma": round(sigma_distance(check), 3),
                "text": check.text,
            }
        )
    changes.sort(key=lambda c: (not c["signal"], -c["sigma"], -abs(c["change"] or 0), c["key"]))
    won, closed = actual.won[-1], actual.closed[-1]
    # The one period definition (tandem.core.periods): Monday 00:00 to the next Monday 00:00, local time, the
    # same [start, end) as the buckets above, so the SLA and the top wins count the week the totals count.
    start, end = period_bounds(monday, "week", tz=timezone.get_current_timezone())
    totals = {key: _compare(series[key]) for key, _, _ in TOTALS}
    return {
        # "end" is the week's last day, as shown; the period is [start, end) with end = "next" 00:00.
        "week": {"start": monday.isoformat(), "end": (monday + timedelta(days=6)).isoformat(), "next": (monday + timedelta(weeks=1)).isoformat()},
        "weeks_compared": WEEKS_COMPARED,
        "weeks_charted": WEEKS_CHARTED,
        "came_in": {"leads": totals["leads"], "mqls": totals["mqls"], "by_channel": by_channel},
        "converted": {
            "sqls": totals["sqls"],
            "wins": totals["wins"],
            "revenue": totals["revenue"],
            "pipeline": totals["pipeline"],
            "win_rate": {"won": won, "closed": closed, "rate": won / closed if closed else None},
        },
        "sla": _sla(start, end, now),
        "top_wins": _top_wins(start, end, user),
        "changes": changes[:CHANGES_SHOWN],
    }
