"""The naive-Bayes (Odoo) baseline on a hand-computed table, and the rule-score calibrator."""

from __future__ import annotations

import numpy as np
import pytest
import statsmodels.api as sm

from tandem.core.errors import ValidationFailed
from tandem.scoring.baselines import MatrixFields, MatrixNaiveBayes, NaiveBayesFrequency, RuleScoreCalibrator
from tandem.scoring.features import FeatureBuilder, FeatureSpec, ScoringInput

# Five closed leads: (source, country, won)
SOURCE = ["ads", "ads", "fair", "fair", "ads"]
COUNTRY = ["FR", "DE", "FR", None, "FR"]
WON = [1, 1, 0, 0, 0]


def test_naive_bayes_matches_the_odoo_formula_by_hand() -> None:
    # given the table: 2 won, 3 lost; every count + 0.1
    #   prior: won 2.1, lost 3.1 (total 5.2)
    #   source  ads: won 2.1 lost 1.1 | fair: won 0.1 lost 2.1 | totals won 2.2 lost 3.2
    #   country FR:  won 1.1 lost 2.1 | DE:   won 1.1 lost 0.1 | totals won 2.2 lost 2.2 (the blank is skipped)
    model = NaiveBayesFrequency().fit({"source": SOURCE, "country": COUNTRY}, WON)
    # when scoring (ads, FR), (fair, IT: never seen, skipped) and (blank, blank: prior only)
    p = model.predict_proba({"source": ["ads", "fair", None], "country": ["FR", "IT", None]})
    # then
    s_won = 2.1 / 5.2 * (2.1 / 2.2) * (1.1 / 2.2)
    s_lost = 3.1 / 5.2 * (1.1 / 3.2) * (2.1 / 2.2)
    assert p[0] == pytest.approx(s_won / (s_won + s_lost), rel=1e-12)
    s_won = 2.1 / 5.2 * (0.1 / 2.2)
    s_lost = 3.1 / 5.2 * (2.1 / 3.2)
    assert p[1] == pytest.approx(s_won / (s_won + s_lost), rel=1e-12)
    assert p[2] == pytest.approx(2.1 / 5.2, rel=1e-12)


def test_naive_bayes_is_clamped_like_odoo() -> None:
    # given a field that separates won from lost perfectly over many leads
    values = ["yes"] * 500 + ["no"] * 500
    outcome = [1] * 500 + [0] * 500
    model = NaiveBayesFrequency().fit({"a": values, "b": values, "c": values}, outcome)
    # when
    p = model.predict_proba({"a": ["yes", "no"], "b": ["yes", "no"], "c": ["yes", "no"]})
    # then 99.99 % and 0.01 % at most
    assert p.tolist() == [0.9999, 0.0001]


def test_matrix_naive_bayes_reads_groups_as_fields() -> None:
    # given a matrix with one one-hot field and one numeric field (cut into training deciles)
    rng = np.random.default_rng(3)
    size = 400
    channel = rng.choice(["web", "event", "partner"], size).tolist()
    visits = rng.integers(0, 30, size).astype(float)
    y = (rng.random(size) < 0.3).astype(float)
    inputs = ScoringInput.build(cutoffs=np.zeros(size), profile={"channel": channel, "visits": visits.tolist()})
    matrix = FeatureBuilder.fit(FeatureSpec(categorical=("channel",), numeric=("visits",), use_events=False), inputs).transform(inputs)
    # when
    ours = MatrixNaiveBayes().fit(matrix, y).predict_proba(matrix)
    # then it equals the plain model on (channel, decile of visits)
    edges = np.unique(np.quantile(visits, np.linspace(0, 1, 11)[1:-1]))
    bins = np.searchsorted(edges, visits, side="right").tolist()
    plain = NaiveBayesFrequency().fit({"c": channel, "v": bins}, y).predict_proba({"c": channel, "v": bins})
    assert ours == pytest.approx(plain, rel=1e-12)
    assert MatrixFields.fit(matrix).numeric_edges["profile:visits"] == pytest.approx(edges)


def test_rule_score_isotonic_by_hand() -> None:
    # given scores 0..3 with outcomes 0, 1, 0, 1: pooling the violators 1 and 2 gives 0, 0.5, 0.5, 1
    calibrator = RuleScoreCalibrator("isotonic").fit([0, 1, 2, 3], [0, 1, 0, 1])
    # when
    p = calibrator.predict_proba([0, 1.5, 2, 3, 10])
    # then (scores beyond the training range are clipped to its ends)
    assert p.tolist() == [0.0, 0.5, 0.5, 1.0, 1.0]


def test_rule_score_platt_matches_an_unpenalised_logistic_fit() -> None:
    # given noisy scores
    rng = np.random.default_rng(7)
    scores = rng.normal(50, 15, 600)
    y = (rng.random(600) < 1 / (1 + np.exp(-(scores - 55) / 8))).astype(float)
    # when
    ours = RuleScoreCalibrator("platt").fit(scores, y).predict_proba([30.0, 55.0, 80.0])
    # then statsmodels' maximum-likelihood logit gives the same curve
    fit = sm.Logit(y, sm.add_constant(scores)).fit(disp=0)
    reference = fit.predict(sm.add_constant(np.array([30.0, 55.0, 80.0]), has_constant="add"))
    assert ours == pytest.approx(reference, abs=1e-4)


def test_baselines_refuse_bad_input() -> None:
    # given / when / then
    with pytest.raises(ValidationFailed) as err:
        NaiveBayesFrequency().fit({"a": ["x", "y"]}, [1, 2])
    assert err.value.field == "y"
    with pytest.raises(ValidationFailed) as err:
        RuleScoreCalibrator("spline").fit([1.0, 2.0], [0, 1])  # type: ignore[arg-type]
    assert err.value.field == "method"
    with pytest.raises(ValidationFailed):
        NaiveBayesFrequency().predict_proba({"a": ["x"]})
