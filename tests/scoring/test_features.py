"""Features by hand, the leakage denylist, and properties proving nothing after a cut-off is used."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tandem.core.errors import ValidationFailed
from tandem.scoring.features import (
    LEAKAGE_DENYLIST,
    Event,
    EventTable,
    FeatureBuilder,
    FeatureSpec,
    FieldChange,
    PersonRecord,
    ScoringInput,
    check_no_leakage,
    describe_group,
    inputs_from_records,
    outcome_labels,
    profile_as_of,
)
from tandem.scoring.rules import SECONDS_PER_DAY, EngagementConfig, FitConfig, FitRule

DAY = SECONDS_PER_DAY
T0 = 1_700_000_000.0
KINDS = ("webinar_attended", "email_click", "page_view", "demo_request")
CHANNELS = ("email", "paid_search", "event")

SPEC = FeatureSpec(
    categorical=("industry",),
    numeric=("company_size",),
    event_kinds=("webinar_attended", "email_click"),
    channels=("email", "event"),
    windows_days=(7.0, 30.0),
    engagement=EngagementConfig(points_by_kind={"webinar_attended": 10, "email_click": 4}, half_life_days=7),
    fit=FitConfig(rules=(FitRule("industry", "in", 20, ("Software",)), FitRule("company_size", "between", 10, low=50))),
    labels={"kind:webinar_attended": "Webinar attended", "industry": "Industry"},
    min_level_count=1,
)


def _person(cutoff: float) -> PersonRecord:
    return PersonRecord(
        cutoff=cutoff,
        profile={"industry": "Software", "company_size": 120},
        events=(
            Event(cutoff - 14 * DAY, "webinar_attended", "event", "spring-webinar"),
            Event(cutoff - 3 * DAY, "email_click", "email", "nurture"),
            Event(cutoff - 40 * DAY, "page_view", "paid_search", ""),
            Event(cutoff + 1 * DAY, "demo_request", "email", "nurture"),
        ),
    )


def test_features_by_hand() -> None:
    # given one person with three events before the cut-off and one after
    inputs = inputs_from_records([_person(T0)])
    builder = FeatureBuilder.fit(SPEC, inputs)
    # when
    matrix = builder.transform(inputs)
    row = dict(zip(matrix.names, matrix.values[0].tolist(), strict=True))
    # then
    assert row["industry=Software"] == 1.0 and row["industry=(rare value)"] == 0.0
    assert row["company_size"] == 120.0
    assert row["fit_points"] == 30.0
    assert row["events:webinar_attended"] == 1.0
    assert row["events:email_click"] == 1.0
    assert row["events:other"] == 1.0  # the page view; the later demo request is not there
    assert row["channel:email"] == 1.0 and row["channel:event"] == 1.0
    assert row["events_last_7d"] == 1.0 and row["events_last_30d"] == 2.0
    assert row["days_since_last_event"] == 3.0 and row["days_since_first_event"] == 40.0
    assert row["distinct_campaigns"] == 2.0
    assert row["engagement"] == 10 * 0.25 + 4 * 2 ** (-3 / 7)


def test_event_kinds_and_channels_match_whatever_their_capitals() -> None:
    # given kinds and channels written with other capitals than the spec's
    record = PersonRecord(
        cutoff=T0,
        events=(Event(T0 - DAY, "Webinar_Attended", "Event"), Event(T0 - 2 * DAY, "EMAIL_CLICK", "email")),
    )
    inputs = inputs_from_records([record])
    builder = FeatureBuilder.fit(SPEC, inputs)
    # when
    row = dict(zip(builder.names, builder.transform(inputs).values[0].tolist(), strict=True))
    # then
    assert (row["events:webinar_attended"], row["events:email_click"], row["events:other"]) == (1.0, 1.0, 0.0)
    assert (row["channel:event"], row["channel:email"]) == (1.0, 1.0)
    assert row["engagement"] == 10 * 2 ** (-1 / 7) + 4 * 2 ** (-2 / 7)


def test_a_person_without_events_has_zero_counts_and_unknown_recency() -> None:
    # given two people, only the first with events
    inputs = inputs_from_records([_person(T0), PersonRecord(cutoff=T0, profile={"industry": None})])
    builder = FeatureBuilder.fit(SPEC, inputs)
    # when
    row = dict(zip(builder.names, builder.transform(inputs).values[1].tolist(), strict=True))
    # then
    assert row["events:webinar_attended"] == 0.0 and row["engagement"] == 0.0
    assert math.isnan(row["days_since_last_event"]) and math.isnan(row["company_size"])
    assert row["industry=Software"] == 0.0 and row["industry=(rare value)"] == 0.0


def test_a_profile_value_known_after_the_cut_off_is_missing() -> None:
    # given the industry learnt a day after the cut-off for the first person, a day before for the second
    inputs = ScoringInput.build(
        cutoffs=[T0, T0],
        profile={"industry": ["Software", "Software"], "company_size": [120, 120]},
        known_since={"industry": [T0 + DAY, T0 - DAY]},
    )
    builder = FeatureBuilder.fit(SPEC, inputs)
    # when
    matrix = builder.transform(inputs)
    column = matrix.names.index("industry=Software")
    # then
    assert matrix.values[:, column].tolist() == [0.0, 1.0]
    assert matrix.values[:, matrix.names.index("fit_points")].tolist() == [10.0, 30.0]


def test_the_leakage_denylist_is_refused() -> None:
    # given specs naming after-the-fact fields, in any spelling
    # when / then
    for name in ("Lead Quality", "Tags", "last_notable_activity", "Asymmetrique Profile Score", "lifecycle_stage"):
        with pytest.raises(ValidationFailed) as err:
            FeatureSpec(categorical=(name,))
        assert (err.value.field, err.value.value) == ("features", name)
    with pytest.raises(ValidationFailed):
        FeatureSpec(fit=FitConfig(rules=(FitRule("Lead Quality", "present", 5),)))
    with pytest.raises(ValidationFailed):
        check_no_leakage(["industry", "Handoff note"], extra_denylist=["handoff note"])
    assert "converted" in LEAKAGE_DENYLIST and "deal_amount" in LEAKAGE_DENYLIST


def test_profile_as_of_takes_the_last_change_at_or_before_the_cut_off() -> None:
    # given industry changes for two people
    changes = [
        FieldChange(0, "industry", T0 - 5 * DAY, "Retail"),
        FieldChange(0, "industry", T0 - 1 * DAY, "Software"),
        FieldChange(0, "industry", T0 + 1 * DAY, "Banking"),
        FieldChange(1, "industry", T0 + 2 * DAY, "Software"),
    ]
    # when
    values, known = profile_as_of(changes, [T0, T0], ["industry", "country"])
    # then
    assert values["industry"] == ["Software", None]
    assert known["industry"][0] == T0 - DAY and math.isnan(known["industry"][1])
    assert values["country"] == [None, None]


def test_outcome_labels_by_hand() -> None:
    # given cut-offs at day 0, a 30-day horizon and "now" at day 100
    won = np.array([10 * DAY, 45 * DAY, np.nan, -1 * DAY, np.nan])
    cutoffs = np.array([0.0, 0.0, 0.0, 0.0, 80 * DAY])
    # when
    y, usable = outcome_labels(cutoffs, won, horizon_days=30, now=100 * DAY)
    # then won in 10 days: yes; won in 45 days: no (past the horizon); never won: no;
    # already won before the cut-off: not usable; cut-off 20 days ago and not won yet: not usable (still open)
    assert y.tolist() == [True, False, False, False, False]
    assert usable.tolist() == [True, True, True, False, False]


def test_spec_round_trips_through_json() -> None:
    # given / when
    again = FeatureSpec.from_dict(json.loads(json.dumps(SPEC.to_dict())))
    # then
    assert again == SPEC


def test_a_real_level_called_other_is_not_the_rare_bucket() -> None:
    # given industries "other" (three people) and "Mining" (one person, below the minimum count of 2)
    inputs = ScoringInput.build(cutoffs=[T0] * 4, profile={"industry": ["other", "other", "Other", "Mining"]})
    spec = FeatureSpec(categorical=("industry",), use_events=False, min_level_count=2)
    builder = FeatureBuilder.fit(spec, inputs)
    # when
    matrix = builder.transform(inputs)
    group = builder.groups[0]
    # then
    assert matrix.names == ("industry=other", "industry=(rare value)")
    assert matrix.values.tolist() == [[1.0, 0.0], [1.0, 0.0], [1.0, 0.0], [0.0, 1.0]]
    assert describe_group(group, matrix.values[0]) == "industry: other"
    assert describe_group(group, matrix.values[3]) == "industry: a rare value"


def test_describe_group_in_plain_words() -> None:
    # given one person's features
    inputs = inputs_from_records([_person(T0)])
    builder = FeatureBuilder.fit(SPEC, inputs)
    row = builder.transform(inputs).values[0]
    groups = {g.key: g for g in builder.groups}
    # when / then
    assert describe_group(groups["profile:industry"], row) == "Industry: Software"
    assert describe_group(groups["kind:webinar_attended"], row) == "Webinar attended: 1 time"
    assert describe_group(groups["window:7"], row) == "Activity in the last 7 days: 1 time"
    assert describe_group(groups["recency:last"], row) == "Days since the last activity: 3"
    assert describe_group(groups["rule:engagement"], row) == "Engagement score: 5.47"  # 2.5 + 4 · 2^(-3/7)
    big = row.copy()
    big[groups["profile:company_size"].columns[0]] = 15320.4
    assert describe_group(groups["profile:company_size"], big) == "company_size: 15,320"


def test_bad_input_names_the_column() -> None:
    # given / when / then
    with pytest.raises(ValidationFailed) as err:
        ScoringInput.build(cutoffs=[T0, T0], profile={"industry": ["x"]})
    assert err.value.field == "industry"
    with pytest.raises(ValidationFailed) as err:
        EventTable.build(person=[0], time=[float("nan")], kind=["x"])
    assert err.value.field == "time"
    with pytest.raises(ValidationFailed) as err:
        ScoringInput.build(cutoffs=[T0], events=EventTable.build(person=[3], time=[T0], kind=["x"]))
    assert err.value.field == "person"


# --- properties: what happens after the cut-off never changes a feature -------------------------------

event_strategy = st.tuples(
    st.floats(min_value=-90, max_value=-0.0, allow_nan=False),
    st.sampled_from(KINDS),
    st.sampled_from(CHANNELS),
    st.sampled_from(("", "spring", "summer")),
)
later_strategy = st.tuples(
    st.floats(min_value=1e-6, max_value=90, allow_nan=False),
    st.sampled_from(KINDS),
    st.sampled_from(CHANNELS),
    st.sampled_from(("", "spring", "autumn")),
)
person_strategy = st.tuples(
    st.floats(min_value=0, max_value=400, allow_nan=False),  # cut-off day
    st.sampled_from(("Software", "Retail", None)),
    st.one_of(st.none(), st.integers(1, 5000)),
    st.lists(event_strategy, max_size=6),
    st.lists(later_strategy, max_size=6),
    st.sampled_from(("Banking", "Software", None)),  # a value the industry gets after the cut-off
)


def _records(people: list[tuple], *, with_future: bool) -> list[PersonRecord]:
    records = []
    for cutoff_day, industry, size, before, after, _later_industry in people:
        cutoff = T0 + cutoff_day * DAY
        events = [Event(cutoff + d * DAY, k, c, g) for d, k, c, g in before]
        if with_future:
            events += [Event(cutoff + d * DAY, k, c, g) for d, k, c, g in after]
        profile = {"industry": industry, "company_size": size}
        records.append(PersonRecord(cutoff=cutoff, profile=profile, events=tuple(events)))
    return records


@settings(max_examples=60, deadline=None)
@given(st.lists(person_strategy, min_size=1, max_size=8))
def test_events_after_the_cut_off_never_change_features(people: list[tuple]) -> None:
    # given the same people with and without events after their cut-offs
    past_only = _records(people, with_future=False)
    with_future = _records(people, with_future=True)
    spec = FeatureSpec(
        categorical=("industry",),
        numeric=("company_size",),
        windows_days=(7.0, 30.0),
        engagement=EngagementConfig(points_by_kind={"webinar_attended": 10, "demo_request": 30}, half_life_days=7),
        min_level_count=1,
    )
    # when the builder learns levels and builds features from each version
    a_inputs, b_inputs = inputs_from_records(past_only), inputs_from_records(with_future)
    a_builder, b_builder = FeatureBuilder.fit(spec, a_inputs), FeatureBuilder.fit(spec, b_inputs)
    a, b = a_builder.transform(a_inputs), b_builder.transform(b_inputs)
    # then the features are identical, bit for bit
    assert a.names == b.names
    np.testing.assert_array_equal(a.values, b.values)


@settings(max_examples=60, deadline=None)
@given(st.lists(person_strategy, min_size=1, max_size=8))
def test_field_changes_after_the_cut_off_never_change_features(people: list[tuple]) -> None:
    # given a field history with and without changes after each cut-off
    cutoffs = [T0 + c * DAY for c, *_ in people]
    before: list[FieldChange] = []
    after: list[FieldChange] = []
    for index, (cutoff_day, industry, _size, _b, later, later_industry) in enumerate(people):
        cutoff = T0 + cutoff_day * DAY
        if industry is not None:
            before.append(FieldChange(index, "industry", cutoff - DAY, industry))
        if later_industry is not None:
            after.append(FieldChange(index, "industry", cutoff + (later[0][0] * DAY if later else 1.0), later_industry))
    spec = FeatureSpec(
        categorical=("industry",),
        use_events=False,
        fit=FitConfig(rules=(FitRule("industry", "in", 20, ("Software",)), FitRule("industry", "missing", -5))),
        min_level_count=1,
    )
    # when the profile is read as of the cut-offs from each history
    results = []
    for changes in (before, before + after):
        values, known = profile_as_of(changes, cutoffs, ["industry"])
        inputs = ScoringInput.build(cutoffs=cutoffs, profile=values, known_since=known)
        results.append(FeatureBuilder.fit(spec, inputs).transform(inputs))
    # then
    assert results[0].names == results[1].names
    np.testing.assert_array_equal(results[0].values, results[1].values)


@settings(max_examples=60, deadline=None)
@given(st.lists(person_strategy, min_size=1, max_size=8))
def test_profile_values_known_after_the_cut_off_are_never_used(people: list[tuple]) -> None:
    # given stored profiles whose later values carry a known-since after the cut-off, and the same people
    # as they were at the cut-off (the later value simply absent)
    at_cutoff = []
    stored = []
    for cutoff_day, industry, size, _b, _a, later_industry in people:
        cutoff = T0 + cutoff_day * DAY
        at_cutoff.append(PersonRecord(cutoff=cutoff, profile={"industry": None, "company_size": size}))
        stored.append(
            PersonRecord(
                cutoff=cutoff,
                profile={"industry": later_industry or industry, "company_size": size},
                known_since={"industry": cutoff + DAY},
            )
        )
    spec = FeatureSpec(categorical=("industry",), numeric=("company_size",), use_events=False, min_level_count=1)
    # when
    a_inputs, b_inputs = inputs_from_records(at_cutoff), inputs_from_records(stored)
    a = FeatureBuilder.fit(spec, a_inputs).transform(a_inputs)
    b = FeatureBuilder.fit(spec, b_inputs).transform(b_inputs)
    # then
    assert a.names == b.names
    np.testing.assert_array_equal(a.values, b.values)
