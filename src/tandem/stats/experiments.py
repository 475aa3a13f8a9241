"""A/B(/n) experiments: planning, tests, Bayesian summaries, an always-valid sequential test, verdicts, CSV import.

Pure numpy/scipy (no Django). Every decision below is explained for non-statisticians in docs/statistics.md.

- **Sample size** (``plan_sample_size``): the normal approximation on Cohen's arcsine effect size
  h = 2·asin√p₂ − 2·asin√p₁, solved exactly as statsmodels' ``NormalIndPower().solve_power`` does (the
  two-sided power includes the small chance of significance in the wrong direction), rounded up.
- **Two-proportion z-test** (``two_proportion_ztest``): pooled standard error under "no difference", as in
  statsmodels' ``proportions_ztest``; the confidence interval of the difference uses the unpooled (Wald)
  standard error, as in ``confint_proportions_2indep(method="wald")``.
- **Fisher's exact test** (``fisher_exact_test``): scipy's two-sided test; used instead of the z-test when an
  expected cell count is below 5. Its interval is Newcombe's hybrid score interval (from the two Wilson
  intervals), which behaves well for small counts.
- **A/B/n**: a chi-square test of the 2×k table (no continuity correction) asks "does any variant differ?";
  each variant is then compared with the control at α/(k − 1) (Bonferroni), with intervals at that level.
- **Revenue per lead**: Welch's t-test (unequal variances), from raw values or from sums and sums of squares.
- **Bayesian** (``bayesian_beta_binomial``): independent Beta(1, 1) priors; P(best) is the posterior
  probability that a variant's true rate is the highest, the expected loss the average shortfall of its rate
  against the best one, E[max_j p_j − p_i]. Exact for two variants with whole-number posterior parameters
  (Evan Miller's closed form); otherwise Monte Carlo with a fixed seed (200,000 draws: P(best) within at most
  ±0.0023 at 2 standard errors).
- **Sequential test** (``msprt_two_proportions``): the mixture sequential probability ratio test of Johari,
  Pekelis & Walsh (2017, "Always valid inference"), on the difference of proportions θ = p_B − p_A with a
  normal mixing distribution N(0, τ²) over the alternatives. With the estimated variance V of θ̂ at a look,
  Λ = √(V/(V+τ²)) · exp(θ̂² τ² / (2 V (V+τ²))); the always-valid p-value is min over looks so far of 1/Λ.
  Rejecting when it falls below α keeps the false-positive rate at most α however often one looks. V uses
  the pooled rate (the variance under "no difference"). τ is the mixing standard deviation, by default
  the minimum effect worth detecting: the test is most sensitive to effects of about that size. The
  always-valid confidence interval (confidence sequence) uses the unpooled variance.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, Literal, TextIO

import numpy as np
from numpy.typing import ArrayLike, NDArray

from tandem.core.errors import ValidationFailed
from tandem.core.lazy import deferred
from tandem.stats.intervals import wilson_bounds

if TYPE_CHECKING:
    from scipy import optimize, special, stats
else:
    # scipy takes 0.5 s to import: only when a test is computed, not at every process start
    optimize = deferred("scipy.optimize")
    special = deferred("scipy.special")
    stats = deferred("scipy.stats")

FloatArray = NDArray[np.float64]
Alternative = Literal["two-sided", "larger"]

METRIC_LABELS = {
    "sql": "SQL rate",
    "sql_rate": "SQL rate",
    "won": "win rate",
    "win_rate": "win rate",
    "mql": "MQL rate",
    "mql_rate": "MQL rate",
    "converted": "conversion rate",
    "conversion": "conversion rate",
    "click": "click rate",
}


# ------------------------------------------------------------------------------------------ formatting


def _pct(v: float, decimals: int = 1) -> str:
    return f"{100 * v:.{decimals}f}%"


def _points(v: float, decimals: int = 1) -> str:
    text = f"{100 * v:.{decimals}f}"
    return "0" if float(text) == 0 else text


def _effect(v: float) -> str:
    """An absolute effect in percentage points without trailing zeros: 0.01 → "1", 0.005 → "0.5"."""
    return f"{100 * v:.3f}".rstrip("0").rstrip(".")


def _prob(p: float) -> str:
    if p > 0.99:
        return "more than 99%"
    if p < 0.01:
        return "less than 1%"
    return f"{100 * p:.0f}%"


def _p(p: float) -> str:
    if p < 0.001:
        return "p < 0.001"
    if p >= 0.1:
        return f"p = {p:.2f}"
    return f"p = {p:.2g}" if p >= 0.01 else f"p = {p:.1g}"


def _decimals(*rates: float) -> int:
    """1 decimal of a percent, or 2 when 1 would make different rates look equal."""
    shown = {f"{100 * r:.1f}" for r in rates}
    return 1 if len(shown) == len(set(rates)) else 2


def _check_prob(name: str, value: float, *, open_interval: bool = True) -> None:
    ok = 0 < value < 1 if open_interval else 0 <= value <= 1
    if not ok or math.isnan(value):
        raise ValidationFailed(f"{name} must be between 0 and 1, got {value}", field=name, value=value)


def _check_counts(x: float, n: float, name: str) -> None:
    if n < 0 or x < 0 or x > n or x != int(x) or n != int(n):
        raise ValidationFailed(
            f"{name}: conversions ({x:g}) must be a whole number between 0 and the number of units ({n:g})",
            field=name,
            value=x,
        )


# --------------------------------------------------------------------------------------------- planning


@dataclass(frozen=True)
class SampleSizePlan:
    """Units needed per variant to detect ``minimum_effect`` (absolute) with the given α and power."""

    baseline_rate: float
    minimum_effect: float
    alpha: float
    power: float
    ratio: float
    alternative: str
    effect_size: float
    n_control: int
    n_variant: int

    @property
    def total(self) -> int:
        return self.n_control + self.n_variant

    def to_dict(self) -> dict[str, Any]:
        return {
            "baseline_rate": self.baseline_rate,
            "minimum_effect": self.minimum_effect,
            "alpha": self.alpha,
            "power": self.power,
            "ratio": self.ratio,
            "alternative": self.alternative,
            "effect_size": self.effect_size,
            "n_control": self.n_control,
            "n_variant": self.n_variant,
            "total": self.total,
        }


def cohens_h(p1: float, p2: float) -> float:
    """Arcsine effect size h = 2·asin√p₂ − 2·asin√p₁ (statsmodels' ``proportion_effectsize(p2, p1)``)."""
    return float(2 * math.asin(math.sqrt(p2)) - 2 * math.asin(math.sqrt(p1)))


def power_two_proportions(
    *, effect_size: float, n_control: float, ratio: float = 1.0, alpha: float = 0.05, alternative: Alternative = "two-sided"
) -> float:
    """Power of the two-proportion test for Cohen's h and ``n_control`` (variant gets ``ratio`` times as many)."""
    nobs = 1.0 / (1.0 / n_control + 1.0 / (n_control * ratio))
    shift = effect_size * math.sqrt(nobs)
    if alternative == "two-sided":
        crit = float(stats.norm.isf(alpha / 2))
        return float(stats.norm.sf(crit - shift) + stats.norm.cdf(-crit - shift))
    return float(stats.norm.sf(float(stats.norm.isf(alpha)) - shift))


def plan_sample_size(
    *,
    baseline_rate: float,
    minimum_effect: float,
    alpha: float = 0.05,
    power: float = 0.8,
    ratio: float = 1.0,
    alternative: Alternative = "two-sided",
) -> SampleSizePlan:
    """Units per variant to detect an absolute change ``minimum_effect`` from ``baseline_rate``."""
    _check_prob("baseline_rate", baseline_rate)
    _check_prob("alpha", alpha)
    _check_prob("power", power)
    if alternative not in ("two-sided", "larger"):
        raise ValidationFailed("alternative must be 'two-sided' or 'larger'", field="alternative", value=alternative)
    if ratio <= 0:
        raise ValidationFailed("ratio must be positive", field="ratio", value=ratio)
    target = baseline_rate + minimum_effect
    if minimum_effect == 0 or not 0 < target < 1:
        raise ValidationFailed(
            f"minimum_effect must be non-zero and keep the rate inside (0, 1): {baseline_rate} + {minimum_effect}",
            field="minimum_effect",
            value=minimum_effect,
        )
    h = abs(cohens_h(baseline_rate, target))
    if power <= alpha:
        raise ValidationFailed("power must exceed alpha", field="power", value=power)

    def gap(n: float) -> float:
        return power_two_proportions(effect_size=h, n_control=n, ratio=ratio, alpha=alpha, alternative=alternative) - power

    hi = 2.0
    while gap(hi) < 0:
        hi *= 2
    n1 = float(optimize.brentq(gap, 1e-6, hi, xtol=1e-10, rtol=1e-14))
    return SampleSizePlan(
        baseline_rate=baseline_rate,
        minimum_effect=minimum_effect,
        alpha=alpha,
        power=power,
        ratio=ratio,
        alternative=alternative,
        effect_size=h,
        n_control=math.ceil(n1 - 1e-9),
        n_variant=math.ceil(n1 * ratio - 1e-9),
    )


# ------------------------------------------------------------------------------------------- frequentist


@dataclass(frozen=True)
class ProportionTest:
    """A comparison of variant B with A: rates, difference B − A with its interval, statistic and p-value."""

    method: Literal["z", "fisher"]
    rate_a: float
    rate_b: float
    difference: float
    ci_low: float
    ci_high: float
    confidence: float
    statistic: float
    p_value: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "rate_a": self.rate_a,
            "rate_b": self.rate_b,
            "difference": self.difference,
            "ci_low": self.ci_low,
            "ci_high": self.ci_high,
            "confidence": self.confidence,
            "statistic": self.statistic,
            "p_value": self.p_value,
        }


