"""The incremental model's logistic solver: Newton from scratch, chord steps from a warm start, same optimum."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from tandem.stats.attribution import _logistic_fit


def _grouped(seed: int = 3) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    rows = 400
    x = rng.integers(0, 2, size=(rows, 6)).astype(float)
    n = rng.integers(1, 30, size=rows).astype(float)
    p = 1 / (1 + np.exp(-(x @ np.array([0.8, -0.5, 0.3, 0.0, 1.1, -0.9]) - 1.0)))
    ones = rng.binomial(n.astype(int), p).astype(float)
    return x, ones, n - ones


def test_newton_fit_matches_scikit_learn_on_the_expanded_rows():
    # given grouped rows (a converted and a not-converted weight per distinct row)
    x, ones, zeros = _grouped()
    # when
    ours = _logistic_fit(x, ones, zeros, 1.0)
    keep1, keep0 = ones > 0, zeros > 0
    reference = LogisticRegression(C=1.0, solver="newton-cholesky", tol=1e-12, max_iter=200).fit(
        np.vstack([x[keep1], x[keep0]]),
        np.r_[np.ones(keep1.sum()), np.zeros(keep0.sum())],
        sample_weight=np.r_[ones[keep1], zeros[keep0]],
    )
    # then
    assert ours.coef_ == pytest.approx(reference.coef_, abs=1e-7)
    assert ours.intercept_ == pytest.approx(reference.intercept_, abs=1e-7)


def test_a_warm_started_refit_reaches_the_same_optimum_as_a_fit_from_scratch():
    # given a Poisson resample of the counts, as the bootstrap draws them
    x, ones, zeros = _grouped()
    rng = np.random.default_rng(11)
    ones_b, zeros_b = rng.poisson(ones).astype(float), rng.poisson(zeros).astype(float)
    start = _logistic_fit(x, ones, zeros, 1.0)
    # when
    warm = _logistic_fit(x, ones_b, zeros_b, 1.0, start=start)
    cold = _logistic_fit(x, ones_b, zeros_b, 1.0)
    # then the chord steps (the full data's Hessian) converge to the refit's own optimum
    assert warm.hessian_factor is start.hessian_factor  # no new Hessian was needed
    assert warm.coef_ == pytest.approx(cold.coef_, abs=1e-6)
    assert warm.intercept_ == pytest.approx(cold.intercept_, abs=1e-6)


def test_a_warm_start_far_from_the_optimum_falls_back_to_newton():
    # given a start fitted where 99.5 % converted: its Hessian is far too flat for these data
    x, ones, zeros = _grouped()
    n = ones + zeros
    start = _logistic_fit(x, np.round(n * 0.995), n - np.round(n * 0.995), 1.0)
    # when
    warm = _logistic_fit(x, ones, zeros, 1.0, start=start)
    cold = _logistic_fit(x, ones, zeros, 1.0)
    # then the chord steps were abandoned for Newton, which reaches the same optimum
    assert warm.hessian_factor is not start.hessian_factor
    assert warm.coef_ == pytest.approx(cold.coef_, abs=1e-6)
    assert warm.intercept_ == pytest.approx(cold.intercept_, abs=1e-6)
