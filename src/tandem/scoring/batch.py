"""Pure helpers the wiring needs on top of the model: batch engagement, fit grades, feature importance.

No Django here: plain numpy on the pure layer's inputs and models.
"""

from __future__ import annotations

import gc
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from tandem.scoring.features import FeatureMatrix, ScoringInput, describe_group, describe_many
from tandem.scoring.metrics import roc_auc
from tandem.scoring.model import Explanation, Factor, LinearScorer, ScoringModel, TreeScorer
from tandem.scoring.rules import (
    SECONDS_PER_DAY,
    EngagementConfig,
    FitConfig,
    decay_weight,
    encode_values,
    fit_points_batch,
)


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
    linear = model.linear()
    if linear is not None:
        return _explain_linear(model, linear, rows, top=top)
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


@dataclass(frozen=True, eq=False)  # holds arrays
class TopFactors:
    """Each person's top raising then top lowering groups: group index, contribution, words, kept or not."""

    group: np.ndarray  # people × 2·top
    contribution: np.ndarray
    kept: np.ndarray
    text: np.ndarray  # object: the words, None where not kept


def _top_factors_linear(
    model: ScoringModel, linear: LinearScorer | TreeScorer, rows: np.ndarray, *, top: int
) -> TopFactors:
    """Contributions for many rows, A_g(x) − mean_k A_g(b_k), from the model's numpy form.

    For the logistic model A_g is the group's exact share of the log-odds (one matrix product), for
    boosting its share along the trees' paths (``TreeScorer``).

    Only the chosen factors are put into words, one group at a time: the words cost more than the numbers.
    """
    return _top_factors_from_terms(model, linear.group_terms(rows) - linear.baseline[None, :], rows, top=top)


def _top_factors_from_terms(model: ScoringModel, contributions: np.ndarray, rows: np.ndarray, *, top: int) -> TopFactors:
    contributions[np.abs(contributions) <= 1e-9] = 0.0
    # Stable sorts keep the group order among ties, as ``model.explain`` does.
    order = np.concatenate(
        [
            np.argsort(-contributions, axis=1, kind="stable")[:, :top],
            np.argsort(contributions, axis=1, kind="stable")[:, :top],
        ],
        axis=1,
    )
    chosen = np.take_along_axis(contributions, order, axis=1)
    width = order.shape[1] // 2
    kept = np.concatenate([chosen[:, :width] > 0, chosen[:, width:] < 0], axis=1)
    text = np.full(order.shape, None, dtype=object)
    for g in np.unique(order[kept]).tolist():
        at = kept & (order == g)
        people = np.flatnonzero(at.any(axis=1))
        group = model.groups[g]
        # One person holds a group at most once per side; both sides never hold the same group.
        text[at] = describe_many(group, rows[np.ix_(people, list(group.columns))])
    return TopFactors(group=order, contribution=chosen, kept=kept, text=text)


def _explain_linear(
    model: ScoringModel, linear: LinearScorer | TreeScorer, rows: np.ndarray, *, top: int
) -> list[Explanation]:
    if not len(rows):
        return []
    found = _top_factors_linear(model, linear, rows, top=top)
    width = found.group.shape[1] // 2
    out: list[Explanation] = []
    for kept, group, value, text in zip(
        found.kept.tolist(), found.group.tolist(), found.contribution.tolist(), found.text.tolist(), strict=True
    ):
        factors = [Factor(text[i], value[i], model.groups[group[i]].key) if kept[i] else None for i in range(len(kept))]
        out.append(
            Explanation(
                raising=tuple(f for f in factors[:width] if f is not None),
                lowering=tuple(f for f in factors[width:] if f is not None),
            )
        )
    return out


