"""Business-hours arithmetic for a team's calendar, without the ORM.

Decisions:
- A calendar is an IANA time zone, the working shifts of each weekday in local wall-clock time
  (split shifts allowed, e.g. 09:00–12:00 and 13:00–17:00), the public holidays of a country and optional
  subdivision (the `holidays` package, via tandem.lifecycle.holidays) and the team's own extra holiday dates.
- A business minute is a real elapsed minute inside a shift. On a daylight-saving change the shift's two
  ends are placed on the UTC line with the zone's rules, so a 01:00–04:00 shift on Berlin's spring-forward
  day lasts 120 minutes; ordinary 09:00–17:00 shifts always last 480 minutes.
- A local time that does not exist (inside the spring-forward gap) is read with the offset before the
  change (Python's ``fold=0``); an ambiguous one (fall-back) is the first occurrence.
- ``add_business_minutes`` stops at the exact end of a shift when the minutes run out there (16:30 + 30
  business minutes on a 09:00–17:00 day is 17:00, not 09:00 the next morning); with 0 minutes it returns the
  first business instant at or after the start.
- All inputs and outputs are aware datetimes; answers are in UTC. Naive datetimes are refused.
- ``BusinessTimeline`` precomputes a span of shifts once so that many deadlines and durations are computed
  with ``numpy.searchsorted`` (the SLA scorecard over a whole company); it agrees with the scalar functions.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np

from tandem.core.errors import ValidationFailed
from tandem.lifecycle.holidays import country_validate, public_holiday_dates

WEEKDAYS: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
WEEKDAY_LABELS: tuple[str, ...] = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_HHMM = re.compile(r"^([01]\d|2[0-4]):([0-5]\d)$")
# A calendar whose next working minute is further away than this is treated as having none.
MAX_SEARCH_DAYS = 3_660

Shift = tuple[int, int]  # minutes after local midnight, start < end <= 1440
# Monday to Friday 09:00–17:00, closed at the weekend.
NINE_TO_FIVE: tuple[tuple[Shift, ...], ...] = (((540, 1020),),) * 5 + ((), ())


def _parse_hhmm(text: object, *, field_name: str) -> int:
    match = _HHMM.match(str(text).strip())
    if not match:
        raise ValidationFailed("Times of day are written HH:MM (00:00 to 24:00).", field=field_name, value=text)
    minutes = int(match.group(1)) * 60 + int(match.group(2))
    if minutes > 1440:
        raise ValidationFailed("Times of day are written HH:MM (00:00 to 24:00).", field=field_name, value=text)
    return minutes


def _format_hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError) as exc:
        raise ValidationFailed("Unknown time zone; use an IANA name such as Europe/Berlin.", field="time_zone", value=name) from exc


def _require_aware(moment: datetime, *, field_name: str) -> datetime:
    if not isinstance(moment, datetime) or moment.tzinfo is None or moment.utcoffset() is None:
        raise ValidationFailed("Times must carry a time zone.", field=field_name, value=moment)
    return moment.astimezone(UTC)


@dataclass(frozen=True)
class BusinessCalendar:
    """A team's working week: time zone, shifts per weekday (0 = Monday), public-holiday country and extra holiday dates."""

    time_zone: str = "UTC"
    hours: tuple[tuple[Shift, ...], ...] = NINE_TO_FIVE
    holidays: frozenset[date] = field(default_factory=frozenset)
    country: str = ""
    subdivision: str = ""

    def __post_init__(self) -> None:
        _zone(self.time_zone)
        country, subdivision = country_validate(self.country, self.subdivision)
        object.__setattr__(self, "country", country)
        object.__setattr__(self, "subdivision", subdivision)
        if len(self.hours) != 7:
            raise ValidationFailed("Working hours need one entry per weekday (Monday to Sunday).", field="hours", value=len(self.hours))
        for day, shifts in enumerate(self.hours):
            ordered = sorted(shifts)
            for start, end in ordered:
                if not 0 <= start < end <= 1440:
                    raise ValidationFailed(
                        f"A shift on {WEEKDAY_LABELS[day]} must start before it ends.",
                        field=f"hours.{WEEKDAYS[day]}",
                        value=f"{_format_hhmm(start)}-{_format_hhmm(end)}",
                    )
            for (_, end), (start, _) in pairwise(ordered):
                if start < end:
                    raise ValidationFailed(
                        f"Shifts on {WEEKDAY_LABELS[day]} overlap.", field=f"hours.{WEEKDAYS[day]}", value=_format_hhmm(start)
                    )
        object.__setattr__(self, "hours", tuple(tuple(sorted(s)) for s in self.hours))
        object.__setattr__(self, "holidays", frozenset(self.holidays))
        if not any(self.hours):
            raise ValidationFailed("A calendar needs at least one working shift in the week.", field="hours", value="none")

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)

    def describe(self) -> list[str]:
        """Plain sentences: the zone, each working day's shifts and the number of holidays."""
        lines = [f"Times are in {self.time_zone}."]
        for day, shifts in enumerate(self.hours):
            if shifts:
                spans = " and ".join(f"{_format_hhmm(s)}–{_format_hhmm(e)}" for s, e in shifts)
                lines.append(f"{WEEKDAY_LABELS[day]}: {spans}")
            else:
                lines.append(f"{WEEKDAY_LABELS[day]}: closed")
        if self.country:
            region = f"{self.country}-{self.subdivision}" if self.subdivision else self.country
            lines.append(f"Public holidays of {region} are closed all day.")
        if self.holidays:
            lines.append(f"{len(self.holidays)} extra holiday(s) are closed all day.")
        return lines

    def to_dict(self) -> dict[str, Any]:
        return {
            "time_zone": self.time_zone,
            "hours": {
                WEEKDAYS[day]: [[_format_hhmm(s), _format_hhmm(e)] for s, e in shifts] for day, shifts in enumerate(self.hours)
            },
            "holidays": sorted(d.isoformat() for d in self.holidays),
            "country": self.country,
            "subdivision": self.subdivision,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> BusinessCalendar:
        time_zone = str(data.get("time_zone") or "UTC")
        raw_hours = data.get("hours")
        if raw_hours is None:
            hours = cls().hours
        else:
            if not isinstance(raw_hours, Mapping):
                raise ValidationFailed("hours must map weekday names (mon..sun) to lists of shifts.", field="hours", value=raw_hours)
            unknown = set(raw_hours) - set(WEEKDAYS)
            if unknown:
                raise ValidationFailed("Unknown weekday; use mon, tue, wed, thu, fri, sat, sun.", field="hours", value=sorted(unknown)[0])
            days: list[tuple[Shift, ...]] = []
            for day in WEEKDAYS:
                shifts = raw_hours.get(day) or []
                parsed: list[Shift] = []
                for shift in shifts:
                    if not isinstance(shift, Sequence) or isinstance(shift, str) or len(shift) != 2:
                        raise ValidationFailed("A shift is a pair [\"HH:MM\", \"HH:MM\"].", field=f"hours.{day}", value=shift)
                    parsed.append(
                        (_parse_hhmm(shift[0], field_name=f"hours.{day}"), _parse_hhmm(shift[1], field_name=f"hours.{day}"))
                    )
                days.append(tuple(parsed))
            hours = tuple(days)
        holidays: set[date] = set()
        for text in data.get("holidays") or []:
            try:
                holidays.add(date.fromisoformat(str(text)))
            except ValueError as exc:
                raise ValidationFailed("Holidays are dates written YYYY-MM-DD.", field="holidays", value=text) from exc
        return cls(
            time_zone=time_zone,
            hours=hours,
            holidays=frozenset(holidays),
            country=str(data.get("country") or ""),
            subdivision=str(data.get("subdivision") or ""),
        )

    def is_holiday(self, day: date) -> bool:
        """Whether a local date is a public holiday of the calendar's country or one of the team's extra days."""
        return day in self.holidays or (bool(self.country) and day in public_holiday_dates(self.country, self.subdivision, day.year))

    def day_intervals(self, day: date) -> list[tuple[datetime, datetime]]:
        """The UTC [start, end) intervals of one local date's shifts (empty on holidays and closed days)."""
        if self.is_holiday(day):
            return []
        zone = self.zone
        out: list[tuple[datetime, datetime]] = []
        for start, end in self.hours[day.weekday()]:
            a = _local_instant(day, start, zone)
            b = _local_instant(day, end, zone)
            if b > a:
                out.append((a, b))
        return out

    def intervals_from(self, moment: datetime) -> Iterator[tuple[datetime, datetime]]:
        """Business intervals (UTC) that end after `moment`, in order, for up to MAX_SEARCH_DAYS days."""
        day = moment.astimezone(self.zone).date() - timedelta(days=1)
        for _ in range(MAX_SEARCH_DAYS):
            for a, b in self.day_intervals(day):
                if b > moment:
                    yield a, b
            day += timedelta(days=1)


def _local_instant(day: date, minutes: int, zone: ZoneInfo) -> datetime:
    if minutes == 1440:
        return datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone).astimezone(UTC)
    return datetime.combine(day, time(minutes // 60, minutes % 60), tzinfo=zone).astimezone(UTC)


def add_business_minutes(start: datetime, minutes: float, calendar: BusinessCalendar) -> datetime:
    """The UTC instant `minutes` business minutes after `start` (the SLA deadline of a hand-off)."""
    moment = _require_aware(start, field_name="start")
    if minutes < 0:
        raise ValidationFailed("Business minutes must not be negative.", field="minutes", value=minutes)
    if minutes == 0:
        return moment
    remaining = timedelta(minutes=minutes)
    for a, b in calendar.intervals_from(moment):
        begin = max(a, moment)
        available = b - begin
        if remaining <= available:
            return begin + remaining
        remaining -= available
    raise ValidationFailed("The calendar has no working time in the next ten years.", field="hours", value=calendar.time_zone)


def business_minutes_between(a: datetime, b: datetime, calendar: BusinessCalendar) -> float:
    """Business minutes from `a` to `b` (negative when `b` is before `a`)."""
    start = _require_aware(a, field_name="a")
    end = _require_aware(b, field_name="b")
    if end < start:
        return -business_minutes_between(end, start, calendar)
    total = timedelta(0)
    day = start.astimezone(calendar.zone).date() - timedelta(days=1)
    last = end.astimezone(calendar.zone).date() + timedelta(days=1)
    while day <= last:
        for x, y in calendar.day_intervals(day):
            lo, hi = max(x, start), min(y, end)
            if hi > lo:
                total += hi - lo
        day += timedelta(days=1)
    return total.total_seconds() / 60.0


def is_business_time(moment: datetime, calendar: BusinessCalendar) -> bool:
    """Whether `moment` falls inside a shift (start included, end excluded)."""
    instant = _require_aware(moment, field_name="moment")
    day = instant.astimezone(calendar.zone).date()
    return any(a <= instant < b for d in (day - timedelta(days=1), day) for a, b in calendar.day_intervals(d))


@dataclass(frozen=True)
class BusinessTimeline:
    """A calendar's shifts over a span as arrays of POSIX seconds, for vectorised deadlines and durations.

    ``starts``/``ends`` are the intervals; ``before`` the business seconds elapsed before each interval.
    """

    calendar: BusinessCalendar
    starts: np.ndarray
    ends: np.ndarray
    before: np.ndarray

    @classmethod
    def build(cls, calendar: BusinessCalendar, first: datetime, last: datetime) -> BusinessTimeline:
        """Intervals covering local dates from one day before `first` to one day after `last`."""
        lo = _require_aware(first, field_name="first")
        hi = _require_aware(last, field_name="last")
        day = lo.astimezone(calendar.zone).date() - timedelta(days=1)
        end_day = hi.astimezone(calendar.zone).date() + timedelta(days=1)
        starts: list[float] = []
        ends: list[float] = []
        while day <= end_day:
            for a, b in calendar.day_intervals(day):
                starts.append(a.timestamp())
                ends.append(b.timestamp())
            day += timedelta(days=1)
        s = np.asarray(starts, dtype=np.float64)
        e = np.asarray(ends, dtype=np.float64)
        before = np.concatenate([[0.0], np.cumsum(e - s)])
        return cls(calendar=calendar, starts=s, ends=e, before=before)

    def elapsed(self, moments: np.ndarray) -> np.ndarray:
        """Business seconds from the timeline's origin to each moment (POSIX seconds; NaN stays NaN)."""
        t = np.asarray(moments, dtype=np.float64)
        # Index of the last interval starting at or before t.
        k = np.searchsorted(self.starts, t, side="right") - 1
        kc = np.clip(k, 0, max(len(self.starts) - 1, 0))
        if len(self.starts) == 0:
            return np.where(np.isnan(t), np.nan, 0.0)
        inside = np.clip(t - self.starts[kc], 0.0, self.ends[kc] - self.starts[kc])
        out = np.where(k < 0, 0.0, self.before[kc] + inside)
        return np.where(np.isnan(t), np.nan, out)

    def minutes_between(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Business minutes from each `a` to each `b` (POSIX seconds), NaN where either is NaN."""
        return (self.elapsed(b) - self.elapsed(a)) / 60.0

    def add_minutes(self, moments: np.ndarray, minutes: float | np.ndarray) -> np.ndarray:
        """POSIX seconds `minutes` business minutes after each moment; NaN past the timeline's end."""
        t = np.asarray(moments, dtype=np.float64)
        target = self.elapsed(t) + np.asarray(minutes, dtype=np.float64) * 60.0
        # First interval whose cumulative end reaches the target (end of a shift counts, like the scalar form).
        cum_end = self.before[1:]
        j = np.searchsorted(cum_end, target, side="left")
        ok = (j < len(self.starts)) & ~np.isnan(target)
        jc = np.clip(j, 0, max(len(self.starts) - 1, 0))
        if len(self.starts) == 0:
            return np.full(t.shape, np.nan)
        result = self.starts[jc] + (target - self.before[jc])
        # 0 minutes from outside hours lands on the previous shift's end: the answer is then the start itself.
        result = np.maximum(result, t)
        # No minutes to add is the start itself, like the scalar form (also before the timeline's first shift).
        result = np.where(np.asarray(minutes, dtype=np.float64) == 0, t, result)
        return np.where(ok, result, np.nan)


def from_epoch(seconds: float) -> datetime:
    """An aware UTC datetime from POSIX seconds."""
    return datetime.fromtimestamp(seconds, tz=UTC)


def holiday_entries(raw: Any) -> list[tuple[date, str]]:
    """Holidays as stored on a team ("YYYY-MM-DD [name]" strings or {"date", "name"} objects) → sorted (date, name), one per date."""
    if raw is None:
        return []
    if isinstance(raw, str) or not isinstance(raw, Sequence):
        raise ValidationFailed("Holidays are a list of dates (YYYY-MM-DD) or {date, name} objects.", field="holidays", value=raw)
    out: dict[date, str] = {}
    for item in raw:
        if isinstance(item, Mapping):
            text, name = item.get("date"), item.get("name") or ""
        else:
            text, _, name = str(item).strip().partition(" ")
        try:
            day = date.fromisoformat(str(text).strip())
        except ValueError as exc:
            raise ValidationFailed("Holidays are dates written YYYY-MM-DD.", field="holidays", value=text) from exc
        out[day] = str(name).strip()[:120] or out.get(day, "")
    return sorted(out.items())


def calendar_from_stored(time_zone: str, stored: Mapping[str, Any] | None) -> BusinessCalendar:
    """A team's calendar from its time zone and stored JSON ({} or no hours: Monday–Friday 09:00–17:00)."""
    data = stored or {}
    holidays = [d.isoformat() for d, _ in holiday_entries(data.get("holidays"))]
    return BusinessCalendar.from_dict(
        {
            "time_zone": time_zone or "UTC",
            "hours": data.get("hours"),
            "holidays": holidays,
            "country": data.get("country") or "",
            "subdivision": data.get("subdivision") or "",
        }
    )


def shifts_parse(text: str, *, day: str) -> list[list[str]]:
    """A form's shifts for one weekday, "09:00-12:00, 13:00-17:00" (blank: closed) → [["09:00", "12:00"], ...]."""
    out: list[list[str]] = []
    for part in re.split(r"[,;]", text or ""):
        if not part.strip():
            continue
        ends = [p.strip() for p in re.split(r"\s*[-–]\s*", part.strip())]
        if len(ends) != 2:
            raise ValidationFailed("Write shifts as HH:MM-HH:MM, separated by commas.", field=f"hours.{day}", value=part.strip())
        for end in ends:
            _parse_hhmm(end, field_name=f"hours.{day}")
        out.append(ends)
    return out


def shifts_format(shifts: Sequence[Shift]) -> str:
    """The form text of one weekday's shifts ("" when closed)."""
    return ", ".join(f"{_format_hhmm(s)}-{_format_hhmm(e)}" for s, e in shifts)


def holidays_parse(text: str) -> list[dict[str, str]]:
    """A form's holidays, one per line "YYYY-MM-DD Name" (the name is optional) → [{"date", "name"}]."""
    out: list[dict[str, str]] = []
    for number, line in enumerate((text or "").splitlines(), start=1):
        if not line.strip():
            continue
        day, _, name = line.strip().partition(" ")
        try:
            date.fromisoformat(day)
        except ValueError as exc:
            raise ValidationFailed(f"Line {number}: a holiday starts with its date, YYYY-MM-DD.", field="holidays", value=line.strip()) from exc
        out.append({"date": day, "name": name.strip()})
    return out
