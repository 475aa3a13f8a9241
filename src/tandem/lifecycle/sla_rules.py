"""The two-sided SLA without the ORM: policies, breach detection and scorecard arithmetic.

Sales side: the first touch of an MQL within N business hours of the hand-off (in the owning team's
calendar), and at least K contact attempts within D calendar days before disqualifying. Marketing side: M
MQLs per month and a minimum MQL→SQL rate.

Decisions:
- The first-touch deadline is ``add_business_minutes(handoff, 60 * N)``. A touch at or before the deadline
  meets the SLA (a touch exactly at the deadline is in time). With no such touch the SLA is breached from
  the deadline itself: at ``now == deadline`` it is breached, at ``deadline - 1 minute`` it is pending with
  one business minute left. Touches before the hand-off and touches after ``now`` are ignored.
- Attempts count in the closed window ``[handoff, handoff + D days]``, stopping at the disqualification
  (or at ``now``). The rule is met once K attempts are made, or when sales accepted the lead (moved it on)
  before the window ended; it is breached when the lead was disqualified with fewer than K attempts (at
  the disqualification) or when the window ended with fewer (at its end, same exact-minute rule).
- Rates carry 95 % Wilson intervals from ``tandem.stats.intervals``. A rate "meets" the minimum when the
  whole interval is at or above it, is "below" when the whole interval is under it, else "unclear": a
  handful of MQLs cannot prove a shortfall.
- Batch forms take POSIX seconds or datetime64 arrays (NaN/NaT: none) and use a precomputed
  ``BusinessTimeline`` per calendar, so the scorecard of a 20k-person company is a few array passes.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np

from tandem.core.errors import ValidationFailed
from tandem.lifecycle.business_hours import (
    BusinessCalendar,
    BusinessTimeline,
    add_business_minutes,
    business_minutes_between,
    from_epoch,
)
from tandem.stats.intervals import wilson_bounds

MET, PENDING, BREACHED = "met", "pending", "breached"
STATE_CODES: tuple[str, ...] = (MET, PENDING, BREACHED)


def _require_aware(moment: datetime, name: str) -> None:
    if not isinstance(moment, datetime) or moment.tzinfo is None or moment.utcoffset() is None:
        raise ValidationFailed("Times must carry a time zone.", field=name, value=moment)


def _number(data: Mapping[str, Any], key: str, default: float | None) -> float | None:
    raw = data.get(key, default)
    if raw is None:
        return None
    if isinstance(raw, bool):
        raise ValidationFailed(f"'{key}' must be a number.", field=key, value=raw)
    try:
        value = float(raw)
    except (TypeError, ValueError) as exc:
        raise ValidationFailed(f"'{key}' must be a number.", field=key, value=raw) from exc
    if not math.isfinite(value):
        raise ValidationFailed(f"'{key}' must be a number.", field=key, value=raw)
    return value


def _whole(data: Mapping[str, Any], key: str, default: int | None) -> int | None:
    value = _number(data, key, default)
    if value is None:
        return None
    if value != int(value):
        raise ValidationFailed(f"'{key}' must be a whole number.", field=key, value=data.get(key))
    return int(value)


@dataclass(frozen=True)
class SlaPolicy:
    """Both sides' commitments, as stored (one version per change)."""

    first_touch_hours: float = 4.0
    min_attempts: int = 3
    attempt_days: int = 7
    mql_target_per_month: int | None = None
    min_mql_to_sql_rate: float | None = None
    # Re-route an MQL still untouched this many business hours after its first-touch breach (None: never).
    reroute_after_hours: float | None = None
    version: int = 1

    def __post_init__(self) -> None:
        if not 0 < self.first_touch_hours <= 24 * 30:
            raise ValidationFailed("The first touch is due after more than 0 and at most 720 business hours.", field="first_touch_hours", value=self.first_touch_hours)
        if self.min_attempts < 1:
            raise ValidationFailed("At least one attempt is required before disqualifying.", field="min_attempts", value=self.min_attempts)
        if not 1 <= self.attempt_days <= 365:
            raise ValidationFailed("The attempts window is 1 to 365 days.", field="attempt_days", value=self.attempt_days)
        if self.mql_target_per_month is not None and self.mql_target_per_month < 0:
            raise ValidationFailed("The MQL target must not be negative.", field="mql_target_per_month", value=self.mql_target_per_month)
        if self.min_mql_to_sql_rate is not None and not 0 < self.min_mql_to_sql_rate <= 1:
            raise ValidationFailed("The minimum MQL→SQL rate is a share between 0 and 1 (0.25 = 25 %).", field="min_mql_to_sql_rate", value=self.min_mql_to_sql_rate)
        if self.reroute_after_hours is not None and not 0 <= self.reroute_after_hours <= 24 * 30:
            raise ValidationFailed(
                "Re-routing happens 0 to 720 business hours after the breach (null: never).",
                field="reroute_after_hours",
                value=self.reroute_after_hours,
            )
        if self.version < 1:
            raise ValidationFailed("The version is a whole number from 1.", field="version", value=self.version)

    @property
    def first_touch_minutes(self) -> float:
        return self.first_touch_hours * 60.0

    def describe(self) -> list[str]:
        """Plain sentences for the SLA page."""
        hours = f"{self.first_touch_hours:g}"
        lines = [
            f"Sales touches every MQL within {hours} business hour{'s' if self.first_touch_hours != 1 else ''} of the hand-off.",
            f"Sales makes at least {self.min_attempts} attempt{'s' if self.min_attempts != 1 else ''} within "
            f"{self.attempt_days} day{'s' if self.attempt_days != 1 else ''} before disqualifying an MQL.",
        ]
        if self.mql_target_per_month is not None:
            lines.append(f"Marketing delivers at least {self.mql_target_per_month} MQLs per month.")
        if self.min_mql_to_sql_rate is not None:
            lines.append(f"At least {self.min_mql_to_sql_rate * 100:g} % of MQLs become SQLs.")
        if self.reroute_after_hours is not None:
            after = f"{self.reroute_after_hours:g} business hour{'s' if self.reroute_after_hours != 1 else ''}"
            lines.append(f"An MQL still untouched {after} after its breach goes to another rep by the routing rules.")
        return lines

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "first_touch_hours": self.first_touch_hours,
            "min_attempts": self.min_attempts,
            "attempt_days": self.attempt_days,
            "mql_target_per_month": self.mql_target_per_month,
            "min_mql_to_sql_rate": self.min_mql_to_sql_rate,
            "reroute_after_hours": self.reroute_after_hours,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SlaPolicy:
        if not isinstance(data, Mapping):
            raise ValidationFailed("An SLA policy must be an object.", field="policy", value=data)
        return cls(
            first_touch_hours=float(_number(data, "first_touch_hours", 4.0) or 0.0),
            min_attempts=int(_whole(data, "min_attempts", 3) or 0),
            attempt_days=int(_whole(data, "attempt_days", 7) or 0),
            mql_target_per_month=_whole(data, "mql_target_per_month", None),
            min_mql_to_sql_rate=_number(data, "min_mql_to_sql_rate", None),
            reroute_after_hours=_number(data, "reroute_after_hours", None),
            version=int(_whole(data, "version", 1) or 0),
        )