def factors_many(
    model: ScoringModel, values: np.ndarray, *, top: int = 3, digits: int = 4, terms: np.ndarray | None = None
) -> list[dict[str, Any]]:
    """Each person's stored factors, {"raising": [{"text", "contribution"}...], "lowering": [...]}, in bulk.

    ``terms``: the model's group terms of ``values`` when already computed (``probability_and_terms``).
    """
    rows = np.asarray(values, dtype=np.float64)
    linear = model.linear()
    if linear is None or not len(rows):
        return [
            {
                "raising": [{"text": f.description, "contribution": round(f.contribution, digits)} for f in e.raising],
                "lowering": [{"text": f.description, "contribution": round(f.contribution, digits)} for f in e.lowering],
            }
            for e in explain_many(model, rows, top=top)
        ]
    if terms is None:
        found = _top_factors_linear(model, linear, rows, top=top)
    else:
        found = _top_factors_from_terms(model, terms - linear.baseline[None, :], rows, top=top)
    width = found.group.shape[1] // 2
    out: list[dict[str, Any]] = []
    raising_at, lowering_at = range(width), range(width, 2 * width)
    for kept, value, text in zip(
        found.kept.tolist(), np.round(found.contribution, digits).tolist(), found.text.tolist(), strict=True
    ):
        out.append(
            {
                "raising": [{"text": text[i], "contribution": value[i]} for i in raising_at if kept[i]],
                "lowering": [{"text": text[i], "contribution": value[i]} for i in lowering_at if kept[i]],
            }
        )
    return out


@dataclass(frozen=True)
class ScoreColumns:
    """Everything stored for each person, as plain lists (one entry per person): the batch's output."""

    probability: list[float | None]
    tier: list[str]
    expected_value: list[float | None]
    fit_grade: list[str]
    fit_points: list[float]
    engagement: list[float]
    factors: list[dict[str, Any]]


def score_columns(
    inputs: ScoringInput,
    segments: Sequence[str | None],
    model: ScoringModel | None,
    fit: FitConfig,
    engagement: EngagementConfig,
    *,
    top: int = 3,
) -> ScoreColumns:
    """Fit grade, engagement and (with a model) probability, tier, expected value and top factors for many people."""
    # The batch builds a few small acyclic containers per person; the cyclic garbage collector would
    # walk all of them again and again (it doubled the batch's time), and there is no cycle to find.
    collecting = gc.isenabled()
    gc.disable()
    try:
        return _score_columns(inputs, segments, model, fit, engagement, top=top)
    finally:
        if collecting:
            gc.enable()


def _score_columns(
    inputs: ScoringInput,
    segments: Sequence[str | None],
    model: ScoringModel | None,
    fit: FitConfig,
    engagement: EngagementConfig,
    *,
    top: int,
) -> ScoreColumns:
    size = inputs.size
    points: np.ndarray | None = None
    engaged: np.ndarray | None = None
    probability: list[float | None] = [None] * size
    tier: list[str] = [""] * size
    value: list[float | None] = [None] * size
    factors: list[dict[str, Any]] = [{} for _ in range(size)]
    if model is not None and size:
        matrix = model.features(inputs)
        scorer = model.linear()
        terms = None
        if scorer is not None and matrix.names == model.feature_names:
            # One pass gives both the probability and every factor's share of it.
            p, terms = scorer.probability_and_terms(matrix.values)
        else:
            p = model.predict_proba(matrix)
        probability = p.tolist()
        tier = model.tiers.assign(p).astype(str).tolist()
        amounts = model.expected_value(p, segments)
        # NaN (no amounts known) is stored as empty.
        value = amounts.tolist() if np.isfinite(amounts).all() else [v if math.isfinite(v) else None for v in amounts.tolist()]
        factors = factors_many(model, matrix.values, top=top, terms=terms)
        # The model's features hold fit points and engagement too: reuse them when its rules are the ones in force.
        spec = model.builder.spec if model.builder is not None else None
        if spec is not None and spec.fit == fit and "fit_points" in matrix.names:
            points = matrix.values[:, matrix.names.index("fit_points")]
        if spec is not None and spec.engagement == engagement and "engagement" in matrix.names:
            engaged = matrix.values[:, matrix.names.index("engagement")]
    if points is None:
        points = fit_points_batch(dict(inputs.profile), size, fit)
    if engaged is None:
        engaged = engagement_batch(inputs, engagement)
    return ScoreColumns(
        probability=probability,
        tier=tier,
        expected_value=value,
        fit_grade=grade_of(points, fit).astype(str).tolist(),
        fit_points=np.asarray(points, dtype=np.float64).tolist(),
        engagement=engaged.tolist(),
        factors=factors,
    )


def days(seconds: float) -> float:
    return seconds / SECONDS_PER_DAY
