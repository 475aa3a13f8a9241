"""The sales calendar on plain values (no ORM): which month is asked for, its weeks, what happens on each day,
and whether a campaign's offer applies on a given day."""

from __future__ import annotations

import calendar as _calendar
import datetime as dt
import re
from dataclasses import dataclass

from tandem.core.errors import ValidationFailed

MONTH_RE = re.compile(r"^([0-9]{4})-([0-9]{2})$")


def month_parse(*, text: str, today: dt.date) -> dt.date:
    """The first day of the month named 'YYYY-MM' (this month when blank); refuses anything else."""
    text = (text or "").strip()
    if not text:
        return today.replace(day=1)
    match = MONTH_RE.match(text)
    # Years 1900-9998 only, so the previous and next month links are always real dates.
    if not match or not 1 <= int(match.group(2)) <= 12 or not 1900 <= int(match.group(1)) <= 9998:
        raise ValidationFailed(f"month must look like 2026-03, not {text[:20]!r}", field="month", value=text[:20])
    return dt.date(int(match.group(1)), int(match.group(2)), 1)


def month_last(first: dt.date) -> dt.date:
    """The last day of the month that starts on `first`."""
    return first.replace(day=_calendar.monthrange(first.year, first.month)[1])


def month_step(first: dt.date, months: int) -> dt.date:
    """The first day of the month `months` away (negative: earlier)."""
    index = first.year * 12 + first.month - 1 + months
    return dt.date(index // 12, index % 12 + 1, 1)


def month_weeks(first: dt.date) -> list[list[dt.date]]:
    """The weeks (Monday to Sunday) that cover the month, with the neighbouring months' days filling them."""
    return _calendar.Calendar(firstweekday=0).monthdatescalendar(first.year, first.month)


@dataclass(frozen=True)
class Span:
    id: int
    name: str
    kind: str
    started_on: dt.date
    ended_on: dt.date | None
    offer: str = ""
    offer_ends_on: dt.date | None = None


@dataclass(frozen=True)
class Marker:
    id: int
    name: str
    kind: str
    # "on" (a one-day item), "starts", "ends" or "offer_ends"
    what: str


def day_markers(*, spans: list[Span], first: dt.date, last: dt.date) -> dict[dt.date, list[Marker]]:
    """What happens on each day from `first` to `last`: one-day items, starts, ends and offers ending."""
    days: dict[dt.date, list[Marker]] = {}

    def put(day: dt.date | None, span: Span, what: str) -> None:
        if day is not None and first <= day <= last:
            days.setdefault(day, []).append(Marker(span.id, span.name, span.kind, what))

    for span in spans:
        if span.ended_on == span.started_on:
            put(span.started_on, span, "on")
        else:
            put(span.started_on, span, "starts")
            put(span.ended_on, span, "ends")
        if span.offer and span.offer_ends_on is not None:
            put(span.offer_ends_on, span, "offer_ends")
    return days


def offer_ends(*, offer: str, offer_ends_on: dt.date | None, ended_on: dt.date | None) -> dt.date | None:
    """The last day an offer applies: its own end date, else the campaign's end (None: open-ended)."""
    if not offer:
        return None
    return offer_ends_on or ended_on


def offer_applies(
    *, offer: str, offer_ends_on: dt.date | None, started_on: dt.date | None, ended_on: dt.date | None, today: dt.date
) -> bool:
    """Whether the offer can be made today: there is one, its campaign has started, and it has not ended."""
    if not offer or (started_on is not None and started_on > today):
        return False
    end = offer_ends(offer=offer, offer_ends_on=offer_ends_on, ended_on=ended_on)
    return end is None or end >= today
