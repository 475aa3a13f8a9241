"""REST endpoints for the KPI dashboard, its goals, and the weekly alignment report."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.http import HttpRequest
from ninja import Field, Router, Schema, Status

from tandem.analytics.dashboard.selectors import dashboard_get, goal_page, goal_to_dict, weekly_report_cached
from tandem.analytics.dashboard.services import goal_can_set, goal_set
from tandem.core.http import require_perm
from tandem.core.idempotency import idempotent
from tandem.core.paging import PAGE_SIZE, CursorParam, LimitParam

router = Router(tags=["dashboard"])


class GoalIn(Schema):
    metric: str
    period: str = "month"
    period_start: dt.date
    # A fraction for win_rate (0.25 = 25 %); null clears the goal.
    target: float | None = None
    reason: str = ""


@router.get("/dashboard", response=dict[str, Any], summary="KPI dashboard")
def dashboard(request: HttpRequest, period: str = "month", as_of: dt.date | None = None) -> dict[str, Any]:
    """Each KPI (MQLs, SQLs, pipeline, revenue, CAC, win rate) per month or quarter: actual, goal, status, weekly signal."""
    return dashboard_get(period=period, as_of=as_of)


class GoalPageOut(Schema):
    items: list[dict[str, Any]]
    next_cursor: str | None = Field(None, description="pass as `cursor` for the next (older) page")
    prev_cursor: str | None = Field(None, description="pass as `cursor` for the previous (newer) page")


@router.get("/goals", response=GoalPageOut, summary="Goal versions")
def goals(
    request: HttpRequest,
    period: str | None = None,
    metric: str | None = None,
    cursor: CursorParam = "",
    limit: LimitParam = PAGE_SIZE,
) -> dict[str, Any]:
    """Goal versions, newest change first, a keyset page at a time (is_current marks the goal in force)."""
    return goal_page(period=period, metric=metric, cursor=cursor, limit=limit)


@router.post("/goals", response={201: dict[str, Any]}, summary="Set a goal")
@idempotent
def goal_create(request: HttpRequest, payload: GoalIn) -> Status[dict[str, Any]]:
    """Set or clear (target null) one KPI's goal for a month or quarter; admins, marketing and sales managers only."""
    require_perm(request, allowed=goal_can_set(user=request.user), message="only admins, marketing and sales managers set goals")
    goal = goal_set(
        metric=payload.metric,
        period=payload.period,
        period_start_on=payload.period_start,
        target=None if payload.target is None else str(payload.target),
        actor=request.user,
        reason=payload.reason,
    )
    return Status(201, goal_to_dict(goal))


@router.get("/reports/weekly", response=dict[str, Any], summary="Weekly alignment report")
def weekly(request: HttpRequest, week: dt.date | None = None) -> dict[str, Any]:
    """The same JSON as `tandem report weekly --format json`; `week` is any day of it (default: last complete week)."""
    return weekly_report_cached(week=week, user=request.user)
