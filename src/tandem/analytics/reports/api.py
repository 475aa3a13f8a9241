"""REST endpoints for the funnel and attribution reports (the same JSON as `tandem report`)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.http import HttpRequest
from ninja import Router

from tandem.analytics.reports.selectors import report_cached

router = Router(tags=["reports"])


@router.get("/reports/funnel")
def funnel(
    request: HttpRequest,
    by: str = "none",
    period: str = "month",
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
) -> dict[str, Any]:
    """Funnel counts, conversion rates with Wilson 95% intervals and velocity: total, per cohort, per segment."""
    return report_cached("funnel", by=by, period=period, date_from=date_from, date_to=date_to)


@router.get("/reports/attribution")
def attribution(
    request: HttpRequest,
    model: str = "linear",
    by: str = "channel",
    half_life: float | None = None,
    bootstrap: int = 200,
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
) -> dict[str, Any]:
    """Conversions and revenue credited by the chosen model; 422 naming `by` when Shapley cannot run."""
    return report_cached(
        "attribution",
        model=model,
        by=by,
        half_life=half_life,
        bootstrap=bootstrap,
        date_from=date_from,
        date_to=date_to,
    )