# --- one MQL ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FirstTouchStatus:
    """``state`` met / pending / breached; ``minutes_left`` (business) only while pending."""

    state: str
    deadline: datetime
    minutes_left: float | None
    touched_at: datetime | None
    minutes_to_touch: float | None
    explanation: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "deadline": self.deadline.isoformat(),
            "minutes_left": self.minutes_left,
            "touched_at": None if self.touched_at is None else self.touched_at.isoformat(),
            "minutes_to_touch": self.minutes_to_touch,
            "explanation": self.explanation,
        }


def first_touch_status(
    handoff_at: datetime, touches: Sequence[datetime], calendar: BusinessCalendar, policy: SlaPolicy, now: datetime
) -> FirstTouchStatus:
    """Whether the first-touch SLA of one MQL is met, still pending, or breached at `now`."""
    _require_aware(handoff_at, "handoff_at")
    _require_aware(now, "now")
    deadline = add_business_minutes(handoff_at, policy.first_touch_minutes, calendar)
    known = [t for t in touches if handoff_at <= t <= now]
    first = min(known) if known else None
    to_touch = None if first is None else business_minutes_between(handoff_at, first, calendar)
    if first is not None and first <= deadline:
        return FirstTouchStatus(MET, deadline, None, first, to_touch, f"Touched after {to_touch:g} business minutes.")
    if now >= deadline:
        late = "" if first is None else f" The first touch came {to_touch:g} business minutes after the hand-off."
        return FirstTouchStatus(BREACHED, deadline, None, first, to_touch, f"No touch by the deadline {deadline.isoformat()}.{late}")
    left = business_minutes_between(now, deadline, calendar)
    return FirstTouchStatus(PENDING, deadline, left, None, None, f"{left:g} business minute{'' if left == 1 else 's'} left.")


