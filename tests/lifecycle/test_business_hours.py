from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tandem.core.errors import ValidationFailed
from tandem.lifecycle.business_hours import (
    BusinessCalendar,
    BusinessTimeline,
    add_business_minutes,
    business_minutes_between,
    is_business_time,
)

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
ALL_DAY = {day: [["00:00", "24:00"]] for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}


def berlin_calendar(**extra: object) -> BusinessCalendar:
    return BusinessCalendar.from_dict({"time_zone": "Europe/Berlin", **extra})


def test_friday_afternoon_lead_with_four_hour_sla_is_due_monday_half_past_twelve_berlin() -> None:
    # given a Mon–Fri 09:00–17:00 Berlin calendar and a lead at Friday 16:30 Berlin time
    calendar = berlin_calendar()
    start = datetime(2026, 11, 20, 16, 30, tzinfo=BERLIN)
    # when 4 business hours are added
    deadline = add_business_minutes(start, 240, calendar)
    # then 30 minutes are used on Friday and 210 on Monday from 09:00
    assert deadline == datetime(2026, 11, 23, 12, 30, tzinfo=BERLIN)
    assert deadline.tzinfo == UTC
    assert business_minutes_between(start, deadline, calendar) == 240.0


def test_saturday_arrival_counts_from_monday_nine() -> None:
    # given a lead arriving on Saturday morning
    calendar = berlin_calendar()
    start = datetime(2026, 11, 21, 10, 0, tzinfo=BERLIN)
    # when
    deadline = add_business_minutes(start, 240, calendar)
    # then the clock starts Monday 09:00
    assert deadline == datetime(2026, 11, 23, 13, 0, tzinfo=BERLIN)
    assert business_minutes_between(start, datetime(2026, 11, 23, 9, 0, tzinfo=BERLIN), calendar) == 0.0


def test_minutes_that_run_out_at_closing_time_end_at_closing_time() -> None:
    # given 16:59 on a Wednesday
    calendar = berlin_calendar()
    start = datetime(2026, 11, 18, 16, 59, tzinfo=BERLIN)
    # when / then one minute ends exactly at 17:00 and two minutes end at 09:01 the next morning
    assert add_business_minutes(start, 1, calendar) == datetime(2026, 11, 18, 17, 0, tzinfo=BERLIN)
    assert add_business_minutes(start, 2, calendar) == datetime(2026, 11, 19, 9, 1, tzinfo=BERLIN)
    assert add_business_minutes(start, 0, calendar) == start


def test_holidays_are_skipped() -> None:
    # given Christmas Day (Friday) and Monday 28 December as holidays
    calendar = berlin_calendar(holidays=["2026-12-25", "2026-12-28"])
    start = datetime(2026, 12, 24, 16, 0, tzinfo=BERLIN)
    # when
    deadline = add_business_minutes(start, 240, calendar)
    # then 60 minutes on Thursday, nothing until Tuesday 09:00, then 180 minutes
    assert deadline == datetime(2026, 12, 29, 12, 0, tzinfo=BERLIN)
    assert business_minutes_between(start, deadline, calendar) == 240.0
    assert not is_business_time(datetime(2026, 12, 25, 10, 0, tzinfo=BERLIN), calendar)


def test_split_shifts_skip_the_lunch_break() -> None:
    # given 09:00–12:00 and 13:00–17:00 on weekdays
    shifts = [["09:00", "12:00"], ["13:00", "17:00"]]
    calendar = berlin_calendar(hours={d: shifts for d in ("mon", "tue", "wed", "thu", "fri")})
    start = datetime(2026, 11, 18, 11, 30, tzinfo=BERLIN)
    # when
    deadline = add_business_minutes(start, 60, calendar)
    # then 30 minutes before lunch, 30 after
    assert deadline == datetime(2026, 11, 18, 13, 30, tzinfo=BERLIN)
    assert business_minutes_between(start, datetime(2026, 11, 18, 18, 0, tzinfo=BERLIN), calendar) == 30 + 240
    assert is_business_time(datetime(2026, 11, 18, 12, 0, tzinfo=BERLIN), calendar) is False


def test_the_same_instant_gives_different_deadlines_for_teams_in_different_zones() -> None:
    # given Friday 15:30 UTC: 16:30 in Berlin, 10:30 in New York
    start = datetime(2026, 11, 20, 15, 30, tzinfo=UTC)
    berlin = berlin_calendar()
    new_york = BusinessCalendar.from_dict({"time_zone": "America/New_York"})
    # when
    berlin_due = add_business_minutes(start, 240, berlin)
    new_york_due = add_business_minutes(start, 240, new_york)
    # then Berlin is due Monday 12:30 CET (11:30 UTC); New York the same Friday at 14:30 EST (19:30 UTC)
    assert berlin_due == datetime(2026, 11, 23, 11, 30, tzinfo=UTC)
    assert new_york_due == datetime(2026, 11, 20, 19, 30, tzinfo=UTC)


