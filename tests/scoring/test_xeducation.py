"""Real data: X Education at lead-creation time, 5 stratified folds."""

from __future__ import annotations

from pathlib import Path

import pytest

from tandem.scoring.features import FeatureBuilder, normalise_field_name
from tandem.scoring.model import TrainConfig, model_train
from tandem.scoring.rules import fit_points_batch
from tests.scoring.realdata import XEDU_LEAKAGE, xeducation, xeducation_rows


@pytest.mark.shared_data
def test_xeducation_loader_drops_leakage_and_select(shared_data: Path) -> None:
    # given / when
    rows = xeducation_rows(shared_data)
    # then 9,240 leads, no after-the-fact column, 'Select' read as missing
    assert len(rows) == 9240
    assert not set(rows[0]) & set(XEDU_LEAKAGE)
    assert sum(r["Specialization"] is None for r in rows) >= 1942
    assert all(r["City"] != "Select" for r in rows)
    assert sum(float(r["Converted"] or 0) for r in rows) == 3561


# The acceptance figure needs the full procedure: 5 folds of calibrated boosting and logistic
# regression plus both baselines, 14 s on an idle 2-core machine and about 25 s under load.
@pytest.mark.slow
@pytest.mark.shared_data
def test_xeducation_five_fold_beats_naive_bayes(shared_data: Path) -> None:
    # given X Education at lead-creation time (no Tags, Lead Quality, Last (Notable) Activity, Lead Profile,
    # Asymmetrique columns), 5 stratified folds with seed 0
    table = xeducation(shared_data)
    assert not {normalise_field_name(f) for f in (*table.spec.categorical, *table.spec.numeric)} & {
        normalise_field_name(f) for f in XEDU_LEAKAGE
    }
    builder = FeatureBuilder.fit(table.spec, table.inputs)
    matrix = builder.transform(table.inputs)
    rules = fit_points_batch(table.inputs.profile, table.inputs.size, table.rule_scores_config)
    # when
    model = model_train(
        matrix, table.y, rule_scores=rules, builder=builder, config=TrainConfig(split="kfold", folds=5, seed=0)
    )
    # then the targets of the issue hold out of fold
    scores = model.metrics["validation"]
    chosen = scores[model.kind]
    assert chosen["auc"] >= 0.87
    assert chosen["brier"] <= 0.14
    assert chosen["auc"] - scores["naive_bayes"]["auc"] >= 0.03
    assert chosen["auc"] > scores["rule_score"]["auc"]
    assert model.activation.active
    # and an explanation reads as plain words
    lines = model.explain(matrix.values[2]).lines()
    assert lines and all(line.endswith((": +", ": −")) for line in lines)