@dataclass(frozen=True)
class AttemptsStatus:
    state: str
    deadline: datetime
    attempts: int
    attempts_needed: int
    breached_at: datetime | None
    explanation: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "deadline": self.deadline.isoformat(),
            "attempts": self.attempts,
            "attempts_needed": self.attempts_needed,
            "breached_at": None if self.breached_at is None else self.breached_at.isoformat(),
            "explanation": self.explanation,
        }


def attempts_status(
    handoff_at: datetime,
    attempts: Sequence[datetime],
    policy: SlaPolicy,
    now: datetime,
    *,
    disqualified_at: datetime | None = None,
    accepted_at: datetime | None = None,
) -> AttemptsStatus:
    """Whether sales made its K attempts in D days before disqualifying (see the module docstring)."""
    _require_aware(handoff_at, "handoff_at")
    _require_aware(now, "now")
    window_end = handoff_at + timedelta(days=policy.attempt_days)
    stops = [now, window_end] + [d for d in (disqualified_at,) if d is not None]
    cutoff = min(stops)
    count = sum(1 for a in attempts if handoff_at <= a <= cutoff)
    needed = policy.min_attempts
    if count >= needed:
        return AttemptsStatus(MET, window_end, count, needed, None, f"{count} attempts made.")
    if accepted_at is not None and handoff_at <= accepted_at <= min(now, window_end):
        return AttemptsStatus(MET, window_end, count, needed, None, "Accepted by sales.")
    if disqualified_at is not None and disqualified_at <= now and disqualified_at <= window_end:
        return AttemptsStatus(
            BREACHED, window_end, count, needed, disqualified_at, f"Disqualified after {count} of {needed} attempts."
        )
    if now >= window_end:
        return AttemptsStatus(BREACHED, window_end, count, needed, window_end, f"Only {count} of {needed} attempts in {policy.attempt_days} days.")
    return AttemptsStatus(PENDING, window_end, count, needed, None, f"{needed - count} more attempt(s) due by {window_end.isoformat()}.")


# --- many MQLs (periodic task and scorecards) -------------------------------------------------------------


def _seconds(values: Any) -> np.ndarray:
    arr = np.asarray(values)
    if np.issubdtype(arr.dtype, np.datetime64):
        secs = arr.astype("datetime64[s]")
        return np.where(np.isnat(secs), np.nan, secs.astype(np.int64).astype(np.float64))
    return arr.astype(np.float64)


def _as_datetime64(seconds: np.ndarray) -> np.ndarray:
    out = np.full(seconds.shape, np.datetime64("NaT"), dtype="datetime64[s]")
    ok = ~np.isnan(seconds)
    out[ok] = np.round(seconds[ok]).astype(np.int64).astype("datetime64[s]")
    return out


@dataclass(frozen=True)
class FirstTouchBatch:
    """Per MQL: deadline (datetime64[s]), state code (0 met, 1 pending, 2 breached), business minutes to
    the first touch (NaN: untouched by `now`) and business minutes left (NaN unless pending).
    ``deadline_seconds`` is the unrounded deadline in POSIX seconds (hand-offs carry microseconds)."""

    deadline: np.ndarray
    state: np.ndarray
    minutes_to_touch: np.ndarray
    minutes_left: np.ndarray
    deadline_seconds: np.ndarray | None = None

    def states(self) -> list[str]:
        return [STATE_CODES[int(c)] for c in self.state]


