"""REST endpoints for unit economics and lifetime value (the same JSON as `tandem report economics|ltv`)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja import Router

from tandem.analytics.economics.selectors import economics_report_cached, ltv_report_get
from tandem.core.apiversion import DateFromParam, DateToParam, FromParam, ToParam, date_range_pick

router = Router(tags=["reports"])


@router.get("/reports/economics")
def economics(
    request: HttpRequest,
    by: str = "channel",
    model: str = "linear",
    segment: str = "source",
    horizon: int = 24,
    margin: float = 1.0,
    bootstrap: int = 200,
    from_: FromParam = None,
    to: ToParam = None,
    date_from: DateFromParam = None,
    date_to: DateToParam = None,
) -> dict[str, Any]:
    """Spend, cost per lead/MQL/SQL, CAC, revenue and ROI under an attribution model, LTV:CAC, payback, lead value."""
    date_from, date_to = date_range_pick(request, from_=from_, to=to, date_from=date_from, date_to=date_to)
    return economics_report_cached(
        by=by,
        model=model,
        segment=segment,
        horizon=horizon,
        margin=margin,
        bootstrap=bootstrap,
        date_from=date_from,
        date_to=date_to,
    )


@router.get("/reports/ltv")
def ltv(
    request: HttpRequest,
    by: str = "channel",
    segment: str = "source",
    horizon: int = 24,
    margin: float = 1.0,
    from_: FromParam = None,
    to: ToParam = None,
    date_from: DateFromParam = None,
    date_to: DateToParam = None,
) -> dict[str, Any]:
    """Lifetime value from won deals: repeat purchases, average value, retention by cohort, LTV:CAC and payback."""
    date_from, date_to = date_range_pick(request, from_=from_, to=to, date_from=date_from, date_to=date_to)
    return ltv_report_get(
        by=by, segment=segment, horizon=horizon, margin=margin, date_from=date_from, date_to=date_to
    )
