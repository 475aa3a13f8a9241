"""Writes for the KPI goals: every change adds a version and an event row."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import transaction
from django.utils import timezone

from tandem.analytics.dashboard.models import Goal
from tandem.core.errors import ValidationFailed
from tandem.core.events import event_record
from tandem.stats.kpi import METRICS, day_check, period_check, period_start

# Leadership of both sides agrees the goals: admins, marketing and sales managers may set them.
GOAL_EDIT_ROLES = frozenset({"admin", "marketing", "sales_manager"})


def goal_can_set(*, user: Any) -> bool:
    """Whether this user may set or clear KPI goals."""
    return bool(getattr(user, "is_superuser", False) or getattr(user, "role", "") in GOAL_EDIT_ROLES)


def _target(metric: str, target: Any) -> Decimal | None:
    if target is None or target == "":
        return None
    try:
        value = Decimal(str(target))
    except (InvalidOperation, ValueError):
        raise ValidationFailed("target must be a number", field="target", value=target) from None
    if not value.is_finite() or value < 0:
        raise ValidationFailed("target must be a number of 0 or more", field="target", value=target)
    if metric == "win_rate" and value > 1:
        raise ValidationFailed("a win-rate target is a fraction between 0 and 1 (0.25 = 25%)", field="target", value=target)
    if value >= Decimal("1e12"):
        raise ValidationFailed("target is too large", field="target", value=target)
    return value.quantize(Decimal("0.0001"))


def goal_set(
    *,
    metric: str,
    period: str,
    period_start_on: dt.date,
    target: Any,
    actor: Any = None,
    reason: str = "",
) -> Goal:
    """Set (or clear, with no target) the goal of one metric for the month or quarter holding ``period_start_on``."""
    if metric not in METRICS:
        raise ValidationFailed(f"metric must be one of {', '.join(METRICS)}", field="metric", value=metric)
    period_check(period)
    if not isinstance(period_start_on, dt.date):
        raise ValidationFailed("period_start must be a date", field="period_start", value=period_start_on)
    day_check(period_start_on, "period_start")
    start = period_start(period_start_on, period)
    value = _target(metric, target)
    reason = (reason or "").strip()
    if len(reason) > 300:
        raise ValidationFailed("reason must be at most 300 characters", field="reason", value=len(reason))
    if "\x00" in reason:
        raise ValidationFailed("reason must not contain NUL characters", field="reason", value=repr(reason[:20]))
    with transaction.atomic():
        current = (
            Goal.objects.select_for_update().filter(metric=metric, period=period, period_start=start, is_current=True).first()
        )
        if current is not None and current.target == value:
            return current  # the same goal again: nothing changed, no new version
        if current is None and value is None:
            raise ValidationFailed("there is no goal to clear for this period", field="target", value=target)
        if current is not None:
            current.is_current = False
            current.save(update_fields=["is_current"])
        goal = Goal.objects.create(
            metric=metric,
            period=period,
            period_start=start,
            target=value,
            version=1 if current is None else current.version + 1,
            is_current=True,
            set_by=actor if getattr(actor, "pk", None) else None,
            set_at=timezone.now(),
            reason=reason,
        )
        event_record(
            kind="goal.cleared" if value is None else "goal.set",
            subject=goal,
            actor=goal.set_by,
            reason=reason,
            data={
                "metric": metric,
                "period": period,
                "period_start": start.isoformat(),
                "target": None if value is None else str(value),
                "previous": None if current is None or current.target is None else str(current.target),
                "version": goal.version,
            },
        )
    return goal

