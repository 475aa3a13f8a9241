"""core's small shared helpers: report periods from dates, and free text checked before it reaches a table."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from tandem.core.errors import ValidationFailed
from tandem.core.periods import day_bounds, period_bounds, period_from_dates, period_next, period_start
from tandem.core.text import text_clean
from tandem.stats.kpi import bucket_sums


def test_a_period_runs_from_the_first_day_to_the_end_of_the_last():
    # given two inclusive dates
    # when they become a period
    start, end = period_from_dates(dt.date(2026, 3, 1), dt.date(2026, 3, 31))
    # then it is [start, end) in UTC
    assert (start, end) == (
        dt.datetime(2026, 3, 1, tzinfo=dt.UTC),
        dt.datetime(2026, 4, 1, tzinfo=dt.UTC),
    )


def test_a_period_without_a_start_is_the_90_days_up_to_its_end():
    start, end = period_from_dates(None, dt.date(2026, 3, 31))
    assert (start, end) == (dt.datetime(2026, 1, 1, tzinfo=dt.UTC), dt.datetime(2026, 4, 1, tzinfo=dt.UTC))


def test_a_period_that_ends_before_it_starts_is_refused_naming_the_start():
    with pytest.raises(ValidationFailed) as refused:
        period_from_dates(dt.date(2026, 4, 2), dt.date(2026, 4, 1))
    assert (refused.value.field, refused.value.value) == ("from", "2026-04-02")


@pytest.mark.parametrize(
    ("day", "kind", "start", "after"),
    [
        (dt.date(2026, 6, 28), "week", dt.date(2026, 6, 22), dt.date(2026, 6, 29)),  # a Sunday: its Monday, the next
        (dt.date(2026, 6, 22), "week", dt.date(2026, 6, 22), dt.date(2026, 6, 29)),
        (dt.date(2026, 12, 31), "month", dt.date(2026, 12, 1), dt.date(2027, 1, 1)),
        (dt.date(2026, 11, 15), "quarter", dt.date(2026, 10, 1), dt.date(2027, 1, 1)),
    ],
)
def test_a_period_is_its_first_day_up_to_the_next_periods_first_day(day, kind, start, after):
    assert (period_start(day, kind), period_next(period_start(day, kind), kind)) == (start, after)


def test_a_week_runs_from_monday_midnight_to_the_next_monday_midnight_in_the_companys_zone():
    # given the company's zone, Berlin, across the end of summer time (2026-10-25)
    berlin = ZoneInfo("Europe/Berlin")
    # when
    start, end = period_bounds(dt.date(2026, 10, 19), "week", tz=berlin)
    # then local midnights, 169 hours apart that week
    assert (start.astimezone(dt.UTC), end.astimezone(dt.UTC)) == (
        dt.datetime(2026, 10, 18, 22, tzinfo=dt.UTC),
        dt.datetime(2026, 10, 25, 23, tzinfo=dt.UTC),
    )


def test_inclusive_days_become_a_half_open_range_and_open_sides_stay_open():
    berlin = ZoneInfo("Europe/Berlin")
    assert day_bounds(dt.date(2026, 6, 22), dt.date(2026, 6, 28), tz=berlin) == (
        dt.datetime(2026, 6, 22, tzinfo=berlin),
        dt.datetime(2026, 6, 29, tzinfo=berlin),
    )
    assert day_bounds(None, None, tz=berlin) == (None, None)
    with pytest.raises(ValidationFailed) as refused:
        day_bounds(dt.date(2026, 6, 29), dt.date(2026, 6, 28), tz=berlin)
    assert (refused.value.field, refused.value.value) == ("date_from", "2026-06-29")


def test_an_unknown_period_kind_is_refused_naming_it():
    with pytest.raises(ValidationFailed) as refused:
        period_start(dt.date(2026, 6, 22), "fortnight")
    assert (refused.value.field, refused.value.value) == ("period", "fortnight")


def test_the_last_bucket_is_half_open_too():
    # given days on the last bucket's start, just before its end, and on its end (the next Monday)
    days = np.array([dt.date(2026, 6, d).toordinal() for d in (22, 28, 29)], dtype=np.float64)
    # when bucketed into one week
    counts = bucket_sums(days, [dt.date(2026, 6, 22), dt.date(2026, 6, 29)], np.array([1.0, 2.0, 4.0]))
    # then the next Monday is not in it (numpy's histogram would have closed the last bin and counted it)
    assert counts.tolist() == [3.0]


def test_text_is_stripped():
    assert text_clean("  No budget \n", field="name", max_length=20, required=True) == "No budget"


@pytest.mark.parametrize(
    ("value", "required", "message"),
    [
        (42, True, "name must be text"),
        ("a\x00b", True, "name must not contain NUL characters"),
        ("   ", True, "name must not be empty"),
        ("x" * 21, False, "name must be at most 20 characters, got 21"),
    ],
)
def test_bad_text_is_refused_naming_the_field(value, required, message):
    with pytest.raises(ValidationFailed) as refused:
        text_clean(value, field="name", max_length=20, required=required)
    assert (refused.value.field, refused.value.message) == ("name", message)


def test_empty_text_is_allowed_when_not_required():
    assert text_clean("  ", field="note", max_length=20, required=False) == ""
