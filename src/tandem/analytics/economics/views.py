"""The unit-economics report page: cost per stage, ROI, LTV and lead value, each chart with its table, CSV."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from tandem.analytics.economics.selectors import (
    LTV_SEGMENTS,
    RETENTION_COLUMNS,
    TABLES,
    cohort_rows,
    economics_report_cached,
    table_rows,
)
from tandem.analytics.reports.selectors import ATTRIBUTION_BY, MODEL_LABELS, PAGE_BOOTSTRAP, REPORT_MODELS
from tandem.core.errors import TandemError
from tandem.core.http import csv_response, param_choice, param_date
from tandem.stats.economics import DEFAULT_HORIZON, MAX_HORIZON

CSV_TABLES = (*TABLES, "retention", "cohorts")


def _number(request: HttpRequest, name: str, default: float, low: float, high: float) -> float:
    try:
        value = float(request.GET.get(name) or default)
    except ValueError:
        return default
    return value if low <= value <= high else default


def _bar(keys: list[str], series: dict[str, list[Any]], title: str, log: bool = False) -> dict[str, Any]:
    data = [{"type": "bar", "name": name, "x": keys, "y": values} for name, values in series.items()]
    yaxis: dict[str, Any] = {"title": {"text": title}}
    if log:
        yaxis["type"] = "log"
    return {"data": data, "layout": {"height": 320, "barmode": "group", "yaxis": yaxis}}


def figures(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The page's plotly figures, one per table."""
    costs = report["costs"]
    keys = [r["key"] for r in costs]
    roi = report["roi"]
    retention = report["ltv"]["retention"]
    months = [r["month"] for r in retention]
    ltv_figure: dict[str, Any] = {
        "data": [
            {"type": "scatter", "mode": "lines+markers", "name": "cumulative value per customer",
             "x": months, "y": [r["cumulative_value"] for r in retention]},
        ],
        "layout": {"height": 320, "xaxis": {"title": {"text": "months since first purchase"}},
                   "yaxis": {"title": {"text": "USD per customer"}}},
    }
    cac = report["ltv"]["cac"]
    if cac is not None and months:
        ltv_figure["data"].append(
            {"type": "scatter", "mode": "lines", "name": "CAC (per new customer)", "x": [months[0], months[-1]],
             "y": [cac, cac], "line": {"dash": "dash"}}
        )
    lead_rows = report["lead_value"]
    return {
        "costs": _bar(
            keys,
            {
                "cost per lead": [r["cost_per_lead"] for r in costs],
                "cost per MQL": [r["cost_per_mql"] for r in costs],
                "cost per SQL": [r["cost_per_sql"] for r in costs],
                "CAC": [r["cac"] for r in costs],
            },
            "USD (log scale)",
            log=True,
        ),
        "roi": _bar(
            [r["key"] for r in roi],
            {"spend": [r["spend"] for r in roi], "attributed revenue": [r["revenue"] for r in roi]},
            "USD",
        ),
        "ltv": ltv_figure,
        "ltv_by": _bar(
            [r["key"] for r in report["ltv"]["rows"]],
            {"LTV:CAC": [r["ltv_to_cac"] for r in report["ltv"]["rows"]]},
            "LTV ÷ CAC",
        )
        if report["ltv"]["segment"] == "source"
        else _bar([r["key"] for r in report["ltv"]["rows"]], {"LTV": [r["ltv"] for r in report["ltv"]["rows"]]}, "USD"),
        "lead_value": _bar(
            [r["key"] for r in lead_rows],
            {
                "attributed revenue per lead": [r["value_per_lead"] for r in lead_rows],
                "mean expected value (scoring)": [r["expected_value"] for r in lead_rows],
            },
            "USD per lead",
        ),
    }


@login_required
def economics(request: HttpRequest) -> HttpResponse:
    by = param_choice(request, "by", ATTRIBUTION_BY, "channel")
    model = param_choice(request, "model", REPORT_MODELS, "linear")
    segment = param_choice(request, "segment", LTV_SEGMENTS, "source")
    date_from, date_to = param_date(request, "from"), param_date(request, "to")
    horizon = int(_number(request, "horizon", DEFAULT_HORIZON, 1, MAX_HORIZON))
    margin = _number(request, "margin", 1.0, 0.01, 1.0)
    error = ""
    report: dict[str, Any] | None = None
    try:
        report = economics_report_cached(
            by=by, model=model, segment=segment, date_from=date_from, date_to=date_to, horizon=horizon,
            margin=margin, bootstrap=PAGE_BOOTSTRAP,
        )
    except TandemError as exc:
        error = exc.message
    table = param_choice(request, "table", CSV_TABLES, "costs")
    if report is not None and request.GET.get("format") == "csv":
        if table == "retention":
            return csv_response(filename="economics-retention.csv", columns=RETENTION_COLUMNS, rows=report["ltv"]["retention"])
        if table == "cohorts":
            rows = cohort_rows(report["ltv"])
            columns = list(rows[0]) if rows else ["cohort", "customers", "revenue"]
            return csv_response(filename="economics-cohorts.csv", columns=columns, rows=rows)
        return csv_response(filename=f"economics-{table}-{by}.csv", columns=TABLES[table], rows=table_rows(report, table))
    query = request.GET.copy()
    query.pop("format", None)
    query.pop("table", None)
    width = max((len(c["retention"]) for c in report["ltv"]["cohorts"]), default=0) if report else 0
    context = {
        "report": report,
        "error": error,
        "figures": figures(report) if report else {},
        "by": by,
        "by_choices": ATTRIBUTION_BY,
        "segment": segment,
        "segment_label": by if segment == "source" else segment,
        "segments": LTV_SEGMENTS,
        "model": model,
        "model_label": MODEL_LABELS[model],
        "models": [(m, MODEL_LABELS[m]) for m in REPORT_MODELS],
        "date_from": date_from,
        "date_to": date_to,
        "horizon": horizon,
        "margin": margin,
        "query": query.urlencode(),
        "cohort_months": list(range(width)),
    }
    return render(request, "analytics/economics.html", context)
