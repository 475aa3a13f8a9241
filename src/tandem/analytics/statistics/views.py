"""Honest-statistics pages: control charts (SPC), segments, experiments (list, planner, one experiment)."""

from __future__ import annotations

import math
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from tandem.analytics.statistics.models import Experiment
from tandem.analytics.statistics.selectors import (
    SEGMENT_FIELDS,
    SPC_BY,
    SPC_METRICS,
    experiment_analyse,
    experiment_get,
    experiment_list,
    segment_table_cached,
    spc_page_get,
)
from tandem.analytics.statistics.services import experiment_create, experiment_import_csv
from tandem.core.errors import NotFound, TandemError
from tandem.core.http import param_choice, param_date, require_perm
from tandem.core.textfiles import text_read
from tandem.stats import spc
from tandem.stats.experiments import plan_sample_size

PAGE_SERIES = 8
SEGMENT_CHART_ROWS = 30
EDIT_ROLES = {"admin", "marketing"}
GREY = "#9aa3af"
RED = "#dc2626"


def _experiment(name: str) -> Experiment:
    try:
        return experiment_get(name=name)
    except NotFound as exc:
        raise Http404(exc.message) from exc


def _can_edit(request: HttpRequest) -> bool:
    user = request.user
    return bool(user.is_superuser or getattr(user, "role", "") in EDIT_ROLES)


def _spc_figure(series: spc.ChartSeries, percent: bool) -> dict[str, Any]:
    """Value, centre and limits; immature points grey, points in a signal red."""
    pts = series.points
    x = [p.start.isoformat() for p in pts]
    flagged = [any(f[i] for f in series.flags.values()) for i in range(len(pts))]
    colors = [GREY if not p.mature else RED if flagged[i] else "#4338ca" for i, p in enumerate(pts)]
    fmt = ".1%" if percent else ",.0f"
    data: list[dict[str, Any]] = [
        {"x": x, "y": [p.ucl for p in pts], "name": "upper limit", "mode": "lines", "line": {"dash": "dot", "color": GREY, "shape": "hv"}, "hoverinfo": "skip"},
        {"x": x, "y": [p.lcl for p in pts], "name": "lower limit", "mode": "lines", "line": {"dash": "dot", "color": GREY, "shape": "hv"}, "hoverinfo": "skip"},
        {"x": x, "y": [p.center for p in pts], "name": "centre", "mode": "lines", "line": {"dash": "dash", "color": "#10b981", "shape": "hv"}, "hoverinfo": "skip"},
        {
            "x": x,
            "y": [p.value for p in pts],
            "name": series.key.replace("_", " "),
            "mode": "lines+markers",
            "line": {"color": "#c7cbe8", "width": 1},
            "marker": {"color": colors, "size": 6},
            "customdata": [[p.n if p.n is not None else "", "immature" if not p.mature else ""] for p in pts],
            "hovertemplate": "%{x}: %{y:" + fmt + "} (n=%{customdata[0]}) %{customdata[1]}<extra></extra>",
        },
    ]
    layout = {"height": 240, "showlegend": False, "margin": {"t": 6, "b": 30}, "yaxis": {"tickformat": ".0%" if percent else ",d"}}
    return {"data": data, "layout": layout}


@login_required
def spc_page(request: HttpRequest) -> HttpResponse:
    metric = param_choice(request, "metric", SPC_METRICS, "volume")
    by = param_choice(request, "by", SPC_BY, "channel")
    period = param_choice(request, "period", ("day", "week"), "week")
    lo, hi = param_date(request, "baseline_from"), param_date(request, "baseline_to")
    baseline = (lo, hi) if lo and hi and lo <= hi else None
    page = spc_page_get(metric=metric, by=by, period=period, baseline=baseline, limit=PAGE_SERIES)
    chart, maturity, error = page.chart, page.maturity_days, page.error or None
    charts = [
        {"series": s, "chart_id": f"spc-{i}", "figure": _spc_figure(s, metric != "volume")}
        for i, s in enumerate(chart.series)
    ]
    return render(
        request,
        "analytics/spc.html",
        {
            "tab": "spc",
            "charts": charts,
            "metric": metric,
            "by": by,
            "period": period,
            "baseline_from": lo,
            "baseline_to": hi,
            "metrics": [(m, m.replace("_", " ")) for m in SPC_METRICS],
            "bys": SPC_BY,
            "limit": PAGE_SERIES,
            "maturity_days": maturity,
            "error": error,
        },
    )