def first_touch_batch(
    handoff_at: Any,
    first_touch_at: Any,
    calendar_index: Any,
    calendars: Sequence[BusinessCalendar],
    policy: SlaPolicy,
    now: datetime,
) -> FirstTouchBatch:
    """The first-touch SLA of many MQLs at once; `first_touch_at` is each MQL's first touch at or after
    its hand-off (NaT: none yet), `calendar_index` picks each MQL's team calendar from `calendars`."""
    _require_aware(now, "now")
    handoff = _seconds(handoff_at)
    touch = _seconds(first_touch_at)
    which = np.asarray(calendar_index, dtype=np.int64)
    if not (handoff.shape == touch.shape == which.shape):
        raise ValidationFailed("handoff_at, first_touch_at and calendar_index need one value per MQL.", field="first_touch_at", value=touch.shape)
    if np.isnan(handoff).any():
        raise ValidationFailed("Every MQL needs a hand-off time.", field="handoff_at", value="NaT")
    if which.size and (which.min() < 0 or which.max() >= len(calendars)):
        raise ValidationFailed("A calendar index is out of range.", field="calendar_index", value=int(which.max()))
    now_s = now.timestamp()
    # Touches after `now` are not known yet; touches before the hand-off are not SLA touches.
    touch = np.where((touch > now_s) | (touch < handoff), np.nan, touch)
    deadline = np.full(handoff.shape, np.nan)
    to_touch = np.full(handoff.shape, np.nan)
    left = np.full(handoff.shape, np.nan)
    for k, calendar in enumerate(calendars):
        rows = np.flatnonzero(which == k)
        if rows.size == 0:
            continue
        h = handoff[rows]
        span_days = 30.0 + policy.first_touch_hours / 2.0
        while True:
            timeline = BusinessTimeline.build(
                calendar, from_epoch(min(float(h.min()), now_s)), from_epoch(max(float(h.max()), now_s) + span_days * 86_400)
            )
            due = timeline.add_minutes(h, policy.first_touch_minutes)
            if not np.isnan(due).any():
                break
            span_days *= 4  # long holiday stretches: look further ahead
        deadline[rows] = due
        to_touch[rows] = timeline.minutes_between(h, touch[rows])
        left[rows] = timeline.minutes_between(np.full(rows.size, now_s), due)
    touched_in_time = ~np.isnan(touch) & (touch <= deadline)
    state = np.where(touched_in_time, 0, np.where(now_s >= deadline, 2, 1)).astype(np.int8)
    left = np.where(state == 1, left, np.nan)
    return FirstTouchBatch(
        deadline=_as_datetime64(deadline), state=state, minutes_to_touch=to_touch, minutes_left=left, deadline_seconds=deadline
    )


# The inbox's finer states of an open MQL, most urgent first. Untouched: overdue (deadline passed), due
# soon (at most `due_soon_minutes` business minutes left), due later. Touched: late (after the deadline) or
# in time. "Overdue" is therefore exactly "breached and still untouched" under the policy passed in.
OVERDUE, DUE_SOON, DUE_LATER, TOUCHED_LATE, TOUCHED_IN_TIME = "overdue", "due_soon", "due_later", "late", "met"
INBOX_STATES: tuple[str, ...] = (OVERDUE, DUE_SOON, DUE_LATER, TOUCHED_LATE, TOUCHED_IN_TIME)
DUE_SOON_MINUTES = 60.0


def inbox_states(batch: FirstTouchBatch, *, due_soon_minutes: float = DUE_SOON_MINUTES) -> np.ndarray:
    """Per MQL of a first-touch batch, its index in INBOX_STATES (a touch exactly at the deadline is in time)."""
    touched = ~np.isnan(batch.minutes_to_touch)
    soon = (batch.state == 1) & (batch.minutes_left <= due_soon_minutes)
    return np.select(
        [batch.state == 0, (batch.state == 2) & touched, batch.state == 2, soon],
        [4, 3, 0, 1],
        default=2,
    ).astype(np.int8)