def _rates(x_a: int, n_a: int, x_b: int, n_b: int) -> tuple[float, float]:
    _check_counts(x_a, n_a, "conversions_a")
    _check_counts(x_b, n_b, "conversions_b")
    if n_a == 0 or n_b == 0:
        raise ValidationFailed("each variant needs at least one unit", field="trials", value=min(n_a, n_b))
    return x_a / n_a, x_b / n_b


def two_proportion_ztest(
    *,
    conversions_a: int,
    n_a: int,
    conversions_b: int,
    n_b: int,
    alternative: Alternative = "two-sided",
    confidence: float = 0.95,
) -> ProportionTest:
    """Pooled two-proportion z-test of B against A, with the unpooled (Wald) interval of B − A."""
    pa, pb = _rates(conversions_a, n_a, conversions_b, n_b)
    _check_prob("confidence", confidence)
    pooled = (conversions_a + conversions_b) / (n_a + n_b)
    se0 = math.sqrt(pooled * (1 - pooled) * (1 / n_a + 1 / n_b))
    diff = pb - pa
    z = diff / se0 if se0 > 0 else 0.0
    p = float(2 * stats.norm.sf(abs(z))) if alternative == "two-sided" else float(stats.norm.sf(z))
    se1 = math.sqrt(pa * (1 - pa) / n_a + pb * (1 - pb) / n_b)
    q = float(stats.norm.isf((1 - confidence) / 2))
    return ProportionTest("z", pa, pb, diff, diff - q * se1, diff + q * se1, confidence, z, min(p, 1.0))


