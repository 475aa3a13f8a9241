"""Segment analysis: Wilson intervals, beta-binomial shrinkage, vs-rest tests, BH flags and cross tabs."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import optimize, stats
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import proportion_confint, proportions_ztest

from tandem.core.errors import ValidationFailed
from tandem.stats.segments import (
    aggregate_segments,
    beta_binomial_loglik,
    fit_beta_binomial,
    segment_report,
    vs_rest_tests,
)

INDUSTRIES = ["education", "finance", "health", "retail", "software", "travel", "media"]
N = np.array([8000, 5000, 3000, 2500, 6000, 40, 6])
X = np.array([50, 120, 70, 45, 190, 2, 1])


def industry_report(**kwargs):  # type: ignore[no-untyped-def]
    return segment_report(
        by=["industry"],
        metric="won",
        segments=[{"industry": i} for i in INDUSTRIES],
        trials=N,
        conversions=X,
        **kwargs,
    )


def reference_fit(x: np.ndarray, n: np.ndarray) -> tuple[float, float, float]:
    """Independent fit: scipy's betabinom log-pmf, Nelder–Mead over (log α, log β) from a different start."""

    def negll(theta: np.ndarray) -> float:
        a, b = np.exp(theta)
        return -float(stats.betabinom.logpmf(x, n, a, b).sum())

    res = optimize.minimize(negll, np.log([1.0, 30.0]), method="Nelder-Mead", options={"xatol": 1e-10, "fatol": 1e-12, "maxiter": 20000})
    a, b = np.exp(res.x)
    return float(a), float(b), -float(res.fun)


def test_marginal_ml_prior_matches_an_independent_fit():
    # given the industry counts
    # when
    prior = fit_beta_binomial(X, N)
    a, b, ll = reference_fit(X, N)
    # then same optimum (the likelihoods differ only by the binomial coefficients)
    assert prior is not None
    const = float(np.sum(stats.binom.logpmf(X, N, 0.5) - (N * math.log(0.5))))
    assert beta_binomial_loglik(prior.alpha, prior.beta, X, N) + const == pytest.approx(ll, abs=1e-6)
    assert prior.alpha == pytest.approx(a, rel=1e-3)
    assert prior.beta == pytest.approx(b, rel=1e-3)


def test_report_rows_by_hand():
    # given
    # when
    report = industry_report()
    prior = fit_beta_binomial(X, N)
    assert prior is not None
    rows = {r.segment["industry"]: r for r in report.rows}
    # then raw rate, Wilson interval and posterior-mean shrinkage
    assert report.overall_rate == pytest.approx(X.sum() / N.sum())
    low, high = proportion_confint(X, N, method="wilson")
    for i, name in enumerate(INDUSTRIES):
        r = rows[name]
        assert (r.n, r.conversions) == (N[i], X[i])
        assert r.rate == pytest.approx(X[i] / N[i])
        assert (r.low, r.high) == (pytest.approx(low[i]), pytest.approx(high[i]))
        assert r.shrunk_rate == pytest.approx((X[i] + prior.alpha) / (N[i] + prior.alpha + prior.beta))
    # media (1 of 6 = 16.7 %) has the top raw rate but not the top shrunk rate; software (3.2 % of 6,000) does
    assert max(report.rows, key=lambda r: r.rate).segment == {"industry": "media"}
    assert report.rows[0].segment == {"industry": "software"}
    assert rows["media"].shrunk_rate == pytest.approx(0.0271, abs=1e-4)