def attempts_batch(
    handoff_at: Any,
    attempt_mql: Any,
    attempt_at: Any,
    policy: SlaPolicy,
    now: datetime,
    *,
    disqualified_at: Any | None = None,
    accepted_at: Any | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """(attempt counts, state codes) for many MQLs; attempts are parallel arrays (MQL index, time)."""
    _require_aware(now, "now")
    handoff = _seconds(handoff_at)
    n = handoff.shape[0]
    idx = np.asarray(attempt_mql, dtype=np.int64)
    at = _seconds(attempt_at)
    if idx.shape != at.shape:
        raise ValidationFailed("attempt_mql and attempt_at need the same length.", field="attempt_at", value=at.shape)
    if idx.size and (idx.min() < 0 or idx.max() >= n):
        raise ValidationFailed("An attempt's MQL index is out of range.", field="attempt_mql", value=int(idx.max()))
    now_s = now.timestamp()
    window_end = handoff + policy.attempt_days * 86_400.0
    dq = np.full(n, np.nan) if disqualified_at is None else _seconds(disqualified_at)
    acc = np.full(n, np.nan) if accepted_at is None else _seconds(accepted_at)
    cutoff = np.fmin(np.minimum(window_end, now_s), dq)
    ok = (at >= handoff[idx]) & (at <= cutoff[idx]) if idx.size else np.zeros(0, dtype=bool)
    counts = np.bincount(idx[ok], minlength=n).astype(np.int64)
    met = (counts >= policy.min_attempts) | ((acc >= handoff) & (acc <= np.minimum(now_s, window_end)))
    breached = ~met & (((dq <= now_s) & (dq <= window_end)) | (now_s >= window_end))
    state = np.where(met, 0, np.where(breached, 2, 1)).astype(np.int8)
    return counts, state


@dataclass(frozen=True)
class RepRow:
    """One rep's sales-side scorecard line."""

    rep_id: int
    mqls: int
    touched: int
    median_minutes_to_touch: float | None
    mean_attempts: float
    within_sla: int
    breached: int
    pending: int
    within_rate: float | None
    within_low: float
    within_high: float

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def rep_scorecard(rep_id: Any, batch: FirstTouchBatch, attempts: Any) -> list[RepRow]:
    """Per rep: MQLs, touched, median business minutes to first touch, mean attempts, and the share of
    decided MQLs (met or breached; pending ones are left out) touched within the SLA, with a Wilson interval."""
    reps = np.asarray(rep_id, dtype=np.int64)
    tries = np.asarray(attempts, dtype=np.float64)
    if not (reps.shape == batch.state.shape == tries.shape):
        raise ValidationFailed("rep_id, the batch and attempts need one value per MQL.", field="rep_id", value=reps.shape)
    keys, slot = np.unique(reps, return_inverse=True)
    k = len(keys)
    mqls = np.bincount(slot, minlength=k)
    touched_mask = ~np.isnan(batch.minutes_to_touch)
    touched = np.bincount(slot, weights=touched_mask, minlength=k).astype(np.int64)
    met = np.bincount(slot, weights=batch.state == 0, minlength=k).astype(np.int64)
    breached = np.bincount(slot, weights=batch.state == 2, minlength=k).astype(np.int64)
    pending = np.bincount(slot, weights=batch.state == 1, minlength=k).astype(np.int64)
    attempt_sum = np.bincount(slot, weights=tries, minlength=k)
    decided = met + breached
    low, high = wilson_bounds(met, decided)
    # Medians per rep: sort touched MQLs by (rep, minutes) and read the middle of each run.
    order = np.lexsort((batch.minutes_to_touch[touched_mask], slot[touched_mask]))
    minutes_sorted = batch.minutes_to_touch[touched_mask][order]
    starts = np.concatenate([[0], np.cumsum(touched)[:-1]])
    rows: list[RepRow] = []
    for i in range(k):
        if touched[i]:
            run = minutes_sorted[starts[i] : starts[i] + touched[i]]
            median: float | None = float(np.median(run))
        else:
            median = None
        rows.append(
            RepRow(
                rep_id=int(keys[i]),
                mqls=int(mqls[i]),
                touched=int(touched[i]),
                median_minutes_to_touch=median,
                mean_attempts=float(attempt_sum[i] / mqls[i]),
                within_sla=int(met[i]),
                breached=int(breached[i]),
                pending=int(pending[i]),
                within_rate=float(met[i] / decided[i]) if decided[i] else None,
                within_low=float(low[i]),
                within_high=float(high[i]),
            )
        )
    return rows


def rate_status(low: float, high: float, minimum: float | None) -> str | None:
    """'meets' when the whole interval is at or above the minimum, 'below' when wholly under, else 'unclear'."""
    if minimum is None:
        return None
    if low >= minimum:
        return "meets"
    if high < minimum:
        return "below"
    return "unclear"


@dataclass(frozen=True)
class MarketingRow:
    """One campaign's, channel's or month's marketing-side scorecard line."""

    key: str
    mqls: int
    target: int | None
    target_met: bool | None
    accepted: int
    acceptance_rate: float | None
    acceptance_low: float
    acceptance_high: float
    sqls: int
    sql_rate: float | None
    sql_low: float
    sql_high: float
    sql_rate_status: str | None

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def marketing_scorecard(
    keys: Any,
    accepted: Any,
    to_sql: Any,
    policy: SlaPolicy,
    *,
    targets: Mapping[str, int] | None = None,
    include: Sequence[str] = (),
) -> list[MarketingRow]:
    """Per key (a campaign, a channel or a month 'YYYY-MM'): MQLs delivered vs target, acceptance and
    MQL→SQL rates with 95 % Wilson intervals, and the SQL rate against the policy's minimum.

    Without `targets`, month keys (YYYY-MM) are held to the policy's monthly target; other keys have none.
    Keys in `include` get a row even with no MQL (a month with nothing delivered must show its shortfall).
    """
    labels = np.asarray(keys, dtype=object).astype(str)
    acc = np.asarray(accepted, dtype=bool)
    sql = np.asarray(to_sql, dtype=bool)
    if not (labels.shape == acc.shape == sql.shape):
        raise ValidationFailed("keys, accepted and to_sql need one value per MQL.", field="keys", value=labels.shape)
    uniq = np.unique(np.concatenate([labels, np.asarray(list(include), dtype=str)]))
    slot = np.searchsorted(uniq, labels)
    k = len(uniq)
    mqls = np.bincount(slot, minlength=k)
    n_acc = np.bincount(slot, weights=acc, minlength=k).astype(np.int64)
    n_sql = np.bincount(slot, weights=sql, minlength=k).astype(np.int64)
    acc_low, acc_high = wilson_bounds(n_acc, mqls)
    sql_low, sql_high = wilson_bounds(n_sql, mqls)
    rows: list[MarketingRow] = []
    for i, key in enumerate(uniq.tolist()):
        if targets is not None:
            target = targets.get(key)
        else:
            is_month = len(key) == 7 and key[4] == "-" and key[:4].isdigit() and key[5:].isdigit()
            target = policy.mql_target_per_month if is_month else None
        rows.append(
            MarketingRow(
                key=key,
                mqls=int(mqls[i]),
                target=target,
                target_met=None if target is None else bool(mqls[i] >= target),
                accepted=int(n_acc[i]),
                acceptance_rate=float(n_acc[i] / mqls[i]) if mqls[i] else None,
                acceptance_low=float(acc_low[i]),
                acceptance_high=float(acc_high[i]),
                sqls=int(n_sql[i]),
                sql_rate=float(n_sql[i] / mqls[i]) if mqls[i] else None,
                sql_low=float(sql_low[i]),
                sql_high=float(sql_high[i]),
                sql_rate_status=rate_status(float(sql_low[i]), float(sql_high[i]), policy.min_mql_to_sql_rate),
            )
        )
    return rows


def month_keys(moments: Any) -> np.ndarray:
    """'YYYY-MM' (UTC) for each datetime64 or POSIX-seconds moment, to feed `marketing_scorecard` by month."""
    secs = _seconds(moments)
    if np.isnan(secs).any():
        raise ValidationFailed("Every MQL needs a time to be counted in a month.", field="moments", value="NaT")
    return np.datetime_as_string(secs.astype(np.int64).astype("datetime64[s]").astype("datetime64[M]"), unit="M")
