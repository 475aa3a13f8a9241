"""The two baselines a scoring model must be compared with, without the ORM.

(b) ``NaiveBayesFrequency``: Odoo CRM's predictive lead scoring. Per field and value, count won and lost
closed leads, each count plus 0.1 (Odoo adds 0.1 "to avoid zero frequency issues; should be +1 but it
weights too much on small recordsets"). With W and L the numbers of won and lost leads (each + 0.1):

    S(won)  = W / (W + L) × Π over given fields f of  won(f, value) / Σ_v won(f, v)
    S(lost) = L / (W + L) × Π over given fields f of lost(f, value) / Σ_v lost(f, v)
    P(won)  = S(won) / (S(won) + S(lost)), kept within [0.01 %, 99.99 %]

A field left empty, or holding a value never seen on a closed lead, is skipped (as in Odoo, whose
frequency table only holds set values). Odoo's fields are all categorical; numeric features are cut into
training deciles so the baseline sees the same fields as the model.

(a) ``RuleScoreCalibrator``: the fit + engagement rule score turned into a probability by isotonic
regression or Platt scaling fitted on the training split only.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

import numpy as np

from tandem.core.errors import ValidationFailed
from tandem.core.lazy import deferred
from tandem.scoring.features import FeatureMatrix

if TYPE_CHECKING:
    from sklearn import isotonic as sk_isotonic
    from sklearn import linear_model as sk_linear_model
else:
    # scikit-learn takes over a second to import: only when a baseline is fitted
    sk_isotonic = deferred("sklearn.isotonic")
    sk_linear_model = deferred("sklearn.linear_model")

ODOO_SMOOTHING = 0.1
ODOO_CLAMP = (0.0001, 0.9999)


def _labels(y: Sequence[float] | np.ndarray, size: int) -> np.ndarray:
    outcomes = np.asarray(y, dtype=np.float64)
    if len(outcomes) != size:
        raise ValidationFailed("Outcomes need one value per person.", field="y", value=len(outcomes))
    if not np.all((outcomes == 0) | (outcomes == 1)):
        raise ValidationFailed("Outcomes must be 0 or 1.", field="y", value=outcomes[(outcomes != 0) & (outcomes != 1)][0])
    return outcomes.astype(bool)


@dataclass
class NaiveBayesFrequency:
    """Odoo's naive-Bayes frequency model over categorical columns (None means 'not given')."""

    smoothing: float = ODOO_SMOOTHING
    won_prior: float = 0.0
    lost_prior: float = 0.0
    # field -> value -> (log won share, log lost share)
    log_shares: dict[str, dict[Hashable, tuple[float, float]]] = field(default_factory=dict)

    def fit(self, columns: Mapping[str, Sequence[Hashable | None]], y: Sequence[float] | np.ndarray) -> NaiveBayesFrequency:
        """Count won and lost per field value on closed leads."""
        if not columns:
            raise ValidationFailed("The naive-Bayes baseline needs at least one field.", field="columns", value=0)
        size = len(next(iter(columns.values())))
        won = _labels(y, size)
        self.won_prior = float(won.sum()) + self.smoothing
        self.lost_prior = float((~won).sum()) + self.smoothing
        self.log_shares = {}
        for name, column in columns.items():
            if len(column) != size:
                raise ValidationFailed(f"Column '{name}' has {len(column)} values for {size} people.", field=name, value=len(column))
            counts: dict[Hashable, list[float]] = {}
            for value, is_won in zip(column, won.tolist(), strict=True):
                if value is None:
                    continue
                cell = counts.setdefault(value, [self.smoothing, self.smoothing])
                cell[0 if is_won else 1] += 1.0
            won_total = sum(c[0] for c in counts.values())
            lost_total = sum(c[1] for c in counts.values())
            self.log_shares[name] = {
                value: (float(np.log(c[0] / won_total)), float(np.log(c[1] / lost_total))) for value, c in counts.items()
            }
        return self

    def predict_proba(self, columns: Mapping[str, Sequence[Hashable | None]]) -> np.ndarray:
        """P(won) per person, clamped as Odoo does."""
        if not self.log_shares:
            raise ValidationFailed("The naive-Bayes baseline is not fitted.", field="model", value="naive_bayes")
        size = len(next(iter(columns.values()))) if columns else 0
        total = self.won_prior + self.lost_prior
        log_won = np.full(size, np.log(self.won_prior / total))
        log_lost = np.full(size, np.log(self.lost_prior / total))
        for name, shares in self.log_shares.items():
            column = columns.get(name)
            if column is None:
                continue
            pairs = [shares.get(v, (0.0, 0.0)) if v is not None else (0.0, 0.0) for v in column]
            arr = np.asarray(pairs, dtype=np.float64).reshape(size, 2)
            log_won += arr[:, 0]
            log_lost += arr[:, 1]
        # P = S_won / (S_won + S_lost) computed as a logistic of the log ratio, which cannot underflow.
        probability = 1.0 / (1.0 + np.exp(log_lost - log_won))
        return np.clip(probability, *ODOO_CLAMP)


