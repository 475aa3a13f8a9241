"""Experiments: planner, tests, Bayesian summaries and mSPRT against statsmodels/scipy, verdicts, CSV import."""

from __future__ import annotations

import csv
import io
import math
from datetime import date, datetime
from pathlib import Path

import numpy as np
import pytest
from scipy import integrate, stats
from statsmodels.stats.power import NormalIndPower
from statsmodels.stats.proportion import (
    confint_proportions_2indep,
    proportion_effectsize,
    proportions_ztest,
)

from tandem.core.errors import ValidationFailed
from tandem.stats.experiments import (
    VariantCounts,
    analyse_experiment,
    bayesian_beta_binomial,
    chi_square_test,
    compare_proportions,
    expected_loss_exact,
    fisher_exact_test,
    msprt_p_values,
    msprt_two_proportions,
    newcombe_interval,
    parse_assignments_csv,
    plan_sample_size,
    power_two_proportions,
    prob_beta_greater,
    two_proportion_ztest,
    welch_t_test,
    welch_t_test_from_stats,
)

# ------------------------------------------------------------------------------------------- planner


@pytest.mark.parametrize(
    ("p1", "mde", "alpha", "power", "ratio", "alternative"),
    [
        (0.032, 0.01, 0.05, 0.8, 1.0, "two-sided"),
        (0.12, -0.005, 0.05, 0.9, 1.0, "two-sided"),
        (0.10, 0.02, 0.01, 0.8, 2.0, "two-sided"),
        (0.05, 0.01, 0.05, 0.8, 1.0, "larger"),
    ],
)
def test_sample_size_matches_statsmodels(p1, mde, alpha, power, ratio, alternative):  # type: ignore[no-untyped-def]
    # given a design
    h = abs(proportion_effectsize(p1 + mde, p1))
    ref = NormalIndPower().solve_power(effect_size=h, alpha=alpha, power=power, ratio=ratio, alternative=alternative)
    # when
    plan = plan_sample_size(
        baseline_rate=p1, minimum_effect=mde, alpha=alpha, power=power, ratio=ratio, alternative=alternative
    )
    # then
    assert plan.effect_size == pytest.approx(h, rel=1e-12)
    assert plan.n_control == math.ceil(ref)
    assert plan.n_variant == math.ceil(ref * ratio)
    assert power_two_proportions(
        effect_size=h, n_control=ref, ratio=ratio, alpha=alpha, alternative=alternative
    ) == pytest.approx(NormalIndPower().power(h, ref, alpha, ratio=ratio, alternative=alternative), rel=1e-10)


def test_sample_size_by_the_classic_formula():
    # given 3.2 % → 4.2 %, α 5 % two-sided, power 80 %: n ≈ ((z_.975 + z_.8) / h)² · 2 (the far tail adds ~0)
    h = 2 * math.asin(math.sqrt(0.042)) - 2 * math.asin(math.sqrt(0.032))
    classic = ((stats.norm.isf(0.025) + stats.norm.isf(0.2)) / h) ** 2 * 2
    # when
    plan = plan_sample_size(baseline_rate=0.032, minimum_effect=0.01)
    # then
    assert plan.n_control == math.ceil(classic) == 5569
    assert plan.total == 2 * 5569


def test_planner_refuses_impossible_designs():
    with pytest.raises(ValidationFailed, match="minimum_effect") as err:
        plan_sample_size(baseline_rate=0.995, minimum_effect=0.01)
    assert err.value.field == "minimum_effect"
    with pytest.raises(ValidationFailed, match="baseline_rate"):
        plan_sample_size(baseline_rate=0.0, minimum_effect=0.01)
    with pytest.raises(ValidationFailed, match="power"):
        plan_sample_size(baseline_rate=0.1, minimum_effect=0.01, power=1.2)


# ------------------------------------------------------------------------------------ frequentist tests