def newcombe_interval(
    *, conversions_a: int, n_a: int, conversions_b: int, n_b: int, confidence: float = 0.95
) -> tuple[float, float]:
    """Newcombe's hybrid score interval for B − A, built from the two Wilson intervals."""
    pa, pb = _rates(conversions_a, n_a, conversions_b, n_b)
    (la, lb), (ua, ub) = wilson_bounds([conversions_a, conversions_b], [n_a, n_b], confidence=confidence)
    d = pb - pa
    return d - math.sqrt((pb - lb) ** 2 + (ua - pa) ** 2), d + math.sqrt((ub - pb) ** 2 + (pa - la) ** 2)


def fisher_exact_test(
    *, conversions_a: int, n_a: int, conversions_b: int, n_b: int, confidence: float = 0.95
) -> ProportionTest:
    """Fisher's exact two-sided test of B against A; statistic is the odds ratio, interval Newcombe's."""
    pa, pb = _rates(conversions_a, n_a, conversions_b, n_b)
    table = [[conversions_b, n_b - conversions_b], [conversions_a, n_a - conversions_a]]
    res = stats.fisher_exact(table)
    low, high = newcombe_interval(
        conversions_a=conversions_a, n_a=n_a, conversions_b=conversions_b, n_b=n_b, confidence=confidence
    )
    return ProportionTest("fisher", pa, pb, pb - pa, low, high, confidence, float(res.statistic), float(res.pvalue))


def compare_proportions(
    *, conversions_a: int, n_a: int, conversions_b: int, n_b: int, confidence: float = 0.95
) -> ProportionTest:
    """The z-test when every expected 2×2 cell count is at least 5, else Fisher's exact test."""
    _rates(conversions_a, n_a, conversions_b, n_b)
    pooled = (conversions_a + conversions_b) / (n_a + n_b)
    expected = min(n_a, n_b) * min(pooled, 1 - pooled)
    if expected >= 5:
        return two_proportion_ztest(
            conversions_a=conversions_a, n_a=n_a, conversions_b=conversions_b, n_b=n_b, confidence=confidence
        )
    return fisher_exact_test(
        conversions_a=conversions_a, n_a=n_a, conversions_b=conversions_b, n_b=n_b, confidence=confidence
    )


@dataclass(frozen=True)
class ChiSquareTest:
    """Chi-square test of a 2×k table of conversions: does any variant's rate differ?"""

    statistic: float
    dof: int
    p_value: float


def chi_square_test(conversions: ArrayLike, trials: ArrayLike) -> ChiSquareTest:
    """Pearson chi-square test (no continuity correction) of conversions against non-conversions by variant."""
    x = np.asarray(conversions, dtype=np.float64)
    n = np.asarray(trials, dtype=np.float64)
    for i in range(x.size):
        _check_counts(float(x[i]), float(n[i]), f"variant {i}")
    if x.size < 2 or np.any(n == 0):
        raise ValidationFailed("the chi-square test needs at least two variants with units", field="trials")
    observed = np.stack([x, n - x])
    expected = observed.sum(axis=1, keepdims=True) * n / n.sum()
    if np.any(expected == 0):
        return ChiSquareTest(0.0, x.size - 1, 1.0)
    chi2 = float(((observed - expected) ** 2 / expected).sum())
    return ChiSquareTest(chi2, x.size - 1, float(stats.chi2.sf(chi2, x.size - 1)))


@dataclass(frozen=True)
class MeanTest:
    """Welch's t-test of the mean of B against A (e.g. revenue per lead)."""

    mean_a: float
    mean_b: float
    difference: float
    ci_low: float
    ci_high: float
    confidence: float
    statistic: float
    dof: float
    p_value: float