def test_berlin_spring_forward_day_has_23_hours_and_a_night_shift_loses_an_hour() -> None:
    # given a 24/7 Berlin calendar; clocks go from 02:00 to 03:00 on Sunday 29 March 2026
    calendar = BusinessCalendar.from_dict({"time_zone": "Europe/Berlin", "hours": ALL_DAY})
    night = BusinessCalendar.from_dict({"time_zone": "Europe/Berlin", "hours": {"sun": [["01:00", "04:00"]]}})
    # when / then noon to noon across the change is 23 hours
    a = datetime(2026, 3, 28, 12, 0, tzinfo=BERLIN)
    b = datetime(2026, 3, 29, 12, 0, tzinfo=BERLIN)
    assert business_minutes_between(a, b, calendar) == 23 * 60
    assert add_business_minutes(a, 23 * 60, calendar) == b
    # and the 01:00–04:00 shift lasts 120 real minutes that Sunday, 180 the Sunday before
    assert business_minutes_between(datetime(2026, 3, 29, tzinfo=BERLIN), datetime(2026, 3, 30, tzinfo=BERLIN), night) == 120
    assert business_minutes_between(datetime(2026, 3, 22, tzinfo=BERLIN), datetime(2026, 3, 23, tzinfo=BERLIN), night) == 180


def test_berlin_fall_back_day_has_25_hours() -> None:
    # given clocks going from 03:00 back to 02:00 on Sunday 25 October 2026
    calendar = BusinessCalendar.from_dict({"time_zone": "Europe/Berlin", "hours": ALL_DAY})
    a = datetime(2026, 10, 24, 12, 0, tzinfo=BERLIN)
    b = datetime(2026, 10, 25, 12, 0, tzinfo=BERLIN)
    # when / then
    assert business_minutes_between(a, b, calendar) == 25 * 60
    assert add_business_minutes(a, 25 * 60, calendar) == b


def test_new_york_spring_forward_keeps_nine_to_five_in_local_time() -> None:
    # given Friday 6 March 2026 16:00 EST (21:00 UTC); clocks spring forward on Sunday 8 March
    calendar = BusinessCalendar.from_dict({"time_zone": "America/New_York"})
    start = datetime(2026, 3, 6, 16, 0, tzinfo=NEW_YORK)
    # when 2 business hours are added
    deadline = add_business_minutes(start, 120, calendar)
    # then Monday 10:00 EDT, which is 14:00 UTC (not 15:00 as it would be in EST)
    assert deadline == datetime(2026, 3, 9, 14, 0, tzinfo=UTC)


def test_new_york_fall_back_weekend_and_a_24_7_calendar() -> None:
    # given a 24/7 New York calendar; clocks go from 02:00 back to 01:00 on Sunday 1 November 2026
    calendar = BusinessCalendar.from_dict({"time_zone": "America/New_York", "hours": ALL_DAY})
    weekdays = BusinessCalendar.from_dict({"time_zone": "America/New_York"})
    a = datetime(2026, 10, 31, 0, 0, tzinfo=NEW_YORK)
    b = datetime(2026, 11, 2, 0, 0, tzinfo=NEW_YORK)
    # when / then the weekend is 49 hours long on the clock, and zero business minutes on weekdays only
    assert business_minutes_between(a, b, calendar) == 49 * 60
    assert business_minutes_between(a, b, weekdays) == 0
    # and Friday 16:00 EDT + 2 hours is Monday 10:00 EST = 15:00 UTC
    assert add_business_minutes(datetime(2026, 10, 30, 16, 0, tzinfo=NEW_YORK), 120, weekdays) == datetime(
        2026, 11, 2, 15, 0, tzinfo=UTC
    )


def test_between_is_antisymmetric() -> None:
    # given two moments a working day apart
    calendar = berlin_calendar()
    a = datetime(2026, 11, 18, 9, 0, tzinfo=BERLIN)
    b = datetime(2026, 11, 19, 9, 0, tzinfo=BERLIN)
    # when / then
    assert business_minutes_between(a, b, calendar) == 480
    assert business_minutes_between(b, a, calendar) == -480