def test_vs_rest_tests_match_statsmodels_and_scipy():
    # given
    # when
    p, methods = vs_rest_tests(X, N)
    # then large segments use the pooled z-test, tiny ones (expected conversions < 5) Fisher's exact test
    assert methods == ["z", "z", "z", "z", "z", "fisher", "fisher"]
    for i in range(5):
        rest_x, rest_n = X.sum() - X[i], N.sum() - N[i]
        _, ref = proportions_ztest([X[i], rest_x], [N[i], rest_n])
        assert p[i] == pytest.approx(ref, rel=1e-10)
        chi = stats.chi2_contingency([[X[i], N[i] - X[i]], [rest_x, rest_n - rest_x]], correction=False)
        assert p[i] == pytest.approx(chi.pvalue, rel=1e-8)
    for i in (5, 6):
        rest_x, rest_n = X.sum() - X[i], N.sum() - N[i]
        ref = stats.fisher_exact([[X[i], N[i] - X[i]], [rest_x, rest_n - rest_x]]).pvalue
        assert p[i] == pytest.approx(ref, rel=1e-12)


def test_flags_follow_benjamini_hochberg_q_values():
    # given
    p, _ = vs_rest_tests(X, N)
    q_ref = multipletests(p, method="fdr_bh")[1]
    # when
    report = industry_report()
    rows = {r.segment["industry"]: r for r in report.rows}
    # then
    for i, name in enumerate(INDUSTRIES):
        assert rows[name].q_value == pytest.approx(q_ref[i], rel=1e-10)
    assert rows["education"].flag == "under"  # 0.63 % against 2.6 % for the rest
    assert rows["software"].flag == "over"
    assert rows["finance"].flag == "over"  # 2.4 % against 2.0 %: p = 0.009, q = 0.022
    assert rows["media"].flag is None  # 1 of 6: Fisher p = 0.11
    assert rows["travel"].flag is None
    flagged = {name for name, r in rows.items() if r.flag}
    assert flagged == {name for i, name in enumerate(INDUSTRIES) if q_ref[i] < 0.05}
    # a stricter false discovery rate flags fewer
    strict = {r.segment["industry"] for r in industry_report(fdr=0.001).rows if r.flag}
    assert strict == {name for i, name in enumerate(INDUSTRIES) if q_ref[i] < 0.001}


def test_to_dict_shape_and_spend_passthrough():
    # given
    spend = [1000.0, 2000.0, None, 0.0, 5000.0, 10.0, 1.0]
    # when
    out = industry_report(spend=spend).to_dict()
    # then
    assert set(out) == {"by", "metric", "overall_rate", "rows"}
    assert out["by"] == ["industry"] and out["metric"] == "won"
    edu = next(r for r in out["rows"] if r["segment"] == {"industry": "education"})
    assert set(edu) == {"segment", "n", "conversions", "rate", "low", "high", "shrunk_rate", "q_value", "flag", "spend"}
    assert (edu["n"], edu["conversions"], edu["spend"], edu["flag"]) == (8000, 50, 1000.0, "under")
    health = next(r for r in out["rows"] if r["segment"] == {"industry": "health"})
    assert health["spend"] is None


def test_equal_rates_shrink_fully_to_the_overall_rate():
    # given segments whose rates differ less than chance alone would make them (9 %, 10.5 %, 10 %, 10 %)
    x, n = [9, 21, 50, 5], [100, 200, 500, 50]
    # when
    report = segment_report(by=["source"], metric="sql", segments=[{"source": s} for s in "abcd"], trials=n, conversions=x)
    # then no extra-binomial variation: α+β hits its cap and every shrunk rate is the overall rate
    assert report.prior is not None
    assert report.prior.alpha + report.prior.beta == pytest.approx(1e8)
    assert report.prior.mean == pytest.approx(85 / 850, rel=1e-6)
    assert all(r.shrunk_rate == pytest.approx(0.1, abs=1e-5) for r in report.rows)
    assert all(r.flag is None for r in report.rows)


def test_degenerate_inputs():
    # given one segment, and then no conversions at all
    one = segment_report(by=["a"], metric="won", segments=[{"a": "x"}], trials=[10], conversions=[3])
    none = segment_report(by=["a"], metric="won", segments=[{"a": "x"}, {"a": "y"}], trials=[10, 0], conversions=[0, 0])
    # then
    assert one.rows[0].shrunk_rate == 0.3 and one.rows[0].flag is None and one.rows[0].test == "none"
    assert none.prior is None
    empty = next(r for r in none.rows if r.n == 0)
    assert empty.rate is None and empty.q_value is None and (empty.low, empty.high) == (0.0, 1.0)


