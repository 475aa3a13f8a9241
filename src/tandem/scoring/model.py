"""The predictive score without the ORM: train, validate, calibrate, explain, tier, value, store, watch drift.

``model_train`` takes a feature matrix (from ``features.FeatureBuilder``) and closed outcomes, splits them
by time (the latest share of people is the validation set) or into stratified folds, and fits two
candidates: histogram gradient boosting, and an L2-regularised logistic regression on a standardised
design (signed log of numeric features, median imputation with missing flags, one-hot columns as they
are). Each candidate is calibrated with ``CalibratedClassifierCV(ensemble=False)``: out-of-fold
predictions from three stratified folds of the training part fit one calibrator, which then sits on
one model trained on the whole training part. That keeps the calibrator off the data the model memorised
(unlike calibrating in-sample) without a separate held-out slice, and scores with one model instead of
three: ``ensemble=True`` tripled batch scoring and explanation time (30,000 instead of 99,000 people a
second) for 0.001 more AUC and 0.0006 less Brier on X Education. Isotonic regression when the training part holds at least 500 people of each outcome,
Platt's sigmoid otherwise: isotonic steps overfit small calibration sets, while a sigmoid cannot follow
a bent reliability curve on large ones. The candidate with
the lower validation log loss (then higher AUC) wins; both baselines are computed on the same split.

The returned ``ScoringModel`` carries its metrics, its tiers (thresholds chosen on the validation
predictions), the expected deal amount per segment, the sample of training people that explanations
compare with, the training distributions the drift report compares with, and the activation decision: a model
doing worse than the naive-Bayes baseline on validation (lower AUC or higher log loss) is not activated.
"""

from __future__ import annotations

import io
import json
import pickle
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from functools import cache
from typing import TYPE_CHECKING, Any, Literal, cast

import numpy as np
from threadpoolctl import ThreadpoolController

from tandem.core.errors import ValidationFailed
from tandem.core.lazy import deferred
from tandem.scoring.baselines import MatrixNaiveBayes, RuleScoreCalibrator
from tandem.scoring.features import (
    FeatureBuilder,
    FeatureGroup,
    FeatureMatrix,
    PersonRecord,
    ScoringInput,
    describe_group,
    inputs_from_records,
)
from tandem.scoring.metrics import Evaluation, evaluate, expected_calibration_error, format_evaluation
from tandem.scoring.rules import encode_values

if TYPE_CHECKING:
    import sklearn
    from sklearn import calibration as sk_calibration
    from sklearn import compose as sk_compose
    from sklearn import ensemble as sk_ensemble
    from sklearn import impute as sk_impute
    from sklearn import linear_model as sk_linear_model
    from sklearn import model_selection as sk_model_selection
    from sklearn import pipeline as sk_pipeline
    from sklearn import preprocessing as sk_preprocessing
else:
    # scikit-learn takes over a second to import and this module is imported at every start (scoring's
    # services): it is imported when a model is first trained, loaded or explained.
    sklearn = deferred("sklearn")
    sk_calibration = deferred("sklearn.calibration")
    sk_compose = deferred("sklearn.compose")
    sk_ensemble = deferred("sklearn.ensemble")
    sk_impute = deferred("sklearn.impute")
    sk_linear_model = deferred("sklearn.linear_model")
    sk_model_selection = deferred("sklearn.model_selection")
    sk_pipeline = deferred("sklearn.pipeline")
    sk_preprocessing = deferred("sklearn.preprocessing")

CandidateKind = Literal["boosting", "logistic"]
CANDIDATES: tuple[CandidateKind, ...] = ("boosting", "logistic")
SplitKind = Literal["time", "kfold"]
CalibrationKind = Literal["auto", "isotonic", "sigmoid"]
ISOTONIC_MIN_PER_CLASS = 500
PSI_MODERATE = 0.1
PSI_MAJOR = 0.25
CALIBRATION_DRIFT = 0.05
FORMAT_MAGIC = b"TANDEM-SCORING-MODEL\n"
FORMAT_VERSION = 1


@dataclass(frozen=True)
class TrainConfig:
    """How to split, which candidates to try, how to calibrate and how to cut tiers."""

    split: SplitKind = "time"
    validation_share: float = 0.25
    folds: int = 5
    seed: int = 0
    calibration: CalibrationKind = "auto"
    calibration_folds: int = 3
    candidates: tuple[CandidateKind, ...] = CANDIDATES
    hot_win_share: float = 0.5
    junk_win_share: float = 0.05
    amount_shrinkage: float = 10.0
    refit_on_all: bool = True
    boosting_iterations: int = 100
    boosting_learning_rate: float = 0.1
    logistic_c: float = 1.0
    explain_sample: int = 32
    threads: int | None = 1

    def __post_init__(self) -> None:
        if self.split not in ("time", "kfold"):
            raise ValidationFailed("split must be 'time' or 'kfold'.", field="split", value=self.split)
        if not 0.05 <= self.validation_share <= 0.5:
            raise ValidationFailed("validation_share must lie between 0.05 and 0.5.", field="validation_share", value=self.validation_share)
        if self.folds < 2 or self.calibration_folds < 2:
            raise ValidationFailed("folds and calibration_folds must be at least 2.", field="folds", value=self.folds)
        if self.calibration not in ("auto", "isotonic", "sigmoid"):
            raise ValidationFailed("calibration must be auto, isotonic or sigmoid.", field="calibration", value=self.calibration)
        if not self.candidates or any(c not in CANDIDATES for c in self.candidates):
            raise ValidationFailed("candidates must be among boosting and logistic.", field="candidates", value=self.candidates)
        if not (0 < self.junk_win_share < self.hot_win_share < 1):
            raise ValidationFailed("Need 0 < junk_win_share < hot_win_share < 1.", field="hot_win_share", value=self.hot_win_share)
        if self.threads is not None and self.threads < 1:
            raise ValidationFailed("threads must be at least 1 (or None for the library default).", field="threads", value=self.threads)
        if self.explain_sample < 1:
            raise ValidationFailed("explain_sample must be at least 1.", field="explain_sample", value=self.explain_sample)
        if self.amount_shrinkage < 0:
            raise ValidationFailed("amount_shrinkage cannot be negative.", field="amount_shrinkage", value=self.amount_shrinkage)

    def as_dict(self) -> dict[str, Any]:
        out = dict(self.__dict__)
        out["candidates"] = list(self.candidates)
        return out


