"""Periods that reports, pages and commands share, as UTC datetimes."""

from __future__ import annotations

import datetime as dt

from tandem.core.errors import ValidationFailed

DEFAULT_DAYS = 90


def period_from_dates(date_from: dt.date | None, date_to: dt.date | None) -> tuple[dt.datetime, dt.datetime]:
    """[start, end) in UTC for inclusive dates; the last 90 days by default."""
    today = dt.datetime.now(dt.UTC).date()
    last = date_to or today
    first = date_from or (last - dt.timedelta(days=DEFAULT_DAYS - 1))
    if first > last:
        raise ValidationFailed("--from must not be after --to.", field="from", value=first.isoformat())
    start = dt.datetime.combine(first, dt.time(), tzinfo=dt.UTC)
    return start, dt.datetime.combine(last + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)