def test_two_proportion_ztest_matches_statsmodels():
    # given B 205/5000 against A 160/5000
    # when
    res = two_proportion_ztest(conversions_a=160, n_a=5000, conversions_b=205, n_b=5000)
    z, p = proportions_ztest([205, 160], [5000, 5000])
    low, high = confint_proportions_2indep(205, 5000, 160, 5000, method="wald", compare="diff")
    one = two_proportion_ztest(conversions_a=160, n_a=5000, conversions_b=205, n_b=5000, alternative="larger")
    _, p_one = proportions_ztest([205, 160], [5000, 5000], alternative="larger")
    # then
    assert (res.statistic, res.p_value) == (pytest.approx(z, rel=1e-12), pytest.approx(p, rel=1e-10))
    assert (res.ci_low, res.ci_high) == (pytest.approx(low, rel=1e-10), pytest.approx(high, rel=1e-10))
    assert res.difference == pytest.approx(0.009)
    assert one.p_value == pytest.approx(p_one, rel=1e-10)


def test_fisher_and_newcombe_match_scipy_and_statsmodels():
    # given small counts: B 7/40 against A 1/38
    # when
    res = fisher_exact_test(conversions_a=1, n_a=38, conversions_b=7, n_b=40)
    chosen = compare_proportions(conversions_a=1, n_a=38, conversions_b=7, n_b=40)
    # then
    ref = stats.fisher_exact([[7, 33], [1, 37]])
    assert res.p_value == pytest.approx(ref.pvalue, rel=1e-12)
    assert res.statistic == pytest.approx(ref.statistic, rel=1e-12)
    low, high = confint_proportions_2indep(7, 40, 1, 38, method="newcomb", compare="diff")
    assert (res.ci_low, res.ci_high) == (pytest.approx(low, rel=1e-9), pytest.approx(high, rel=1e-9))
    assert newcombe_interval(conversions_a=1, n_a=38, conversions_b=7, n_b=40) == (res.ci_low, res.ci_high)
    assert chosen.method == "fisher"  # expected conversions 38 · 8/78 = 3.9 < 5
    assert compare_proportions(conversions_a=160, n_a=5000, conversions_b=205, n_b=5000).method == "z"


def test_chi_square_matches_scipy():
    # given three variants
    x, n = [640, 650, 760], [20000, 20000, 20000]
    # when
    res = chi_square_test(x, n)
    # then
    ref = stats.chi2_contingency([x, [20000 - v for v in x]], correction=False)
    assert res.statistic == pytest.approx(ref.statistic, rel=1e-12)
    assert res.p_value == pytest.approx(ref.pvalue, rel=1e-10)
    assert res.dof == ref.dof == 2


def test_welch_t_test_matches_scipy():
    # given revenue per lead, mostly zero
    rng = np.random.default_rng(3)
    a = np.where(rng.random(400) < 0.05, rng.gamma(2.0, 500.0, 400), 0.0)
    b = np.where(rng.random(500) < 0.07, rng.gamma(2.0, 450.0, 500), 0.0)
    # when
    res = welch_t_test(a, b)
    # then
    ref = stats.ttest_ind(b, a, equal_var=False)
    ci = ref.confidence_interval(0.95)
    assert (res.statistic, res.p_value, res.dof) == (
        pytest.approx(ref.statistic, rel=1e-10),
        pytest.approx(ref.pvalue, rel=1e-10),
        pytest.approx(ref.df, rel=1e-10),
    )
    assert (res.ci_low, res.ci_high) == (pytest.approx(ci.low, rel=1e-10), pytest.approx(ci.high, rel=1e-10))
    same = welch_t_test_from_stats(
        mean_a=a.mean(), var_a=a.var(ddof=1), n_a=400, mean_b=b.mean(), var_b=b.var(ddof=1), n_b=500
    )
    assert same == res


def test_bad_counts_are_refused():
    with pytest.raises(ValidationFailed, match="between 0 and the number of units") as err:
        two_proportion_ztest(conversions_a=6, n_a=5, conversions_b=1, n_b=5)
    assert err.value.field == "conversions_a"
    with pytest.raises(ValidationFailed, match="at least one unit"):
        fisher_exact_test(conversions_a=0, n_a=0, conversions_b=1, n_b=5)
    with pytest.raises(ValidationFailed, match="at least 2 units"):
        welch_t_test([1.0], [1.0, 2.0])