@dataclass(frozen=True)
class MatrixFields:
    """How to read a feature matrix as Odoo-style categorical fields: one per feature group."""

    names: tuple[str, ...]
    numeric_edges: Mapping[str, np.ndarray]

    @classmethod
    def fit(cls, matrix: FeatureMatrix, rows: np.ndarray | None = None, *, bins: int = 10) -> MatrixFields:
        """Decile edges of each numeric group, from the training rows only."""
        values = matrix.values if rows is None else matrix.values[rows]
        edges: dict[str, np.ndarray] = {}
        for group in matrix.groups:
            if group.kind != "numeric":
                continue
            column = values[:, group.columns[0]]
            column = column[~np.isnan(column)]
            if not len(column):
                edges[group.key] = np.array([], dtype=np.float64)
                continue
            cuts = np.quantile(column, np.linspace(0, 1, bins + 1)[1:-1])
            edges[group.key] = np.unique(cuts)
        return cls(names=tuple(g.key for g in matrix.groups), numeric_edges=edges)

    def columns(self, matrix: FeatureMatrix) -> dict[str, list[int | None]]:
        """Per group: the one-hot level index or the numeric bin, None when not given."""
        out: dict[str, list[int | None]] = {}
        for group in matrix.groups:
            block = matrix.values[:, list(group.columns)]
            if group.kind == "onehot":
                given = block.max(axis=1) > 0.5
                codes = np.argmax(block, axis=1)
            else:
                column = block[:, 0]
                given = ~np.isnan(column)
                codes = np.searchsorted(self.numeric_edges[group.key], np.nan_to_num(column), side="right")
            out[group.key] = [int(c) if g else None for c, g in zip(codes.tolist(), given.tolist(), strict=True)]
        return out


@dataclass
class MatrixNaiveBayes:
    """The naive-Bayes baseline over the same feature groups as the model."""

    fields: MatrixFields | None = None
    model: NaiveBayesFrequency = field(default_factory=NaiveBayesFrequency)

    def fit(self, matrix: FeatureMatrix, y: Sequence[float] | np.ndarray) -> MatrixNaiveBayes:
        self.fields = MatrixFields.fit(matrix)
        columns: Mapping[str, Sequence[Hashable | None]] = self.fields.columns(matrix)
        self.model.fit(columns, y)
        return self

    def predict_proba(self, matrix: FeatureMatrix) -> np.ndarray:
        if self.fields is None:
            raise ValidationFailed("The naive-Bayes baseline is not fitted.", field="model", value="naive_bayes")
        columns: Mapping[str, Sequence[Hashable | None]] = self.fields.columns(matrix)
        return self.model.predict_proba(columns)


CalibrationMethod = Literal["isotonic", "platt"]


@dataclass
class RuleScoreCalibrator:
    """Turns a rule score (fit + engagement points) into a probability learnt on the training split."""

    method: CalibrationMethod = "isotonic"
    isotonic: sk_isotonic.IsotonicRegression | None = None
    platt: sk_linear_model.LogisticRegression | None = None
    center: float = 0.0
    scale: float = 1.0

    def fit(self, scores: Sequence[float] | np.ndarray, y: Sequence[float] | np.ndarray) -> RuleScoreCalibrator:
        values = np.asarray(scores, dtype=np.float64)
        won = _labels(y, len(values)).astype(np.float64)
        if not np.all(np.isfinite(values)):
            raise ValidationFailed("Rule scores must be finite numbers.", field="scores", value=values[~np.isfinite(values)][0])
        if self.method == "isotonic":
            self.isotonic = sk_isotonic.IsotonicRegression(y_min=0.0, y_max=1.0, increasing=True, out_of_bounds="clip")
            self.isotonic.fit(values, won)
        elif self.method == "platt":
            self.center = float(values.mean())
            self.scale = float(values.std()) or 1.0
            self.platt = sk_linear_model.LogisticRegression(C=1e6, max_iter=1000)
            self.platt.fit(((values - self.center) / self.scale).reshape(-1, 1), won)
        else:
            raise ValidationFailed("Calibration method must be 'isotonic' or 'platt'.", field="method", value=self.method)
        return self

    def predict_proba(self, scores: Sequence[float] | np.ndarray) -> np.ndarray:
        values = np.asarray(scores, dtype=np.float64)
        if self.isotonic is not None:
            return np.asarray(self.isotonic.predict(values), dtype=np.float64)
        if self.platt is not None:
            return np.asarray(self.platt.predict_proba(((values - self.center) / self.scale).reshape(-1, 1))[:, 1])
        raise ValidationFailed("The rule-score baseline is not fitted.", field="model", value="rule_score")