def welch_t_test_from_stats(
    *,
    mean_a: float,
    var_a: float,
    n_a: int,
    mean_b: float,
    var_b: float,
    n_b: int,
    confidence: float = 0.95,
) -> MeanTest:
    """Welch's t-test from means, sample variances (ddof 1) and sizes; B − A with its interval."""
    if n_a < 2 or n_b < 2:
        raise ValidationFailed("Welch's t-test needs at least 2 units per variant", field="n", value=min(n_a, n_b))
    va, vb = var_a / n_a, var_b / n_b
    se = math.sqrt(va + vb)
    diff = mean_b - mean_a
    if se == 0:
        return MeanTest(mean_a, mean_b, diff, diff, diff, confidence, 0.0, float(n_a + n_b - 2), 1.0 if diff == 0 else 0.0)
    dof = (va + vb) ** 2 / (va**2 / (n_a - 1) + vb**2 / (n_b - 1))
    t = diff / se
    q = float(stats.t.isf((1 - confidence) / 2, dof))
    return MeanTest(mean_a, mean_b, diff, diff - q * se, diff + q * se, confidence, t, dof, float(2 * stats.t.sf(abs(t), dof)))


def welch_t_test(values_a: ArrayLike, values_b: ArrayLike, *, confidence: float = 0.95) -> MeanTest:
    """Welch's t-test of B's mean against A's from raw values (e.g. revenue per lead, 0 for no sale)."""
    a = np.asarray(values_a, dtype=np.float64)
    b = np.asarray(values_b, dtype=np.float64)
    if a.size < 2 or b.size < 2:
        raise ValidationFailed("Welch's t-test needs at least 2 units per variant", field="n", value=min(a.size, b.size))
    return welch_t_test_from_stats(
        mean_a=float(a.mean()),
        var_a=float(a.var(ddof=1)),
        n_a=a.size,
        mean_b=float(b.mean()),
        var_b=float(b.var(ddof=1)),
        n_b=b.size,
        confidence=confidence,
    )


# ------------------------------------------------------------------------------------------------ Bayesian


def prob_beta_greater(alpha_a: float, beta_a: float, alpha_b: float, beta_b: float) -> float:
    """P(X_B > X_A) for independent X_A ~ Beta(α_A, β_A), X_B ~ Beta(α_B, β_B); α_B must be a whole number.

    Evan Miller's closed form: Σ_{i<α_B} B(α_A+i, β_A+β_B) / ((β_B+i) B(1+i, β_B) B(α_A, β_A)).
    """
    if alpha_b != int(alpha_b) or alpha_b < 1:
        raise ValidationFailed("alpha_b must be a whole number ≥ 1", field="alpha_b", value=alpha_b)
    i = np.arange(int(alpha_b), dtype=np.float64)
    terms = (
        special.betaln(alpha_a + i, beta_a + beta_b)
        - np.log(beta_b + i)
        - special.betaln(1 + i, beta_b)
        - special.betaln(alpha_a, beta_a)
    )
    return float(np.clip(np.exp(special.logsumexp(terms)), 0.0, 1.0))


def expected_loss_exact(alpha_a: float, beta_a: float, alpha_b: float, beta_b: float) -> tuple[float, float]:
    """Exact (E[max(p_B − p_A, 0)], E[max(p_A − p_B, 0)]): the expected loss of choosing A, and of choosing B."""
    mean_a = alpha_a / (alpha_a + beta_a)
    mean_b = alpha_b / (alpha_b + beta_b)
    # E[p_B·1(p_B > p_A)] = mean_b·P(X'_B > X_A) with X'_B ~ Beta(α_B + 1, β_B); likewise for A.
    e_b_above = mean_b * prob_beta_greater(alpha_a, beta_a, alpha_b + 1, beta_b)
    e_a_below = mean_a * prob_beta_greater(alpha_a + 1, beta_a, alpha_b, beta_b)
    loss_choose_a = max(e_b_above - e_a_below, 0.0)
    loss_choose_b = max(loss_choose_a - (mean_b - mean_a), 0.0)
    return loss_choose_a, loss_choose_b


@dataclass(frozen=True)
class BayesianResult:
    """Posterior probability that each variant is best, and the expected loss of choosing it."""

    names: tuple[str, ...]
    prob_best: tuple[float, ...]
    expected_loss: tuple[float, ...]
    method: Literal["exact", "monte_carlo"]
    draws: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "draws": self.draws,
            "variants": [
                {"name": n, "prob_best": p, "expected_loss": loss}
                for n, p, loss in zip(self.names, self.prob_best, self.expected_loss, strict=True)
            ],
        }


