"""Conversion by segment, honestly ranked (pure numpy/scipy, no Django).

For each segment (a value of one profile field, or a pair of values for a two-field cross tab) we report the
number of leads ``n``, the conversions, the raw rate with its Wilson interval, a *shrunk* rate, and whether the
segment converts significantly worse or better than the rest.

Decisions (also explained in docs/statistics.md):

- **Shrinkage: empirical-Bayes beta-binomial fitted by marginal maximum likelihood.** Segment rates are
  modelled as draws from a Beta(α, β) distribution; α and β maximise the beta-binomial likelihood of all
  segments' counts, Σ log B(x_i + α, n_i − x_i + β) − log B(α, β) (optimised over logit of the mean
  α/(α+β) and log of the "prior sample size" α+β, starting from the method-of-moments estimate). Marginal
  ML was picked over the method of moments because segments of very different sizes make moment estimates
  unstable (they can even come out negative). The shrunk rate is the posterior mean (x + α)/(n + α + β): a
  segment with 3 of 5 converting is pulled strongly toward the overall rate, one with 3,000 of 5,000 hardly
  moves, so small segments do not top the list by luck. When the segments vary no more than chance would
  make them, α+β grows to its cap (10⁸) and every shrunk rate is close to the overall rate. With fewer than
  two non-empty segments, or no conversions at all, there is nothing to fit and the shrunk rate is the raw one.
- **"This segment vs the rest" test, two-sided**: the pooled two-proportion z-test (equivalently the 2×2
  chi-square test without continuity correction) when every expected cell count of the 2×2 table is at least
  5 (Cochran's rule), otherwise Fisher's exact test.
- **Multiple comparisons**: Benjamini–Hochberg q-values over all non-empty segments; a segment is flagged
  ``under``/``over`` when its q-value is below ``fdr`` (0.05 by default), so on average at most 5 % of flagged
  segments are false alarms.
- Rows are sorted by shrunk rate, highest first. Spend is passed through as given (None when unknown).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from tandem.core.errors import ValidationFailed
from tandem.core.lazy import deferred
from tandem.stats.intervals import benjamini_hochberg, wilson_bounds

if TYPE_CHECKING:
    from scipy import optimize, special, stats
else:
    # scipy takes 0.5 s to import: only when a test is computed, not at every process start
    optimize = deferred("scipy.optimize")
    special = deferred("scipy.special")
    stats = deferred("scipy.stats")

FloatArray = NDArray[np.float64]
KAPPA_MAX = 1e8
KAPPA_MIN = 1e-3


@dataclass(frozen=True)
class BetaPrior:
    """The fitted Beta(α, β) distribution of segment rates; ``mean`` = α/(α+β)."""

    alpha: float
    beta: float

    @property
    def mean(self) -> float:
        return self.alpha / (self.alpha + self.beta)


@dataclass(frozen=True)
class SegmentRow:
    """One segment's counts, raw and shrunk rates, interval, test against the rest and flag."""

    segment: dict[str, str]
    n: int
    conversions: int
    rate: float | None
    low: float
    high: float
    shrunk_rate: float | None
    p_value: float | None
    q_value: float | None
    test: Literal["z", "fisher", "none"]
    flag: Literal["under", "over"] | None
    spend: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "segment": dict(self.segment),
            "n": self.n,
            "conversions": self.conversions,
            "rate": self.rate,
            "low": self.low,
            "high": self.high,
            "shrunk_rate": self.shrunk_rate,
            "q_value": self.q_value,
            "flag": self.flag,
            "spend": self.spend,
        }


@dataclass(frozen=True)
class SegmentReport:
    """The answer of ``tandem report segments``."""

    by: tuple[str, ...]
    metric: str
    overall_rate: float | None
    rows: tuple[SegmentRow, ...]
    prior: BetaPrior | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "by": list(self.by),
            "metric": self.metric,
            "overall_rate": self.overall_rate,
            "rows": [r.to_dict() for r in self.rows],
        }


def _counts(conversions: ArrayLike, trials: ArrayLike) -> tuple[FloatArray, FloatArray]:
    x = np.asarray(conversions, dtype=np.float64).ravel()
    n = np.asarray(trials, dtype=np.float64).ravel()
    if x.shape != n.shape:
        raise ValidationFailed("conversions and trials must have the same length", field="conversions")
    bad = np.flatnonzero((n < 0) | (x < 0) | (x > n) | (x != np.round(x)) | (n != np.round(n)))
    if bad.size:
        i = int(bad[0])
        raise ValidationFailed(
            f"segment {i}: conversions ({x[i]:g}) must be a whole number between 0 and n ({n[i]:g})",
            field="conversions",
            value=x[i],
        )
    return x, n