def test_calendar_round_trips_through_json_and_describes_itself() -> None:
    # given a calendar with a split Friday and a holiday
    data = {
        "time_zone": "America/New_York",
        "hours": {"mon": [["08:30", "17:00"]], "fri": [["09:00", "12:00"], ["13:00", "15:00"]]},
        "holidays": ["2026-11-26"],
    }
    # when
    calendar = BusinessCalendar.from_dict(data)
    # then
    assert BusinessCalendar.from_dict(calendar.to_dict()) == calendar
    assert calendar.to_dict()["hours"]["fri"] == [["09:00", "12:00"], ["13:00", "15:00"]]
    assert calendar.to_dict()["hours"]["tue"] == []
    assert calendar.holidays == frozenset({date(2026, 11, 26)})
    assert calendar.describe()[0] == "Times are in America/New_York."
    assert calendar.describe()[5] == "Friday: 09:00–12:00 and 13:00–15:00"
    assert calendar.describe()[-1] == "1 extra holiday(s) are closed all day."


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"time_zone": "Mars/Olympus"}, "time_zone"),
        ({"hours": {"mon": [["09:00", "25:00"]]}}, "hours.mon"),
        ({"hours": {"mon": [["17:00", "09:00"]]}}, "hours.mon"),
        ({"hours": {"tue": [["09:00", "13:00"], ["12:00", "17:00"]]}}, "hours.tue"),
        ({"hours": {"funday": [["09:00", "17:00"]]}}, "hours"),
        ({"hours": {"mon": ["09:00"]}}, "hours.mon"),
        ({"hours": {}}, "hours"),
        ({"holidays": ["25/12/2026"]}, "holidays"),
    ],
)
def test_bad_calendars_are_refused_naming_the_field(data: dict[str, object], field: str) -> None:
    # given / when
    with pytest.raises(ValidationFailed) as caught:
        BusinessCalendar.from_dict(data)
    # then
    assert caught.value.field == field


def test_naive_times_and_negative_minutes_are_refused() -> None:
    # given
    calendar = berlin_calendar()
    # when / then
    with pytest.raises(ValidationFailed) as naive:
        add_business_minutes(datetime(2026, 11, 18, 9, 0), 10, calendar)
    assert naive.value.field == "start"
    with pytest.raises(ValidationFailed) as negative:
        add_business_minutes(datetime(2026, 11, 18, 9, 0, tzinfo=UTC), -1, calendar)
    assert negative.value.field == "minutes"


CALENDARS = [
    BusinessCalendar.from_dict({"time_zone": "Europe/Berlin", "holidays": ["2026-03-30", "2026-10-26"]}),
    BusinessCalendar.from_dict(
        {"time_zone": "America/New_York", "hours": {"mon": [["08:00", "12:00"], ["13:00", "18:00"]], "sun": [["01:00", "03:00"]]}}
    ),
    BusinessCalendar.from_dict({"time_zone": "Asia/Kolkata", "hours": ALL_DAY}),
]
instants = st.integers(min_value=0, max_value=365 * 24 * 60).map(
    lambda m: datetime(2026, 1, 1, tzinfo=UTC) + timedelta(minutes=m)
)


@settings(max_examples=150, deadline=None)
@given(start=instants, minutes=st.integers(min_value=0, max_value=6000), which=st.integers(0, 2))
def test_adding_then_measuring_gives_back_the_minutes(start: datetime, minutes: int, which: int) -> None:
    # given a calendar and a start anywhere in 2026 (DST days included)
    calendar = CALENDARS[which]
    # when
    deadline = add_business_minutes(start, minutes, calendar)
    # then
    assert deadline >= start
    assert business_minutes_between(start, deadline, calendar) == minutes


@settings(max_examples=100, deadline=None)
@given(start=instants, a=st.integers(0, 3000), b=st.integers(0, 3000), which=st.integers(0, 2))
def test_deadlines_grow_with_the_minutes(start: datetime, a: int, b: int, which: int) -> None:
    # given two budgets
    calendar = CALENDARS[which]
    low, high = sorted((a, b))
    # when / then
    assert add_business_minutes(start, low, calendar) <= add_business_minutes(start, high, calendar)


@settings(max_examples=60, deadline=None)
@given(
    starts=st.lists(instants, min_size=1, max_size=20),
    minutes=st.integers(min_value=0, max_value=3000),
    which=st.integers(0, 2),
)
def test_the_vectorised_timeline_agrees_with_the_scalar_functions(starts: list[datetime], minutes: int, which: int) -> None:
    # given a timeline covering 2026 and a little beyond
    calendar = CALENDARS[which]
    timeline = BusinessTimeline.build(calendar, datetime(2026, 1, 1, tzinfo=UTC), datetime(2027, 3, 1, tzinfo=UTC))
    t = np.array([s.timestamp() for s in starts])
    # when
    due = timeline.add_minutes(t, minutes)
    back = timeline.minutes_between(t, due)
    # then
    expected = [add_business_minutes(s, minutes, calendar).timestamp() for s in starts]
    assert due.tolist() == expected
    assert back.tolist() == [float(minutes)] * len(starts)
    later = [s + timedelta(hours=37) for s in starts]
    measured = timeline.minutes_between(t, np.array([x.timestamp() for x in later]))
    assert measured.tolist() == [business_minutes_between(s, x, calendar) for s, x in zip(starts, later, strict=True)]
