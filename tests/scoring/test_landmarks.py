"""Training snapshots at several lead ages, and the same features for an open lead scored now."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import numpy as np
import pytest

from tandem.crm.services import deal_close, deal_create, person_update
from tandem.scoring.features import (
    LEAD_AGE,
    EventTable,
    FeatureBuilder,
    ScoringInput,
    inputs_repeat,
    landmark_rows,
    lead_age_days,
)
from tandem.scoring.rules import SECONDS_PER_DAY
from tandem.scoring.selectors import feature_spec_for, scoring_dataset, scoring_rules_current
from tests.campaigns.factories import TouchpointFactory
from tests.crm.factories import PersonFactory

DAY = SECONDS_PER_DAY


def test_snapshots_are_taken_at_each_age_reached_while_the_lead_was_open():
    # given four people: never closed, lost on day 20, won on day 50, and one who arrived on day 90
    created = np.array([0.0, 0.0, 0.0, 90 * DAY])
    won_at = np.array([np.nan, np.nan, 50 * DAY, np.nan])
    lost_at = np.array([np.nan, 20 * DAY, np.nan, np.nan])
    # when snapshots at 7, 30 and 90 days are taken on day 100
    rows, cutoffs = landmark_rows(created, won_at, lost_at, ages_days=(30, 7, 90), now=100 * DAY)
    # then: day 7 for everyone (the late arrival's day 7 is day 97), day 30 for the open and the later won
    # person, day 90 for the never-closed one only
    assert rows.tolist() == [0, 1, 2, 3, 0, 2, 0]
    assert (cutoffs / DAY).tolist() == [7, 7, 7, 97, 30, 30, 90]


def test_lead_age_is_counted_from_arrival_and_capped_at_the_oldest_age_trained_on():
    created = np.array([0.0, 0.0, 10 * DAY])
    cutoffs = np.array([45 * DAY, 1000 * DAY, 5 * DAY])
    assert lead_age_days(created, cutoffs, cap_days=365).tolist() == [45.0, 365.0, 0.0]


def test_a_repeated_person_keeps_all_their_events_and_sees_only_those_before_each_cutoff():
    # given two people with events on days 1, 20 and 45 (first) and day 3 (second)
    events = EventTable.build(person=[0, 1, 0, 0], time=[1 * DAY, 3 * DAY, 20 * DAY, 45 * DAY], kind=["a", "b", "a", "c"])
    inputs = ScoringInput.build(cutoffs=[0.0, 0.0], profile={"x": ["p", "q"]}, events=events)
    # when the first person is repeated at days 7 and 30 and the second at day 7
    repeated = inputs_repeat(inputs, np.array([0, 1, 0]), np.array([7 * DAY, 7 * DAY, 30 * DAY]))
    # then each copy carries its person's profile and every one of their events
    assert repeated.profile["x"] == ["p", "q", "p"]
    by_copy = {k: sorted((repeated.events.time[repeated.events.person == k] / DAY).tolist()) for k in range(3)}
    assert by_copy == {0: [1.0, 20.0, 45.0], 1: [3.0], 2: [1.0, 20.0, 45.0]}


@pytest.mark.django_db
def test_a_training_snapshot_and_an_open_lead_scored_at_the_same_moment_have_identical_features():
    # given a person who arrived 200 days ago with touches on days 1, 20 and 45, and a second, won person
    arrived = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    now = arrived + dt.timedelta(days=200)
    person = PersonFactory(created_at=arrived)
    for day, kind in ((1, "webinar"), (20, "email_click"), (45, "demo_request")):
        TouchpointFactory(person=person, kind=kind, occurred_at=arrived + dt.timedelta(days=day))
    other = PersonFactory(created_at=arrived)
    TouchpointFactory(person=other, kind="webinar", occurred_at=arrived + dt.timedelta(days=2))
    deal_close(deal=deal_create(person=other, amount=Decimal(500), created_at=arrived), won=True, at=arrived + dt.timedelta(days=40))
    rules = scoring_rules_current()
    training = scoring_dataset(cutoff="creation", window_days=7, now=now).at_landmarks(
        ages_days=(7, 30, 90, 180), now=now.timestamp()
    )
    builder = FeatureBuilder.fit(feature_spec_for(rules=rules, custom_fields=training.custom_fields), training.inputs)
    train_matrix = builder.transform(training.inputs)
    # then the open person has snapshots at 7, 30, 90 and 180 days, the won one at 7 and 30 only
    ages = train_matrix.values[:, train_matrix.names.index(LEAD_AGE)]
    assert sorted(ages[training.person_ids == person.pk].tolist()) == [7.0, 30.0, 90.0, 180.0]
    assert sorted(ages[training.person_ids == other.pk].tolist()) == [7.0, 30.0]
    # and when the open person is scored "now" at each snapshot's moment, the features are the same numbers
    for row in np.flatnonzero(training.person_ids == person.pk).tolist():
        moment = dt.datetime.fromtimestamp(float(training.inputs.cutoffs[row]), tz=dt.UTC)
        scored = builder.transform(scoring_dataset(person_ids=[person.pk], cutoff="now", now=moment).inputs)
        assert scored.values[0].tolist() == pytest.approx(train_matrix.values[row].tolist(), nan_ok=True, rel=1e-12)
    # and an age-like feature means the same at both times: at day 30 the first touch was 29 days ago
    day30 = int(np.flatnonzero((training.person_ids == person.pk) & (ages == 30.0))[0])
    assert train_matrix.values[day30, train_matrix.names.index("days_since_first_event")] == pytest.approx(29.0)


@pytest.mark.django_db
def test_a_profile_edit_after_a_snapshot_is_not_seen_by_it(monkeypatch):
    # given a student who arrived on day 0, became "Head of Sales" and gave email consent on day 20
    arrived = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    person = PersonFactory(created_at=arrived, job_title="Student")
    monkeypatch.setattr("tandem.core.events.timezone.now", lambda: arrived + dt.timedelta(days=20))
    person_update(person=person, job_title="Head of Sales", consent_email=True)
    monkeypatch.undo()
    now = arrived + dt.timedelta(days=100)
    # when training snapshots are taken at 7, 30 and 90 days
    training = scoring_dataset(cutoff="creation", window_days=7, now=now).at_landmarks(
        ages_days=(7, 30, 90), now=now.timestamp()
    )
    ages = {round((float(c) - arrived.timestamp()) / DAY): i for i, c in enumerate(training.inputs.cutoffs.tolist())}
    profile = training.inputs.profile
    # then the day-7 snapshot sees the student without consent, the later ones the new title and consent
    assert [profile["job_title"][ages[d]] for d in (7, 30, 90)] == ["Student", "Head of Sales", "Head of Sales"]
    assert [profile["consent_email"][ages[d]] for d in (7, 30, 90)] == ["no", "yes", "yes"]
    # and scoring now sees today's profile
    assert scoring_dataset(person_ids=[person.pk], cutoff="now", now=now).inputs.profile["job_title"] == ["Head of Sales"]