def bayesian_beta_binomial(
    *,
    conversions: Sequence[int],
    trials: Sequence[int],
    names: Sequence[str] | None = None,
    prior_alpha: float = 1.0,
    prior_beta: float = 1.0,
    draws: int = 200_000,
    seed: int = 0,
    method: Literal["auto", "exact", "monte_carlo"] = "auto",
) -> BayesianResult:
    """P(best) and expected loss per variant under independent Beta priors (exact for 2 variants if possible)."""
    if len(conversions) != len(trials) or len(trials) < 2:
        raise ValidationFailed("give conversions and trials for at least two variants", field="trials")
    for i, (x, n) in enumerate(zip(conversions, trials, strict=True)):
        _check_counts(x, n, f"variant {i}")
    labels = tuple(names) if names is not None else tuple(chr(ord("A") + i) for i in range(len(trials)))
    a = np.array([x + prior_alpha for x in conversions], dtype=np.float64)
    b = np.array([n - x + prior_beta for x, n in zip(conversions, trials, strict=True)], dtype=np.float64)
    exact_ok = len(trials) == 2 and float(a[1]) == int(a[1]) and float(a[0]) == int(a[0])
    if method == "exact" and not exact_ok:
        raise ValidationFailed("the exact method needs two variants and whole-number posteriors", field="method")
    if method == "exact" or (method == "auto" and exact_ok):
        p_b = prob_beta_greater(a[0], b[0], a[1], b[1])
        loss_a, loss_b = expected_loss_exact(a[0], b[0], a[1], b[1])
        return BayesianResult(labels, (1 - p_b, p_b), (loss_a, loss_b), "exact", 0)
    rng = np.random.default_rng(seed)
    samples = rng.beta(a, b, size=(draws, a.size))
    best = samples.argmax(axis=1)
    prob = np.bincount(best, minlength=a.size) / draws
    loss = (samples.max(axis=1, keepdims=True) - samples).mean(axis=0)
    return BayesianResult(labels, tuple(float(p) for p in prob), tuple(float(v) for v in loss), "monte_carlo", draws)


# ---------------------------------------------------------------------------------------------- sequential


@dataclass(frozen=True)
class SequentialTest:
    """mSPRT at each look: always-valid p-values, a confidence sequence and the first look that rejects."""

    tau: float
    alpha: float
    p_values: FloatArray
    ci_low: FloatArray
    ci_high: FloatArray
    rejected_at: int | None = field(default=None)

    def to_dict(self) -> dict[str, Any]:
        return {
            "tau": self.tau,
            "alpha": self.alpha,
            "p_values": self.p_values.tolist(),
            "ci_low": self.ci_low.tolist(),
            "ci_high": self.ci_high.tolist(),
            "rejected_at": self.rejected_at,
        }


def msprt_p_values(
    conversions_a: ArrayLike, trials_a: ArrayLike, conversions_b: ArrayLike, trials_b: ArrayLike, *, tau: float
) -> FloatArray:
    """Always-valid p-values of the normal-mixture SPRT; cumulative counts with looks along the last axis."""
    if not tau > 0:
        raise ValidationFailed("tau (the mixing standard deviation) must be positive", field="tau", value=tau)
    xa = np.asarray(conversions_a, dtype=np.float64)
    na = np.asarray(trials_a, dtype=np.float64)
    xb = np.asarray(conversions_b, dtype=np.float64)
    nb = np.asarray(trials_b, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        pa, pb = xa / na, xb / nb
        pooled = (xa + xb) / (na + nb)
        v = pooled * (1 - pooled) * (1 / na + 1 / nb)
        t2 = tau * tau
        log_lambda = 0.5 * np.log(v / (v + t2)) + (pb - pa) ** 2 * t2 / (2 * v * (v + t2))
    log_lambda = np.where((na > 0) & (nb > 0) & (v > 0), log_lambda, 0.0)
    p = np.minimum(1.0, np.exp(-log_lambda))
    return np.minimum.accumulate(p, axis=-1)


def msprt_two_proportions(
    *,
    conversions_a: ArrayLike,
    trials_a: ArrayLike,
    conversions_b: ArrayLike,
    trials_b: ArrayLike,
    tau: float,
    alpha: float = 0.05,
) -> SequentialTest:
    """mSPRT for p_B − p_A over a sequence of looks (cumulative counts per look, e.g. per day)."""
    _check_prob("alpha", alpha)
    xa = np.asarray(conversions_a, dtype=np.float64)
    na = np.asarray(trials_a, dtype=np.float64)
    xb = np.asarray(conversions_b, dtype=np.float64)
    nb = np.asarray(trials_b, dtype=np.float64)
    if not (xa.ndim == 1 and xa.shape == na.shape == xb.shape == nb.shape):
        raise ValidationFailed("give one cumulative count per look for each series", field="trials_a")
    if np.any(np.diff(na) < 0) or np.any(np.diff(nb) < 0):
        raise ValidationFailed("counts must be cumulative (never decreasing)", field="trials_a")
    p = msprt_p_values(xa, na, xb, nb, tau=tau)
    with np.errstate(divide="ignore", invalid="ignore"):
        pa, pb = xa / na, xb / nb
        v = pa * (1 - pa) / na + pb * (1 - pb) / nb
        t2 = tau * tau
        half = np.sqrt(v * (v + t2) / t2 * (2 * math.log(1 / alpha) + np.log((v + t2) / v)))
        diff = pb - pa
        low = np.where(v > 0, diff - half, -1.0)
        high = np.where(v > 0, diff + half, 1.0)
    low = np.maximum.accumulate(np.nan_to_num(low, nan=-1.0))
    high = np.minimum.accumulate(np.nan_to_num(high, nan=1.0))
    hits = np.flatnonzero(p <= alpha)
    return SequentialTest(tau, alpha, p, low, high, int(hits[0]) if hits.size else None)


# ------------------------------------------------------------------------------------------------ verdicts


@dataclass(frozen=True)
class VariantCounts:
    """One variant's totals: units, conversions and optionally revenue sum and sum of squares."""

    name: str
    n: int
    conversions: int
    revenue_sum: float | None = None
    revenue_sumsq: float | None = None

    @property
    def rate(self) -> float:
        return self.conversions / self.n if self.n else 0.0


@dataclass(frozen=True)
class Comparison:
    """One variant against the control."""

    variant: str
    control: str
    test: ProportionTest
    significant: bool
    revenue: MeanTest | None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"variant": self.variant, "control": self.control, "significant": self.significant}
        out.update(self.test.to_dict())
        if self.revenue is not None:
            r = self.revenue
            out["revenue_per_unit"] = {
                "mean_control": r.mean_a,
                "mean_variant": r.mean_b,
                "difference": r.difference,
                "ci_low": r.ci_low,
                "ci_high": r.ci_high,
                "p_value": r.p_value,
            }
        return out


