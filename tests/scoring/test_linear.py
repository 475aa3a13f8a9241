"""The numpy form of the logistic model gives scikit-learn's own numbers, missing values and one-hot columns included."""

from __future__ import annotations

import numpy as np
import pytest

from tandem.scoring.batch import factors_many
from tandem.scoring.features import FeatureGroup, FeatureMatrix
from tandem.scoring.model import TrainConfig, TreeScorer, linear_scorer, model_train


def _matrix(size: int, seed: int) -> tuple[FeatureMatrix, np.ndarray]:
    """Two numeric groups (one with gaps, one never missing), a three-level one-hot group, a planted outcome."""
    rng = np.random.default_rng(seed)
    visits = rng.poisson(3.0, size).astype(float)
    visits[rng.random(size) < 0.2] = np.nan
    minutes = rng.lognormal(3, 1, size)
    level = rng.integers(0, 3, size)
    onehot = np.eye(3)[level]
    onehot[rng.random(size) < 0.1] = 0.0  # not given
    values = np.column_stack([visits, minutes, onehot])
    logit = -1.0 + 0.4 * np.nan_to_num(visits) + 0.9 * (level == 2) - 0.7 * (level == 0)
    y = (rng.random(size) < 1 / (1 + np.exp(-logit))).astype(float)
    groups = (
        FeatureGroup("visits", "Visits", "numeric", (0,), unit="times"),
        FeatureGroup("minutes", "Minutes", "numeric", (1,)),
        FeatureGroup("occupation", "Occupation", "onehot", (2, 3, 4), ("a", "b", "(rare value)")),
    )
    return FeatureMatrix(values=values, names=("visits", "minutes", "o=a", "o=b", "o=rare"), groups=groups), y


@pytest.mark.parametrize(("size", "calibration"), [(600, "sigmoid"), (3000, "isotonic")])
def test_the_numpy_scorer_matches_scikit_learn(size, calibration):
    # given a calibrated logistic model trained with gaps in a numeric feature
    matrix, y = _matrix(size, seed=5)
    model = model_train(
        matrix, y, config=TrainConfig(split="kfold", folds=2, candidates=("logistic",), calibration=calibration)
    )
    linear = model.linear()
    assert linear is not None and linear.method == calibration
    # when new rows, with a value missing that was never missing in training, are scored both ways
    fresh, _ = _matrix(500, seed=6)
    rows = fresh.values.copy()
    rows[::7, 1] = np.nan
    member = model.estimator.calibrated_classifiers_[0]
    # then log-odds and probabilities agree with scikit-learn's to rounding
    assert linear.log_odds(rows) == pytest.approx(member.estimator.decision_function(rows), abs=1e-10)
    assert model.predict_proba(rows) == pytest.approx(model.estimator.predict_proba(rows)[:, 1], abs=1e-12)
    # and the groups' shares add up to the log-odds
    assert linear.group_terms(rows).sum(axis=1) + linear.intercept == pytest.approx(linear.log_odds(rows), abs=1e-12)


def test_a_boosting_model_is_not_read_as_a_linear_one():
    matrix, y = _matrix(600, seed=5)
    model = model_train(matrix, y, config=TrainConfig(split="kfold", folds=2, candidates=("boosting",)))
    assert linear_scorer(model.estimator, matrix.groups) is None


@pytest.mark.parametrize(("size", "calibration"), [(600, "sigmoid"), (3000, "isotonic")])
def test_the_boosting_trees_walked_in_numpy_give_scikit_learns_numbers(size, calibration):
    # given a calibrated boosting model trained with gaps in a numeric feature
    matrix, y = _matrix(size, seed=5)
    model = model_train(
        matrix, y, config=TrainConfig(split="kfold", folds=2, candidates=("boosting",), calibration=calibration)
    )
    trees = model.linear()
    assert isinstance(trees, TreeScorer) and trees.method == calibration
    # when new rows, some with a gap never seen in training, are scored both ways
    fresh, _ = _matrix(500, seed=6)
    rows = fresh.values.copy()
    rows[::7, 1] = np.nan
    member = model.estimator.calibrated_classifiers_[0]
    # then log-odds and probabilities agree with scikit-learn's to rounding
    assert trees.log_odds(rows) == pytest.approx(member.estimator.decision_function(rows), abs=1e-9)
    assert model.predict_proba(rows) == pytest.approx(model.estimator.predict_proba(rows)[:, 1], abs=1e-9)
    # and the path contributions plus the starting value add up to the log-odds
    assert trees.group_terms(rows).sum(axis=1) + trees.start == pytest.approx(trees.log_odds(rows), abs=1e-9)


def test_tree_paths_credit_the_planted_effects():
    # given a boosting model on the planted population (more visits and the third level win, the first loses)
    matrix, y = _matrix(3000, seed=5)
    model = model_train(matrix, y, config=TrainConfig(split="kfold", folds=2, candidates=("boosting",)))
    # when a person with many visits and the winning level, and one with none and the losing level, are explained
    strong = np.array([[9.0, 20.0, 0.0, 0.0, 1.0]])
    weak = np.array([[0.0, 20.0, 1.0, 0.0, 0.0]])
    up = {f.key: f.contribution for f in model.explain(strong[0]).raising}
    down = {f.key: f.contribution for f in model.explain(weak[0]).lowering}
    # then visits and occupation raise the first and lower the second
    assert {"visits", "occupation"} <= set(up)
    assert {"visits", "occupation"} <= set(down)


@pytest.mark.parametrize("kind", ["logistic", "boosting"])
def test_one_pass_gives_the_same_probabilities_and_factors_as_two(kind):
    # given a trained model and new rows
    matrix, y = _matrix(1000, seed=5)
    model = model_train(matrix, y, config=TrainConfig(split="kfold", folds=2, candidates=(kind,)))
    rows, _ = _matrix(300, seed=8)
    scorer = model.linear()
    assert scorer is not None
    # when probabilities and factors come from one pass, and separately
    p, terms = scorer.probability_and_terms(rows.values)
    # then both agree
    assert p == pytest.approx(model.predict_proba(rows.values), abs=1e-12)
    assert factors_many(model, rows.values, terms=terms) == factors_many(model, rows.values)


def test_many_rows_of_boosting_in_several_chunks_give_scikit_learns_numbers():
    matrix, y = _matrix(3000, seed=5)
    model = model_train(matrix, y, config=TrainConfig(split="kfold", folds=2, candidates=("boosting",)))
    trees = model.linear()
    assert trees is not None
    many = np.repeat(matrix.values[:3000], 3, axis=0)  # more rows than one chunk of the walk
    assert model.predict_proba(many) == pytest.approx(model.estimator.predict_proba(many)[:, 1], abs=1e-9)