# ------------------------------------------------------------------------------------------ Bayesian


def test_prob_beta_greater_matches_numerical_integration():
    # given posteriors Beta(161, 4841) and Beta(206, 4796)
    a1, b1, a2, b2 = 161, 4841, 206, 4796
    # when
    p = prob_beta_greater(a1, b1, a2, b2)
    # then P(X2 > X1) = ∫ f2(y) F1(y) dy
    ref, _ = integrate.quad(lambda y: stats.beta.pdf(y, a2, b2) * stats.beta.cdf(y, a1, b1), 0, 0.1, limit=200, points=[0.03, 0.04])
    assert p == pytest.approx(ref, abs=1e-9)
    assert round(p, 4) == 0.9918


def test_expected_loss_matches_numerical_integration():
    # given
    a1, b1, a2, b2 = 41, 1161, 39, 1163
    # when
    loss_a, loss_b = expected_loss_exact(a1, b1, a2, b2)

    # then E[max(X2 − X1, 0)] = ∫ f2(y) (y F1(y) − mean1 · F1⁺(y)) dy with F1⁺ the cdf of Beta(a1 + 1, b1)
    def gain(a, b, c, d):  # type: ignore[no-untyped-def]
        m = a / (a + b)
        return integrate.quad(
            lambda y: stats.beta.pdf(y, c, d) * (y * stats.beta.cdf(y, a, b) - m * stats.beta.cdf(y, a + 1, b)),
            0, 0.15, limit=200, points=[0.03, 0.035],
        )[0]

    assert loss_a == pytest.approx(gain(a1, b1, a2, b2), abs=1e-10)
    assert loss_b == pytest.approx(gain(a2, b2, a1, b1), abs=1e-10)
    assert loss_b - loss_a == pytest.approx(a1 / (a1 + b1) - a2 / (a2 + b2), abs=1e-12)


def test_monte_carlo_agrees_with_the_exact_answer_within_its_error():
    # given two variants
    x, n = [40, 48], [1200, 1150]
    # when
    exact = bayesian_beta_binomial(conversions=x, trials=n)
    mc = bayesian_beta_binomial(conversions=x, trials=n, method="monte_carlo", draws=200_000, seed=1)
    # then P(best) within 4 binomial standard errors
    assert exact.method == "exact" and mc.method == "monte_carlo"
    p = exact.prob_best[1]
    assert abs(mc.prob_best[1] - p) < 4 * math.sqrt(p * (1 - p) / 200_000)
    assert sum(mc.prob_best) == pytest.approx(1.0)
    # the expected loss within 4 standard errors of its Monte Carlo mean, estimated from independent draws
    rng = np.random.default_rng(99)
    draws = rng.beta([41, 49], [1161, 1103], size=(200_000, 2))
    shortfall = draws.max(axis=1)[:, None] - draws
    se = shortfall.std(axis=0) / math.sqrt(200_000)
    for i in range(2):
        assert abs(mc.expected_loss[i] - exact.expected_loss[i]) < 4 * se[i]


def test_three_variants_use_seeded_monte_carlo():
    # given
    kwargs = {"conversions": [640, 650, 760], "trials": [20000, 20000, 20000], "names": ["A", "B", "C"]}
    # when
    first = bayesian_beta_binomial(**kwargs, seed=7)  # type: ignore[arg-type]
    again = bayesian_beta_binomial(**kwargs, seed=7)  # type: ignore[arg-type]
    # then
    assert first == again
    assert first.prob_best[2] > 0.99 and sum(first.prob_best) == pytest.approx(1.0)
    assert first.to_dict()["variants"][2]["name"] == "C"


# ---------------------------------------------------------------------------------------- sequential


def test_msprt_statistic_by_hand():
    # given one look: A 100/1000, B 130/1000, τ = 0.02
    tau = 0.02
    pooled = 230 / 2000
    v = pooled * (1 - pooled) * (2 / 1000)
    log_lambda = 0.5 * math.log(v / (v + tau**2)) + 0.03**2 * tau**2 / (2 * v * (v + tau**2))
    # when
    p = msprt_p_values([100], [1000], [130], [1000], tau=tau)
    # then
    assert p[0] == pytest.approx(math.exp(-log_lambda), rel=1e-12)


