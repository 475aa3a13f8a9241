"""The one definition of a report period: a half-open interval [start, end) of local days.

Every report that speaks of a week, a month, a quarter or "from … to …" cuts time here: a week runs from Monday
00:00 to the next Monday 00:00, a month from its 1st to the next month's 1st, a quarter from its first month to the
next quarter's; a range of inclusive days shown in the UI (date_from … date_to) is [date_from 00:00,
date_to + 1 day 00:00). Midnight is the company's (settings TIME_ZONE / TANDEM_TIME_ZONE): callers pass that zone
(``django.utils.timezone.get_current_timezone()``), since this module, like ``stats`` which uses it, knows no Django.
"""

from __future__ import annotations

import datetime as dt

from tandem.core.errors import ValidationFailed

DEFAULT_DAYS = 90
KINDS = ("week", "month", "quarter")


def period_kind_check(kind: str) -> None:
    """Refuse anything but 'week', 'month' or 'quarter'."""
    if kind not in KINDS:
        raise ValidationFailed("period must be 'week', 'month' or 'quarter'", field="period", value=kind)


def period_start(day: dt.date, kind: str) -> dt.date:
    """The first day of the week (its Monday), month or quarter holding ``day``."""
    period_kind_check(kind)
    if kind == "week":
        return day - dt.timedelta(days=day.weekday())
    month = day.month if kind == "month" else (day.month - 1) // 3 * 3 + 1
    return dt.date(day.year, month, 1)


def period_next(start: dt.date, kind: str) -> dt.date:
    """The first day of the following week, month or quarter: the period's exclusive end."""
    period_kind_check(kind)
    if kind == "week":
        return start + dt.timedelta(weeks=1)
    month = start.month - 1 + (1 if kind == "month" else 3)
    return dt.date(start.year + month // 12, month % 12 + 1, 1)


def local_midnight(day: dt.date, *, tz: dt.tzinfo) -> dt.datetime:
    """00:00 of ``day`` in the zone ``tz`` (an aware datetime)."""
    return dt.datetime.combine(day, dt.time(), tzinfo=tz)


def period_bounds(start: dt.date, kind: str, *, tz: dt.tzinfo) -> tuple[dt.datetime, dt.datetime]:
    """[start, end) of the week, month or quarter starting on ``start``, local midnights in ``tz``."""
    return local_midnight(start, tz=tz), local_midnight(period_next(start, kind), tz=tz)


def day_bounds(
    date_from: dt.date | None, date_to: dt.date | None, *, tz: dt.tzinfo
) -> tuple[dt.datetime | None, dt.datetime | None]:
    """[date_from 00:00, date_to + 1 day 00:00) in ``tz`` for inclusive days; None for an open side."""
    if date_from is not None and date_to is not None and date_from > date_to:
        raise ValidationFailed(f"date_from {date_from} is after date_to {date_to}", field="date_from", value=date_from.isoformat())
    low = None if date_from is None else local_midnight(date_from, tz=tz)
    high = None if date_to is None else local_midnight(date_to + dt.timedelta(days=1), tz=tz)
    return low, high


def period_from_dates(
    date_from: dt.date | None, date_to: dt.date | None, *, tz: dt.tzinfo = dt.UTC
) -> tuple[dt.datetime, dt.datetime]:
    """[start, end) for inclusive dates, local midnights in ``tz``; the last 90 days by default."""
    today = dt.datetime.now(tz).date()
    last = date_to or today
    first = date_from or (last - dt.timedelta(days=DEFAULT_DAYS - 1))
    if first > last:
        raise ValidationFailed("--from must not be after --to.", field="from", value=first.isoformat())
    return local_midnight(first, tz=tz), local_midnight(last + dt.timedelta(days=1), tz=tz)
