"""REST endpoints for the funnel and attribution reports (the same JSON as `tandem report`)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja import Router

from tandem.analytics.reports.selectors import report_cached
from tandem.core.apiversion import DateFromParam, DateToParam, FromParam, ToParam, date_range_pick

router = Router(tags=["reports"])


@router.get("/reports/funnel")
def funnel(
    request: HttpRequest,
    by: str = "none",
    period: str = "month",
    from_: FromParam = None,
    to: ToParam = None,
    date_from: DateFromParam = None,
    date_to: DateToParam = None,
) -> dict[str, Any]:
    """Funnel counts, conversion rates with Wilson 95% intervals and velocity: total, per cohort, per segment."""
    date_from, date_to = date_range_pick(request, from_=from_, to=to, date_from=date_from, date_to=date_to)
    return report_cached("funnel", by=by, period=period, date_from=date_from, date_to=date_to)


@router.get("/reports/attribution")
def attribution(
    request: HttpRequest,
    model: str = "linear",
    by: str = "channel",
    half_life: float | None = None,
    bootstrap: int = 200,
    from_: FromParam = None,
    to: ToParam = None,
    date_from: DateFromParam = None,
    date_to: DateToParam = None,
) -> dict[str, Any]:
    """Conversions and revenue credited by the chosen model; 422 naming `by` when Shapley cannot run."""
    date_from, date_to = date_range_pick(request, from_=from_, to=to, date_from=date_from, date_to=date_to)
    return report_cached(
        "attribution",
        model=model,
        by=by,
        half_life=half_life,
        bootstrap=bootstrap,
        date_from=date_from,
        date_to=date_to,
    )