def daily(rng: np.random.Generator, sims: int, days: int, per_day: int, p_a: float, p_b: float):  # type: ignore[no-untyped-def]
    xa = np.cumsum(rng.binomial(per_day, p_a, (sims, days)), axis=1)
    xb = np.cumsum(rng.binomial(per_day, p_b, (sims, days)), axis=1)
    n = np.cumsum(np.full((sims, days), per_day), axis=1)
    return xa, xb, n


def test_msprt_keeps_its_error_rate_under_daily_peeking_while_naive_peeking_does_not():
    # given 2,000 A/A tests at 5 %, 200 leads per arm per day, looked at every day for 30 days
    rng = np.random.default_rng(20170101)
    xa, xb, n = daily(rng, 2000, 30, 200, 0.05, 0.05)
    # when
    p_seq = msprt_p_values(xa, n, xb, n, tau=0.01)
    pooled = (xa + xb) / (2 * n)
    z = (xb / n - xa / n) / np.sqrt(pooled * (1 - pooled) * 2 / n)
    p_naive = 2 * stats.norm.sf(np.abs(z))
    # then the share of A/A tests ever declared significant
    seq_rate = np.mean((p_seq <= 0.05).any(axis=1))
    naive_rate = np.mean((p_naive <= 0.05).any(axis=1))
    final_only = np.mean(p_naive[:, -1] <= 0.05)
    se = math.sqrt(0.05 * 0.95 / 2000)
    assert seq_rate <= 0.05  # simulated 1.2 %
    assert naive_rate > 0.05 + 8 * se  # simulated 27 %: peeking daily inflates false positives five-fold
    assert abs(final_only - 0.05) < 4 * se  # one planned look is fine


def test_msprt_detects_a_real_difference_and_its_confidence_sequence_covers():
    # given 1,000 tests with a real 1.5-point lift (5 % → 6.5 %)
    rng = np.random.default_rng(8)
    xa, xb, n = daily(rng, 1000, 30, 200, 0.05, 0.065)
    # when
    p = msprt_p_values(xa, n, xb, n, tau=0.015)
    # then most detect it within 30 days (simulated 76 %)
    assert np.mean(p[:, -1] <= 0.05) > 0.70
    # and the always-valid 95 % interval contains the true 1.5 points at every look in ≥ 95 % of runs
    covered = 0
    for i in range(200):
        seq = msprt_two_proportions(
            conversions_a=xa[i], trials_a=n[i], conversions_b=xb[i], trials_b=n[i], tau=0.015
        )
        covered += bool(np.all((seq.ci_low <= 0.015) & (seq.ci_high >= 0.015)))
        if seq.rejected_at is not None:
            assert seq.p_values[seq.rejected_at] <= 0.05 < (seq.p_values[seq.rejected_at - 1] if seq.rejected_at else 1)
    assert covered / 200 >= 0.95


def test_msprt_refuses_bad_input():
    with pytest.raises(ValidationFailed, match="tau"):
        msprt_p_values([1], [10], [2], [10], tau=0)
    with pytest.raises(ValidationFailed, match="cumulative"):
        msprt_two_proportions(conversions_a=[1, 1], trials_a=[10, 5], conversions_b=[1, 1], trials_b=[10, 12], tau=0.01)


# ----------------------------------------------------------------------------------------------- verdict


def test_verdict_significant():
    # given
    variants = [VariantCounts("A", 5000, 160), VariantCounts("B", 5000, 205)]
    # when
    result = analyse_experiment(variants=variants, metric="sql", minimum_effect=0.01)
    # then
    assert result.verdict == (
        "Variant B's SQL rate, 4.1% vs 3.2% for A, is higher; the difference of 0.9 points (95% CI 0.2 to 1.6) "
        "is statistically significant (p = 0.016); the probability that B is the best variant is more than 99%."
    )
    assert result.comparisons[0].significant and result.comparisons[0].test.method == "z"


