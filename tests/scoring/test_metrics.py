"""Metrics checked against scikit-learn and by hand on fixed arrays."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.calibration import calibration_curve
from sklearn.metrics import brier_score_loss, roc_auc_score
from sklearn.metrics import log_loss as sk_log_loss

from tandem.core.errors import ValidationFailed
from tandem.scoring.metrics import (
    brier_score,
    calibration_table,
    evaluate,
    expected_calibration_error,
    format_evaluation,
    lift_by_decile,
    log_loss,
    roc_auc,
)

# Fixed arrays with ties (0.35 twice across classes, 0.82 twice) and no probability on a bin edge.
Y = np.array([0, 0, 1, 1, 0, 1, 0, 1, 1, 0, 0, 1, 0, 0, 1, 1, 0, 1, 0, 0])
P = np.array(
    [0.05, 0.15, 0.35, 0.35, 0.42, 0.55, 0.12, 0.82, 0.82, 0.62, 0.02, 0.97, 0.33, 0.25, 0.71, 0.66, 0.48, 0.91, 0.07, 0.18]
)


def test_auc_matches_sklearn_with_ties() -> None:
    # given the fixed arrays
    # when
    ours = roc_auc(Y, P)
    # then
    assert ours == pytest.approx(roc_auc_score(Y, P), abs=1e-12)


def test_auc_by_hand_counts_ties_half() -> None:
    # given won scores {0.9, 0.5} and lost scores {0.5, 0.1}: pairs 0.9>0.5, 0.9>0.1, 0.5=0.5 (half), 0.5>0.1
    # when
    auc = roc_auc([1, 1, 0, 0], [0.9, 0.5, 0.5, 0.1])
    # then
    assert auc == pytest.approx(3.5 / 4)


def test_brier_and_log_loss_match_sklearn() -> None:
    # given the fixed arrays
    # when / then
    assert brier_score(Y, P) == pytest.approx(brier_score_loss(Y, P), abs=1e-12)
    assert log_loss(Y, P) == pytest.approx(sk_log_loss(Y, P), abs=1e-12)


def test_log_loss_clips_certain_mistakes() -> None:
    # given a certain, wrong prediction
    # when
    loss = log_loss([1], [0.0])
    # then it is -ln(1e-15), not infinity
    assert loss == pytest.approx(-np.log(1e-15))


def test_calibration_table_matches_sklearn_calibration_curve() -> None:
    # given the fixed arrays (no probability on a bin edge)
    # when
    table = calibration_table(Y, P, bins=10)
    observed, predicted = calibration_curve(Y, P, n_bins=10, strategy="uniform")
    # then
    assert [b.observed_rate for b in table] == pytest.approx(list(observed), abs=1e-12)
    assert [b.mean_predicted for b in table] == pytest.approx(list(predicted), abs=1e-12)
    assert sum(b.count for b in table) == len(Y)


def test_calibration_bins_are_closed_below_and_open_above() -> None:
    # given probabilities exactly on bin edges
    # when
    table = calibration_table([0, 1, 1], [0.3, 0.7, 1.0], bins=10)
    # then 0.3 sits in [0.3, 0.4), 0.7 in [0.7, 0.8) and 1.0 in the top bin
    assert [(b.lower, b.count) for b in table] == [(pytest.approx(0.3), 1), (pytest.approx(0.7), 1), (pytest.approx(0.9), 1)]


def test_expected_calibration_error_by_hand() -> None:
    # given two bins: [0.1,0.2) with predictions 0.1, 0.1 and outcomes 0, 1 ; [0.8,0.9) with 0.8, 0.8, 0.8 and 1, 1, 0
    y = [0, 1, 1, 1, 0]
    p = [0.1, 0.1, 0.8, 0.8, 0.8]
    # when
    ece = expected_calibration_error(y, p)
    # then 2/5 * |0.1 - 0.5| + 3/5 * |0.8 - 2/3|
    assert ece == pytest.approx(2 / 5 * 0.4 + 3 / 5 * abs(0.8 - 2 / 3))


def test_lift_by_decile_by_hand() -> None:
    # given the fixed arrays: sorted by probability, deciles of two people each
    # when
    rows = lift_by_decile(Y, P)
    # then compare with a straightforward computation
    order = sorted(range(len(P)), key=lambda i: -P[i])
    base = Y.mean()
    expected_wins = [int(Y[order[2 * d]] + Y[order[2 * d + 1]]) for d in range(10)]
    assert [r.wins for r in rows] == expected_wins
    assert [r.lift for r in rows] == pytest.approx([w / 2 / base for w in expected_wins])
    assert rows[0].decile == 1 and rows[-1].cumulative_share_of_wins == pytest.approx(1.0)
    assert rows[2].cumulative_share_of_leads == pytest.approx(0.3)
    assert rows[2].cumulative_share_of_wins == pytest.approx(sum(expected_wins[:3]) / Y.sum())


def test_evaluate_bundles_every_metric_and_formats_them() -> None:
    # given the fixed arrays
    # when
    result = evaluate(Y, P)
    text = format_evaluation("model", result)
    # then
    assert result.auc == roc_auc(Y, P) and result.brier == brier_score(Y, P)
    assert result.count == 20 and result.base_rate == pytest.approx(0.45)
    assert text.startswith(f"model: AUC {result.auc:.4f}")
    assert "lift by decile" in text


def test_metrics_refuse_bad_input() -> None:
    # given / when / then
    with pytest.raises(ValidationFailed) as err:
        roc_auc([1, 1], [0.2, 0.3])
    assert err.value.field == "y"
    with pytest.raises(ValidationFailed) as err:
        brier_score([1, 0], [1.2, 0.3])
    assert err.value.field == "p"
    with pytest.raises(ValidationFailed):
        log_loss([1, 0, 2], [0.2, 0.3, 0.5])