def test_cross_tab_from_per_lead_columns():
    # given 8 leads with industry and country
    columns = {
        "industry": ["edu", "edu", "fin", "fin", "fin", "edu", None, "fin"],
        "country": ["US", "UK", "US", "US", "UK", "US", "US", "US"],
    }
    converted = [1, 0, 1, 1, 0, 0, 1, 0]
    # when
    segments, trials, conversions = aggregate_segments(by=["industry", "country"], columns=columns, converted=converted)
    report = segment_report(
        by=["industry", "country"], metric="sql", segments=segments, trials=trials, conversions=conversions
    )
    # then
    counts = {(s["industry"], s["country"]): (int(t), int(c)) for s, t, c in zip(segments, trials, conversions, strict=True)}
    assert counts == {
        ("(none)", "US"): (1, 1),
        ("edu", "UK"): (1, 0),
        ("edu", "US"): (2, 1),
        ("fin", "UK"): (1, 0),
        ("fin", "US"): (3, 2),
    }
    assert report.overall_rate == 0.5
    assert all(set(r.segment) == {"industry", "country"} for r in report.rows)


def test_bad_input_is_refused():
    with pytest.raises(ValidationFailed, match="one field or two"):
        segment_report(by=["a", "b", "c"], metric="won", segments=[], trials=[], conversions=[])
    with pytest.raises(ValidationFailed, match="exactly the fields"):
        segment_report(by=["a"], metric="won", segments=[{"b": "x"}], trials=[3], conversions=[1])
    with pytest.raises(ValidationFailed, match="between 0 and n") as err:
        segment_report(by=["a"], metric="won", segments=[{"a": "x"}], trials=[3], conversions=[4])
    assert err.value.field == "conversions"
    with pytest.raises(ValidationFailed, match="unknown field"):
        aggregate_segments(by=["nope"], columns={"a": ["x"]}, converted=[1])


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(min_value=1, max_value=2000), st.floats(min_value=0, max_value=1)),
        min_size=2,
        max_size=12,
    )
)
def test_shrunk_rate_lies_between_raw_rate_and_prior_mean(cells: list[tuple[int, float]]):
    # given any segments with at least one conversion and one non-conversion overall
    n = np.array([c[0] for c in cells])
    x = np.array([round(c[0] * c[1]) for c in cells])
    if x.sum() == 0 or x.sum() == n.sum():
        return
    # when
    report = segment_report(by=["s"], metric="won", segments=[{"s": str(i)} for i in range(n.size)], trials=n, conversions=x)
    prior = report.prior
    assert prior is not None
    # then
    for r in report.rows:
        assert r.rate is not None and r.shrunk_rate is not None
        lo, hi = sorted((r.rate, prior.mean))
        assert lo - 1e-12 <= r.shrunk_rate <= hi + 1e-12


def test_aggregate_merges_missing_values_and_handles_no_leads():
    # given None and "" both meaning "not filled in"
    # when
    segments, trials, conversions = aggregate_segments(
        by=["industry"], columns={"industry": ["edu", None, "", "edu"]}, converted=[True, False, True, True]
    )
    empty = aggregate_segments(by=["industry"], columns={"industry": []}, converted=[])
    # then
    assert segments == [{"industry": "(none)"}, {"industry": "edu"}]
    assert trials.tolist() == [2, 2] and conversions.tolist() == [1, 2]
    assert empty[0] == [] and empty[1].size == 0
    with pytest.raises(ValidationFailed, match="one value per lead"):
        aggregate_segments(by=["industry"], columns={"industry": ["edu"]}, converted=[1, 0])
