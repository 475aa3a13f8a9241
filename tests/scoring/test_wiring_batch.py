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


def test_describe_many_words_each_row_as_describe_group_does():
    # given a count group and a one-hot group with repeats, gaps and a rare value
    from tandem.scoring.features import describe_group, describe_many

    count = FeatureGroup("kind:webinar", "Webinar attended", "numeric", (0,), unit="times")
    level = FeatureGroup("profile:title", "Job title", "onehot", (1, 2, 3), ("Student", "Manager", "(rare value)"))
    rows = np.array(
        [[2, 1, 0, 0], [np.nan, 0, 1, 0], [0, 0, 0, 1], [2, 0, 0, 0], [1, 1, 0, 0], [np.nan, 0, 0, 0]], dtype=float
    )
    # when both are worded in bulk and row by row
    # then the words are the same
    assert describe_many(count, rows[:, [0]]) == [describe_group(count, r) for r in rows]
    assert describe_many(count, rows[:, [0]]) == [
        "Webinar attended: 2 times", "Webinar attended: unknown", "Webinar attended: never",
        "Webinar attended: 2 times", "Webinar attended: 1 time", "Webinar attended: unknown",
    ]
    assert describe_many(level, rows[:, 1:]) == [
        "Job title: Student", "Job title: Manager", "Job title: a rare value",
        "Job title: not given", "Job title: Student", "Job title: not given",
    ]


def test_score_columns_reuse_the_models_rule_columns_only_when_its_rules_are_in_force():
    # given a model whose features include fit points and engagement under some rules
    from tandem.scoring.batch import score_columns
    from tandem.scoring.features import FeatureBuilder, FeatureSpec

    rng = np.random.default_rng(4)
    size = 800
    titles = rng.choice(["vp sales", "student", "manager"], size).tolist()
    person = rng.integers(0, size, 3000)
    events = EventTable.build(person=person, time=rng.uniform(0, 50, 3000) * 86_400.0, kind=rng.choice(["webinar", "email_click"], 3000))
    inputs = ScoringInput.build(cutoffs=np.full(size, 60 * 86_400.0), profile={"job_title": titles}, events=events)
    fit = FitConfig(rules=(FitRule("job_title", "contains_any", 20, ("vp", "manager")),), grade_minimums=(20, 10, 5))
    engagement = EngagementConfig(points_by_kind={"webinar": 10, "email_click": 2}, half_life_days=30)
    builder = FeatureBuilder.fit(FeatureSpec(categorical=("job_title",), fit=fit, engagement=engagement, min_level_count=1), inputs)
    matrix = builder.transform(inputs)
    y = (np.array([t != "student" for t in titles]) & (rng.random(size) < 0.6)).astype(float)
    model = model_train(matrix, y, builder=builder, config=TrainConfig(split="kfold", folds=2, candidates=("logistic",)))
    # when scored under the same rules, and under other rules
    same = score_columns(inputs, [""] * size, model, fit, engagement)
    other_fit = FitConfig(rules=(FitRule("job_title", "contains_any", 50, ("student",)),), grade_minimums=(40, 10, 5))
    other_engagement = EngagementConfig(points_by_kind={"webinar": 1}, half_life_days=7)
    other = score_columns(inputs, [""] * size, model, other_fit, other_engagement)
    # then each person's fit points and engagement are those of the rules given, computed directly
    from tandem.scoring.rules import fit_points_batch

    assert same.fit_points == fit_points_batch({"job_title": titles}, size, fit).tolist()
    assert same.engagement == pytest.approx(engagement_batch(inputs, engagement).tolist(), rel=1e-12)
    assert other.fit_points == fit_points_batch({"job_title": titles}, size, other_fit).tolist()
    assert other.engagement == pytest.approx(engagement_batch(inputs, other_engagement).tolist(), rel=1e-12)
    assert other.fit_grade != same.fit_grade


def test_days_are_worded_like_one_by_one_after_rounding_in_bulk():
    from tandem.scoring.features import describe_group, describe_many

    days = FeatureGroup("recency:last", "Days since the last activity", "numeric", (0,), unit="days")
    rows = np.array([[0.4], [0.5], [1.5], [2.5], [-0.3], [12.49], [np.nan], [364.51]])
    assert describe_many(days, rows) == [describe_group(days, r) for r in rows]
