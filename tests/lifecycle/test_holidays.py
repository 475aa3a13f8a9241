"""Public-holiday presets: US federal (observed) and England and Wales bank holidays, by hand from the official lists."""

from __future__ import annotations

import datetime as dt

import pytest

from tandem.core.errors import ValidationFailed
from tandem.lifecycle.holidays import (
    easter_sunday,
    england_bank_holidays,
    preset_holidays,
    us_federal_holidays,
)


def test_us_federal_holidays_2026_are_observed_on_weekdays() -> None:
    # given 2026, when Independence Day falls on a Saturday
    # when the US holidays are computed
    days = [d.isoformat() for d, _ in us_federal_holidays(2026)]
    # then 4 July is observed on Friday 3 July (OPM's 2026 list)
    assert days == [
        "2026-01-01", "2026-01-19", "2026-02-16", "2026-05-25", "2026-06-19", "2026-07-03", "2026-09-07",
        "2026-10-12", "2026-11-11", "2026-11-26", "2026-12-25",
    ]


def test_new_years_day_on_a_saturday_is_observed_the_year_before() -> None:
    # given 1 January 2022, a Saturday
    # when the holidays of 2021 and 2022 are computed
    y2021, y2022 = us_federal_holidays(2021), us_federal_holidays(2022)
    # then it is observed on Friday 31 December 2021 and not again in 2022
    assert y2021[-1] == (dt.date(2021, 12, 31), "New Year's Day (observed)")
    assert y2022[0][0] == dt.date(2022, 1, 17)  # Martin Luther King Jr. Day comes first in 2022


def test_england_bank_holidays_move_christmas_and_boxing_day_off_the_weekend() -> None:
    # given 2027 (Christmas on a Saturday) and 2026 (Boxing Day on a Saturday)
    # when the bank holidays are computed
    y2027 = [d.isoformat() for d, _ in england_bank_holidays(2027)]
    y2026 = [d.isoformat() for d, _ in england_bank_holidays(2026)]
    # then they match gov.uk's lists
    assert y2027 == ["2027-01-01", "2027-03-26", "2027-03-29", "2027-05-03", "2027-05-31", "2027-08-30", "2027-12-27", "2027-12-28"]
    assert y2026 == ["2026-01-01", "2026-04-03", "2026-04-06", "2026-05-04", "2026-05-25", "2026-08-31", "2026-12-25", "2026-12-28"]
    assert [easter_sunday(y) for y in (2024, 2025, 2026)] == [dt.date(2024, 3, 31), dt.date(2025, 4, 20), dt.date(2026, 4, 5)]


def test_an_unknown_preset_is_refused_by_name() -> None:
    # given a preset that does not exist
    # when it is asked for
    with pytest.raises(ValidationFailed) as caught:
        preset_holidays("mars", range(2026, 2027))
    # then the field and value are named
    assert (caught.value.field, caught.value.value) == ("preset", "mars")
