"""core's small shared helpers: report periods from dates, and free text checked before it reaches a table."""

from __future__ import annotations

import datetime as dt

import pytest

from tandem.core.errors import ValidationFailed
from tandem.core.periods import period_from_dates
from tandem.core.text import text_clean


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