def test_verdict_not_enough_units_for_the_planned_minimum_effect():
    # given 1,200 leads per variant where the plan needs 5,520 (3.17 % → 4.17 %)
    variants = [VariantCounts("A", 1200, 38), VariantCounts("B", 1200, 41)]
    # when
    result = analyse_experiment(variants=variants, metric="sql", minimum_effect=0.01)
    # then
    assert result.plan is not None and result.plan.n_control == 5520
    assert result.verdict == (
        "Not enough evidence yet: B's SQL rate is 3.42% vs 3.17% for A (difference 0.25 points, "
        "95% CI -1.18 to 1.68, p = 0.73). There are 1,200 units in A and 1,200 in B; detecting a 1-point difference with 80% power "
        "needs 5,520 per variant, so keep the test running."
    )


def test_verdict_no_difference_with_enough_units_and_revenue_per_lead():
    # given 20,000 leads per variant and revenue sums
    variants = [
        VariantCounts("A", 20000, 640, revenue_sum=640 * 900.0, revenue_sumsq=640 * 900.0**2 * 1.5),
        VariantCounts("B", 20000, 650, revenue_sum=650 * 950.0, revenue_sumsq=650 * 950.0**2 * 1.5),
    ]
    # when
    result = analyse_experiment(variants=variants, metric="won", minimum_effect=0.01)
    # then
    assert result.verdict == (
        "No significant difference: B's win rate is 3.25% vs 3.20% for A (difference 0.05 points, "
        "95% CI -0.30 to 0.40, p = 0.78); the interval rules out a difference of 1 point or more either way."
    )
    rev = result.comparisons[0].revenue
    assert rev is not None
    ref = welch_t_test_from_stats(
        mean_a=640 * 900 / 20000,
        var_a=(640 * 900.0**2 * 1.5 - 20000 * (640 * 900 / 20000) ** 2) / 19999,
        n_a=20000,
        mean_b=650 * 950 / 20000,
        var_b=(650 * 950.0**2 * 1.5 - 20000 * (650 * 950 / 20000) ** 2) / 19999,
        n_b=20000,
    )
    assert rev.difference == pytest.approx(ref.difference) and rev.p_value == pytest.approx(ref.p_value)
    assert set(result.to_dict()["comparisons"][0]["revenue_per_unit"]) == {
        "mean_control", "mean_variant", "difference", "ci_low", "ci_high", "p_value"
    }


def test_verdict_for_three_variants_uses_bonferroni():
    # given
    variants = [VariantCounts("A", 20000, 640), VariantCounts("B", 20000, 650), VariantCounts("C", 20000, 760)]
    # when
    result = analyse_experiment(variants=variants, metric="sql", minimum_effect=0.01)
    # then each comparison is at α/2 with 97.5 % intervals
    c = result.comparisons[1]
    z = two_proportion_ztest(conversions_a=640, n_a=20000, conversions_b=760, n_b=20000, confidence=0.975)
    assert c.test == z and c.significant
    assert result.omnibus is not None
    assert result.verdict.startswith(
        "Across all 3 variants the SQL rates differ (chi-square 13.43, 2 degrees of freedom, p = 0.001); "
        "each variant is compared with A at 97.5% confidence."
    )
    assert "Variant C's SQL rate, 3.8% vs 3.2% for A, is higher; the difference of 0.6 points (97.5% CI 0.2 to 1.0)" in result.verdict


def test_analysis_refuses_bad_designs():
    with pytest.raises(ValidationFailed, match="at least two variants"):
        analyse_experiment(variants=[VariantCounts("A", 10, 1)], metric="sql", minimum_effect=0.01)
    with pytest.raises(ValidationFailed, match="unknown control"):
        analyse_experiment(
            variants=[VariantCounts("A", 10, 1), VariantCounts("B", 10, 2)], metric="sql", minimum_effect=0.01, control="Z"
        )
    with pytest.raises(ValidationFailed, match="unique"):
        analyse_experiment(
            variants=[VariantCounts("A", 10, 1), VariantCounts("A", 10, 2)], metric="sql", minimum_effect=0.01
        )