def beta_binomial_loglik(alpha: float, beta: float, conversions: ArrayLike, trials: ArrayLike) -> float:
    """Beta-binomial log-likelihood of the counts, without the binomial coefficients (constant in α, β)."""
    x, n = _counts(conversions, trials)
    return float(np.sum(special.betaln(x + alpha, n - x + beta) - special.betaln(alpha, beta)))


def fit_beta_binomial(conversions: ArrayLike, trials: ArrayLike) -> BetaPrior | None:
    """Marginal maximum-likelihood Beta(α, β) over segments; None when there is nothing to fit."""
    x, n = _counts(conversions, trials)
    keep = n > 0
    x, n = x[keep], n[keep]
    if x.size < 2 or x.sum() == 0 or x.sum() == n.sum():
        return None
    mean = x.sum() / n.sum()
    rates = x / n
    # Method-of-moments start: between-segment variance in excess of the binomial part.
    var = float(np.average((rates - mean) ** 2, weights=n))
    binom = mean * (1 - mean) * float(np.mean(1 / n))
    excess = var - binom
    kappa0 = mean * (1 - mean) / excess - 1 if excess > 0 else 1e4
    kappa0 = float(np.clip(kappa0, 1.0, 1e6))

    def negll(theta: FloatArray) -> float:
        mu = special.expit(theta[0])
        kappa = np.exp(theta[1])
        a, b = mu * kappa, (1 - mu) * kappa
        return -float(np.sum(special.betaln(x + a, n - x + b) - special.betaln(a, b)))

    start = np.array([special.logit(mean), np.log(kappa0)])
    res = optimize.minimize(
        negll,
        start,
        method="L-BFGS-B",
        bounds=[(-30.0, 30.0), (np.log(KAPPA_MIN), np.log(KAPPA_MAX))],
        options={"ftol": 1e-13, "gtol": 1e-9, "maxiter": 1000},
    )
    mu = float(special.expit(res.x[0]))
    kappa = float(np.exp(res.x[1]))
    # Without extra-binomial variation the likelihood keeps rising, ever more slowly, toward κ = ∞ and the
    # optimiser stops early on the flat ridge; the cap is then the better answer.
    capped = np.array([res.x[0], np.log(KAPPA_MAX)])
    if negll(capped) <= float(res.fun) + 1e-9:
        # At (near) infinite κ the model is one binomial, whose maximum-likelihood mean is the pooled rate.
        mu, kappa = float(mean), KAPPA_MAX
    return BetaPrior(alpha=mu * kappa, beta=(1 - mu) * kappa)


def vs_rest_tests(conversions: ArrayLike, trials: ArrayLike) -> tuple[FloatArray, list[Literal["z", "fisher", "none"]]]:
    """Two-sided p-value of each segment against all other segments pooled, and the test used."""
    x, n = _counts(conversions, trials)
    total_x, total_n = x.sum(), n.sum()
    rx, rn = total_x - x, total_n - n
    p_values = np.ones(x.size)
    methods: list[Literal["z", "fisher", "none"]] = ["none"] * x.size
    with np.errstate(divide="ignore", invalid="ignore"):
        pooled = total_x / total_n if total_n > 0 else 0.0
        expected = np.stack(
            [n * pooled, n * (1 - pooled), rn * pooled, rn * (1 - pooled)],
        )
        se = np.sqrt(pooled * (1 - pooled) * (1 / n + 1 / rn))
        z = (x / n - rx / rn) / se
        p_z = 2 * stats.norm.sf(np.abs(z))
    for i in range(x.size):
        if n[i] == 0 or rn[i] == 0 or total_x == 0 or total_x == total_n:
            continue
        if expected[:, i].min() >= 5:
            p_values[i], methods[i] = float(p_z[i]), "z"
        else:
            table = [[int(x[i]), int(n[i] - x[i])], [int(rx[i]), int(rn[i] - rx[i])]]
            p_values[i], methods[i] = float(stats.fisher_exact(table).pvalue), "fisher"
    return p_values, methods


