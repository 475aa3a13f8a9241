"""Pages: the shared KPI dashboard (goals against actuals, with signals) and the weekly alignment report."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from tandem.analytics.dashboard.display import fmt, weekly_context
from tandem.analytics.dashboard.selectors import dashboard_get, goal_history, weekly_report_cached
from tandem.analytics.dashboard.services import goal_can_set, goal_set
from tandem.core.errors import TandemError
from tandem.core.http import csv_response, require_perm
from tandem.stats.kpi import METRIC_LABELS, METRICS, PERIODS, period_label, period_next

GREY = "#9aa3af"
ACCENT = "#4338ca"
GOAL = "#f59e0b"
RED = "#dc2626"
FUTURE_PERIODS = 2  # goals may be set ahead for this many periods
CSV_COLUMNS = ("metric", "start", "label", "actual", "goal", "goal_version", "progress", "status", "expected_to_date")


def _bars(kpi: dict[str, Any]) -> dict[str, Any]:
    rows = kpi["series"]
    unit = kpi["unit"]
    scale = 100 if unit == "rate" else 1
    x = [r["label"] for r in rows]
    data: list[dict[str, Any]] = [
        {
            "type": "bar",
            "name": "actual",
            "x": x,
            "y": [None if r["actual"] is None else r["actual"] * scale for r in rows],
            "marker": {"color": [ACCENT if r["status"] in ("met", "on_pace", None) else RED for r in rows]},
        },
        {
            "type": "scatter",
            "mode": "markers",
            "name": "goal",
            "x": x,
            "y": [None if r["goal"] is None else r["goal"] * scale for r in rows],
            "marker": {"color": GOAL, "symbol": "line-ew-open", "size": 28, "line": {"width": 3}},
        },
    ]
    layout = {"height": 200, "showlegend": False, "margin": {"t": 6, "b": 28, "l": 52}, "yaxis": {"ticksuffix": "%" if unit == "rate" else ""}}
    return {"data": data, "layout": layout}


def _sparkline(kpi: dict[str, Any]) -> dict[str, Any] | None:
    signal = kpi["signal"]
    if not signal:
        return None
    pts = signal["points"]
    scale = 100 if kpi["unit"] == "rate" else 1

    def scaled(key: str) -> list[float | None]:
        return [None if p[key] is None else p[key] * scale for p in pts]

    x = [p["start"] for p in pts]
    colors = [GREY if not p["mature"] else ACCENT for p in pts]
    line = {"dash": "dot", "color": GREY, "shape": "hv", "width": 1}
    data = [
        {"x": x, "y": scaled("ucl"), "mode": "lines", "line": line, "hoverinfo": "skip"},
        {"x": x, "y": scaled("lcl"), "mode": "lines", "line": line, "hoverinfo": "skip"},
        {"x": x, "y": scaled("center"), "mode": "lines", "line": {"dash": "dash", "color": "#10b981", "width": 1}, "hoverinfo": "skip"},
        {"x": x, "y": scaled("value"), "mode": "lines+markers", "line": {"color": "#c7cbe8", "width": 1}, "marker": {"color": colors, "size": 4}},
    ]
    layout = {"height": 110, "showlegend": False, "margin": {"t": 4, "b": 18, "l": 40, "r": 4}, "xaxis": {"showticklabels": False}}
    return {"data": data, "layout": layout}


def _tiles(report: dict[str, Any]) -> list[dict[str, Any]]:
    tiles = []
    for kpi in report["kpis"]:
        unit = kpi["unit"]
        rows = [
            {**r, "actual_text": fmt(r["actual"], unit), "goal_text": fmt(r["goal"], unit), "progress_pct": None if r["progress"] is None else round(100 * r["progress"])}
            for r in kpi["series"]
        ]
        current, previous = rows[-1], rows[-2] if len(rows) > 1 else None
        signal = kpi["signal"]
        tiles.append(
            {
                **kpi,
                "rows": list(reversed(rows)),
                "current_row": current,
                "previous_row": previous,
                "signal_value_text": fmt(signal["value"], unit) if signal else "",
                "signal_center_text": fmt(signal["center"], unit) if signal else "",
                "bars": _bars(kpi),
                "bars_id": f"bars-{kpi['metric']}",
                "spark_id": f"spark-{kpi['metric']}",
                "sparkline": _sparkline(kpi),
            }
        )
    return tiles


def _goal_periods(period: str, report: dict[str, Any]) -> list[tuple[str, str]]:
    starts = [dt.date.fromisoformat(p["start"]) for p in report["periods"]]
    for _ in range(FUTURE_PERIODS):
        starts.append(period_next(starts[-1], period))
    current = report["periods"][-1]["start"]
    ordered = [s for s in starts if s.isoformat() >= current] + [s for s in reversed(starts) if s.isoformat() < current]
    return [(s.isoformat(), period_label(s, period)) for s in ordered]


@login_required
def dashboard(request: HttpRequest) -> HttpResponse:
    period = request.GET.get("period", "month")
    period = period if period in PERIODS else "month"
    report = dashboard_get(period=period)
    if request.GET.get("format") == "json":
        return JsonResponse(report)
    if request.GET.get("format") == "csv":
        rows = [{"metric": k["metric"], **r} for k in report["kpis"] for r in k["series"]]
        return csv_response(filename=f"kpis-{period}.csv", columns=CSV_COLUMNS, rows=rows)
    context = {
        "report": report,
        "tiles": _tiles(report),
        "period": period,
        "periods": PERIODS,
        "can_set": goal_can_set(user=request.user),
        "metrics": [(m, METRIC_LABELS[m]) for m in METRICS],
        "goal_periods": _goal_periods(period, report),
        "history": goal_history(period=period, limit=20),
        "current_label": report["periods"][-1]["label"],
    }
    return render(request, "analytics/dashboard.html", context)


@login_required
@require_POST
def goal_set_view(request: HttpRequest) -> HttpResponse:
    require_perm(request, allowed=goal_can_set(user=request.user), message="only admins, marketing and sales managers set goals")
    period = request.POST.get("period", "month")
    back = f"{reverse('analytics:dashboard')}?period={period if period in PERIODS else 'month'}"
    metric = request.POST.get("metric", "")
    raw = request.POST.get("target", "").strip()
    target: Any = raw or None
    try:
        if metric == "win_rate" and raw:
            # The form asks for a percentage; the goal stores a fraction.
            try:
                target = Decimal(raw) / 100
            except InvalidOperation:
                target = raw
        start = dt.date.fromisoformat(request.POST.get("period_start", ""))
    except ValueError:
        messages.error(request, f"period_start: not a date ({request.POST.get('period_start', '')!r})")
        return redirect(back)
    try:
        goal = goal_set(
            metric=metric, period=period, period_start_on=start, target=target, actor=request.user, reason=request.POST.get("reason", "")
        )
    except TandemError as exc:
        messages.error(request, f"{exc.field}: {exc.message}" if exc.field else exc.message)
        return redirect(back)
    label = period_label(goal.period_start, goal.period)
    if goal.target is None:
        messages.success(request, f"{METRIC_LABELS[metric]} goal for {label} cleared.")
    else:
        unit = "rate" if metric == "win_rate" else "money" if metric in ("pipeline", "revenue", "cac") else "count"
        messages.success(request, f"{METRIC_LABELS[metric]} goal for {label} set to {fmt(float(goal.target), unit)} (version {goal.version}).")
    return redirect(back)


def _week(request: HttpRequest) -> dt.date | None:
    try:
        return dt.date.fromisoformat(request.GET.get("week", ""))
    except ValueError:
        return None


@login_required
def weekly(request: HttpRequest) -> HttpResponse:
    week = _week(request)
    error = ""
    try:
        report = weekly_report_cached(week=week, user=request.user)
    except TandemError as exc:
        error = exc.message
        report = weekly_report_cached(user=request.user)
    if request.GET.get("format") == "json":
        return JsonResponse(report)
    start = dt.date.fromisoformat(report["week"]["start"])
    context = {
        **weekly_context(report),
        "error": error,
        "previous_week": (start - dt.timedelta(weeks=1)).isoformat(),
        "next_week": (start + dt.timedelta(weeks=1)).isoformat(),
        "has_next": start + dt.timedelta(weeks=1) <= timezone.localdate(),
    }
    return render(request, "analytics/weekly.html", context)