def _pct(value: float | None, decimals: int = 1) -> str:
    return "—" if value is None else f"{100 * value:.{decimals}f}%"


def _segment_label(segment: dict[str, str]) -> str:
    return " · ".join(v.replace("_", " ") for v in segment.values())


def _segments_figure(rows: list[Any], overall: float | None) -> dict[str, Any]:
    shown = sorted(rows, key=lambda r: -r.n)[:SEGMENT_CHART_ROWS]
    shown.sort(key=lambda r: r.shrunk_rate or 0)
    labels = [_segment_label(r.segment) for r in shown]
    raw = [r.rate for r in shown]
    data: list[dict[str, Any]] = [
        {
            "x": raw,
            "y": labels,
            "name": "raw rate with 95% interval",
            "mode": "markers",
            "type": "scatter",
            "marker": {"color": GREY, "size": 7},
            "error_x": {
                "type": "data",
                "symmetric": False,
                "array": [r.high - (r.rate or 0) for r in shown],
                "arrayminus": [(r.rate or 0) - r.low for r in shown],
                "color": GREY,
            },
        },
        {
            "x": [r.shrunk_rate for r in shown],
            "y": labels,
            "name": "shrunk rate",
            "mode": "markers",
            "type": "scatter",
            "marker": {
                "color": [RED if r.flag == "under" else "#10b981" if r.flag == "over" else "#4338ca" for r in shown],
                "size": 10,
                "symbol": "diamond",
            },
        },
    ]
    layout: dict[str, Any] = {
        "height": max(260, 24 * len(shown) + 80),
        "margin": {"l": 200, "t": 6},
        "xaxis": {"tickformat": ".1%", "rangemode": "tozero"},
        "yaxis": {"automargin": True, "rangemode": "normal"},
    }
    if overall is not None:
        layout["shapes"] = [
            {"type": "line", "x0": overall, "x1": overall, "yref": "paper", "y0": 0, "y1": 1, "line": {"dash": "dash", "color": "#10b981"}}
        ]
    return {"data": data, "layout": layout}


@login_required
def segments_page(request: HttpRequest) -> HttpResponse:
    field1 = param_choice(request, "by", SEGMENT_FIELDS, "channel")
    field2 = param_choice(request, "by2", ("", *SEGMENT_FIELDS), "")
    metric = param_choice(request, "metric", ("won", "sql"), "won")
    by = [field1] + ([field2] if field2 and field2 != field1 else [])
    report = segment_table_cached(by=by, metric=metric)
    rows = [
        {
            "row": r,
            "label": _segment_label(r.segment),
            "rate": _pct(r.rate),
            "low": _pct(r.low),
            "high": _pct(r.high),
            "shrunk": _pct(r.shrunk_rate),
            "cost_per_conversion": (r.spend / r.conversions) if r.spend and r.conversions else None,
        }
        for r in report.rows
    ]
    return render(
        request,
        "analytics/segments.html",
        {
            "tab": "segments",
            "report": report,
            "rows": rows,
            "figure": _segments_figure(list(report.rows), report.overall_rate) if report.rows else None,
            "fields": SEGMENT_FIELDS,
            "by1": field1,
            "by2": field2 if field2 != field1 else "",
            "metric": metric,
            "overall": _pct(report.overall_rate),
            "flagged": sum(1 for r in report.rows if r.flag),
            "has_spend": any(r.spend is not None for r in report.rows),
        },
    )


def _float(request: HttpRequest, name: str, default: float) -> float:
    try:
        value = float(request.GET.get(name, default))
    except ValueError:
        return default
    return value if math.isfinite(value) else default


