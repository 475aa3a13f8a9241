"""The journey rule on plain values: original channel and campaign from the first touch, latest from the last."""

from __future__ import annotations

import datetime as dt

from tandem.campaigns.journeys import NO_JOURNEY, Journey, Touch, journey_first, journey_last, journey_of

T0 = dt.datetime(2025, 3, 1, 9, 0, tzinfo=dt.UTC)
T1 = T0 + dt.timedelta(hours=1)
T2 = T0 + dt.timedelta(hours=2)


def test_the_first_touch_gives_the_original_and_the_last_the_latest_whatever_the_given_order():
    # given touches out of time order
    touches = [Touch(T1, "email", 7), Touch(T2, "webinar", None), Touch(T0, "paid_search", 3)]
    # when
    journey = journey_of(touches=touches)
    # then
    assert journey == Journey("paid_search", 3, "webinar", None)


def test_no_touches_give_no_journey():
    # given / when
    journey = journey_of(touches=[])
    # then
    assert journey == NO_JOURNEY
    assert journey.as_fields() == {
        "original_channel": "",
        "original_campaign_id": None,
        "latest_channel": "",
        "latest_campaign_id": None,
    }


def test_touches_of_the_same_moment_are_ordered_by_their_tie():
    # given three touches at one moment, tied by arrival order (intake's rule)
    touches = [Touch(T0, "email", 1, (0,)), Touch(T0, "direct", 2, (1,)), Touch(T0, "events", 3, (2,))]
    # when
    first, last = journey_first(touches=touches), journey_last(touches=touches)
    # then the first to arrive is the original, the last to arrive the latest
    assert (first.channel, last.channel) == ("email", "events")


def test_a_channel_tie_orders_same_moment_touches_alphabetically():
    # given two touches at one moment, tied by channel then campaign (the CSV import's rule)
    touches = [Touch(T0, "webinar", 4, ("webinar", 4)), Touch(T0, "direct", None, ("direct", 0))]
    # when
    journey = journey_of(touches=touches)
    # then
    assert journey == Journey("direct", None, "webinar", 4)


def test_the_bundle_tie_compares_the_bundle_campaign_id_before_the_campaign_key():
    # given same channel and moment; bundle campaign ids "C-2" < "C-9" while their keys are 9 > 2
    touches = [Touch(T0, "email", 2, ("email", "C-9", "email_click", 2)), Touch(T0, "email", 9, ("email", "C-2", "email_click", 9))]
    # when
    journey = journey_of(touches=touches)
    # then
    assert journey == Journey("email", 9, "email", 2)
