"""Reads for the weekly alignment report: one Monday-to-Sunday week for the sales-marketing meeting.

The JSON shape is documented in docs/reports.md ("Weekly alignment report"); the page, the API and
`tandem report weekly` all return this dict.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from datetime import date, timedelta
from typing import Any

import numpy as np
from django.utils import timezone

from tandem.analytics.dashboard.selectors import DashboardData, kpi_data_cached, weeks_until
from tandem.campaigns.models import Touchpoint
from tandem.core.errors import ValidationFailed
from tandem.crm.models import Deal, DealStage
from tandem.lifecycle.selectors import sla_scorecard
from tandem.stats.kpi import (
    bucket_sums,
    day_check,
    kpi_actuals,
    ordinals,
    sigma_distance,
    week_start,
    weekly_check,
)

WEEKS_COMPARED = 4  # "the previous weeks" = the four before the report's week
WEEKS_CHARTED = 26  # the control charts behind "is this change a signal"
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


def _top_wins(start: dt.datetime, end: dt.datetime) -> list[dict[str, Any]]:
    """The biggest deals won in the week with the campaigns and reps behind them (two queries)."""
    deals = list(
        Deal.objects.filter(stage=DealStage.WON, closed_at__gte=start, closed_at__lt=end)
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


def weekly_report_get(
    *, week: date | None = None, today: date | None = None, now: dt.datetime | None = None, data: DashboardData | None = None
) -> dict[str, Any]:
    """The weekly alignment report: what came in, what converted, SLA both sides, top wins, biggest changes."""
    monday = weekly_week(week=week, today=today)
    weeks = weeks_until(monday, WEEKS_CHARTED)
    edges = [*weeks, monday + timedelta(weeks=1)]
    loaded = data or kpi_data_cached(as_of=today or timezone.localdate())
    inputs, cohorts = loaded.inputs, loaded.cohorts
    actual = kpi_actuals(inputs, edges)
    lead_days = ordinals(cohorts.lead_day)
    series: dict[str, list[float]] = {
        "leads": bucket_sums(lead_days, edges).tolist(),
        "mqls": actual.mqls,
        "sqls": actual.sqls,
        "wins": actual.won,
        "revenue": actual.revenue,
        "pipeline": actual.pipeline,
    }
    channels = np.array(cohorts.channel, dtype=object)
    mql_days = inputs.mql_days
    by_channel = []
    per_channel_series: list[tuple[str, str, str, list[float]]] = []
    for ch in sorted(set(cohorts.channel)):
        mask = channels == ch
        leads = bucket_sums(lead_days[mask], edges).tolist()
        mqls = bucket_sums(mql_days[mask], edges).tolist()
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
    start = dt.datetime.combine(monday, dt.time(), tzinfo=timezone.get_current_timezone())
    end = start + timedelta(weeks=1)
    totals = {key: _compare(series[key]) for key, _, _ in TOTALS}
    return {
        "week": {"start": monday.isoformat(), "end": (monday + timedelta(days=6)).isoformat()},
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
        "top_wins": _top_wins(start, end),
        "changes": changes[:CHANGES_SHOWN],
    }