@cache
def _thread_controller() -> ThreadpoolController:
    return ThreadpoolController()


@contextmanager
def _threads(count: int | None) -> Iterator[None]:
    """Cap OpenMP threads (boosting) for the block.

    One thread by default: on a small shared server, idle OpenMP workers spin while other processes
    hold the cores; X Education's 5-fold run took 72 s with two threads under load and 14 s with one.
    """
    if count is None:
        yield
        return
    with _thread_controller().limit(limits=count, user_api="openmp"):
        yield


def signed_log1p(values: np.ndarray) -> np.ndarray:
    """sign(x)·log(1 + |x|): tames long-tailed counts and amounts, keeps order and NaN."""
    return cast(np.ndarray, np.sign(values) * np.log1p(np.abs(values)))


def _logistic_design(groups: Sequence[FeatureGroup]) -> sk_compose.ColumnTransformer:
    numeric = [g.columns[0] for g in groups if g.kind == "numeric"]
    onehot = [c for g in groups if g.kind == "onehot" for c in g.columns]
    steps: list[tuple[str, Any, list[int]]] = []
    if numeric:
        numeric_pipe = sk_pipeline.Pipeline(
            [
                ("log", sk_preprocessing.FunctionTransformer(signed_log1p)),
                ("impute", sk_impute.SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True)),
                ("scale", sk_preprocessing.StandardScaler()),
            ]
        )
        steps.append(("numeric", numeric_pipe, numeric))
    if onehot:
        steps.append(("onehot", "passthrough", onehot))
    return sk_compose.ColumnTransformer(steps)


def _candidate(kind: CandidateKind, groups: Sequence[FeatureGroup], config: TrainConfig) -> Any:
    if kind == "boosting":
        return sk_ensemble.HistGradientBoostingClassifier(
            learning_rate=config.boosting_learning_rate,
            max_iter=config.boosting_iterations,
            max_leaf_nodes=15,
            min_samples_leaf=20,
            l2_regularization=1.0,
            early_stopping=False,
            random_state=config.seed,
        )
    # Newton-Cholesky converges in a few steps on a few hundred standardised columns (lbfgs took 25x longer).
    model = sk_linear_model.LogisticRegression(C=config.logistic_c, solver="newton-cholesky", max_iter=200)
    return sk_pipeline.Pipeline([("design", _logistic_design(groups)), ("model", model)])


def _calibration_method(config: TrainConfig, y: np.ndarray) -> Literal["isotonic", "sigmoid"]:
    if config.calibration != "auto":
        return config.calibration
    smaller = min(int(y.sum()), int(len(y) - y.sum()))
    return "isotonic" if smaller >= ISOTONIC_MIN_PER_CLASS else "sigmoid"


def _fit_calibrated(
    kind: CandidateKind, groups: Sequence[FeatureGroup], X: np.ndarray, y: np.ndarray, config: TrainConfig
) -> sk_calibration.CalibratedClassifierCV:
    folds = sk_model_selection.StratifiedKFold(config.calibration_folds, shuffle=True, random_state=config.seed)
    model = sk_calibration.CalibratedClassifierCV(
        _candidate(kind, groups, config), method=_calibration_method(config, y), cv=folds, ensemble=False
    )
    model.fit(X, y)
    return model


@dataclass(frozen=True)
class TierSummary:
    name: str
    min_probability: float
    max_probability: float
    share_of_leads: float
    share_of_wins: float
    win_rate: float
    count: int

    @property
    def meaning(self) -> str:
        return (
            f"{self.name.capitalize()}: {self.share_of_leads:.0%} of leads, {self.share_of_wins:.0%} of wins "
            f"(win rate {self.win_rate:.0%})"
        )


@dataclass(frozen=True)
class Tiers:
    """hot: probability >= hot_threshold; junk: probability < junk_threshold; gray in between."""

    hot_threshold: float
    junk_threshold: float
    summaries: tuple[TierSummary, ...]

    def assign(self, probabilities: np.ndarray | Sequence[float]) -> np.ndarray:
        p = np.asarray(probabilities, dtype=np.float64)
        return np.where(p >= self.hot_threshold, "hot", np.where(p < self.junk_threshold, "junk", "gray"))

    def as_dict(self) -> dict[str, Any]:
        return {
            "hot_threshold": self.hot_threshold,
            "junk_threshold": self.junk_threshold,
            "tiers": [dict(s.__dict__, meaning=s.meaning) for s in self.summaries],
        }


def tiers_choose(
    y: Sequence[float] | np.ndarray,
    p: Sequence[float] | np.ndarray,
    *,
    hot_win_share: float = 0.5,
    junk_win_share: float = 0.05,
) -> Tiers:
    """Thresholds from validation outcomes.

    Hot: the fewest top-ranked leads that together hold at least ``hot_win_share`` of the wins.
    Junk: the most bottom-ranked leads that together hold at most ``junk_win_share`` of the wins.
    """
    outcomes = np.asarray(y, dtype=np.float64)
    probs = np.asarray(p, dtype=np.float64)
    total_wins = float(outcomes.sum())
    if len(outcomes) != len(probs) or not len(probs) or total_wins == 0:
        raise ValidationFailed("Tiers need validation predictions with at least one win.", field="y", value=int(total_wins))
    descending = np.argsort(-probs, kind="stable")
    cumulative = np.cumsum(outcomes[descending])
    k = int(np.searchsorted(cumulative, hot_win_share * total_wins - 1e-9)) + 1
    hot = float(probs[descending[min(k, len(probs)) - 1]])
    ascending = descending[::-1]
    low_wins = np.cumsum(outcomes[ascending])
    m = int(np.searchsorted(low_wins, junk_win_share * total_wins + 1e-9, side="right"))
    junk = float(probs[ascending[m]]) if m < len(probs) else float(np.nextafter(probs.max(), np.inf))
    junk = min(junk, hot)
    tiers = Tiers(hot_threshold=hot, junk_threshold=junk, summaries=())
    names = tiers.assign(probs)
    summaries = []
    for name, low, high in (("hot", hot, 1.0), ("gray", junk, hot), ("junk", 0.0, junk)):
        inside = names == name
        count = int(inside.sum())
        wins = float(outcomes[inside].sum())
        summaries.append(
            TierSummary(
                name=name,
                min_probability=low,
                max_probability=high,
                share_of_leads=count / len(probs),
                share_of_wins=wins / total_wins,
                win_rate=wins / count if count else 0.0,
                count=count,
            )
        )
    return Tiers(hot_threshold=hot, junk_threshold=junk, summaries=tuple(summaries))


