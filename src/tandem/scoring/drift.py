"""Drift without the ORM: are today's leads like the ones the model learnt from, and do its probabilities still hold?

Two checks, both on plain arrays:

- **Feature drift**: the population stability index (PSI) of each feature group between the training
  snapshots and the open leads scored now (``model.population_stability_index`` over the training
  bands stored with the model). Below 0.1 stable, 0.1 to 0.25 a moderate shift, 0.25 and above major.
- **Calibration drift**: people who were open leads when the model was trained, scored as of that
  moment, against what happened to them since: won within the horizon (1), or lost, or the horizon
  passed without a win (0). People whose horizon is still running and who are still open are left
  out: their outcome is not known yet.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from tandem.scoring.metrics import calibration_table, expected_calibration_error
from tandem.scoring.model import CALIBRATION_DRIFT, FeatureDrift
from tandem.scoring.rules import SECONDS_PER_DAY

# Fewer known outcomes than this and the calibration check says "too early to tell".
MIN_OUTCOMES = 30


def outcomes_since(
    *,
    trained_at: float,
    horizon_days: float,
    now: float,
    created: np.ndarray,
    won_at: np.ndarray,
    lost_at: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """(known, won): for people open at ``trained_at``, whether their outcome is known by ``now`` and if won.

    ``known`` is False for people who were not open leads at ``trained_at`` (not yet arrived, or
    already won or lost) and for those still open whose horizon has not passed.
    """
    born = np.asarray(created, dtype=np.float64)
    won = np.asarray(won_at, dtype=np.float64)
    lost = np.asarray(lost_at, dtype=np.float64)
    end = trained_at + horizon_days * SECONDS_PER_DAY
    with np.errstate(invalid="ignore"):  # NaN compares False: never won / never lost
        was_open = (born <= trained_at) & ~(won <= trained_at) & ~(lost <= trained_at)
        positive = was_open & (won > trained_at) & (won <= end) & (won <= now)
        lost_since = was_open & (lost > trained_at) & (lost <= now) & ~positive
    horizon_over = was_open & (end <= now)
    known = positive | lost_since | horizon_over
    return known, positive


@dataclass(frozen=True)
class CalibrationDrift:
    count: int
    wins: int
    mean_predicted: float | None
    observed_rate: float | None
    ece: float | None
    status: str  # "too early", "holding" or "drifted"
    table: tuple[dict[str, Any], ...]


def calibration_drift(y: Sequence[float] | np.ndarray, p: Sequence[float] | np.ndarray, *, bins: int = 10) -> CalibrationDrift:
    """Average prediction against the observed win rate and the ECE on the outcomes known since training."""
    outcomes = np.asarray(y, dtype=np.float64)
    predicted = np.asarray(p, dtype=np.float64)
    count = len(outcomes)
    if count < MIN_OUTCOMES:
        return CalibrationDrift(count, int(outcomes.sum()), None, None, None, "too early", ())
    mean_predicted = float(predicted.mean())
    observed = float(outcomes.mean())
    ece = expected_calibration_error(outcomes, predicted, bins=bins)
    drifted = abs(mean_predicted - observed) > CALIBRATION_DRIFT or ece > CALIBRATION_DRIFT
    table = tuple(asdict(b) for b in calibration_table(outcomes, predicted, bins=bins) if b.count)
    return CalibrationDrift(
        count, int(outcomes.sum()), mean_predicted, observed, ece, "drifted" if drifted else "holding", table
    )


@dataclass(frozen=True)
class DriftSummary:
    """What the model page, ``tandem score drift`` and the API show."""

    measured_at: float
    open_leads: int
    features: tuple[FeatureDrift, ...]
    calibration: CalibrationDrift

    @property
    def shifted(self) -> tuple[FeatureDrift, ...]:
        return tuple(f for f in self.features if f.status != "stable")

    def sentence(self) -> str:
        """The finding in one plain sentence."""
        parts = []
        if self.shifted:
            worst = max(self.shifted, key=lambda f: f.psi)
            parts.append(
                f"{len(self.shifted)} of {len(self.features)} inputs look different in today's open leads than in "
                f"training (most: {worst.label}, PSI {worst.psi:.2f})"
            )
        else:
            parts.append(f"today's {self.open_leads:,} open leads look like the people the model learnt from")
        c = self.calibration
        if c.status == "too early" and not c.count:
            parts.append("no outcome is known since training yet, so the probabilities cannot be checked")
        elif c.status == "too early":
            parts.append(f"only {c.count} outcomes are known since training, too few to check the probabilities")
        else:
            assert c.mean_predicted is not None and c.observed_rate is not None
            verdict = "still hold" if c.status == "holding" else "have drifted: retrain the model"
            parts.append(
                f"on the {c.count:,} outcomes known since training the model predicted {c.mean_predicted:.1%} on "
                f"average and {c.observed_rate:.1%} were won, so its probabilities {verdict}"
            )
        text = "; ".join(parts)
        return text[:1].upper() + text[1:] + "."

    def as_dict(self) -> dict[str, Any]:
        def clean(value: Any) -> Any:
            return None if isinstance(value, float) and not math.isfinite(value) else value

        return {
            "measured_at": self.measured_at,
            "open_leads": self.open_leads,
            "sentence": self.sentence(),
            "features": [
                {"key": f.key, "label": f.label, "psi": clean(f.psi), "status": f.status}
                for f in sorted(self.features, key=lambda f: -f.psi)
            ],
            "calibration": {k: clean(v) if not isinstance(v, tuple) else list(v) for k, v in asdict(self.calibration).items()},
        }
