"""The incremental (model-based) attribution: by hand, against statsmodels, and on a planted effect."""

from __future__ import annotations

import numpy as np
import pytest
import statsmodels.api as sm

from tandem.core.errors import ValidationFailed
from tandem.stats.attribution import Journeys, attribute, incremental


def saturated_journeys() -> Journeys:
    # 100 journeys touch A and 30 of them convert (revenue 10 each); 100 touch only B and 10 convert
    # (revenue 40 each); each group is two aggregated rows.
    return Journeys.from_paths(
        [["A"], ["A"], ["B"], ["B"]],
        converted=[True, False, True, False],
        count=[30, 70, 10, 90],
        revenue=[300.0, 0.0, 400.0, 0.0],
    )


def test_saturated_one_channel_model_by_hand():
    # given: 100 journeys touch A (30 convert, revenue 10 each), 100 touch nothing (10 convert): one
    # indicator and the intercept fit both rates exactly (saturated), p(A) = .3 and p(no touch) = .1
    journeys = Journeys.from_paths(
        [["A"], ["A"], [], []],
        converted=[True, False, True, False],
        count=[30, 70, 10, 90],
        revenue=[300.0, 0.0, 50.0, 0.0],
    )

    # when
    result = incremental(journeys, bootstrap=0, regularization=1e-9)

    # then: 100 × (.3 − .1) = 20 conversions caused by A;
    # revenue: 20 × the 10 a conversion touching A brings
    assert result.conversions.tolist() == pytest.approx([20.0], abs=1e-6)
    assert result.revenue.tolist() == pytest.approx([200.0], abs=1e-5)
    assert result.total_conversions == 40.0
    assert result.total_revenue == 350.0
    assert result.conversions_low is not None and result.conversions_high is not None
    assert result.conversions_low.tolist() == result.conversions_high.tolist() == result.conversions.tolist()


def test_two_channels_with_no_untouched_journeys_by_hand():
    # given: half the journeys touch A (30 % convert), half B (10 %); the logit is b0 + a·A + b·B and,
    # with no journey touching neither, the data fix b0 + a and b0 + b but not b0. Penalised, the fit
    # splits the difference symmetrically: a − b = logit(.3) − logit(.1) exactly, b0 in between.
    journeys = saturated_journeys()

    # when
    result = incremental(journeys, bootstrap=0, regularization=1e-6)

    # then: predicted rates stay .3 and .1 (saturated), so A caused 100·(.3 − σ(b0)) and B 100·(.1 − σ(b0))
    coef = result.params["coefficients"]
    assert coef["A"] - coef["B"] == pytest.approx(np.log(0.3 / 0.7) - np.log(0.1 / 0.9), abs=1e-5)
    b0 = np.log(0.3 / 0.7) - coef["A"]
    baseline = 1.0 / (1.0 + np.exp(-b0))
    assert result.conversions.tolist() == pytest.approx([100 * (0.3 - baseline), 100 * (0.1 - baseline)], abs=1e-5)


def simulate(seed: int, n: int = 20_000) -> tuple[Journeys, dict[str, float], np.ndarray]:
    """Enterprise accounts see more of both channels and convert more; only A lifts conversion."""
    rng = np.random.default_rng(seed)
    enterprise = (rng.random(n) < 0.3).astype(np.float64)
    touched_a = rng.random(n) < 0.3 + 0.3 * enterprise
    touched_b = rng.random(n) < 0.4 + 0.3 * enterprise
    lift_a = 1.0
    logit = -2.0 + lift_a * touched_a + 0.0 * touched_b + 1.2 * enterprise
    converted = rng.random(n) < 1.0 / (1.0 + np.exp(-logit))
    paths = [["A"] * a + ["B"] * b for a, b in zip(touched_a.tolist(), touched_b.tolist(), strict=True)]
    revenue = np.where(converted, 100.0, 0.0)
    journeys = Journeys.from_paths(paths, converted=converted, revenue=revenue, profile=enterprise[:, None])

    def sigmoid(z: np.ndarray) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-z))

    truth = {
        "A": float((sigmoid(logit[touched_a]) - sigmoid(logit[touched_a] - lift_a)).sum()),
        "B": 0.0,
    }
    design = np.column_stack([np.ones(n), touched_a, touched_b, enterprise])
    return journeys, truth, design


