"""Confidence intervals for proportions and false-discovery-rate control (pure numpy/scipy, no Django).

Decisions:
- The Wilson score interval is the default interval for a conversion rate: unlike the textbook Wald
  interval p ± z·√(p(1−p)/n) it stays inside [0, 1] and keeps close to its nominal coverage for small n and
  for rates near 0 or 1 (a segment with 0 of 12 conversions gets 0 % to 24 %, not 0 % to 0 %).
- Clopper–Pearson ("exact") is offered where a guaranteed, conservative coverage matters more than width.
- With n = 0 there is no information: both intervals are then the whole range [0, 1].
- Benjamini–Hochberg q-values ("adjusted p-values") control the expected share of false discoveries among
  the flagged results; flag a result when its q-value is below the accepted false discovery rate.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import ArrayLike, NDArray

from tandem.core.errors import ValidationFailed
from tandem.core.lazy import deferred

if TYPE_CHECKING:
    from scipy import stats
else:
    stats = deferred("scipy.stats")  # 0.5 s to import: only when an interval is computed

FloatArray = NDArray[np.float64]


def _z(confidence: float) -> float:
    if not 0.0 < confidence < 1.0:
        raise ValidationFailed(
            f"confidence must be between 0 and 1 (exclusive), got {confidence}", field="confidence", value=confidence
        )
    return float(stats.norm.ppf(0.5 + confidence / 2.0))


def _counts(successes: ArrayLike, trials: ArrayLike) -> tuple[FloatArray, FloatArray]:
    x = np.asarray(successes, dtype=np.float64)
    n = np.asarray(trials, dtype=np.float64)
    if np.any(n < 0) or np.any(x < 0):
        raise ValidationFailed("counts must not be negative", field="trials", value=n.min() if n.size else None)
    if np.any(x > n):
        raise ValidationFailed("successes cannot exceed trials", field="successes", value=x.max())
    return np.broadcast_arrays(x, n)  # type: ignore[return-value]


def wilson_bounds(
    successes: ArrayLike, trials: ArrayLike, *, confidence: float = 0.95
) -> tuple[FloatArray, FloatArray]:
    """Vectorised Wilson score interval: arrays of lower and upper bounds ([0, 1] where trials == 0)."""
    z = _z(confidence)
    x, n = _counts(successes, trials)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = np.where(n > 0, x / n, 0.0)
        denom = 1.0 + z * z / n
        centre = (p + z * z / (2.0 * n)) / denom
        half = z * np.sqrt(p * (1.0 - p) / n + z * z / (4.0 * n * n)) / denom
        low = np.where(n > 0, np.clip(centre - half, 0.0, 1.0), 0.0)
        high = np.where(n > 0, np.clip(centre + half, 0.0, 1.0), 1.0)
    # At x = 0 (x = n) the exact lower (upper) bound is 0 (1); rounding must not leave 1e-17 there.
    low = np.where(x == 0, 0.0, low)
    high = np.where((x == n) & (n > 0), 1.0, high)
    return low, high


def wilson_interval(successes: int, trials: int, *, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval of one proportion as (low, high); (0, 1) when trials == 0."""
    low, high = wilson_bounds(successes, trials, confidence=confidence)
    return float(low), float(high)


def clopper_pearson_bounds(
    successes: ArrayLike, trials: ArrayLike, *, confidence: float = 0.95
) -> tuple[FloatArray, FloatArray]:
    """Vectorised Clopper–Pearson (exact, conservative) interval from beta quantiles."""
    _z(confidence)
    x, n = _counts(successes, trials)
    a = (1.0 - confidence) / 2.0
    with np.errstate(divide="ignore", invalid="ignore"):
        low = np.where(x > 0, stats.beta.ppf(a, x, n - x + 1.0), 0.0)
        high = np.where(x < n, stats.beta.ppf(1.0 - a, x + 1.0, n - x), 1.0)
    return np.nan_to_num(low, nan=0.0), np.nan_to_num(high, nan=1.0)


def clopper_pearson_interval(successes: int, trials: int, *, confidence: float = 0.95) -> tuple[float, float]:
    """Clopper–Pearson interval of one proportion as (low, high)."""
    low, high = clopper_pearson_bounds(successes, trials, confidence=confidence)
    return float(low), float(high)


def benjamini_hochberg(p_values: ArrayLike | Sequence[float]) -> FloatArray:
    """Benjamini–Hochberg q-values (step-up adjusted p-values, monotone, at most 1), in input order."""
    p = np.asarray(p_values, dtype=np.float64).ravel()
    if p.size == 0:
        return p.copy()
    if np.any(np.isnan(p)) or np.any((p < 0) | (p > 1)):
        raise ValidationFailed("p-values must lie in [0, 1]", field="p_values", value=p[(p < 0) | (p > 1)][:1])
    m = p.size
    order = np.argsort(p, kind="mergesort")
    ranked = p[order] * m / np.arange(1, m + 1)
    q_sorted = np.minimum.accumulate(ranked[::-1])[::-1]
    q = np.empty(m)
    q[order] = np.minimum(q_sorted, 1.0)
    return q
