"""Public-holiday presets for team calendars, computed (no ORM, no downloads).

Decisions:
- ``us``: the eleven US federal holidays, each observed on the Friday before when it falls on a Saturday and
  the Monday after when on a Sunday (5 U.S.C. 6103). New Year's Day of the next year can therefore be
  observed on 31 December; it is listed in the year it is observed.
- ``england``: the eight bank holidays of England and Wales; New Year's Day, Christmas and Boxing Day move to
  the next free weekday when they fall at the weekend. One-off royal holidays are not predictable and must
  be added by hand.
- Presets only fill a calendar; the admin can add or remove dates afterwards.
"""

from __future__ import annotations

from datetime import date, timedelta

from tandem.core.errors import ValidationFailed

PRESETS: dict[str, str] = {"us": "US federal holidays", "england": "England and Wales bank holidays"}


def _nth_weekday(year: int, month: int, weekday: int, n: int) -> date:
    first = date(year, month, 1)
    return first + timedelta(days=(weekday - first.weekday()) % 7 + 7 * (n - 1))


def _last_weekday(year: int, month: int, weekday: int) -> date:
    last = (date(year, month + 1, 1) if month < 12 else date(year + 1, 1, 1)) - timedelta(days=1)
    return last - timedelta(days=(last.weekday() - weekday) % 7)


def easter_sunday(year: int) -> date:
    """Western Easter Sunday (the anonymous Gregorian algorithm)."""
    a, b, c = year % 19, year // 100, year % 100
    d, e = b // 4, b % 4
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = c // 4, c % 4
    ell = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * ell) // 451
    month = (h + ell - 7 * m + 114) // 31
    day = (h + ell - 7 * m + 114) % 31 + 1
    return date(year, month, day)


def _us_observed(day: date) -> date:
    if day.weekday() == 5:
        return day - timedelta(days=1)
    if day.weekday() == 6:
        return day + timedelta(days=1)
    return day


def us_federal_holidays(year: int) -> list[tuple[date, str]]:
    """The US federal holidays observed in `year`, as (date, name), in date order."""
    fixed = [
        (date(year, 1, 1), "New Year's Day"),
        (date(year, 6, 19), "Juneteenth"),
        (date(year, 7, 4), "Independence Day"),
        (date(year, 11, 11), "Veterans Day"),
        (date(year, 12, 25), "Christmas Day"),
    ]
    moving = [
        (_nth_weekday(year, 1, 0, 3), "Martin Luther King Jr. Day"),
        (_nth_weekday(year, 2, 0, 3), "Washington's Birthday"),
        (_last_weekday(year, 5, 0), "Memorial Day"),
        (_nth_weekday(year, 9, 0, 1), "Labor Day"),
        (_nth_weekday(year, 10, 0, 2), "Columbus Day"),
        (_nth_weekday(year, 11, 3, 4), "Thanksgiving Day"),
    ]
    days = [(_us_observed(d), name) for d, name in fixed] + moving
    next_new_year = _us_observed(date(year + 1, 1, 1))
    if next_new_year.year == year:
        days.append((next_new_year, "New Year's Day (observed)"))
    return sorted(d for d in days if d[0].year == year)


def england_bank_holidays(year: int) -> list[tuple[date, str]]:
    """The bank holidays of England and Wales in `year`, as (date, name), in date order."""
    easter = easter_sunday(year)
    new_year = date(year, 1, 1)
    while new_year.weekday() >= 5:
        new_year += timedelta(days=1)
    christmas = date(year, 12, 25)
    boxing = date(year, 12, 26)
    # Christmas and Boxing Day both need a weekday; a weekend pushes them to the next free ones.
    taken: set[date] = set()
    moved: list[date] = []
    for day in (christmas, boxing):
        while day.weekday() >= 5 or day in taken:
            day += timedelta(days=1)
        taken.add(day)
        moved.append(day)
    return sorted(
        [
            (new_year, "New Year's Day"),
            (easter - timedelta(days=2), "Good Friday"),
            (easter + timedelta(days=1), "Easter Monday"),
            (_nth_weekday(year, 5, 0, 1), "Early May bank holiday"),
            (_last_weekday(year, 5, 0), "Spring bank holiday"),
            (_last_weekday(year, 8, 0), "Summer bank holiday"),
            (moved[0], "Christmas Day"),
            (moved[1], "Boxing Day"),
        ]
    )


def preset_holidays(preset: str, years: range) -> list[tuple[date, str]]:
    """The holidays of a preset ('us' or 'england') for each year in `years`."""
    if preset not in PRESETS:
        raise ValidationFailed(f"Unknown holiday preset; use one of {', '.join(PRESETS)}.", field="preset", value=preset)
    if len(years) > 20:
        raise ValidationFailed("Fill at most 20 years of holidays at once.", field="years", value=len(years))
    build = us_federal_holidays if preset == "us" else england_bank_holidays
    return [h for year in years for h in build(year)]