@login_required
@require_http_methods(["GET", "POST"])
def experiments_page(request: HttpRequest) -> HttpResponse:
    form_error = None
    if request.method == "POST":
        require_perm(request, allowed=_can_edit(request), message="only admins and marketing define experiments")
        data = request.POST
        try:
            exp = experiment_create(
                name=data.get("name", ""),
                variants=data.get("variants", "").split(","),
                metric=data.get("metric", Experiment.Metric.SQL_RATE),
                minimum_effect=float(data.get("minimum_effect") or 0) / 100,
                subject_type=data.get("subject_type", Experiment.Subject.CAMPAIGN),
                subject_ref=data.get("subject_ref", ""),
            )
        except ValueError:
            form_error = "the minimum effect must be a number of percentage points"
        except TandemError as exc:
            form_error = exc.message
        else:
            messages.success(request, f"Experiment {exp.name!r} created: import its assignments from a CSV file.")
            return redirect("stats:experiment", name=exp.name)
    baseline = _float(request, "baseline", 10.0)
    effect = _float(request, "effect", 1.0)
    alpha = _float(request, "alpha", 5.0)
    power = _float(request, "power", 80.0)
    plan, plan_error = None, None
    try:
        plan = plan_sample_size(
            baseline_rate=baseline / 100, minimum_effect=effect / 100, alpha=alpha / 100, power=power / 100
        )
    except TandemError as exc:
        plan_error = exc.message
    return render(
        request,
        "analytics/experiments.html",
        {
            "tab": "experiments",
            "experiments": experiment_list(),
            "plan": plan,
            "plan_error": plan_error,
            "planner": {"baseline": baseline, "effect": effect, "alpha": alpha, "power": power, "target": baseline + effect},
            "can_edit": _can_edit(request),
            "metrics": Experiment.Metric.choices,
            "subjects": Experiment.Subject.choices,
            "form_error": form_error,
            "form": request.POST if request.method == "POST" else {},
        },
        status=422 if form_error else 200,
    )


def _sequential_figure(seq: dict[str, Any]) -> dict[str, Any]:
    return {
        "data": [
            {"x": seq["days"], "y": seq["p_values"], "name": "always-valid p-value", "mode": "lines+markers"},
            {
                "x": [seq["days"][0], seq["days"][-1]],
                "y": [seq["alpha"], seq["alpha"]],
                "name": f"α = {seq['alpha']:g}",
                "mode": "lines",
                "line": {"dash": "dash", "color": RED},
            },
        ],
        "layout": {"height": 260, "yaxis": {"type": "log", "title": {"text": "p-value (log scale)"}}},
    }


@login_required
def experiment_page(request: HttpRequest, name: str) -> HttpResponse:
    experiment = _experiment(name)
    report = experiment_analyse(experiment=experiment)
    bayes = {}
    if report["analysis"]:
        bayes = {v["name"]: v for v in report["analysis"]["bayesian"]["variants"]}
    variants = [
        {**v, "bayes": bayes.get(v["name"]), "rate_pct": _pct(v["rate"], 2)} for v in report["variants"]
    ]
    comparisons = [
        {
            **c,
            "difference_pts": f"{100 * c['difference']:+.2f}",
            "ci_pts": f"{100 * c['confidence']:.4g}% interval {100 * c['ci_low']:+.2f} to {100 * c['ci_high']:+.2f}",
        }
        for c in (report["analysis"] or {}).get("comparisons", [])
    ]
    sequential = [
        {**s, "chart_id": f"seq-{i}", "figure": _sequential_figure(s)} for i, s in enumerate(report["sequential"])
    ]
    return render(
        request,
        "analytics/experiment.html",
        {
            "tab": "experiments",
            "experiment": experiment,
            "report": report,
            "variants": variants,
            "sequential": sequential,
            "comparisons": comparisons,
            "min_effect_pts": f"{100 * experiment.minimum_effect:g}",
            "can_edit": _can_edit(request),
        },
    )


@login_required
@require_POST
def experiment_import(request: HttpRequest, name: str) -> HttpResponse:
    require_perm(request, allowed=_can_edit(request), message="only admins and marketing import experiment data")
    experiment = _experiment(name)
    upload = request.FILES.get("file")
    if upload is None:
        messages.error(request, "Choose a CSV file to import.")
        return redirect("stats:experiment", name=name)
    try:
        # Any encoding and comma, semicolon or tab, as the file was saved (tandem.core.textfiles).
        text, fmt = text_read(source=upload.read())
        count = experiment_import_csv(experiment=experiment, source=text, delimiter=fmt.delimiter)
    except TandemError as exc:
        messages.error(request, f"Nothing imported: {exc.message}")
    else:
        messages.success(request, f"Imported {count:,} assignments.")
    return redirect("stats:experiment", name=name)
