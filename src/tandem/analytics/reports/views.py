"""Report pages: the funnel and attribution (plotly chart with a table beside it, filters, CSV download)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from tandem.analytics.reports.selectors import (
    ATTRIBUTION_BY,
    FUNNEL_CSV_COLUMNS,
    MODEL_LABELS,
    PAGE_BOOTSTRAP,
    REPORT_MODELS,
    SEGMENT_FIELDS,
    attribution_columns,
    funnel_rows,
    report_cached,
)
from tandem.core.errors import TandemError
from tandem.core.http import csv_response, param_choice, param_date
from tandem.crm.pipelines.selectors import (
    pipeline_conversion,
    pipeline_default_get,
    pipeline_get,
    pipelines_list,
)
from tandem.stats.funnel import PERIODS, STAGES


# The page keeps the incremental model's bootstrap small so it opens quickly; the CLI and API default to 200.
@login_required
def funnel(request: HttpRequest) -> HttpResponse:
    by = param_choice(request, "by", (*SEGMENT_FIELDS, "none"), "none")
    period = param_choice(request, "period", PERIODS, "month")
    date_from, date_to = param_date(request, "from"), param_date(request, "to")
    report = report_cached("funnel", by=by, period=period, date_from=date_from, date_to=date_to)
    if request.GET.get("format") == "csv":
        return csv_response(filename="funnel.csv", columns=FUNNEL_CSV_COLUMNS, rows=funnel_rows(report))
    total = report["total"]
    # The deal side of the funnel: how the pipeline's deals (created in the period) moved through its stages.
    pipelines = pipelines_list(with_stages=False)
    chosen = request.GET.get("pipeline", "")
    try:
        pipeline = pipeline_get(pipeline_id=int(chosen)) if chosen.isdigit() else pipeline_default_get()
        deal_stages = pipeline_conversion(pipeline=pipeline, date_from=date_from, date_to=date_to)
    except TandemError:
        deal_stages = None
    figure = {
        "data": [{"type": "bar", "x": list(STAGES), "y": [total["counts"][s] for s in STAGES], "name": "people"}],
        "layout": {"height": 300},
    }
    return render(
        request,
        "analytics/funnel.html",
        {
            "report": report,
            "figure": figure,
            "by": by,
            "period": period,
            "segment_choices": [*SEGMENT_FIELDS, "none"],
            "periods": PERIODS,
            "date_from": date_from,
            "date_to": date_to,
            "query": request.GET.urlencode(),
            "pipelines": pipelines,
            "deal_stages": deal_stages,
        },
    )


@login_required
def attribution(request: HttpRequest) -> HttpResponse:
    model = param_choice(request, "model", REPORT_MODELS, "linear")
    by = param_choice(request, "by", ATTRIBUTION_BY, "channel")
    date_from, date_to = param_date(request, "from"), param_date(request, "to")
    try:
        half_life = float(request.GET["half_life"]) if request.GET.get("half_life") else None
    except ValueError:
        half_life = None
    error = ""
    report: dict[str, Any] | None = None
    try:
        report = report_cached(
            "attribution",
            model=model,
            by=by,
            half_life=half_life,
            bootstrap=PAGE_BOOTSTRAP,
            date_from=date_from,
            date_to=date_to,
        )
    except TandemError as exc:
        error = exc.message
    if report is not None and request.GET.get("format") == "csv":
        return csv_response(filename=f"attribution-{model}-{by}.csv", columns=attribution_columns(report), rows=report["rows"])
    figure = None
    if report is not None:
        rows = report["rows"]
        bar: dict[str, Any] = {"type": "bar", "x": [r["key"] for r in rows], "y": [r["conversions"] for r in rows]}
        if "conversions_low" in (rows[0] if rows else {}):
            bar["error_y"] = {
                "type": "data",
                "symmetric": False,
                "array": [(r["conversions_high"] or 0) - r["conversions"] for r in rows],
                "arrayminus": [r["conversions"] - (r["conversions_low"] or 0) for r in rows],
            }
        figure = {"data": [bar], "layout": {"height": 320, "yaxis": {"title": {"text": "conversions"}}}}
    context = {
        "report": report,
        "error": error,
        "figure": figure,
        "model": model,
        "model_label": MODEL_LABELS[model],
        "models": [(m, MODEL_LABELS[m]) for m in REPORT_MODELS],
        "by": by,
        "by_choices": ATTRIBUTION_BY,
        "date_from": date_from,
        "date_to": date_to,
        "half_life": half_life,
        "query": request.GET.urlencode(),
        "columns": attribution_columns(report) if report else [],
    }
    template = "analytics/attribution_result.html" if request.headers.get("HX-Request") else "analytics/attribution.html"
    return render(request, template, context)