@dataclass(frozen=True)
class ExpectedAmount:
    """Expected deal amount per segment: the segment's mean won amount shrunk towards the overall mean.

    amount(segment) = (n · segment mean + k · overall mean) / (n + k), n won deals in the segment, k the
    shrinkage; a segment never seen gets the overall mean.
    """

    overall: float
    by_segment: Mapping[str, float]
    counts: Mapping[str, int]
    shrinkage: float

    @classmethod
    def fit(
        cls,
        segments: Sequence[str],
        amounts: Sequence[float] | np.ndarray,
        won: Sequence[float] | np.ndarray,
        *,
        shrinkage: float = 10.0,
    ) -> ExpectedAmount:
        values = np.asarray(amounts, dtype=np.float64)
        is_won = np.asarray(won, dtype=np.float64) == 1
        if not (len(segments) == len(values) == len(is_won)):
            raise ValidationFailed("Segments, amounts and outcomes need one value per person.", field="amounts", value=len(values))
        usable = is_won & np.isfinite(values)
        if not usable.any():
            raise ValidationFailed("Expected amounts need at least one won deal with an amount.", field="amounts", value=0)
        overall = float(values[usable].mean())
        sums: dict[str, float] = {}
        counts: dict[str, int] = {}
        for segment, amount in zip(np.asarray(segments, dtype=object)[usable].tolist(), values[usable].tolist(), strict=True):
            sums[str(segment)] = sums.get(str(segment), 0.0) + amount
            counts[str(segment)] = counts.get(str(segment), 0) + 1
        by_segment = {s: (sums[s] + shrinkage * overall) / (counts[s] + shrinkage) for s in sums}
        return cls(overall=overall, by_segment=by_segment, counts=counts, shrinkage=shrinkage)

    def amount_for(self, segments: Sequence[str | None]) -> np.ndarray:
        return encode_values(
            segments, lambda s: self.by_segment.get(str(s), self.overall) if s is not None else self.overall, dtype=np.float64
        )


@dataclass(frozen=True)
class Factor:
    """One reason the score is what it is: the person's value in plain words and its push on the log-odds."""

    description: str
    contribution: float
    key: str

    @property
    def text(self) -> str:
        return f"{self.description}: {'+' if self.contribution > 0 else '−'}"


@dataclass(frozen=True)
class Explanation:
    raising: tuple[Factor, ...]
    lowering: tuple[Factor, ...]

    def lines(self) -> list[str]:
        return [f.text for f in (*self.raising, *self.lowering)]


@dataclass(frozen=True)
class Activation:
    active: bool
    reason: str


def activation_decide(model: Evaluation, naive_bayes: Evaluation) -> Activation:
    """Activate only a model at least as good as the naive-Bayes baseline on validation (AUC and log loss)."""
    if model.auc < naive_bayes.auc:
        return Activation(False, f"validation AUC {model.auc:.4f} is below the naive-Bayes baseline's {naive_bayes.auc:.4f}")
    if model.log_loss > naive_bayes.log_loss:
        return Activation(
            False, f"validation log loss {model.log_loss:.4f} is above the naive-Bayes baseline's {naive_bayes.log_loss:.4f}"
        )
    return Activation(
        True,
        f"validation AUC {model.auc:.4f} vs {naive_bayes.auc:.4f} and log loss {model.log_loss:.4f} vs "
        f"{naive_bayes.log_loss:.4f} for the naive-Bayes baseline",
    )


@dataclass(frozen=True, eq=False)
class GroupDistribution:
    key: str
    label: str
    kind: str
    edges: np.ndarray
    shares: np.ndarray


@dataclass(frozen=True)
class FeatureDrift:
    key: str
    label: str
    psi: float
    status: str


@dataclass(frozen=True)
class DriftReport:
    features: tuple[FeatureDrift, ...]
    recent_count: int
    mean_predicted: float | None
    observed_rate: float | None
    ece: float | None
    warnings: tuple[str, ...]


def _bucket_codes(group: FeatureGroup, block: np.ndarray, edges: np.ndarray) -> tuple[np.ndarray, int]:
    """Bucket per row for the drift histograms; the last bucket is 'not given'."""
    if group.kind == "onehot":
        given = block.max(axis=1) > 0.5
        width = len(group.columns)
        return np.where(given, np.argmax(block, axis=1), width), width + 1
    column = block[:, 0]
    width = len(edges) + 1
    return np.where(np.isnan(column), width, np.searchsorted(edges, np.nan_to_num(column), side="right")), width + 1


def _distributions(matrix: FeatureMatrix) -> tuple[GroupDistribution, ...]:
    out = []
    for group in matrix.groups:
        block = matrix.values[:, list(group.columns)]
        if group.kind == "numeric":
            column = block[:, 0]
            known = column[~np.isnan(column)]
            edges = np.unique(np.quantile(known, np.linspace(0, 1, 11)[1:-1])) if len(known) else np.array([])
        else:
            edges = np.array([])
        codes, size = _bucket_codes(group, block, edges)
        shares = np.bincount(codes, minlength=size) / max(len(codes), 1)
        out.append(GroupDistribution(group.key, group.label, group.kind, edges, shares))
    return tuple(out)


def population_stability_index(expected: np.ndarray, actual: np.ndarray, *, floor: float = 1e-4) -> float:
    """PSI = Σ (actual − expected) · ln(actual / expected) over buckets, shares floored at 1e-4."""
    e = np.maximum(np.asarray(expected, dtype=np.float64), floor)
    a = np.maximum(np.asarray(actual, dtype=np.float64), floor)
    return float(np.sum((a - e) * np.log(a / e)))


def _explain_estimator(calibrated: sk_calibration.CalibratedClassifierCV) -> list[Any]:
    return [c.estimator for c in calibrated.calibrated_classifiers_]


