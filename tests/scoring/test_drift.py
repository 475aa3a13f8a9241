"""Drift on plain arrays: outcomes known since training, calibration on them, PSI, and the sentence shown."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tandem.scoring.drift import DriftSummary, calibration_drift, outcomes_since
from tandem.scoring.model import FeatureDrift, population_stability_index
from tandem.scoring.rules import SECONDS_PER_DAY

DAY = SECONDS_PER_DAY
NAN = math.nan


def _people() -> dict[str, np.ndarray]:
    # 0 won on day 50 | 1 lost on day 5, before training | 2 lost on day 30 | 3 never closed
    # 4 arrived after training | 5 won on day 150, after the horizon
    return {
        "created": np.array([0, 0, 0, 0, 20, 0]) * DAY,
        "won_at": np.array([50, NAN, NAN, NAN, NAN, 150]) * DAY,
        "lost_at": np.array([NAN, 5, 30, NAN, NAN, NAN]) * DAY,
    }


def test_outcomes_since_training_count_only_people_open_then_and_whose_outcome_is_known():
    # given a model trained on day 10 with a 90-day horizon, looked at on day 200
    known, won = outcomes_since(trained_at=10 * DAY, horizon_days=90, now=200 * DAY, **_people())
    # then the win on day 50 is a win, the loss on day 30 and the two horizons that ran out are losses,
    # and the person lost before training and the late arrival are not counted
    assert known.tolist() == [True, False, True, True, False, True]
    assert won.tolist() == [True, False, False, False, False, False]


def test_on_day_60_a_still_open_lead_whose_horizon_runs_is_not_known_yet():
    known, won = outcomes_since(trained_at=10 * DAY, horizon_days=90, now=60 * DAY, **_people())
    assert known.tolist() == [True, False, True, False, False, False]
    assert won.tolist() == [True, False, False, False, False, False]


def test_calibration_holds_when_predictions_match_and_drifts_when_they_do_not():
    # given 40 known outcomes, a quarter won
    y = np.array([1.0, 0.0, 0.0, 0.0] * 10)
    # when the model said 25 % for everyone, then 50 %
    holding = calibration_drift(y, np.full(40, 0.25))
    drifted = calibration_drift(y, np.full(40, 0.5))
    # then the first holds exactly and the second is 25 points off
    assert (holding.count, holding.wins, holding.mean_predicted, holding.observed_rate, holding.ece, holding.status) == (
        40, 10, 0.25, 0.25, 0.0, "holding",
    )
    assert (drifted.mean_predicted, drifted.observed_rate, drifted.ece, drifted.status) == (0.5, 0.25, 0.25, "drifted")
    assert drifted.table == ({"lower": 0.5, "upper": 0.6, "count": 40, "mean_predicted": 0.5, "observed_rate": 0.25},)


def test_too_few_outcomes_is_too_early_to_tell():
    early = calibration_drift(np.zeros(29), np.full(29, 0.1))
    assert (early.count, early.status, early.ece) == (29, "too early", None)


def test_psi_by_hand():
    # (0.25 − 0.5)·ln(0.25/0.5) + (0.75 − 0.5)·ln(0.75/0.5)
    expected = -0.25 * math.log(0.5) + 0.25 * math.log(1.5)
    assert population_stability_index(np.array([0.5, 0.5]), np.array([0.25, 0.75])) == pytest.approx(expected, rel=1e-12)
    assert expected == pytest.approx(0.274653, abs=1e-6)


def test_the_sentence_names_the_most_shifted_input_and_the_calibration_verdict():
    summary = DriftSummary(
        measured_at=0.0,
        open_leads=1200,
        features=(
            FeatureDrift("a", "Source channel", 0.02, "stable"),
            FeatureDrift("b", "Days since the lead arrived", 0.31, "major shift"),
            FeatureDrift("c", "Job title", 0.12, "moderate shift"),
        ),
        calibration=calibration_drift(np.array([1.0, 0.0, 0.0, 0.0] * 10), np.full(40, 0.25)),
    )
    assert summary.sentence() == (
        "2 of 3 inputs look different in today's open leads than in training (most: Days since the lead arrived, "
        "PSI 0.31); on the 40 outcomes known since training the model predicted 25.0% on average and 25.0% were "
        "won, so its probabilities still hold."
    )
    assert [f["key"] for f in summary.as_dict()["features"]] == ["b", "c", "a"]


def test_the_sentence_right_after_training():
    summary = DriftSummary(
        measured_at=0.0,
        open_leads=1200,
        features=(FeatureDrift("a", "Source channel", 0.02, "stable"),),
        calibration=calibration_drift(np.zeros(0), np.zeros(0)),
    )
    assert summary.sentence() == (
        "Today's 1,200 open leads look like the people the model learnt from; no outcome is known since training "
        "yet, so the probabilities cannot be checked."
    )
