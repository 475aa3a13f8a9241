"""Metrics of a probability model without the ORM: AUC, Brier, log loss, calibration, ECE, lift by decile.

Every function takes outcomes ``y`` (0/1) and predicted probabilities ``p`` as arrays of equal length.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from tandem.core.errors import ValidationFailed

LOG_LOSS_EPS = 1e-15


def _check(y: Sequence[float] | np.ndarray, p: Sequence[float] | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    outcomes = np.asarray(y, dtype=np.float64)
    probs = np.asarray(p, dtype=np.float64)
    if outcomes.ndim != 1 or probs.ndim != 1 or len(outcomes) != len(probs):
        raise ValidationFailed("Outcomes and probabilities need one value each per person.", field="p", value=len(probs))
    if not len(outcomes):
        raise ValidationFailed("Metrics need at least one person.", field="y", value=0)
    if not np.all((outcomes == 0) | (outcomes == 1)):
        raise ValidationFailed("Outcomes must be 0 or 1.", field="y", value=outcomes[(outcomes != 0) & (outcomes != 1)][0])
    if not np.all((probs >= 0) & (probs <= 1)):
        raise ValidationFailed("Probabilities must lie between 0 and 1.", field="p", value=probs[~((probs >= 0) & (probs <= 1))][0])
    return outcomes, probs


def roc_auc(y: Sequence[float] | np.ndarray, p: Sequence[float] | np.ndarray) -> float:
    """Chance that a random won person scores above a random lost one (ties count half)."""
    outcomes, probs = _check(y, p)
    wins = int(outcomes.sum())
    losses = len(outcomes) - wins
    if wins == 0 or losses == 0:
        raise ValidationFailed("AUC needs both won and lost people.", field="y", value=f"{wins} won, {losses} lost")
    from scipy.stats import rankdata  # scipy is slow to import: only when an AUC is computed

    ranks = rankdata(probs)
    return float((ranks[outcomes == 1].sum() - wins * (wins + 1) / 2) / (wins * losses))


def brier_score(y: Sequence[float] | np.ndarray, p: Sequence[float] | np.ndarray) -> float:
    """Mean squared gap between probability and outcome (0 is perfect; always guessing 50 % gives 0.25)."""
    outcomes, probs = _check(y, p)
    return float(np.mean((probs - outcomes) ** 2))


def log_loss(y: Sequence[float] | np.ndarray, p: Sequence[float] | np.ndarray) -> float:
    """Mean negative log-likelihood (natural log), probabilities clipped to [1e-15, 1 - 1e-15]."""
    outcomes, probs = _check(y, p)
    clipped = np.clip(probs, LOG_LOSS_EPS, 1 - LOG_LOSS_EPS)
    return float(-np.mean(outcomes * np.log(clipped) + (1 - outcomes) * np.log1p(-clipped)))


@dataclass(frozen=True)
class CalibrationBin:
    lower: float
    upper: float
    count: int
    mean_predicted: float
    observed_rate: float


def calibration_table(
    y: Sequence[float] | np.ndarray, p: Sequence[float] | np.ndarray, *, bins: int = 10
) -> list[CalibrationBin]:
    """Equal-width probability bins [0, 0.1), …, [0.9, 1.0]: mean prediction vs observed win rate (empty bins left out)."""
    outcomes, probs = _check(y, p)
    if bins < 1:
        raise ValidationFailed("Calibration needs at least one bin.", field="bins", value=bins)
    edges = np.arange(bins + 1) / bins
    # lower <= p < upper with edges k / bins (linspace puts 0.30000000000000004); 1.0 joins the top bin.
    index = np.searchsorted(edges[1:-1], probs, side="right")
    table: list[CalibrationBin] = []
    for b in range(bins):
        inside = index == b
        count = int(inside.sum())
        if not count:
            continue
        table.append(
            CalibrationBin(
                lower=float(edges[b]),
                upper=float(edges[b + 1]),
                count=count,
                mean_predicted=float(probs[inside].mean()),
                observed_rate=float(outcomes[inside].mean()),
            )
        )
    return table


def expected_calibration_error(
    y: Sequence[float] | np.ndarray, p: Sequence[float] | np.ndarray, *, bins: int = 10
) -> float:
    """Share-weighted mean gap between predicted and observed rates over the calibration bins."""
    outcomes, _ = _check(y, p)
    total = len(outcomes)
    return float(
        sum(b.count / total * abs(b.mean_predicted - b.observed_rate) for b in calibration_table(y, p, bins=bins))
    )


@dataclass(frozen=True)
class DecileLift:
    decile: int
    count: int
    wins: int
    win_rate: float
    lift: float
    cumulative_share_of_wins: float
    cumulative_share_of_leads: float


def lift_by_decile(y: Sequence[float] | np.ndarray, p: Sequence[float] | np.ndarray) -> list[DecileLift]:
    """People sorted by probability (highest first, ties in input order) cut into ten near-equal groups.

    Lift is the group's win rate over the overall win rate: 3.0 means three times as many wins as average.
    """
    outcomes, probs = _check(y, p)
    total = len(outcomes)
    base_rate = outcomes.mean()
    order = np.argsort(-probs, kind="stable")
    all_wins = outcomes.sum()
    rows: list[DecileLift] = []
    seen = 0
    won = 0.0
    for decile, part in enumerate(np.array_split(order, 10), start=1):
        if not len(part):
            continue
        wins = float(outcomes[part].sum())
        seen += len(part)
        won += wins
        rate = wins / len(part)
        rows.append(
            DecileLift(
                decile=decile,
                count=len(part),
                wins=int(wins),
                win_rate=rate,
                lift=rate / base_rate if base_rate > 0 else float("nan"),
                cumulative_share_of_wins=won / all_wins if all_wins > 0 else float("nan"),
                cumulative_share_of_leads=seen / total,
            )
        )
    return rows


@dataclass(frozen=True)
class Evaluation:
    """All metrics of one set of predictions on one set of outcomes."""

    count: int
    base_rate: float
    auc: float
    brier: float
    log_loss: float
    ece: float
    calibration: tuple[CalibrationBin, ...]
    lift: tuple[DecileLift, ...]

    def summary(self) -> dict[str, float]:
        return {
            "count": float(self.count),
            "base_rate": self.base_rate,
            "auc": self.auc,
            "brier": self.brier,
            "log_loss": self.log_loss,
            "ece": self.ece,
        }

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def evaluate(y: Sequence[float] | np.ndarray, p: Sequence[float] | np.ndarray) -> Evaluation:
    """AUC, Brier score, log loss, ECE, calibration table and lift by decile in one go."""
    outcomes, probs = _check(y, p)
    return Evaluation(
        count=len(outcomes),
        base_rate=float(outcomes.mean()),
        auc=roc_auc(outcomes, probs),
        brier=brier_score(outcomes, probs),
        log_loss=log_loss(outcomes, probs),
        ece=expected_calibration_error(outcomes, probs),
        calibration=tuple(calibration_table(outcomes, probs)),
        lift=tuple(lift_by_decile(outcomes, probs)),
    )


def format_evaluation(name: str, evaluation: Evaluation) -> str:
    """A plain-text block (metrics, calibration table, lift by decile) for ``tandem score evaluate``."""
    lines = [
        f"{name}: AUC {evaluation.auc:.4f}  Brier {evaluation.brier:.4f}  log loss {evaluation.log_loss:.4f}  "
        f"ECE {evaluation.ece:.4f}  ({evaluation.count} people, {evaluation.base_rate:.1%} won)",
        "  calibration: predicted range | people | mean predicted | observed",
    ]
    for b in evaluation.calibration:
        lines.append(
            f"    {b.lower:.1f}-{b.upper:.1f} | {b.count:6d} | {b.mean_predicted:6.1%} | {b.observed_rate:6.1%}"
        )
    lines.append("  lift by decile: decile | people | win rate | lift | cumulative share of wins")
    for d in evaluation.lift:
        lines.append(
            f"    {d.decile:2d} | {d.count:6d} | {d.win_rate:6.1%} | {d.lift:4.2f} | {d.cumulative_share_of_wins:6.1%}"
        )
    return "\n".join(lines)
