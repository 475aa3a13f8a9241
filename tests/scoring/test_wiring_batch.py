"""The wiring's pure helpers: batch explanations equal the model's own, engagement by hand."""

from __future__ import annotations

import numpy as np
import pytest

from tandem.scoring.batch import engagement_batch, explain_many, grade_of
from tandem.scoring.features import EventTable, FeatureGroup, FeatureMatrix, ScoringInput
from tandem.scoring.model import TrainConfig, model_train
from tandem.scoring.rules import EngagementConfig, FitConfig, FitRule


def test_explain_many_gives_the_models_own_contributions_for_the_logistic_model():
    # given a logistic model on three numeric groups
    rng = np.random.default_rng(3)
    x = rng.normal(size=(600, 3))
    y = (rng.random(600) < 1 / (1 + np.exp(-(1.5 * x[:, 0] - x[:, 1])))).astype(float)
    groups = tuple(FeatureGroup(f"g{i}", f"G{i}", "numeric", (i,)) for i in range(3))
    matrix = FeatureMatrix(values=x, names=("a", "b", "c"), groups=groups)
    model = model_train(matrix, y, config=TrainConfig(split="kfold", folds=2, candidates=("logistic",)))
    # when explaining ten rows both ways
    fast = explain_many(model, x[:10], top=3)
    slow = [model.explain(row, top=3) for row in x[:10]]
    # then every factor's contribution is the same
    for a, b in zip(fast, slow, strict=True):
        left = {f.key: f.contribution for f in (*a.raising, *a.lowering)}
        right = {f.key: f.contribution for f in (*b.raising, *b.lowering)}
        assert left.keys() == right.keys()
        for key in left:
            assert left[key] == pytest.approx(right[key], abs=1e-9)


def test_engagement_batch_decays_and_ignores_events_after_the_cutoff():
    # given two people: a webinar 30 days before the cut-off and one after it; an email click at the cut-off
    day = 86_400.0
    events = EventTable.build(person=[0, 0, 1], time=[0.0, 40 * day, 30 * day], kind=["webinar", "webinar", "email_click"])
    inputs = ScoringInput.build(cutoffs=[30 * day, 30 * day], events=events)
    config = EngagementConfig(points_by_kind={"webinar": 10, "email_click": 4}, half_life_days=30)
    # when engagement is computed
    scores = engagement_batch(inputs, config)
    # then the old webinar is worth half, the later one nothing, the click in full
    assert scores.tolist() == [5.0, 4.0]


def test_grades_follow_the_three_minimums():
    config = FitConfig(rules=(FitRule("x", "present", 1),), grade_minimums=(60, 35, 15))
    assert grade_of(np.array([60, 59.9, 35, 15, 14.9]), config).tolist() == ["A", "B", "B", "C", "D"]