@dataclass(frozen=True, eq=False)  # holds arrays
class LinearScorer:
    """The calibrated logistic pipeline as plain numpy: same numbers, none of scikit-learn's per-call checks.

    scikit-learn validates its input on every step of the pipeline and the calibrator, which costs about
    a millisecond per call whatever the number of rows: most of one person's rescoring time, and three
    calls per person in the old explanation path. The design is signed log → median imputation with
    missing flags → standardisation for numeric columns, one-hot columns as they are; the log-odds are
    a sum of per-column terms, so each feature group's share of them (what explanations need) is one
    matrix product. Built from the fitted estimator by ``linear_scorer``; tests pin it to scikit-learn.
    """

    numeric: np.ndarray  # input column of each numeric design column
    medians: np.ndarray
    flagged: np.ndarray  # position in ``numeric`` of each missing-flag column
    mean: np.ndarray  # standardisation of [numeric..., flags...]
    scale: np.ndarray
    onehot: np.ndarray  # input column of each passed-through column
    coef: np.ndarray  # [numeric..., flags..., onehot...]
    intercept: float
    group_of: np.ndarray  # feature group of each design column
    groups: int
    method: str  # "isotonic" or "sigmoid"
    calibration: tuple[np.ndarray, np.ndarray] | tuple[float, float]
    # Mean of ``group_terms`` over the explanation sample: a group's contribution is its term minus this.
    baseline: np.ndarray

    def design_terms(self, values: np.ndarray) -> np.ndarray:
        """coefficient × design value, one column per design column (rows: people)."""
        raw = values[:, self.numeric]
        with np.errstate(invalid="ignore"):
            logged = np.sign(raw) * np.log1p(np.abs(raw))
        missing = np.isnan(logged)
        imputed = np.where(missing, self.medians, logged)
        numeric = np.concatenate([imputed, missing[:, self.flagged].astype(np.float64)], axis=1)
        design = np.concatenate([(numeric - self.mean) / self.scale, values[:, self.onehot]], axis=1)
        return np.asarray(design * self.coef, dtype=np.float64)

    def group_terms(self, values: np.ndarray) -> np.ndarray:
        """Each feature group's part of the log-odds (people × groups); they sum to log-odds − intercept."""
        membership = np.zeros((len(self.group_of), self.groups))
        membership[np.arange(len(self.group_of)), self.group_of] = 1.0
        return np.asarray(self.design_terms(values) @ membership, dtype=np.float64)

    def log_odds(self, values: np.ndarray) -> np.ndarray:
        return np.asarray(self.design_terms(values).sum(axis=1) + self.intercept, dtype=np.float64)

    def calibrate(self, log_odds: np.ndarray) -> np.ndarray:
        return _calibrate(self.method, self.calibration, log_odds)

    def predict_proba(self, values: np.ndarray) -> np.ndarray:
        return self.calibrate(self.log_odds(values))

    def probability_and_terms(self, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Probabilities and group terms from one pass (the terms add up to log-odds − intercept)."""
        terms = self.group_terms(values)
        return self.calibrate(terms.sum(axis=1) + self.intercept), terms


@dataclass(frozen=True, eq=False)  # holds arrays
class TreeScorer:
    """The calibrated boosting model as plain numpy, with per-group contributions along each tree's path.

    Trees are padded into (trees × nodes) arrays and walked for all people and all trees at once, one
    depth level per step, carrying only the (person, tree) pairs not yet at a leaf. A person's contribution of a feature is the sum, over the splits on it along
    their paths, of how much the split moved the expected score (the training-weighted mean of the
    leaves below each node): the "tree path" attribution (Saabas). Contributions plus the trees'
    root means plus the model's baseline give exactly its log-odds. It agrees with scikit-learn's
    prediction (tests) and costs a few numpy calls per depth level instead of G × K predictions.
    """

    feature: np.ndarray  # trees × nodes
    threshold: np.ndarray
    missing_left: np.ndarray
    left: np.ndarray
    right: np.ndarray
    leaf: np.ndarray
    expected: np.ndarray  # leaf value for leaves, mean of the leaves below for splits
    start: float  # baseline prediction + the trees' root means
    group_of: np.ndarray  # feature group of each input column
    groups: int
    method: str
    calibration: tuple[np.ndarray, np.ndarray] | tuple[float, float]
    baseline: np.ndarray

    def _walk(self, values: np.ndarray, chunk: int = 4096, *, terms_too: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """(log-odds, people × groups contributions; zeros when not ``terms_too``)."""
        size, trees = len(values), self.feature.shape[0]
        width = self.feature.shape[1]
        # Flat node ids (tree × width + node): one-dimensional gathers, and children as flat ids too.
        feature, threshold = self.feature.ravel(), self.threshold.ravel()
        missing_left, leaf, expected = self.missing_left.ravel(), self.leaf.ravel(), self.expected.ravel()
        base = np.repeat(np.arange(trees) * width, width)
        # Edge 2·node goes left, 2·node + 1 right: one gather gives the child and the move of the expected score.
        edge_child = np.column_stack([self.left.ravel() + base, self.right.ravel() + base]).ravel()
        edge_move = expected[edge_child] - np.repeat(expected, 2)
        missing_right = ~missing_left
        columns = values.shape[1] if values.ndim == 2 else 0
        node_group = self.group_of[feature]
        terms = np.zeros((size, self.groups))
        # Without the contributions, the log-odds are the leaves reached: baseline + Σ leaf values.
        leaves_sum = np.zeros(size)
        for begin in range(0, size, chunk):
            block = np.ascontiguousarray(values[begin : begin + chunk]).ravel()
            count = min(chunk, size - begin)
            node = np.tile(np.arange(trees) * width, count)  # every (person, tree) starts at its root
            person = np.repeat(np.arange(count), trees)
            flat = np.zeros(count * self.groups)
            walking = np.flatnonzero(~leaf[node])
            while len(walking):
                at = node[walking]
                who = person[walking]
                split_on = feature[at]
                x = block[who * columns + split_on]
                # sklearn sends a missing value by the split's own flag, whatever the threshold (which may be inf).
                edge = 2 * at + np.where(np.isnan(x), missing_right[at], x > threshold[at])
                child = edge_child[edge]
                if terms_too:
                    flat += np.bincount(who * self.groups + node_group[at], weights=edge_move[edge], minlength=len(flat))
                node[walking] = child
                walking = walking[~leaf[child]]
            terms[begin : begin + count] = flat.reshape(count, self.groups)
            leaves_sum[begin : begin + count] = expected[node].reshape(count, trees).sum(axis=1)
        if not terms_too:
            return self.start - self.expected[:, 0].sum() + leaves_sum, terms
        return self.start + terms.sum(axis=1), terms

    def group_terms(self, values: np.ndarray) -> np.ndarray:
        return self._walk(values)[1]

    def log_odds(self, values: np.ndarray) -> np.ndarray:
        return self._walk(values, terms_too=False)[0]

    def calibrate(self, log_odds: np.ndarray) -> np.ndarray:
        return _calibrate(self.method, self.calibration, log_odds)

    def predict_proba(self, values: np.ndarray) -> np.ndarray:
        return self.calibrate(self.log_odds(values))

    def probability_and_terms(self, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Probabilities and group terms from one walk."""
        odds, terms = self._walk(values)
        return self.calibrate(odds), terms


def _calibrate(method: str, calibration: tuple[np.ndarray, np.ndarray] | tuple[float, float], log_odds: np.ndarray) -> np.ndarray:
    """The fitted calibrator's mapping: isotonic steps (interpolated, clipped) or Platt's sigmoid."""
    if method == "isotonic":
        x, y = cast(tuple[np.ndarray, np.ndarray], calibration)
        return np.asarray(np.interp(log_odds, x, y), dtype=np.float64)
    a, b = cast(tuple[float, float], calibration)
    return np.asarray(1.0 / (1.0 + np.exp(a * log_odds + b)), dtype=np.float64)


def _calibration_of(member: Any) -> tuple[np.ndarray, np.ndarray] | tuple[float, float]:
    calibrator = member.calibrators[0]
    if member.method == "isotonic":
        return (
            np.asarray(calibrator.X_thresholds_, dtype=np.float64),
            np.asarray(calibrator.y_thresholds_, dtype=np.float64),
        )
    return (float(calibrator.a_), float(calibrator.b_))


def tree_scorer(
    calibrated: sk_calibration.CalibratedClassifierCV, groups: Sequence[FeatureGroup], background: np.ndarray | None = None
) -> TreeScorer | None:
    """The numpy form of a calibrated binary boosting model without categorical splits, or None."""
    members = getattr(calibrated, "calibrated_classifiers_", [])
    if len(members) != 1 or len(members[0].calibrators) != 1:
        return None
    booster = members[0].estimator
    if not isinstance(booster, sk_ensemble.HistGradientBoostingClassifier) or booster.n_trees_per_iteration_ != 1:
        return None
    nodes = [predictors[0].nodes for predictors in booster._predictors]
    if not nodes or any(n["is_categorical"].any() for n in nodes):
        return None
    width = max(len(n) for n in nodes)

    def padded(name: str, dtype: Any, fill: Any) -> np.ndarray:
        out = np.full((len(nodes), width), fill, dtype=dtype)
        for t, n in enumerate(nodes):
            out[t, : len(n)] = n[name]
        return out

    leaf = padded("is_leaf", bool, True)
    left = padded("left", np.int64, 0)
    right = padded("right", np.int64, 0)
    expected = padded("value", np.float64, 0.0)
    count = padded("count", np.float64, 0.0)
    # Children always come after their parent: fill the means of the splits from the deepest nodes up.
    for t, n in enumerate(nodes):
        for i in range(len(n) - 1, -1, -1):
            if not leaf[t, i]:
                a, b = left[t, i], right[t, i]
                total = count[t, a] + count[t, b]
                expected[t, i] = (count[t, a] * expected[t, a] + count[t, b] * expected[t, b]) / total if total else 0.0
    group_at = {c: i for i, g in enumerate(groups) for c in g.columns}
    columns = int(booster.n_features_in_)
    scorer = TreeScorer(
        feature=padded("feature_idx", np.int64, 0),
        threshold=padded("num_threshold", np.float64, 0.0),
        missing_left=padded("missing_go_to_left", bool, False),
        left=left,
        right=right,
        leaf=leaf,
        expected=expected,
        start=float(np.ravel(booster._baseline_prediction)[0] + expected[:, 0].sum()),
        group_of=np.array([group_at.get(c, 0) for c in range(columns)], dtype=np.int64),
        groups=len(groups),
        method=members[0].method,
        calibration=_calibration_of(members[0]),
        baseline=np.zeros(len(groups)),
    )
    if background is None or not len(background):
        return scorer
    return replace(scorer, baseline=scorer.group_terms(np.asarray(background, dtype=np.float64)).mean(axis=0))


def linear_scorer(
    calibrated: sk_calibration.CalibratedClassifierCV, groups: Sequence[FeatureGroup], background: np.ndarray | None = None
) -> LinearScorer | None:
    """The numpy form of a calibrated logistic pipeline (``_candidate('logistic')``), or None for anything else."""
    members = getattr(calibrated, "calibrated_classifiers_", [])
    if len(members) != 1 or len(members[0].calibrators) != 1:
        return None
    member = members[0]
    pipeline = member.estimator
    if not isinstance(pipeline, sk_pipeline.Pipeline) or not isinstance(pipeline[-1], sk_linear_model.LogisticRegression):
        return None
    design = pipeline.named_steps["design"]
    group_at = {c: i for i, g in enumerate(groups) for c in g.columns}
    numeric = np.zeros(0, dtype=np.int64)
    onehot = np.zeros(0, dtype=np.int64)
    medians = mean = scale = np.zeros(0)
    flagged = np.zeros(0, dtype=np.int64)
    for name, step, columns in design.transformers_:
        if name == "numeric":
            imputer, scaler = step.named_steps["impute"], step.named_steps["scale"]
            numeric = np.asarray(columns, dtype=np.int64)
            medians = np.asarray(imputer.statistics_, dtype=np.float64)
            flagged = np.asarray(imputer.indicator_.features_, dtype=np.int64) if imputer.indicator_ is not None else flagged
            mean = np.asarray(scaler.mean_, dtype=np.float64)
            scale = np.asarray(scaler.scale_, dtype=np.float64)
        elif name == "onehot":
            onehot = np.asarray(columns, dtype=np.int64)
        elif name != "remainder":
            return None
    order = [*numeric.tolist(), *numeric[flagged].tolist(), *onehot.tolist()]
    coef = np.asarray(pipeline[-1].coef_[0], dtype=np.float64)
    if len(coef) != len(order):
        return None
    calibration = _calibration_of(member)
    scorer = LinearScorer(
        numeric=numeric,
        medians=medians,
        flagged=flagged,
        mean=mean,
        scale=scale,
        onehot=onehot,
        coef=coef,
        intercept=float(pipeline[-1].intercept_[0]),
        group_of=np.array([group_at[c] for c in order], dtype=np.int64),
        groups=len(groups),
        method=member.method,
        calibration=calibration,
        baseline=np.zeros(len(groups)),
    )
    if background is None or not len(background):
        return scorer
    return replace(scorer, baseline=scorer.group_terms(np.asarray(background, dtype=np.float64)).mean(axis=0))


@dataclass(eq=False)  # holds arrays and estimators: compare predictions, not objects
class ScoringModel:
    """A trained, calibrated scoring model with everything needed to score, explain and judge it."""

    version: str
    trained_at: float
    kind: CandidateKind
    feature_names: tuple[str, ...]
    groups: tuple[FeatureGroup, ...]
    estimator: sk_calibration.CalibratedClassifierCV
    background: np.ndarray
    tiers: Tiers
    activation: Activation
    metrics: dict[str, Any]
    evaluations: dict[str, Evaluation]
    distributions: tuple[GroupDistribution, ...]
    config: TrainConfig
    builder: FeatureBuilder | None = None
    expected_amount: ExpectedAmount | None = None
    _explainers: list[Any] = field(default_factory=list, repr=False)
    # Built on first use after loading, never stored (class default None also covers older pickles).
    _linear: LinearScorer | TreeScorer | None = field(default=None, repr=False)
    _linear_checked: bool = field(default=False, repr=False)

    def linear(self) -> LinearScorer | TreeScorer | None:
        """The numpy form of the model (logistic or boosting), built once per loaded model; None if it has none."""
        if not self._linear_checked:
            build = linear_scorer if self.kind == "logistic" else tree_scorer
            self._linear = build(self.estimator, self.groups, self.background)
            self._linear_checked = True
        return self._linear

    def _values(self, matrix: FeatureMatrix | np.ndarray) -> np.ndarray:
        if isinstance(matrix, FeatureMatrix):
            if matrix.names != self.feature_names:
                raise ValidationFailed(
                    "The features differ from the ones the model was trained on.", field="features", value=len(matrix.names)
                )
            values = matrix.values
        else:
            values = np.asarray(matrix, dtype=np.float64)
        if values.ndim != 2 or values.shape[1] != len(self.feature_names):
            raise ValidationFailed(
                f"Expected {len(self.feature_names)} feature columns.", field="features", value=values.shape[-1]
            )
        return values

    def predict_proba(self, matrix: FeatureMatrix | np.ndarray) -> np.ndarray:
        """Calibrated probability of becoming a customer within the horizon, one per row."""
        values = self._values(matrix)
        if not len(values):
            return np.zeros(0)
        linear = self.linear()
        if linear is not None:
            return linear.predict_proba(values)
        with _threads(self.config.threads):
            return np.asarray(self.estimator.predict_proba(values)[:, 1], dtype=np.float64)

    def features(self, inputs: ScoringInput) -> FeatureMatrix:
        if self.builder is None:
            raise ValidationFailed("This model was trained without a feature builder; pass a matrix.", field="builder", value=None)
        return self.builder.transform(inputs)

    def expected_value(self, probabilities: np.ndarray, segments: Sequence[str | None] | None = None) -> np.ndarray:
        """Probability × expected deal amount for similar leads (NaN when no amounts were given)."""
        p = np.asarray(probabilities, dtype=np.float64)
        if self.expected_amount is None:
            return np.full(len(p), np.nan)
        amounts = self.expected_amount.amount_for(segments if segments is not None else [None] * len(p))
        return p * amounts

    def score_batch(
        self, inputs: ScoringInput, segments: Sequence[str | None] | None = None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(probability, tier, expected value) for many people from raw inputs."""
        probabilities = self.predict_proba(self.features(inputs))
        return probabilities, self.tiers.assign(probabilities), self.expected_value(probabilities, segments)

    def rescore(self, record: PersonRecord, segment: str | None = None, *, top: int = 3) -> PersonScore:
        """One person after an event: features from raw events, probability, tier, value and explanation."""
        row = self.features(inputs_from_records([record])).values
        probability = float(self.predict_proba(row)[0])
        return PersonScore(
            probability=probability,
            tier=str(self.tiers.assign([probability])[0]),
            expected_value=float(self.expected_value(np.array([probability]), [segment])[0]),
            explanation=self.explain(row[0], top=top),
        )

    def _log_odds(self, values: np.ndarray) -> np.ndarray:
        linear = self.linear()
        if linear is not None:
            return linear.log_odds(values)
        if not self._explainers:
            self._explainers = _explain_estimator(self.estimator)
        with _threads(self.config.threads):
            return np.mean([np.asarray(e.decision_function(values), dtype=np.float64) for e in self._explainers], axis=0)

    def explain(self, row: np.ndarray, *, top: int = 3) -> Explanation:
        """Top factors raising and lowering one person's score.

        A group's contribution is its share of the uncalibrated log-odds for this person minus its
        average share over a fixed sample of training people. For the logistic model this is exactly
        coefficient × (value − sample mean) summed over the group's columns; for boosting the share is
        taken along the trees' paths (``TreeScorer``). A model without a numpy form (never, for the two
        candidates) falls back to swapping the group for the sample's values (G × K predictions).
        """
        values = self._values(np.asarray(row, dtype=np.float64).reshape(1, -1))[0]
        scorer = self.linear()
        if scorer is not None:
            return _explanation(self.groups, values, scorer.group_terms(values[None, :])[0] - scorer.baseline, top)
        sample = len(self.background)
        variants = np.repeat(values[None, :], len(self.groups) * sample + 1, axis=0)
        for i, group in enumerate(self.groups):
            cols = list(group.columns)
            start = 1 + i * sample
            variants[start : start + sample, cols] = self.background[:, cols]
        odds = self._log_odds(variants)
        contributions = odds[0] - odds[1:].reshape(len(self.groups), sample).mean(axis=1)
        return _explanation(self.groups, values, contributions, top)

    def drift_report(
        self,
        recent: FeatureMatrix | np.ndarray,
        outcomes: Sequence[float] | np.ndarray | None = None,
    ) -> DriftReport:
        """Population stability index per feature against training, and calibration on recent outcomes."""
        values = self._values(recent)
        matrix = FeatureMatrix(values=values, names=self.feature_names, groups=self.groups)
        drifts = []
        warnings = []
        for group, reference in zip(self.groups, self.distributions, strict=True):
            codes, size = _bucket_codes(group, values[:, list(group.columns)], reference.edges)
            actual = np.bincount(codes, minlength=size) / max(len(codes), 1)
            psi = population_stability_index(reference.shares, actual)
            status = "major shift" if psi >= PSI_MAJOR else "moderate shift" if psi >= PSI_MODERATE else "stable"
            drifts.append(FeatureDrift(group.key, group.label, psi, status))
            if status != "stable":
                warnings.append(f"{group.label}: {status} (PSI {psi:.2f})")
        mean_predicted = observed = ece = None
        if outcomes is not None and len(values):
            probabilities = self.predict_proba(matrix)
            y = np.asarray(outcomes, dtype=np.float64)
            ece = expected_calibration_error(y, probabilities)
            mean_predicted = float(probabilities.mean())
            observed = float(y.mean())
            if abs(mean_predicted - observed) > CALIBRATION_DRIFT or ece > CALIBRATION_DRIFT:
                warnings.append(
                    f"calibration drifted: predicted {mean_predicted:.1%} on average, observed {observed:.1%} (ECE {ece:.3f})"
                )
        return DriftReport(
            features=tuple(drifts),
            recent_count=len(values),
            mean_predicted=mean_predicted,
            observed_rate=observed,
            ece=ece,
            warnings=tuple(warnings),
        )

    def report(self) -> str:
        """What ``tandem score evaluate`` prints: validation metrics, calibration and lift for the model and baselines."""
        split = (
            f"{self.config.folds}-fold cross-validation" if self.config.split == "kfold"
            else f"time split, latest {self.config.validation_share:.0%} of people validate"
        )
        lines = [
            f"Model {self.version} ({self.kind}), {split}, {self.metrics['validation_rows']} validation people",
            f"Activation: {'active' if self.activation.active else 'NOT activated'} ({self.activation.reason})",
        ]
        lines += [f"  {tier.meaning}; probability {tier.min_probability:.2f} to {tier.max_probability:.2f}" for tier in self.tiers.summaries]
        titles = {
            self.kind: f"model ({self.kind})",
            "naive_bayes": "baseline: naive Bayes (Odoo)",
            "rule_score": "baseline: fit + engagement rules",
        }
        for name, title in titles.items():
            if name in self.evaluations:
                lines += ["", format_evaluation(title, self.evaluations[name])]
        return "\n".join(lines)

    def to_bytes(self) -> bytes:
        """Header line (JSON: format, sklearn version, model version, metrics) then the pickled model."""
        header = {
            "format_version": FORMAT_VERSION,
            "sklearn_version": sklearn.__version__,
            "version": self.version,
            "kind": self.kind,
            "metrics": self.metrics,
        }
        buffer = io.BytesIO()
        self._explainers = []
        self._linear, self._linear_checked = None, False
        pickle.dump(self, buffer, protocol=pickle.HIGHEST_PROTOCOL)
        return FORMAT_MAGIC + json.dumps(header, sort_keys=True).encode() + b"\n" + buffer.getvalue()

    @staticmethod
    def read_header(data: bytes) -> dict[str, Any]:
        """The JSON header of stored model bytes (version, metrics) without unpickling the model."""
        if not data.startswith(FORMAT_MAGIC):
            raise ValidationFailed("These bytes are not a stored Tandem scoring model.", field="model", value=data[:20])
        line, _, _ = data[len(FORMAT_MAGIC) :].partition(b"\n")
        try:
            return cast(dict[str, Any], json.loads(line))
        except ValueError as exc:
            raise ValidationFailed("The stored model header is damaged.", field="model", value=line[:40]) from exc

    @classmethod
    def from_bytes(cls, data: bytes) -> ScoringModel:
        """Load a model stored by ``to_bytes`` (only ever load bytes Tandem itself stored: this unpickles)."""
        header = cls.read_header(data)
        if header.get("format_version") != FORMAT_VERSION:
            raise ValidationFailed("Unknown stored model format; retrain the model.", field="format_version", value=header.get("format_version"))
        if header.get("sklearn_version") != sklearn.__version__:
            raise ValidationFailed(
                f"The model was stored with scikit-learn {header.get('sklearn_version')} but {sklearn.__version__} is installed; retrain it.",
                field="sklearn_version",
                value=header.get("sklearn_version"),
            )
        payload = data[len(FORMAT_MAGIC) :].partition(b"\n")[2]
        model = pickle.loads(payload)
        if not isinstance(model, cls):
            raise ValidationFailed("The stored bytes do not hold a scoring model.", field="model", value=type(model).__name__)
        return model


def _explanation(groups: Sequence[FeatureGroup], values: np.ndarray, contributions: np.ndarray, top: int) -> Explanation:
    factors = [
        Factor(describe_group(g, values), float(c), g.key)
        for g, c in zip(groups, contributions.tolist(), strict=True)
        if abs(c) > 1e-9
    ]
    raising = sorted((f for f in factors if f.contribution > 0), key=lambda f: -f.contribution)[:top]
    lowering = sorted((f for f in factors if f.contribution < 0), key=lambda f: f.contribution)[:top]
    return Explanation(raising=tuple(raising), lowering=tuple(lowering))


@dataclass(frozen=True)
class PersonScore:
    probability: float
    tier: str
    expected_value: float
    explanation: Explanation


def _background(matrix: FeatureMatrix, rows: np.ndarray, size: int, seed: int) -> np.ndarray:
    """A fixed random sample of training rows that explanations compare a person with."""
    rng = np.random.default_rng(seed)
    chosen = rng.choice(rows, size=min(size, len(rows)), replace=False)
    return np.asarray(matrix.values[np.sort(chosen)], dtype=np.float64)


def split_by_time(times: Sequence[float] | np.ndarray, validation_share: float) -> tuple[np.ndarray, np.ndarray]:
    """Row indices (train, validation): the latest ``validation_share`` of people by cut-off validate.

    People sharing the boundary time stay in input order, so the split is deterministic.
    """
    order = np.argsort(np.asarray(times, dtype=np.float64), kind="stable")
    cut = round(len(order) * (1 - validation_share))
    return np.sort(order[:cut]), np.sort(order[cut:])


def _splits(y: np.ndarray, times: np.ndarray | None, config: TrainConfig) -> list[tuple[np.ndarray, np.ndarray]]:
    if config.split == "kfold":
        folds = sk_model_selection.StratifiedKFold(config.folds, shuffle=True, random_state=config.seed)
        return [(train, test) for train, test in folds.split(np.zeros(len(y)), y)]
    if times is None:
        raise ValidationFailed("A time split needs each person's cut-off time.", field="times", value=None)
    train, test = split_by_time(times, config.validation_share)
    for name, part in (("training", train), ("validation", test)):
        wins = int(y[part].sum())
        if wins == 0 or wins == len(part):
            raise ValidationFailed(
                f"The {name} period needs both won and lost people.", field="y", value=f"{wins} won of {len(part)}"
            )
    return [(train, test)]


def model_train(
    matrix: FeatureMatrix,
    y: Sequence[float] | np.ndarray,
    *,
    times: Sequence[float] | np.ndarray | None = None,
    rule_scores: Sequence[float] | np.ndarray | None = None,
    amounts: Sequence[float] | np.ndarray | None = None,
    segments: Sequence[str] | None = None,
    builder: FeatureBuilder | None = None,
    config: TrainConfig | None = None,
    version: str | None = None,
) -> ScoringModel:
    """Train both candidates and baselines on a time split or k folds; return the winner with its metrics."""
    config = config or TrainConfig()
    with _threads(config.threads):
        return _train(matrix, y, times, rule_scores, amounts, segments, builder, config, version)


def _train(
    matrix: FeatureMatrix,
    y: Sequence[float] | np.ndarray,
    times: Sequence[float] | np.ndarray | None,
    rule_scores: Sequence[float] | np.ndarray | None,
    amounts: Sequence[float] | np.ndarray | None,
    segments: Sequence[str] | None,
    builder: FeatureBuilder | None,
    config: TrainConfig,
    version: str | None,
) -> ScoringModel:
    outcomes = np.asarray(y, dtype=np.float64)
    size = len(outcomes)
    if matrix.values.shape[0] != size:
        raise ValidationFailed("The matrix needs one row per outcome.", field="y", value=size)
    if not np.all((outcomes == 0) | (outcomes == 1)):
        raise ValidationFailed("Outcomes must be 0 or 1.", field="y", value=outcomes[(outcomes != 0) & (outcomes != 1)][0])
    wins = int(outcomes.sum())
    if min(wins, size - wins) < 2 * max(config.folds if config.split == "kfold" else 1, config.calibration_folds):
        raise ValidationFailed("Too few won or lost people to train and validate.", field="y", value=f"{wins} won of {size}")
    when = None if times is None else np.asarray(times, dtype=np.float64)
    scores = None if rule_scores is None else np.asarray(rule_scores, dtype=np.float64)
    X = matrix.values
    splits = _splits(outcomes, when, config)
    validation_rows = np.concatenate([test for _, test in splits])
    predictions: dict[str, np.ndarray] = {}
    names: list[str] = [*config.candidates, "naive_bayes", *(["rule_score"] if scores is not None else [])]
    for name in names:
        predictions[name] = np.zeros(size)
    for train, test in splits:
        for kind in config.candidates:
            fitted = _fit_calibrated(kind, matrix.groups, X[train], outcomes[train], config)
            predictions[kind][test] = fitted.predict_proba(X[test])[:, 1]
        nb = MatrixNaiveBayes().fit(matrix.take(train), outcomes[train])
        predictions["naive_bayes"][test] = nb.predict_proba(matrix.take(test))
        if scores is not None:
            rule = RuleScoreCalibrator("isotonic").fit(scores[train], outcomes[train])
            predictions["rule_score"][test] = rule.predict_proba(scores[test])
    y_val = outcomes[validation_rows]
    evaluations = {name: evaluate(y_val, predictions[name][validation_rows]) for name in names}
    chosen = min(config.candidates, key=lambda k: (evaluations[k].log_loss, -evaluations[k].auc))
    tiers = tiers_choose(
        y_val,
        predictions[chosen][validation_rows],
        hot_win_share=config.hot_win_share,
        junk_win_share=config.junk_win_share,
    )
    activation = activation_decide(evaluations[chosen], evaluations["naive_bayes"])
    final_rows = np.arange(size) if (config.refit_on_all or config.split == "kfold") else splits[0][0]
    estimator = _fit_calibrated(chosen, matrix.groups, X[final_rows], outcomes[final_rows], config)
    expected_amount = None
    if amounts is not None:
        expected_amount = ExpectedAmount.fit(
            list(segments) if segments is not None else [""] * size,
            amounts,
            outcomes,
            shrinkage=config.amount_shrinkage,
        )
    trained_at = time.time()
    metrics: dict[str, Any] = {
        "selected": chosen,
        "split": config.split,
        "train_rows": int(size - len(validation_rows)) if config.split == "time" else int(size),
        "validation_rows": len(validation_rows),
        "validation": {name: evaluations[name].summary() for name in names},
        "tiers": tiers.as_dict(),
        "activation": {"active": activation.active, "reason": activation.reason},
        "config": config.as_dict(),
    }
    return ScoringModel(
        version=version or time.strftime("%Y%m%d-%H%M%S", time.gmtime(trained_at)),
        trained_at=trained_at,
        kind=chosen,
        feature_names=matrix.names,
        groups=matrix.groups,
        estimator=estimator,
        background=_background(matrix, final_rows, config.explain_sample, config.seed),
        tiers=tiers,
        activation=activation,
        metrics=metrics,
        evaluations=evaluations,
        distributions=_distributions(matrix.take(final_rows)),
        config=config,
        builder=builder,
        expected_amount=expected_amount,
    )