@dataclass(frozen=True)
class ExperimentAnalysis:
    """Everything behind the verdict: tests against the control, omnibus test, Bayesian summary, the plan."""

    metric: str
    control: str
    alpha: float
    comparisons: tuple[Comparison, ...]
    omnibus: ChiSquareTest | None
    bayesian: BayesianResult
    plan: SampleSizePlan | None
    verdict: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "control": self.control,
            "alpha": self.alpha,
            "comparisons": [c.to_dict() for c in self.comparisons],
            "omnibus": None
            if self.omnibus is None
            else {"statistic": self.omnibus.statistic, "dof": self.omnibus.dof, "p_value": self.omnibus.p_value},
            "bayesian": self.bayesian.to_dict(),
            "plan": None if self.plan is None else self.plan.to_dict(),
            "verdict": self.verdict,
        }


def _revenue_test(control: VariantCounts, variant: VariantCounts, confidence: float) -> MeanTest | None:
    if None in (control.revenue_sum, control.revenue_sumsq, variant.revenue_sum, variant.revenue_sumsq):
        return None
    if control.n < 2 or variant.n < 2:
        return None

    def moments(v: VariantCounts) -> tuple[float, float]:
        mean = float(v.revenue_sum) / v.n  # type: ignore[arg-type]
        var = max((float(v.revenue_sumsq) - v.n * mean * mean) / (v.n - 1), 0.0)  # type: ignore[arg-type]
        return mean, var

    ma, va = moments(control)
    mb, vb = moments(variant)
    return welch_t_test_from_stats(
        mean_a=ma, var_a=va, n_a=control.n, mean_b=mb, var_b=vb, n_b=variant.n, confidence=confidence
    )


def analyse_experiment(
    *,
    variants: Sequence[VariantCounts],
    metric: str,
    minimum_effect: float,
    control: str | None = None,
    alpha: float = 0.05,
    power: float = 0.8,
    baseline_rate: float | None = None,
    metric_label: str | None = None,
    seed: int = 0,
) -> ExperimentAnalysis:
    """Compare each variant with the control and state a verdict with the numbers behind it.

    ``minimum_effect`` is the smallest absolute difference worth detecting (0.01 = 1 percentage point); the
    plan uses ``baseline_rate`` or, when not given, the control's observed rate. With more than two variants
    each comparison is made at α/(k−1) (Bonferroni).
    """
    if len(variants) < 2:
        raise ValidationFailed("an experiment needs at least two variants", field="variants", value=len(variants))
    names = [v.name for v in variants]
    if len(set(names)) != len(names):
        raise ValidationFailed("variant names must be unique", field="variants", value=",".join(names))
    for v in variants:
        _check_counts(v.conversions, v.n, f"variant {v.name}")
        if v.n == 0:
            raise ValidationFailed(f"variant {v.name!r} has no units", field="variants", value=v.name)
    _check_prob("alpha", alpha)
    if minimum_effect <= 0:
        raise ValidationFailed("minimum_effect must be positive", field="minimum_effect", value=minimum_effect)
    control_name = control if control is not None else names[0]
    if control_name not in names:
        raise ValidationFailed(f"unknown control variant {control_name!r}", field="control", value=control_name)
    ctrl = variants[names.index(control_name)]
    others = [v for v in variants if v.name != control_name]
    level = alpha / len(others)
    confidence = 1 - level
    label = metric_label or METRIC_LABELS.get(metric, metric.replace("_", " ") + " rate")

    comparisons = []
    for v in others:
        test = compare_proportions(
            conversions_a=ctrl.conversions, n_a=ctrl.n, conversions_b=v.conversions, n_b=v.n, confidence=confidence
        )
        comparisons.append(
            Comparison(v.name, control_name, test, test.p_value < level, _revenue_test(ctrl, v, confidence))
        )
    omnibus = (
        chi_square_test([v.conversions for v in variants], [v.n for v in variants]) if len(variants) > 2 else None
    )
    bayes = bayesian_beta_binomial(
        conversions=[v.conversions for v in variants], trials=[v.n for v in variants], names=names, seed=seed
    )
    base = baseline_rate if baseline_rate is not None else ctrl.rate
    plan = None
    if 0 < base < 1 and base + minimum_effect < 1:
        plan = plan_sample_size(baseline_rate=base, minimum_effect=minimum_effect, alpha=level, power=power)
    verdict = _verdict(ctrl, others, comparisons, omnibus, bayes, plan, label, level, minimum_effect, power)
    return ExperimentAnalysis(metric, control_name, alpha, tuple(comparisons), omnibus, bayes, plan, verdict)


