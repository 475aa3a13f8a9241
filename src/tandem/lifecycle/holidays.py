"""Public holidays of a team's country and subdivision, from the maintained `holidays` package (no ORM, no downloads).

Decisions:
- A team names a country (ISO 3166-1 alpha-2, e.g. GB) and optionally a subdivision (e.g. ENG, DE's BY, US's CA);
  both are checked against what the package supports. The package knows observed days, moved days and
  one-off holidays (England's 2022 jubilee and state funeral), which hand-written rules got wrong.
- `holidays` is imported lazily, inside the functions: it is slow to import and most commands never need it.
- The old presets ``us`` and ``england`` are aliases of country US and GB + ENG.
"""

from __future__ import annotations

from datetime import date
from functools import lru_cache

from tandem.core.errors import ValidationFailed

# Old preset names (CLI --preset, API "preset") → (country, subdivision).
PRESETS: dict[str, tuple[str, str]] = {"us": ("US", ""), "england": ("GB", "ENG")}
PRESET_LABELS: dict[str, str] = {"us": "US federal holidays", "england": "England and Wales bank holidays"}


@lru_cache(maxsize=1)
def supported_countries() -> dict[str, tuple[str, ...]]:
    """Country code → its subdivision codes, as the `holidays` package supports them."""
    import holidays  # here, not at the top: a slow import, needed only where holidays are computed

    return {code: tuple(subs) for code, subs in holidays.list_supported_countries().items()}


def country_validate(country: str, subdivision: str = "") -> tuple[str, str]:
    """Normalised (COUNTRY, SUBDIVISION); ValidationFailed naming the field for unknown codes. "" means no country."""
    code = (country or "").strip().upper()
    sub = (subdivision or "").strip()
    if not code:
        if sub:
            raise ValidationFailed("A subdivision needs a country.", field="subdivision", value=sub)
        return "", ""
    countries = supported_countries()
    if code not in countries:
        raise ValidationFailed(
            "Unknown country; use an ISO 3166-1 code such as GB, US or DE.", field="country", value=country
        )
    if sub:
        subs = {s.upper(): s for s in countries[code]}
        if sub.upper() not in subs:
            shown = ", ".join(s for s in countries[code] if s.isupper()) or "none"
            raise ValidationFailed(f"Unknown subdivision of {code}; use one of: {shown}.", field="subdivision", value=subdivision)
        sub = subs[sub.upper()]
    return code, sub


def preset_country(preset: str) -> tuple[str, str]:
    """The (country, subdivision) of an old preset name ('us' or 'england')."""
    if preset not in PRESETS:
        raise ValidationFailed(f"Unknown holiday preset; use one of {', '.join(PRESETS)}.", field="preset", value=preset)
    return PRESETS[preset]


@lru_cache(maxsize=512)
def _year_holidays(country: str, subdivision: str, year: int) -> tuple[tuple[date, str], ...]:
    import holidays  # here, not at the top: a slow import, needed only where holidays are computed

    found = holidays.country_holidays(country, subdiv=subdivision or None, years=year)
    return tuple(sorted((d, str(n)) for d, n in found.items() if d.year == year))


def public_holidays(country: str, subdivision: str, years: range) -> list[tuple[date, str]]:
    """The public holidays of a (validated) country and subdivision in `years`, as (date, name), in date order."""
    if not country:
        return []
    if len(years) > 50:
        raise ValidationFailed("Ask for at most 50 years of holidays at once.", field="years", value=len(years))
    return [h for year in years for h in _year_holidays(country, subdivision, year)]


@lru_cache(maxsize=512)
def public_holiday_dates(country: str, subdivision: str, year: int) -> frozenset[date]:
    """The dates of a country's public holidays in one year (cached: the SLA clock asks per day)."""
    if not country:
        return frozenset()
    return frozenset(d for d, _ in _year_holidays(country, subdivision, year))