def segment_report(
    *,
    by: Sequence[str],
    metric: str,
    segments: Sequence[Mapping[str, str]],
    trials: ArrayLike,
    conversions: ArrayLike,
    spend: Sequence[float | None] | None = None,
    fdr: float = 0.05,
    confidence: float = 0.95,
) -> SegmentReport:
    """Rank segments by shrunk rate, with Wilson intervals, vs-rest tests, BH q-values and flags."""
    by_t = tuple(by)
    if not 1 <= len(by_t) <= 2 or len(set(by_t)) != len(by_t):
        raise ValidationFailed("by must name one field or two different fields", field="by", value=",".join(by_t))
    if not 0 < fdr < 1:
        raise ValidationFailed("fdr must be between 0 and 1", field="fdr", value=fdr)
    x, n = _counts(conversions, trials)
    if len(segments) != x.size:
        raise ValidationFailed("segments, trials and conversions must have the same length", field="segments")
    if spend is not None and len(spend) != x.size:
        raise ValidationFailed("spend must have one value per segment", field="spend")
    for seg in segments:
        if set(seg) != set(by_t):
            raise ValidationFailed(
                f"segment {dict(seg)} must have exactly the fields {', '.join(by_t)}", field="segments", value=dict(seg)
            )
    low, high = wilson_bounds(x, n, confidence=confidence)
    prior = fit_beta_binomial(x, n)
    p_values, methods = vs_rest_tests(x, n)
    tested = n > 0
    q = np.full(x.size, np.nan)
    q[tested] = benjamini_hochberg(p_values[tested])
    total_x, total_n = float(x.sum()), float(n.sum())
    rows = []
    for i in range(x.size):
        rate = float(x[i] / n[i]) if n[i] > 0 else None
        if rate is None:
            shrunk = prior.mean if prior else None
        elif prior is None:
            shrunk = rate
        else:
            shrunk = float((x[i] + prior.alpha) / (n[i] + prior.alpha + prior.beta))
        flag: Literal["under", "over"] | None = None
        if tested[i] and methods[i] != "none" and q[i] < fdr:
            rest_rate = (total_x - x[i]) / (total_n - n[i])
            flag = "under" if x[i] / n[i] < rest_rate else "over"
        rows.append(
            SegmentRow(
                segment={k: str(seg_v) for k, seg_v in segments[i].items()},
                n=int(n[i]),
                conversions=int(x[i]),
                rate=rate,
                low=float(low[i]),
                high=float(high[i]),
                shrunk_rate=shrunk,
                p_value=float(p_values[i]) if tested[i] else None,
                q_value=float(q[i]) if tested[i] else None,
                test=methods[i],
                flag=flag,
                spend=None if spend is None or spend[i] is None else float(spend[i]),  # type: ignore[arg-type]
            )
        )
    rows.sort(key=lambda r: (-(r.shrunk_rate if r.shrunk_rate is not None else -1.0), -r.n))
    return SegmentReport(
        by=by_t,
        metric=metric,
        overall_rate=total_x / total_n if total_n > 0 else None,
        rows=tuple(rows),
        prior=prior,
    )


def aggregate_segments(
    *, by: Sequence[str], columns: Mapping[str, Sequence[Any]], converted: ArrayLike
) -> tuple[list[dict[str, str]], NDArray[np.int64], NDArray[np.int64]]:
    """Count leads and conversions per segment from per-lead columns (vectorised; missing values → "(none)")."""
    conv = np.asarray(converted).astype(bool).ravel()
    if not by:
        raise ValidationFailed("by must name at least one field", field="by")
    codes = []
    labels = []
    for name in by:
        if name not in columns:
            raise ValidationFailed(f"unknown field {name!r}", field="by", value=name)
        values = columns[name]
        if len(values) != conv.size:
            raise ValidationFailed(f"column {name!r} must have one value per lead", field=name)
        # A dict factorisation is ~20x faster than np.unique on an object array of a million strings.
        lookup: dict[Any, int] = {}
        inverse = np.fromiter((lookup.setdefault(v, len(lookup)) for v in values), dtype=np.intp, count=conv.size)
        raw = list(lookup)
        names = ["(none)" if v is None or v == "" else str(v) for v in raw]
        # Several raw values may print the same (None and ""): merge them under one label, sorted.
        uniq, remap = np.unique(np.array(names, dtype=object), return_inverse=True)
        labels.append(uniq)
        codes.append(remap.ravel()[inverse] if inverse.size else inverse)
    if conv.size == 0:
        return [], np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    dims = tuple(u.size for u in labels)
    flat = np.ravel_multi_index(tuple(codes), dims)
    present, inverse = np.unique(flat, return_inverse=True)
    trials = np.bincount(inverse, minlength=present.size).astype(np.int64)
    conversions = np.bincount(inverse, weights=conv, minlength=present.size).astype(np.int64)
    segments = []
    for cell in present:
        idx = np.unravel_index(int(cell), dims)
        segments.append({name: str(labels[k][idx[k]]) for k, name in enumerate(by)})
    return segments, trials, conversions