def _verdict(
    ctrl: VariantCounts,
    others: list[VariantCounts],
    comparisons: list[Comparison],
    omnibus: ChiSquareTest | None,
    bayes: BayesianResult,
    plan: SampleSizePlan | None,
    label: str,
    level: float,
    minimum_effect: float,
    power: float,
) -> str:
    ci_pct = f"{100 * (1 - level):.4g}%"
    sentences = []
    for v, c in zip(others, comparisons, strict=True):
        t = c.test
        # Two decimals when the difference is under half a point: one would blur it (0.16 shown as 0.2).
        dec = 2 if abs(t.difference) < 0.005 else _decimals(t.rate_a, t.rate_b)
        ra, rb = _pct(t.rate_a, dec), _pct(t.rate_b, dec)
        pdec = dec
        ci = f"{ci_pct} CI {_points(t.ci_low, pdec)} to {_points(t.ci_high, pdec)}"
        diff = f"{_points(t.difference, pdec)} points ({ci})"
        prob = bayes.prob_best[bayes.names.index(v.name)]
        if c.significant:
            direction = "higher" if t.difference > 0 else "lower"
            sentences.append(
                f"Variant {v.name}'s {label}, {rb} vs {ra} for {ctrl.name}, is {direction}; the difference of {diff} "
                f"is statistically significant ({_p(t.p_value)}); the probability that {v.name} is the best variant "
                f"is {_prob(prob)}."
            )
            continue
        detail = (
            f"{v.name}'s {label} is {rb} vs {ra} for {ctrl.name} "
            f"(difference {_points(t.difference, pdec)} points, {ci}, {_p(t.p_value)})"
        )
        smallest = min(ctrl.n, v.n)
        mde = _effect(minimum_effect)
        if plan is not None and smallest < max(plan.n_control, plan.n_variant):
            need = max(plan.n_control, plan.n_variant)
            sentences.append(
                f"Not enough evidence yet: {detail}. There are {ctrl.n:,} units in {ctrl.name} and {v.n:,} in {v.name}; "
                f"detecting a {mde}-point difference with {power:.0%} power needs {need:,} per variant, "
                "so keep the test running."
            )
        else:
            if t.ci_low > -minimum_effect and t.ci_high < minimum_effect:
                tail = f"the interval rules out a difference of {mde} point{'' if mde == '1' else 's'} or more either way"
            else:
                tail = f"a difference of {mde} point{'' if mde == '1' else 's'} cannot be ruled out yet"
            sentences.append(f"No significant difference: {detail}; {tail}.")
    if omnibus is not None:
        sentences.insert(
            0,
            f"Across all {len(others) + 1} variants the {label}s "
            f"{'differ' if omnibus.p_value < level * len(others) else 'do not differ significantly'} "
            f"(chi-square {omnibus.statistic:.2f}, {omnibus.dof} degrees of freedom, {_p(omnibus.p_value)}); "
            f"each variant is compared with {ctrl.name} at {ci_pct} confidence.",
        )
    return " ".join(sentences)


# --------------------------------------------------------------------------------------------- CSV import

REQUIRED_COLUMNS = ("unit_id", "variant", "assigned_at", "converted")
TRUE_VALUES = {"1", "true", "yes", "y", "t"}
FALSE_VALUES = {"0", "false", "no", "n", "f"}


@dataclass(frozen=True)
class Assignments:
    """Parsed experiment rows: one unit per row, with its variant, assignment time, outcome and revenue."""

    unit_ids: tuple[str, ...]
    variants: tuple[str, ...]
    assigned_at: tuple[datetime, ...]
    converted: NDArray[np.bool_] = field(compare=False)
    revenue: FloatArray | None = field(compare=False, default=None)

    @property
    def variant_names(self) -> tuple[str, ...]:
        """Variant names in order of first appearance."""
        return tuple(dict.fromkeys(self.variants))

    def totals(self) -> list[VariantCounts]:
        """Units, conversions and revenue moments per variant (order of first appearance)."""
        names = self.variant_names
        codes = np.array([names.index(v) for v in self.variants]) if len(names) < 50 else _codes(self.variants, names)
        n = np.bincount(codes, minlength=len(names))
        conv = np.bincount(codes, weights=self.converted, minlength=len(names))
        out = []
        for i, name in enumerate(names):
            rev_sum = rev_sq = None
            if self.revenue is not None:
                rev_sum = float(self.revenue[codes == i].sum())
                rev_sq = float((self.revenue[codes == i] ** 2).sum())
            out.append(VariantCounts(name, int(n[i]), int(conv[i]), rev_sum, rev_sq))
        return out

    def daily_cumulative(self, variant_a: str, variant_b: str) -> tuple[list[date], NDArray[np.int64], NDArray[np.int64], NDArray[np.int64], NDArray[np.int64]]:
        """Days and cumulative (conversions_a, trials_a, conversions_b, trials_b) by assignment day, for the mSPRT."""
        for name in (variant_a, variant_b):
            if name not in self.variant_names:
                raise ValidationFailed(f"unknown variant {name!r}", field="variant", value=name)
        days = sorted({t.date() for t in self.assigned_at})
        index = {d: i for i, d in enumerate(days)}
        day_idx = np.array([index[t.date()] for t in self.assigned_at])
        variants = np.array(self.variants, dtype=object)
        out = []
        for name in (variant_a, variant_b):
            mask = variants == name
            out.append(np.cumsum(np.bincount(day_idx[mask], weights=self.converted[mask], minlength=len(days))).astype(np.int64))
            out.append(np.cumsum(np.bincount(day_idx[mask], minlength=len(days))).astype(np.int64))
        return days, out[0], out[1], out[2], out[3]