# ------------------------------------------------------------------------------------------------- CSV

GOOD_CSV = """unit_id,variant,assigned_at,converted,revenue
u1,A,2026-06-01T09:00:00,1,1200
u2,B,2026-06-01T10:30:00,0,
u3,A,2026-06-02,false,0
u4,B,2026-06-02 14:00:00+00:00,yes,800.50
u5,B,2026-06-03,0,
"""


def test_parse_assignments_csv():
    # given a small file
    # when
    a = parse_assignments_csv(GOOD_CSV)
    # then
    assert a.unit_ids == ("u1", "u2", "u3", "u4", "u5")
    assert a.variant_names == ("A", "B")
    assert a.converted.tolist() == [True, False, False, True, False]
    assert a.revenue is not None and a.revenue.tolist() == [1200.0, 0.0, 0.0, 800.5, 0.0]
    assert a.assigned_at[2] == datetime(2026, 6, 2)
    assert a.totals() == [
        VariantCounts("A", 2, 1, 1200.0, 1200.0**2),
        VariantCounts("B", 3, 1, 800.5, 800.5**2),
    ]
    days, xa, na, xb, nb = a.daily_cumulative("A", "B")
    assert days == [date(2026, 6, 1), date(2026, 6, 2), date(2026, 6, 3)]
    assert (xa.tolist(), na.tolist(), xb.tolist(), nb.tolist()) == ([1, 1, 1], [1, 2, 2], [0, 1, 1], [1, 2, 3])


@pytest.mark.parametrize(
    ("text", "message", "field"),
    [
        ("", "line 1: the file is empty", "header"),
        ("unit_id,variant,converted\nu1,A,1\n", "line 1: missing column(s) 'assigned_at'", "header"),
        (
            "unit_id,variant,assigned_at,converted\nu1,A,2026-06-01,1\nu2,B,2026-06-01,maybe\n",
            "line 3, column 'converted': expected 1/0, true/false or yes/no, got 'maybe'",
            "converted",
        ),
        (
            "unit_id,variant,assigned_at,converted\nu1,A,2026-06-01,1\nu1,B,2026-06-01,0\n",
            "line 3, column 'unit_id': unit 'u1' is already assigned on line 2",
            "unit_id",
        ),
        (
            "unit_id,variant,assigned_at,converted\nu1,A,01/06/2026,1\n",
            "line 2, column 'assigned_at': expected an ISO date or date-time, got '01/06/2026'",
            "assigned_at",
        ),
        (
            "unit_id,variant,assigned_at,converted,revenue\nu1,A,2026-06-01,1,-5\n",
            "line 2, column 'revenue': expected a non-negative amount, got '-5'",
            "revenue",
        ),
        (
            "unit_id,variant,assigned_at,converted\nu1,A,2026-06-01\n",
            "line 2: expected 4 fields, got 3",
            "row",
        ),
        (
            "unit_id,variant,assigned_at,converted\nu1,,2026-06-01,1\n",
            "line 2, column 'variant': the variant is empty",
            "variant",
        ),
        (
            "unit_id,variant,assigned_at,converted\nu1,A,2026-06-01,1\nu2,A,2026-06-01,0\n",
            "the file has 1 variant(s); an experiment needs at least two",
            "variant",
        ),
    ],
)
def test_parse_errors_name_the_line_and_column(text: str, message: str, field: str):
    # given a bad file  # when / then
    with pytest.raises(ValidationFailed) as err:
        parse_assignments_csv(text)
    assert err.value.message.startswith(message)
    assert err.value.field == field


# ------------------------------------------------------------------------------------------ real data


def clean_udacity_csv(path: Path) -> str:
    """Keep rows whose group matches its page, then the first row per user: the course's cleaning."""
    out = io.StringIO()
    writer = csv.writer(out)
    seen: set[str] = set()
    with path.open(newline="") as handle:
        reader = csv.reader(handle)
        writer.writerow(next(reader))
        for user, ts, group, page, conv in reader:
            if (group == "control") != (page == "old_page") or user in seen:
                continue
            seen.add(user)
            writer.writerow([user, ts, group, page, conv])
    return out.getvalue()