def test_point_estimates_match_a_statsmodels_logit():
    # given: the simulated journeys and an unpenalised logit fitted by statsmodels on every journey
    journeys, _, design = simulate(seed=7)
    fit = sm.GLM(journeys.converted.astype(float), design, family=sm.families.Binomial()).fit()
    z = design @ fit.params
    p = 1.0 / (1.0 + np.exp(-z))
    expected = []
    for column in (1, 2):
        rows = design[:, column] == 1
        expected.append(float((p[rows] - 1.0 / (1.0 + np.exp(-(z[rows] - fit.params[column])))).sum()))

    # when
    result = incremental(journeys, bootstrap=0, regularization=1e-9)

    # then
    assert result.conversions.tolist() == pytest.approx(expected, rel=1e-6)
    assert [result.params["coefficients"][k] for k in ("A", "B")] == pytest.approx(fit.params[1:3], abs=1e-6)


def test_planted_effect_is_recovered_and_a_useless_channel_covers_zero():
    # given
    journeys, truth, _ = simulate(seed=11)

    # when
    result = attribute(journeys, "incremental", bootstrap=200, level=0.9, seed=3)

    # then: A caused about truth["A"] (≈ 1,500) conversions and its interval covers it; B's covers 0
    assert result.conversions_low is not None and result.conversions_high is not None
    conv = dict(zip(result.keys, result.conversions.tolist(), strict=True))
    low = dict(zip(result.keys, result.conversions_low.tolist(), strict=True))
    high = dict(zip(result.keys, result.conversions_high.tolist(), strict=True))
    assert conv["A"] > 0
    assert low["A"] <= truth["A"] <= high["A"]
    assert low["A"] > 0
    assert low["B"] <= 0.0 <= high["B"]
    assert conv["A"] == pytest.approx(truth["A"], rel=0.05)
    # revenue: every conversion brings 100
    assert result.revenue.tolist() == pytest.approx([100 * conv["A"], 100 * conv["B"]], rel=1e-12)


def test_without_the_profile_the_confounded_channel_looks_useful():
    # given: the same journeys with the profile dropped (enterprise accounts see more of B and convert more)
    journeys, _, _ = simulate(seed=11)
    blind = Journeys(
        keys=journeys.keys,
        codes=journeys.codes,
        offsets=journeys.offsets,
        converted=journeys.converted,
        revenue=journeys.revenue,
        count=journeys.count,
    )

    # when
    result = incremental(blind, bootstrap=200, seed=3)

    # then: B's interval no longer covers 0 (this is why the model controls for the profile)
    assert result.conversions_low is not None
    assert result.conversions_low[1] > 0


def test_bootstrap_is_seeded():
    # given
    journeys, _, _ = simulate(seed=5, n=5_000)

    # when
    a = incremental(journeys, bootstrap=30, seed=9)
    b = incremental(journeys, bootstrap=30, seed=9)
    c = incremental(journeys, bootstrap=30, seed=10)

    # then
    assert a.conversions_low is not None and b.conversions_low is not None and c.conversions_low is not None
    assert a.conversions_low.tolist() == b.conversions_low.tolist()
    assert a.conversions_low.tolist() != c.conversions_low.tolist()


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"bootstrap": -1}, "bootstrap"),
        ({"bootstrap": 2.5}, "bootstrap"),
        ({"level": 1.0}, "level"),
        ({"level": 0.0}, "level"),
        ({"regularization": 0.0}, "regularization"),
    ],
)
def test_bad_options_are_refused(options, field):
    # given
    journeys = saturated_journeys()

    # when / then
    with pytest.raises(ValidationFailed) as info:
        incremental(journeys, **options)
    assert info.value.field == field


def test_incremental_rows_carry_intervals():
    # given
    journeys = saturated_journeys()

    # when
    rows = incremental(journeys, bootstrap=20, seed=1).to_rows()

    # then
    assert [row["key"] for row in rows] == ["A", "B"]
    assert set(rows[0]) == {
        "key",
        "conversions",
        "revenue",
        "conversions_low",
        "conversions_high",
        "revenue_low",
        "revenue_high",
    }
    assert rows[0]["conversions_low"] <= rows[0]["conversions"] <= rows[0]["conversions_high"]