def _codes(values: Sequence[str], names: Sequence[str]) -> NDArray[np.intp]:
    lookup = {n: i for i, n in enumerate(names)}
    return np.fromiter((lookup[v] for v in values), dtype=np.intp, count=len(values))


def _fail(line: int, column: str, message: str, value: Any = None) -> ValidationFailed:
    return ValidationFailed(f"line {line}, column '{column}': {message}", field=column, value=value)


def parse_assignments_csv(
    source: str | TextIO, *, columns: dict[str, str] | None = None, delimiter: str = ","
) -> Assignments:
    """Parse ``unit_id,variant,assigned_at,converted[,revenue]`` rows; errors name the line and the column.

    ``columns`` maps our names to the file's (e.g. ``{"unit_id": "user_id", "variant": "group"}``); other
    columns are ignored. ``converted`` accepts 1/0, true/false, yes/no; ``assigned_at`` an ISO date or
    date-time; ``revenue`` (optional column) a non-negative number, blank meaning 0. Units must be unique and
    there must be at least two variants.
    """
    handle: Iterable[str] = io.StringIO(source) if isinstance(source, str) else source
    reader = csv.reader(handle, delimiter=delimiter)
    try:
        header = next(reader)
    except StopIteration:
        raise ValidationFailed("line 1: the file is empty; expected a header row", field="header") from None
    mapping = {k: k for k in (*REQUIRED_COLUMNS, "revenue")}
    mapping.update(columns or {})
    position = {h.strip().lower(): i for i, h in enumerate(header)}
    missing = [k for k in REQUIRED_COLUMNS if mapping[k].strip().lower() not in position]
    if missing:
        raise ValidationFailed(
            f"line 1: missing column(s) {', '.join(repr(mapping[k]) for k in missing)}",
            field="header",
            value=",".join(header),
        )
    col = {k: position[mapping[k].strip().lower()] for k in REQUIRED_COLUMNS}
    revenue_col = position.get(mapping["revenue"].strip().lower())
    width = len(header)
    units: list[str] = []
    variants: list[str] = []
    times: list[datetime] = []
    converted: list[bool] = []
    revenue: list[float] = []
    seen: dict[str, int] = {}
    for line_no, row in enumerate(reader, start=2):
        if not row or all(not c.strip() for c in row):
            continue
        if len(row) != width:
            raise ValidationFailed(
                f"line {line_no}: expected {width} fields, got {len(row)}", field="row", value=line_no
            )
        unit = row[col["unit_id"]].strip()
        if not unit:
            raise _fail(line_no, mapping["unit_id"], "the unit id is empty")
        if unit in seen:
            raise _fail(line_no, mapping["unit_id"], f"unit {unit!r} is already assigned on line {seen[unit]}", unit)
        seen[unit] = line_no
        variant = row[col["variant"]].strip()
        if not variant:
            raise _fail(line_no, mapping["variant"], "the variant is empty")
        raw_time = row[col["assigned_at"]].strip()
        try:
            when = datetime.fromisoformat(raw_time)
        except ValueError:
            raise _fail(
                line_no, mapping["assigned_at"], f"expected an ISO date or date-time, got {raw_time!r}", raw_time
            ) from None
        raw_conv = row[col["converted"]].strip().lower()
        if raw_conv in TRUE_VALUES:
            conv = True
        elif raw_conv in FALSE_VALUES:
            conv = False
        else:
            raise _fail(line_no, mapping["converted"], f"expected 1/0, true/false or yes/no, got {raw_conv!r}", raw_conv)
        if revenue_col is not None:
            raw_rev = row[revenue_col].strip()
            try:
                amount = float(raw_rev) if raw_rev else 0.0
            except ValueError:
                raise _fail(line_no, mapping["revenue"], f"expected a number, got {raw_rev!r}", raw_rev) from None
            if not math.isfinite(amount) or amount < 0:
                raise _fail(line_no, mapping["revenue"], f"expected a non-negative amount, got {raw_rev!r}", raw_rev)
            revenue.append(amount)
        units.append(unit)
        variants.append(variant)
        times.append(when)
        converted.append(conv)
    if len(set(variants)) < 2:
        raise ValidationFailed(
            f"the file has {len(set(variants))} variant(s); an experiment needs at least two",
            field=mapping["variant"],
            value=",".join(sorted(set(variants))),
        )
    return Assignments(
        unit_ids=tuple(units),
        variants=tuple(variants),
        assigned_at=tuple(times),
        converted=np.array(converted, dtype=bool),
        revenue=np.array(revenue, dtype=np.float64) if revenue_col is not None else None,
    )
