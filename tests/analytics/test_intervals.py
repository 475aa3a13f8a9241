"""Wilson and Clopper–Pearson intervals and Benjamini–Hochberg q-values against statsmodels and hand values."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import proportion_confint

from tandem.core.errors import ValidationFailed
from tandem.stats.intervals import (
    benjamini_hochberg,
    clopper_pearson_bounds,
    clopper_pearson_interval,
    wilson_bounds,
    wilson_interval,
)


def test_wilson_interval_matches_hand_computation():
    # given 12 conversions out of 100 and z = 1.959964
    z = 1.959963984540054
    p, n = 0.12, 100
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    # when
    low, high = wilson_interval(12, 100)
    # then
    assert low == pytest.approx(centre - half, abs=1e-12)
    assert high == pytest.approx(centre + half, abs=1e-12)
    assert (round(low, 4), round(high, 4)) == (0.0700, 0.1981)


def test_wilson_bounds_match_statsmodels_vectorised():
    # given assorted counts including the edges 0 and n
    x = np.array([0, 1, 5, 50, 99, 100, 3, 7000])
    n = np.array([10, 10, 40, 100, 100, 100, 3, 290000])
    # when
    low, high = wilson_bounds(x, n, confidence=0.9)
    ref_low, ref_high = proportion_confint(x, n, alpha=0.1, method="wilson")
    # then
    np.testing.assert_allclose(low, ref_low, atol=1e-12)
    np.testing.assert_allclose(high, ref_high, atol=1e-12)


def test_zero_trials_give_the_whole_range():
    # given no trials  # when / then
    assert wilson_interval(0, 0) == (0.0, 1.0)
    assert clopper_pearson_interval(0, 0) == (0.0, 1.0)


def test_clopper_pearson_matches_statsmodels_beta_method():
    # given
    x = np.array([0, 1, 12, 50, 100])
    n = np.array([12, 20, 100, 100, 100])
    # when
    low, high = clopper_pearson_bounds(x, n)
    ref_low, ref_high = proportion_confint(x, n, alpha=0.05, method="beta")
    # then
    np.testing.assert_allclose(low, np.nan_to_num(ref_low, nan=0.0), atol=1e-10)
    np.testing.assert_allclose(high, np.nan_to_num(ref_high, nan=1.0), atol=1e-10)
    # 0 of 12: the upper bound solves (1 - u)^12 = 0.025 by hand
    assert high[0] == pytest.approx(1 - 0.025 ** (1 / 12), abs=1e-12)


def test_bad_counts_and_confidence_are_refused():
    # given / when / then
    with pytest.raises(ValidationFailed, match="cannot exceed"):
        wilson_interval(5, 3)
    with pytest.raises(ValidationFailed, match="confidence"):
        wilson_interval(1, 3, confidence=1.5)
    with pytest.raises(ValidationFailed, match="negative"):
        wilson_bounds([1], [-2])


@given(
    n=st.integers(min_value=1, max_value=10_000),
    frac=st.floats(min_value=0, max_value=1),
)
def test_wilson_contains_the_estimate_and_widens_with_confidence(n: int, frac: float):
    # given a count x of n
    x = round(frac * n)
    # when
    low90, high90 = wilson_interval(x, n, confidence=0.90)
    low99, high99 = wilson_interval(x, n, confidence=0.99)
    # then
    assert 0.0 <= low99 <= low90 <= x / n <= high90 <= high99 <= 1.0


def test_benjamini_hochberg_by_hand():
    # given five p-values
    p = [0.01, 0.04, 0.03, 0.20, 0.005]
    # when
    q = benjamini_hochberg(p)
    # then sorted p: .005 .01 .03 .04 .20 -> p*m/rank: .025 .025 .05 .05 .20 (already monotone)
    np.testing.assert_allclose(q, [0.025, 0.05, 0.05, 0.20, 0.025])


@given(st.lists(st.floats(min_value=0, max_value=1), min_size=1, max_size=60))
def test_benjamini_hochberg_matches_statsmodels(p: list[float]):
    # given any p-values  # when
    q = benjamini_hochberg(p)
    # then
    np.testing.assert_allclose(q, multipletests(p, method="fdr_bh")[1], rtol=1e-12, atol=1e-15)


def test_benjamini_hochberg_refuses_non_probabilities():
    # given / when / then
    assert benjamini_hochberg([]).size == 0
    with pytest.raises(ValidationFailed, match="p-values"):
        benjamini_hochberg([0.5, 1.2])