@pytest.mark.shared_data
def test_udacity_ab_data(shared_data: Path):
    # given the Udacity landing-page test, cleaned of mismatched and duplicate rows
    text = clean_udacity_csv(shared_data / "udacity_ab_test" / "ab_data.csv")
    # when
    a = parse_assignments_csv(text, columns={"unit_id": "user_id", "variant": "group", "assigned_at": "timestamp"})
    control, treatment = a.totals()[0], a.totals()[1]
    if control.name != "control":
        control, treatment = treatment, control
    res = two_proportion_ztest(
        conversions_a=control.conversions, n_a=control.n, conversions_b=treatment.conversions, n_b=treatment.n
    )
    # then the textbook answer: 12.04 % vs 11.88 %, z ≈ −1.31, p ≈ 0.19
    assert (control.n, treatment.n) == (145274, 145310)
    assert round(res.rate_a, 4) == 0.1204 and round(res.rate_b, 4) == 0.1188
    z, p = proportions_ztest([treatment.conversions, control.conversions], [treatment.n, control.n])
    assert res.statistic == pytest.approx(z, rel=1e-10) and res.p_value == pytest.approx(p, rel=1e-10)
    assert round(res.statistic, 2) == -1.31 and round(res.p_value, 2) == 0.19
    _, p_larger = proportions_ztest([treatment.conversions, control.conversions], [treatment.n, control.n], alternative="larger")
    assert p_larger == pytest.approx(0.905, abs=0.001)  # SOURCE.md: ≈ 0.90
    analysis = analyse_experiment(variants=[control, treatment], metric="converted", minimum_effect=0.005)
    assert analysis.verdict.startswith(
        "No significant difference: treatment's conversion rate is 11.88% vs 12.04% for control "
        "(difference -0.16 points, 95% CI -0.39 to 0.08, p = 0.19); "
        "the interval rules out a difference of 0.5 points or more either way."
    )


@pytest.mark.shared_data
def test_marketing_ads_vs_psa(shared_data: Path):
    # given the 2 % sample of the ad-vs-PSA test
    path = shared_data / "marketing_ab_ads_psa_sample" / "marketing_AB_sample.csv"
    counts = {"ad": [0, 0], "psa": [0, 0]}
    with path.open(newline="") as handle:
        for row in csv.DictReader(handle):
            counts[row["test group"]][0] += row["converted"] == "True"
            counts[row["test group"]][1] += 1
    (x_ad, n_ad), (x_psa, n_psa) = counts["ad"], counts["psa"]
    # when
    z = two_proportion_ztest(conversions_a=x_psa, n_a=n_psa, conversions_b=x_ad, n_b=n_ad)
    fisher = fisher_exact_test(conversions_a=x_psa, n_a=n_psa, conversions_b=x_ad, n_b=n_ad)
    # then ad 2.59 % vs PSA 1.08 % (SOURCE.md), checked against statsmodels and scipy
    assert (n_ad, n_psa) == (11298, 464)
    assert round(z.rate_b, 4) == 0.0259 and round(z.rate_a, 4) == 0.0108
    z_ref, p_ref = proportions_ztest([x_ad, x_psa], [n_ad, n_psa])
    assert z.statistic == pytest.approx(z_ref, rel=1e-10) and z.p_value == pytest.approx(p_ref, rel=1e-10)
    assert fisher.p_value == pytest.approx(
        stats.fisher_exact([[x_ad, n_ad - x_ad], [x_psa, n_psa - x_psa]]).pvalue, rel=1e-12
    )
    assert round(z.p_value, 3) == 0.042 and round(fisher.p_value, 3) == 0.048
    verdict = analyse_experiment(
        variants=[VariantCounts("psa", n_psa, x_psa), VariantCounts("ad", n_ad, x_ad)], metric="converted",
        minimum_effect=0.01,
    ).verdict
    assert verdict.startswith(
        "Variant ad's conversion rate, 2.6% vs 1.1% for psa, is higher; the difference of 1.5 points "
        "(95% CI 0.5 to 2.5) is statistically significant (p = 0.042)"
    )
