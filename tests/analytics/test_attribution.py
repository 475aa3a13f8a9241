"""Attribution models on journeys computed by hand, the data structure, the JSON rows, validation and properties."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tandem.core.errors import ValidationFailed
from tandem.stats.attribution import (
    HEURISTIC_MODELS,
    MODELS,
    NO_TOUCH,
    AttributionResult,
    Journeys,
    attribute,
    first_touch,
    last_touch,
    linear,
    markov,
    markov_chain,
    markov_removal_effects,
    position_based,
    shapley,
    time_decay,
    w_shaped,
)

SHARING_MODELS = (*HEURISTIC_MODELS, "markov", "shapley")


def by_key(result: AttributionResult, column: str = "conversions") -> dict[str, float]:
    return {k: float(v) for k, v in zip(result.keys, getattr(result, column), strict=True)}


def four_journeys() -> Journeys:
    # A, B, C converted (revenue 100); B converted twice (count 2, revenue 50 in all);
    # A, B not converted; C, A, A, B converted (revenue 30).
    return Journeys.from_paths(
        [["A", "B", "C"], ["B"], ["A", "B"], ["C", "A", "A", "B"]],
        converted=[True, True, False, True],
        revenue=[100.0, 50.0, 0.0, 30.0],
        count=[1, 2, 1, 1],
    )


# --- data ---------------------------------------------------------------------------------------------


def test_from_paths_builds_columns():
    # given / when
    journeys = four_journeys()

    # then
    assert journeys.keys == ("A", "B", "C")
    assert journeys.codes.tolist() == [0, 1, 2, 1, 0, 1, 2, 0, 0, 1]
    assert journeys.offsets.tolist() == [0, 3, 4, 6, 10]
    assert journeys.lengths.tolist() == [3, 1, 2, 4]
    assert journeys.n_journeys == 4
    assert journeys.count.tolist() == [1, 2, 1, 1]


def test_from_aggregated_splits_rows_into_converted_and_null_journeys():
    # given: "a > b" converted 3 times (value 12) and 5 times not; "b" only 2 nulls; "a" only 1 conversion
    # when
    journeys = Journeys.from_aggregated(
        ["a > b", "b", "a"], conversions=[3, 0, 1], conversion_value=[12.0, 0.0, 4.0], nulls=[5, 2, 0]
    )

    # then
    assert journeys.keys == ("a", "b")
    assert journeys.lengths.tolist() == [2, 2, 1, 1]
    assert journeys.converted.tolist() == [True, False, False, True]
    assert journeys.count.tolist() == [3, 5, 2, 1]
    assert journeys.revenue.tolist() == [12.0, 0.0, 0.0, 4.0]


def test_from_touches_sorts_cuts_at_the_conversion_and_finds_milestones():
    # given: a touch table out of order. Journey 0 (won, closed at day 10): B@5 (lead), A@1, C@12 (after
    # the close, dropped), A@8 (opportunity). Journey 1 (never won): C@3 (lead), B@2. Journey 2: no touch.
    # Journey 3 (won at day 4): A@6 only, after its close: no touch left, its lead touch dropped with it.
    journeys = Journeys.from_touches(
        keys=["A", "B", "C"],
        journey=[0, 1, 0, 0, 1, 0, 3],
        codes=[1, 2, 0, 2, 1, 0, 0],
        times=[5.0, 3.0, 1.0, 12.0, 2.0, 8.0, 6.0],
        lead_touch=[True, True, False, False, False, False, True],
        opportunity_touch=[False, False, False, False, False, True, False],
        converted=[True, False, False, True],
        revenue=[100.0, 0.0, 0.0, 20.0],
        cutoff=[10.0, float("nan"), float("nan"), 4.0],
    )

    # then: journey 0 is A@1, B@5, A@8 (lead at position 1, opportunity at 2); journey 1 is B@2, C@3
    assert journeys.offsets.tolist() == [0, 3, 5, 5, 5]
    assert journeys.codes.tolist() == [0, 1, 0, 1, 2]
    assert journeys.times is not None
    assert journeys.times.tolist() == [1.0, 5.0, 8.0, 2.0, 3.0]
    assert journeys.lead_index is not None and journeys.opportunity_index is not None
    assert journeys.lead_index.tolist() == [1, 1, -1, -1]
    assert journeys.opportunity_index.tolist() == [2, -1, -1, -1]
    # and W-shaped reads them: every touch of journey 0 is a milestone (first A, lead B, opportunity A), so
    # the three slots share 100 %: A 2/3, B 1/3; journey 3 has no touch left: its conversion goes to (none)
    result = w_shaped(journeys)
    assert by_key(result) == pytest.approx({"A": 2 / 3, "B": 1 / 3, "C": 0.0, NO_TOUCH: 1.0}, abs=1e-12)


def test_from_touches_refuses_unknown_journey_numbers():
    # given / when / then
    with pytest.raises(ValidationFailed) as info:
        Journeys.from_touches(
            keys=["A"], journey=[0, 2], codes=[0, 0], times=[1.0, 2.0], converted=[True, False], revenue=[1, 0]
        )
    assert info.value.field == "journey"


# --- rule-based models ---------------------------------------------------------------------------------


def test_first_touch_by_hand():
    # given
    journeys = four_journeys()

    # when
    result = first_touch(journeys)

    # then: A from journey 1, B twice from journey 2, C from journey 4; the revenue follows
    assert by_key(result) == {"A": 1.0, "B": 2.0, "C": 1.0}
    assert by_key(result, "revenue") == {"A": 100.0, "B": 50.0, "C": 30.0}
    assert result.total_conversions == 4.0
    assert result.total_revenue == 180.0


def test_last_touch_by_hand():
    # given
    journeys = four_journeys()

    # when
    result = last_touch(journeys)

    # then: C from journey 1; B from journeys 2 (×2) and 4
    assert by_key(result) == {"A": 0.0, "B": 3.0, "C": 1.0}
    assert by_key(result, "revenue") == {"A": 0.0, "B": 80.0, "C": 100.0}


def test_linear_counts_repeated_touches_by_hand():
    # given
    journeys = four_journeys()

    # when
    result = linear(journeys)

    # then: journey 1 gives 1/3 each; journey 2 gives B 2; journey 4 gives C 1/4, A 2/4, B 1/4
    # A = 1/3 + 1/2 = 5/6, B = 1/3 + 2 + 1/4 = 31/12, C = 1/3 + 1/4 = 7/12
    assert by_key(result) == pytest.approx({"A": 5 / 6, "B": 31 / 12, "C": 7 / 12}, abs=1e-12)
    # revenue: A = 100/3 + 15, B = 100/3 + 50 + 7.5, C = 100/3 + 7.5
    assert by_key(result, "revenue") == pytest.approx(
        {"A": 100 / 3 + 15, "B": 100 / 3 + 57.5, "C": 100 / 3 + 7.5}, abs=1e-12
    )


def test_position_based_one_two_and_longer_journeys_by_hand():
    # given: 1 touch (100 %), 2 touches (50/50), 3 touches (40/20/40), 4 touches (40/10/10/40)
    journeys = Journeys.from_paths(
        [["A"], ["A", "B"], ["A", "B", "C"], ["C", "A", "A", "B"]],
        converted=[True, True, True, True],
        revenue=[10.0, 20.0, 100.0, 30.0],
    )

    # when
    result = position_based(journeys)

    # then: A = 1 + .5 + .4 + .1 + .1 = 2.1; B = .5 + .2 + .4 = 1.1; C = .4 + .4 = .8
    assert by_key(result) == pytest.approx({"A": 2.1, "B": 1.1, "C": 0.8}, abs=1e-12)
    # revenue: A = 10 + 10 + 40 + 3 + 3 = 66; B = 10 + 20 + 12 = 42; C = 40 + 12 = 52
    assert by_key(result, "revenue") == pytest.approx({"A": 66.0, "B": 42.0, "C": 52.0}, abs=1e-12)


def test_time_decay_halves_per_half_life_by_hand():
    # given: touches at days 0, 7, 14 and a half-life of 7 days: weights 1/4, 1/2, 1 → 1/7, 2/7, 4/7
    journeys = Journeys.from_paths(
        [["A", "B", "C"]], converted=[True], revenue=[70.0], times=[[0.0, 7.0, 14.0]]
    )

    # when
    result = time_decay(journeys, half_life=7.0)

    # then
    assert by_key(result) == pytest.approx({"A": 1 / 7, "B": 2 / 7, "C": 4 / 7}, abs=1e-12)
    assert by_key(result, "revenue") == pytest.approx({"A": 10.0, "B": 20.0, "C": 40.0}, abs=1e-12)
    assert result.params == {"half_life": 7.0}


def test_time_decay_without_times_uses_positions_by_hand():
    # given: no times, half-life of 1 touch: weights 1/2, 1 → 1/3, 2/3; the same key twice adds up
    journeys = Journeys.from_paths([["A", "B"], ["B", "B"]], converted=[True, True], revenue=[3.0, 6.0])

    # when
    result = attribute(journeys, "time_decay", half_life=1.0)

    # then: A = 1/3, B = 2/3 + 1
    assert by_key(result) == pytest.approx({"A": 1 / 3, "B": 5 / 3}, abs=1e-12)
    assert by_key(result, "revenue") == pytest.approx({"A": 1.0, "B": 8.0}, abs=1e-12)


def test_time_decay_of_far_past_touches_does_not_underflow():
    # given: 10,000 days between touches with a 1-day half-life (2^-10000 underflows to 0)
    journeys = Journeys.from_paths([["A", "B"]], converted=[True], revenue=[5.0], times=[[0.0, 10_000.0]])

    # when
    result = time_decay(journeys, half_life=1.0)

    # then: all the credit goes to the last touch, none is lost
    assert by_key(result) == {"A": 0.0, "B": 1.0}


def test_w_shaped_milestones_and_edge_cases_by_hand():
    # given, one converted journey each (keys are the touch positions p0..p4):
    # 1. five touches, lead at 2, opportunity at 3: 30/5/30/30/5
    # 2. four touches, lead at 0 (same as first), opportunity at 2: 60/5/30/5
    # 3. three touches, no milestones: first 90, the other two 5 each
    # 4. two touches, lead at 1, no opportunity, no other touch: 50/50
    # 5. one touch: 100
    # 6. three touches, lead at 1, no opportunity: 45/45/10
    paths = [
        ["p0", "p1", "p2", "p3", "p4"],
        ["p0", "p1", "p2", "p3"],
        ["p0", "p1", "p2"],
        ["p0", "p1"],
        ["p0"],
        ["p0", "p1", "p2"],
    ]
    journeys = Journeys.from_paths(
        paths,
        converted=[True] * 6,
        revenue=[100.0] * 6,
        lead_index=[2, 0, -1, 1, -1, 1],
        opportunity_index=[3, 2, -1, -1, -1, -1],
        keys=["p0", "p1", "p2", "p3", "p4"],
    )

    # when
    result = w_shaped(journeys)

    # then: p0 = .3 + .6 + .9 + .5 + 1 + .45 = 3.75; p1 = .05 + .05 + .05 + .5 + .45 = 1.1
    # p2 = .3 + .3 + .05 + .1 = .75; p3 = .3 + .05 = .35; p4 = .05
    assert by_key(result) == pytest.approx({"p0": 3.75, "p1": 1.1, "p2": 0.75, "p3": 0.35, "p4": 0.05}, abs=1e-12)
    assert by_key(result, "revenue") == pytest.approx(
        {"p0": 375.0, "p1": 110.0, "p2": 75.0, "p3": 35.0, "p4": 5.0}, abs=1e-9
    )


def test_w_shaped_without_milestone_columns_treats_them_as_missing():
    # given: no lead/opportunity indices at all: first 90 %, the other touches share 10 %
    journeys = Journeys.from_paths([["A", "B", "C"]], converted=[True], revenue=[10.0])

    # when
    result = w_shaped(journeys)

    # then
    assert by_key(result) == pytest.approx({"A": 0.9, "B": 0.05, "C": 0.05}, abs=1e-12)


def test_non_converted_journeys_get_no_credit_from_rule_based_models():
    # given
    journeys = Journeys.from_paths([["A"], ["B"]], converted=[True, False], revenue=[1.0, 0.0])

    for model in HEURISTIC_MODELS:
        # when
        result = attribute(journeys, model)

        # then
        assert by_key(result) == {"A": 1.0, "B": 0.0}, model


def test_converted_journeys_without_touches_are_credited_to_none_in_every_sharing_model():
    # given: A converted (revenue 10), a converted journey without touches counted 3 times (revenue 15)
    journeys = Journeys.from_paths(
        [["A"], [], ["A", "B"]], converted=[True, True, False], revenue=[10.0, 15.0, 0.0], count=[1, 3, 1]
    )

    for model in SHARING_MODELS:
        # when
        result = attribute(journeys, model)

        # then
        assert result.keys == ("A", "B", NO_TOUCH), model
        assert by_key(result) == pytest.approx({"A": 1.0, "B": 0.0, NO_TOUCH: 3.0}, abs=1e-12), model
        assert by_key(result, "revenue") == pytest.approx({"A": 10.0, "B": 0.0, NO_TOUCH: 15.0}, abs=1e-12)
        assert result.total_conversions == 4.0
        assert result.total_revenue == 25.0


def test_no_none_row_when_every_conversion_has_touches():
    # given: a journey without touches that did not convert
    journeys = Journeys.from_paths([["A"], []], converted=[True, False], revenue=[1.0, 0.0])

    # when
    result = linear(journeys)

    # then
    assert result.keys == ("A",)


# --- Markov --------------------------------------------------------------------------------------------


def test_markov_removal_effects_by_hand():
    # given: A>B converted (revenue 30), A not converted, B converted (revenue 60)
    # start→A 2/3, start→B 1/3; A→B 1/2, A→null 1/2; B→conversion 1
    # P(conv) = 2/3·1/2 + 1/3 = 2/3; without A: 1/3 → effect 1/2; without B: 0 → effect 1
    journeys = Journeys.from_paths([["A", "B"], ["A"], ["B"]], converted=[True, False, True], revenue=[30, 0, 60])

    # when
    result = markov(journeys)

    # then: shares 0.5/1.5 and 1/1.5 of 2 conversions and 90 revenue
    assert result.removal_effect is not None
    assert by_key(result, "removal_effect") == pytest.approx({"A": 0.5, "B": 1.0}, abs=1e-12)
    assert by_key(result) == pytest.approx({"A": 2 / 3, "B": 4 / 3}, abs=1e-12)
    assert by_key(result, "revenue") == pytest.approx({"A": 30.0, "B": 60.0}, abs=1e-12)
    assert result.params["conversion_probability"] == pytest.approx(2 / 3, abs=1e-12)


def test_markov_solves_cycles_exactly_by_hand():
    # given: A>B>A converted, B not converted
    # start→A 1/2, start→B 1/2; A→B 1/2, A→conv 1/2; B→A 1/2, B→null 1/2
    # x_A = x_B/2 + 1/2, x_B = x_A/2 → x_A = 2/3, x_B = 1/3, P = 1/2
    # without A: P = 0 (effect 1); without B: x_A = 1/2, P = 1/4 (effect 1/2)
    journeys = Journeys.from_paths([["A", "B", "A"], ["B"]], converted=[True, False], revenue=[9.0, 0.0])

    # when
    chain = markov_chain(journeys)
    base, effect = markov_removal_effects(chain)
    result = markov(journeys)

    # then
    assert base == pytest.approx(0.5, abs=1e-12)
    assert effect.tolist() == pytest.approx([1.0, 0.5], abs=1e-12)
    assert by_key(result) == pytest.approx({"A": 2 / 3, "B": 1 / 3}, abs=1e-12)
    assert by_key(result, "revenue") == pytest.approx({"A": 6.0, "B": 3.0}, abs=1e-12)


def test_markov_repeated_touches_do_not_change_removal_effects():
    # given: the first hand example with A repeated (A>A>B): A→A 1/3, A→B 1/3, A→null 1/3 leaves A
    # towards B or null half and half, as before
    plain = Journeys.from_paths([["A", "B"], ["A"], ["B"]], converted=[True, False, True], revenue=[30, 0, 60])
    repeated = Journeys.from_paths(
        [["A", "A", "B"], ["A"], ["B"]], converted=[True, False, True], revenue=[30, 0, 60]
    )

    # when
    a = markov(plain)
    b = markov(repeated)

    # then
    assert markov_chain(repeated).transient[1, 1] == pytest.approx(1 / 3, abs=1e-12)
    assert b.removal_effect is not None and a.removal_effect is not None
    assert b.removal_effect.tolist() == pytest.approx(a.removal_effect.tolist(), abs=1e-12)
    assert b.conversions.tolist() == pytest.approx(a.conversions.tolist(), abs=1e-12)


def test_markov_counts_weight_transitions():
    # given: the first hand example, with the converted A>B journey counted twice (revenue 60 in all)
    # start→A 3/4, start→B 1/4; A→B 2/3, A→null 1/3; P = 3/4·2/3 + 1/4 = 3/4
    # without A: 1/4 → effect 2/3; without B: effect 1 → shares 2/5, 3/5 of 3 conversions
    journeys = Journeys.from_paths(
        [["A", "B"], ["A"], ["B"]], converted=[True, False, True], revenue=[60, 0, 60], count=[2, 1, 1]
    )

    # when
    result = markov(journeys)

    # then
    assert by_key(result, "removal_effect") == pytest.approx({"A": 2 / 3, "B": 1.0}, abs=1e-12)
    assert by_key(result) == pytest.approx({"A": 6 / 5, "B": 9 / 5}, abs=1e-12)
    assert by_key(result, "revenue") == pytest.approx({"A": 48.0, "B": 72.0}, abs=1e-12)


def test_markov_without_conversions_gives_zero():
    # given
    journeys = Journeys.from_paths([["A", "B"]], converted=[False])

    # when
    result = markov(journeys)

    # then
    assert by_key(result) == {"A": 0.0, "B": 0.0}
    assert by_key(result, "removal_effect") == {"A": 0.0, "B": 0.0}


# --- Shapley -------------------------------------------------------------------------------------------


def test_shapley_two_channels_by_hand():
    # given: {A}: 10 journeys, 2 convert (v = .2); {B}: 10, 1 converts (.1); {A,B}: 10, 4 convert (.4), in
    # either order. For {A,B}: φ_A = ½·v(A) + ½·(v(AB) − v(B)) = .1 + .15 = .25, φ_B = .05 + .1 = .15,
    # shares .625 and .375 of its 4 conversions (revenue 40)
    journeys = Journeys.from_paths(
        [["A"], ["A"], ["B"], ["B"], ["A", "B"], ["B", "A", "B"], ["A", "B"]],
        converted=[True, False, True, False, True, True, False],
        count=[2, 8, 1, 9, 3, 1, 6],
        revenue=[20.0, 0.0, 10.0, 0.0, 30.0, 10.0, 0.0],
    )

    # when
    result = shapley(journeys)

    # then: A = 2 + 4·.625 = 4.5, B = 1 + 4·.375 = 2.5; revenue A = 20 + 25, B = 10 + 15
    assert by_key(result) == pytest.approx({"A": 4.5, "B": 2.5}, abs=1e-12)
    assert by_key(result, "revenue") == pytest.approx({"A": 45.0, "B": 25.0}, abs=1e-12)


def test_shapley_three_channels_with_unobserved_coalitions_by_hand():
    # given rates: {A} 1/10, {B} 1/5, {A,B} 3/10, {B,C} 2/5, {A,B,C} 1/2; {C}, {A,C} unobserved (v = 0)
    # For {A,B,C} (φ_i = v(i)/3 + (v(ij) − v(j))/6 + (v(ik) − v(k))/6 + (v(ijk) − v(jk))/3):
    #   φ_A = .1/3 + (.3 − .2)/6 + 0 + (.5 − .4)/3 = 1/12
    #   φ_B = .2/3 + (.3 − .1)/6 + (.4 − 0)/6 + (.5 − 0)/3 = 1/3
    #   φ_C = 0 + (0 − .1)/6 + (.4 − .2)/6 + (.5 − .3)/3 = 1/12; sum 1/2 = v(ABC) → shares 1/6, 2/3, 1/6
    # {A,B}: φ_A = .05 + .05 = .1, φ_B = .1 + .1 = .2 → shares 1/3, 2/3 of 3 conversions
    # {B,C}: φ_B = .1 + .2 = .3, φ_C = 0 + .1 = .1 → shares 3/4, 1/4 of 2 conversions
    journeys = Journeys.from_paths(
        [["A"], ["A"], ["B"], ["B"], ["A", "B"], ["A", "B"], ["B", "C"], ["C", "B"], ["C", "A", "B"], ["A", "B", "C"]],
        converted=[True, False, True, False, True, False, True, False, True, False],
        count=[1, 9, 1, 4, 3, 7, 2, 3, 1, 1],
        revenue=[0, 0, 0, 0, 0, 0, 0, 0, 60.0, 0],
    )

    # when
    result = shapley(journeys)

    # then: A = 1 + 1 + 1/6, B = 1 + 2 + 3/2 + 2/3, C = 1/2 + 1/6
    assert by_key(result) == pytest.approx({"A": 13 / 6, "B": 31 / 6, "C": 4 / 6}, abs=1e-12)
    assert by_key(result, "revenue") == pytest.approx({"A": 10.0, "B": 40.0, "C": 10.0}, abs=1e-12)


def test_shapley_share_is_negative_when_a_channel_lowers_the_rate():
    # given: {A} converts 1 of 2 (.5), {A,B} 1 of 4 (.25). For {A,B}: φ_A = ½·.5 + ½·(.25 − 0) = .375,
    # φ_B = ½·0 + ½·(.25 − .5) = −.125 → shares 1.5 and −.5
    journeys = Journeys.from_paths(
        [["A"], ["A"], ["A", "B"], ["A", "B"]], converted=[True, False, True, False], count=[1, 1, 1, 3]
    )

    # when
    result = shapley(journeys)

    # then
    assert by_key(result) == pytest.approx({"A": 2.5, "B": -0.5}, abs=1e-12)


# --- results and dispatch ------------------------------------------------------------------------------


def test_to_dict_has_the_report_shape_sorted_by_conversions():
    # given: the Markov hand example plus a conversion without touches
    journeys = Journeys.from_paths(
        [["A", "B"], ["A"], ["B"], []], converted=[True, False, True, True], revenue=[30, 0, 60, 5]
    )

    # when
    report = attribute(journeys, "markov").to_dict(by="channel")

    # then
    assert report == {
        "model": "markov",
        "by": "channel",
        "total_conversions": 3.0,
        "total_revenue": 95.0,
        "rows": [
            {"key": "B", "conversions": pytest.approx(4 / 3), "revenue": pytest.approx(60.0), "removal_effect": 1.0},
            {"key": NO_TOUCH, "conversions": 1.0, "revenue": 5.0, "removal_effect": None},
            {"key": "A", "conversions": pytest.approx(2 / 3), "revenue": pytest.approx(30.0), "removal_effect": 0.5},
        ],
    }


def test_rule_based_rows_have_no_interval_or_removal_keys():
    # given
    journeys = four_journeys()

    # when
    rows = attribute(journeys, "first_touch").to_rows()

    # then
    assert rows == [
        {"key": "B", "conversions": 2.0, "revenue": 50.0},
        {"key": "A", "conversions": 1.0, "revenue": 100.0},
        {"key": "C", "conversions": 1.0, "revenue": 30.0},
    ]


def test_unknown_model_is_refused():
    # given
    journeys = four_journeys()

    # when / then
    with pytest.raises(ValidationFailed) as info:
        attribute(journeys, "u_shaped")
    assert info.value.field == "model"
    assert info.value.value == "u_shaped"


def test_option_of_another_model_is_refused():
    # given
    journeys = four_journeys()

    # when / then
    with pytest.raises(ValidationFailed) as info:
        attribute(journeys, "linear", half_life=3.0)
    assert info.value.field == "half_life"


@pytest.mark.parametrize("half_life", [0.0, -1.0, float("nan"), float("inf"), "soon"])
def test_half_life_must_be_positive(half_life):
    # given
    journeys = four_journeys()

    # when / then
    with pytest.raises(ValidationFailed) as info:
        attribute(journeys, "time_decay", half_life=half_life)
    assert info.value.field == "half_life"


def test_mismatched_array_lengths_are_refused():
    # given: 2 journeys (offsets) but 3 converted flags
    # when / then
    with pytest.raises(ValidationFailed) as info:
        Journeys(
            keys=("A",),
            codes=np.array([0, 0]),
            offsets=np.array([0, 1, 2]),
            converted=np.array([True, False, True]),
            revenue=np.zeros(2),
            count=np.ones(2, dtype=np.int64),
        )
    assert info.value.field == "converted"
    assert info.value.value == 3


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"revenue": np.zeros(3)}, "revenue"),
        ({"count": np.array([1, -1])}, "count"),
        ({"codes": np.array([0, 1])}, "codes"),
        ({"offsets": np.array([0, 1, 3])}, "offsets"),
        ({"times": np.array([1.0])}, "times"),
        ({"lead_index": np.array([0, 1])}, "lead_index"),
        ({"opportunity_index": np.array([0])}, "opportunity_index"),
        ({"profile": np.zeros((3, 2))}, "profile"),
        ({"revenue": np.array([0.0, 5.0])}, "revenue"),
        ({"revenue": np.array([5.0, 0.0]), "count": np.array([0, 1])}, "revenue"),
        ({"keys": ("A", "A")}, "keys"),
        ({"keys": (NO_TOUCH,)}, "keys"),
    ],
)
def test_inconsistent_columns_are_refused(changes, field):
    # given: two one-touch journeys, the second not converted, then one column broken
    columns = {
        "keys": ("A",),
        "codes": np.array([0, 0]),
        "offsets": np.array([0, 1, 2]),
        "converted": np.array([True, False]),
        "revenue": np.zeros(2),
        "count": np.ones(2, dtype=np.int64),
    }
    columns.update(changes)

    # when / then
    with pytest.raises(ValidationFailed) as info:
        Journeys(**columns)
    assert info.value.field == field


def test_touches_out_of_time_order_are_refused():
    # given / when / then: the second journey goes back in time (the first may end later than it starts)
    with pytest.raises(ValidationFailed) as info:
        Journeys.from_paths([["A"], ["A", "A"]], converted=[False, False], times=[[50.0], [2.0, 1.0]])
    assert info.value.field == "times"
    Journeys.from_paths([["A"], ["A", "A"]], converted=[False, False], times=[[50.0], [1.0, 2.0]])


def test_unknown_touch_key_and_bad_aggregated_rows_are_refused():
    # given / when / then
    with pytest.raises(ValidationFailed) as info:
        Journeys.from_paths([["A", "Z"]], converted=[True], keys=["A"])
    assert (info.value.field, info.value.value) == ("keys", "Z")
    with pytest.raises(ValidationFailed) as info:
        Journeys.from_aggregated(["a"], conversions=[1, 2], conversion_value=[1.0], nulls=[0])
    assert info.value.field == "conversions"
    with pytest.raises(ValidationFailed) as info:
        Journeys.from_aggregated(["a"], conversions=[1.5], conversion_value=[1.0], nulls=[0])
    assert info.value.field == "conversions"


# --- properties ----------------------------------------------------------------------------------------


@st.composite
def journey_sets(draw: st.DrawFn) -> Journeys:
    n_keys = draw(st.integers(1, 5))
    n = draw(st.integers(0, 12))
    paths, times, converted, revenue, count, lead, opp = [], [], [], [], [], [], []
    for _ in range(n):
        length = draw(st.integers(0, 5))
        paths.append([f"k{c}" for c in draw(st.lists(st.integers(0, n_keys - 1), min_size=length, max_size=length))])
        gaps = draw(st.lists(st.integers(0, 30), min_size=length, max_size=length))
        times.append([float(sum(gaps[: i + 1])) for i in range(length)])
        won = draw(st.booleans())
        converted.append(won)
        count.append(draw(st.integers(0, 4)))
        revenue.append(float(draw(st.integers(0, 1000))) if won and count[-1] else 0.0)
        lead.append(draw(st.integers(-1, length - 1)))
        opp.append(draw(st.integers(-1, length - 1)))
    return Journeys.from_paths(
        paths,
        converted=converted,
        revenue=revenue,
        count=count,
        times=times,
        lead_index=lead,
        opportunity_index=opp,
        keys=[f"k{c}" for c in range(n_keys)],
    )


@settings(max_examples=60, deadline=None)
@given(journeys=journey_sets())
def test_credits_add_up_to_the_totals_in_every_sharing_model(journeys):
    # given
    weight = np.where(journeys.converted, journeys.count, 0)
    for model in SHARING_MODELS:
        # when
        result = attribute(journeys, model)

        # then
        assert result.total_conversions == float(weight.sum())
        assert result.total_revenue == pytest.approx(float(journeys.revenue.sum()))
        assert float(result.conversions.sum()) == pytest.approx(result.total_conversions, abs=1e-9), model
        assert float(result.revenue.sum()) == pytest.approx(result.total_revenue, rel=1e-12, abs=1e-9), model


@settings(max_examples=60, deadline=None)
@given(journeys=journey_sets(), seed=st.integers(0, 2**32 - 1))
def test_permuting_key_codes_permutes_the_results(journeys, seed):
    # given: the same journeys with the key list shuffled (and the codes remapped)
    perm = np.random.default_rng(seed).permutation(len(journeys.keys))  # new position of each old key
    new_keys = [""] * len(journeys.keys)
    for old, new in enumerate(perm):
        new_keys[new] = journeys.keys[old]
    shuffled = Journeys(
        keys=tuple(new_keys),
        codes=perm[journeys.codes],
        offsets=journeys.offsets,
        converted=journeys.converted,
        revenue=journeys.revenue,
        count=journeys.count,
        times=journeys.times,
        lead_index=journeys.lead_index,
        opportunity_index=journeys.opportunity_index,
    )
    for model in SHARING_MODELS:
        # when
        a = attribute(journeys, model)
        b = attribute(shuffled, model)

        # then
        assert by_key(b) == pytest.approx(by_key(a), abs=1e-9), model
        assert by_key(b, "revenue") == pytest.approx(by_key(a, "revenue"), abs=1e-9), model


@settings(max_examples=40, deadline=None)
@given(journeys=journey_sets())
def test_a_key_never_touched_gets_nothing(journeys):
    # given: one more key that no touch uses
    widened = Journeys(
        keys=(*journeys.keys, "never"),
        codes=journeys.codes,
        offsets=journeys.offsets,
        converted=journeys.converted,
        revenue=journeys.revenue,
        count=journeys.count,
        times=journeys.times,
        lead_index=journeys.lead_index,
        opportunity_index=journeys.opportunity_index,
    )
    for model in MODELS:
        options = {"bootstrap": 3} if model == "incremental" else {}
        # when
        result = attribute(widened, model, **options)

        # then
        assert by_key(result)["never"] == 0.0, model
        assert by_key(result, "revenue")["never"] == 0.0, model


@settings(max_examples=40, deadline=None)
@given(journeys=journey_sets())
def test_shapley_matches_average_marginal_contributions_over_all_orders(journeys):
    # given: a brute-force Shapley value, averaging each key's marginal contribution to v over every order
    # in which the keys of a journey could join; v(S) = conversion rate of the journeys touching exactly S
    sets = [frozenset(journeys.codes[a:b].tolist()) for a, b in itertools.pairwise(journeys.offsets.tolist())]
    seen: dict[frozenset[int], list[float]] = {}
    for keys, won, count in zip(sets, journeys.converted.tolist(), journeys.count.tolist(), strict=True):
        seen.setdefault(keys, [0.0, 0.0])
        seen[keys][0] += count * won
        seen[keys][1] += count

    def v(keys: frozenset[int]) -> float:
        won, all_ = seen.get(keys, [0.0, 0.0])
        return won / all_ if keys and all_ else 0.0

    expected = [0.0] * len(journeys.keys)
    for keys, won, count in zip(sets, journeys.converted.tolist(), journeys.count.tolist(), strict=True):
        if not keys or not won or not count:
            continue
        for order in itertools.permutations(sorted(keys)):
            for i, key in enumerate(order):
                gain = v(frozenset(order[: i + 1])) - v(frozenset(order[:i]))
                expected[key] += count * gain / v(keys) / math.factorial(len(keys))

    # when
    result = shapley(journeys)

    # then
    assert result.conversions[: len(journeys.keys)].tolist() == pytest.approx(expected, abs=1e-9)
