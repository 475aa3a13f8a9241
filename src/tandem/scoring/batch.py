"""Pure helpers the wiring needs on top of the model: batch engagement, fit grades, feature importance.

No Django here: plain numpy on the pure layer's inputs and models.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tandem.scoring.features import FeatureMatrix, ScoringInput, describe_group
from tandem.scoring.metrics import roc_auc
from tandem.scoring.model import Explanation, Factor, ScoringModel
from tandem.scoring.rules import SECONDS_PER_DAY, EngagementConfig, FitConfig, decay_weight, encode_values


def engagement_batch(inputs: ScoringInput, config: EngagementConfig) -> np.ndarray:
    """Each person's decayed engagement at their cut-off; events after the cut-off count for nothing."""
    events = inputs.events
    if not len(events):
        return np.zeros(inputs.size)
    age = inputs.cutoffs[events.person] - events.time
    visible = age >= 0
    points = encode_values(events.kind[visible], config.points_for, dtype=np.float64)
    weights = points * decay_weight(age[visible], config.half_life_days)
    return np.bincount(events.person[visible], weights=weights, minlength=inputs.size)


def grade_of(points: np.ndarray, config: FitConfig) -> np.ndarray:
    """A/B/C/D from fit points and the config's three minimums."""
    a, b, c = config.grade_minimums
    p = np.asarray(points, dtype=np.float64)
    return np.where(p >= a, "A", np.where(p >= b, "B", np.where(p >= c, "C", "D")))


@dataclass(frozen=True)
class Importance:
    key: str
    label: str
    auc_drop: float


def permutation_importance(
    model: ScoringModel, matrix: FeatureMatrix, y: np.ndarray, *, seed: int = 0
) -> list[Importance]:
    """How much the AUC drops when one group of features is shuffled across people (bigger: more used)."""
    rng = np.random.default_rng(seed)
    values = matrix.values
    base = roc_auc(y, model.predict_proba(values))
    order = rng.permutation(len(values))
    out = []
    for group in matrix.groups:
        shuffled = values.copy()
        cols = list(group.columns)
        shuffled[:, cols] = values[order][:, cols]
        out.append(Importance(group.key, group.label, float(base - roc_auc(y, model.predict_proba(shuffled)))))
    return sorted(out, key=lambda i: -i.auc_drop)


def _factors(model: ScoringModel, row: np.ndarray, contributions: np.ndarray, top: int) -> Explanation:
    factors = [
        Factor(describe_group(g, row), float(c), g.key)
        for g, c in zip(model.groups, contributions.tolist(), strict=True)
        if abs(c) > 1e-9
    ]
    raising = sorted((f for f in factors if f.contribution > 0), key=lambda f: -f.contribution)[:top]
    lowering = sorted((f for f in factors if f.contribution < 0), key=lambda f: f.contribution)[:top]
    return Explanation(raising=tuple(raising), lowering=tuple(lowering))


def explain_many(model: ScoringModel, values: np.ndarray, *, top: int = 3, chunk: int = 256) -> list[Explanation]:
    """``model.explain`` for many rows; for the logistic model with G + 1 predictions per row instead of G·K + 1.

    The logistic model's log-odds are a sum over groups, A_g(x), since its design transforms each column
    on its own. A group's contribution, A_g(x) − mean_k A_g(b_k) over the background rows b_k, then splits
    into [f(x) − f(x with g from r)] + mean_k [f(r) − f(r with g from b_k)] for a fixed reference row r:
    the second term is one constant per group. Boosting is not additive: it keeps ``model.explain``.
    """
    rows = np.asarray(values, dtype=np.float64)
    if model.kind != "logistic":
        return [model.explain(row, top=top) for row in rows]
    groups = model.groups
    background = model.background
    reference = background[0]
    sample = len(background)
    ref_variants = np.repeat(reference[None, :], len(groups) * sample + 1, axis=0)
    for i, group in enumerate(groups):
        cols = list(group.columns)
        ref_variants[1 + i * sample : 1 + (i + 1) * sample, cols] = background[:, cols]
    ref_odds = model._log_odds(ref_variants)
    constant = ref_odds[0] - ref_odds[1:].reshape(len(groups), sample).mean(axis=1)
    out: list[Explanation] = []
    width = len(groups) + 1
    for start in range(0, len(rows), chunk):
        block = rows[start : start + chunk]
        count = len(block)
        variants = np.repeat(block[:, None, :], width, axis=1)
        for i, group in enumerate(groups):
            cols = list(group.columns)
            variants[:, 1 + i, cols] = reference[cols]
        odds = model._log_odds(variants.reshape(count * width, -1)).reshape(count, width)
        contributions = odds[:, :1] - odds[:, 1:] + constant[None, :]
        out.extend(_factors(model, block[person], contributions[person], top) for person in range(count))
    return out


def days(seconds: float) -> float:
    return seconds / SECONDS_PER_DAY
