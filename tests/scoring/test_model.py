"""The scoring model on a planted synthetic population: explanations, tiers, activation, storage, drift."""

from __future__ import annotations

import json
import math
from functools import cache

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tandem.core.errors import ValidationFailed
from tandem.scoring.features import (
    Event,
    EventTable,
    FeatureBuilder,
    FeatureMatrix,
    FeatureSpec,
    PersonRecord,
    ScoringInput,
)
from tandem.scoring.metrics import evaluate
from tandem.scoring.model import (
    FORMAT_MAGIC,
    ExpectedAmount,
    ScoringModel,
    TrainConfig,
    activation_decide,
    model_train,
    population_stability_index,
    split_by_time,
    tiers_choose,
)
from tandem.scoring.rules import SECONDS_PER_DAY

DAY = SECONDS_PER_DAY
T0 = 1_700_000_000.0
SPEC = FeatureSpec(
    categorical=("occupation",),
    numeric=("company_size",),
    event_kinds=("webinar_attended", "email_click"),
    windows_days=(30.0,),
    labels={"occupation": "Occupation", "kind:webinar_attended": "Webinar attended"},
)


def _population(size: int, seed: int) -> tuple[ScoringInput, np.ndarray, list[str], np.ndarray]:
    """Planted truth: webinars raise the odds, students lower them, company size and email clicks do nothing."""
    rng = np.random.default_rng(seed)
    occupation = rng.choice(["other", "professional", "student"], size, p=[0.5, 0.25, 0.25])
    webinars = rng.poisson(0.8, size)
    clicks = rng.poisson(2.0, size)
    company_size = rng.lognormal(4, 1, size).round()
    cutoffs = T0 + rng.uniform(0, 400, size) * DAY
    logit = -0.8 + 0.9 * webinars - 1.8 * (occupation == "student") + 0.8 * (occupation == "professional")
    y = (rng.random(size) < 1 / (1 + np.exp(-logit))).astype(float)
    person = np.concatenate([np.repeat(np.arange(size), webinars), np.repeat(np.arange(size), clicks)])
    kind = ["webinar_attended"] * int(webinars.sum()) + ["email_click"] * int(clicks.sum())
    time = cutoffs[person] - rng.uniform(0, 60, len(person)) * DAY
    # Later events that must not count: one more webinar for every won person, after the cut-off.
    won = np.flatnonzero(y == 1)
    person = np.concatenate([person, won])
    kind = kind + ["webinar_attended"] * len(won)
    time = np.concatenate([time, cutoffs[won] + 5 * DAY])
    events = EventTable.build(person=person, time=time, kind=kind)
    inputs = ScoringInput.build(
        cutoffs=cutoffs, profile={"occupation": occupation.tolist(), "company_size": company_size.tolist()}, events=events
    )
    segments = occupation.tolist()
    amounts = np.where(occupation == "professional", 9000.0, 3000.0)
    return inputs, y, segments, amounts


@cache
def _trained(kind: str) -> tuple[ScoringModel, FeatureMatrix, np.ndarray]:
    inputs, y, segments, amounts = _population(2400, seed=11)
    builder = FeatureBuilder.fit(SPEC, inputs)
    matrix = builder.transform(inputs)
    config = TrainConfig(split="time", validation_share=0.25, candidates=(kind,), seed=0)  # type: ignore[arg-type]
    model = model_train(
        matrix,
        y,
        times=inputs.cutoffs,
        rule_scores=matrix.values[:, matrix.names.index("events:webinar_attended")],
        amounts=amounts,
        segments=segments,
        builder=builder,
        config=config,
        version="test-1",
    )
    return model, matrix, y


def _record(occupation: str, webinars: int) -> PersonRecord:
    events = tuple(Event(T0 - (i + 1) * DAY, "webinar_attended") for i in range(webinars))
    return PersonRecord(cutoff=T0, profile={"occupation": occupation, "company_size": 50}, events=events)


@pytest.mark.parametrize("kind", ["boosting", "logistic"])
def test_explanations_carry_the_planted_signs(kind: str) -> None:
    # given a model trained on the planted population
    model, _, _ = _trained(kind)
    # when explaining a professional with three webinars and a student with none
    keen = model.rescore(_record("professional", 3)).explanation
    student = model.rescore(_record("student", 0)).explanation
    # then
    assert "Webinar attended: 3 times: +" in keen.lines()
    assert "Occupation: professional: +" in keen.lines()
    assert "Occupation: student: −" in student.lines()
    assert all(f.contribution > 0 for f in keen.raising) and all(f.contribution < 0 for f in student.lowering)


def test_logistic_explanation_is_coefficient_times_distance_from_the_sample_mean() -> None:
    # given the logistic model and one person's row
    model, _, _ = _trained("logistic")
    row = model.features(ScoringInput.build(cutoffs=[T0], profile={"occupation": ["student"], "company_size": [50]})).values[0]
    # when
    factors = {f.key: f.contribution for f in (*model.explain(row, top=50).raising, *model.explain(row, top=50).lowering)}
    # then together they are the mean (over calibration folds) of coef · (design(row) − mean design(sample))
    expected = []
    for calibrated in model.estimator.calibrated_classifiers_:
        pipe = calibrated.estimator
        coef = pipe.named_steps["model"].coef_[0]
        design = pipe.named_steps["design"].transform(np.vstack([row[None, :], model.background]))
        expected.append(float(coef @ (design[0] - design[1:].mean(axis=0))))
    assert sum(factors.values()) == pytest.approx(np.mean(expected), abs=1e-9)
    assert factors["profile:occupation"] < 0


def test_rescore_equals_batch_scoring_and_ignores_later_events() -> None:
    # given the boosting model and one person, with a demo request one day after the cut-off
    model, _, _ = _trained("boosting")
    record = _record("professional", 2)
    later = PersonRecord(cutoff=T0, profile=record.profile, events=(*record.events, Event(T0 + DAY, "webinar_attended")))
    batch_input = ScoringInput.build(
        cutoffs=[T0], profile={"occupation": ["professional"], "company_size": [50]},
        events=EventTable.build(person=[0, 0], time=[T0 - DAY, T0 - 2 * DAY], kind=["webinar_attended"] * 2),
    )
    # when
    single = model.rescore(later, segment="professional")
    probability, tier, value = model.score_batch(batch_input, ["professional"])
    # then
    assert single.probability == probability[0]
    assert single.tier == tier[0]
    assert single.expected_value == value[0] == probability[0] * model.expected_amount.amount_for(["professional"])[0]  # type: ignore[union-attr]


def test_tiers_by_hand() -> None:
    # given ten validation leads, four won
    p = [0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1, 0.05]
    y = [1, 1, 0, 1, 0, 0, 1, 0, 0, 0]
    # when hot must hold half the wins and junk at most 5 % of them
    tiers = tiers_choose(y, p, hot_win_share=0.5, junk_win_share=0.05)
    # then the two top leads hold 2 of 4 wins; the three lowest hold none, the fourth lowest is a win
    assert (tiers.hot_threshold, tiers.junk_threshold) == (0.8, 0.3)
    assert tiers.assign(p).tolist() == ["hot"] * 2 + ["gray"] * 5 + ["junk"] * 3
    hot, gray, junk = tiers.summaries
    assert (hot.share_of_leads, hot.share_of_wins, hot.win_rate) == (0.2, 0.5, 1.0)
    assert (gray.share_of_leads, gray.share_of_wins, gray.win_rate) == (0.5, 0.5, 0.4)
    assert (junk.share_of_leads, junk.share_of_wins, junk.win_rate) == (0.3, 0.0, 0.0)
    assert hot.meaning == "Hot: 20% of leads, 50% of wins (win rate 100%)"


@settings(max_examples=80, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 1), st.integers(0, 20)), min_size=2, max_size=60).filter(
        lambda rows: any(won for won, _ in rows)
    ),
    st.sampled_from([(0.5, 0.05), (0.8, 0.2), (0.3, 0.1)]),
)
def test_tiers_always_keep_their_promises(rows: list[tuple[int, int]], shares: tuple[float, float]) -> None:
    # given any validation outcomes and (heavily tied) probabilities
    y = np.array([won for won, _ in rows], dtype=float)
    p = np.array([score / 20 for _, score in rows])
    hot_share, junk_share = shares
    # when
    tiers = tiers_choose(y, p, hot_win_share=hot_share, junk_win_share=junk_share)
    names = tiers.assign(p)
    # then hot holds at least its share of the wins, junk at most its share, and the tiers partition everyone
    assert y[names == "hot"].sum() >= hot_share * y.sum() - 1e-9
    assert y[names == "junk"].sum() <= junk_share * y.sum() + 1e-9
    assert tiers.junk_threshold <= tiers.hot_threshold
    assert sum(t.count for t in tiers.summaries) == len(y)


def test_trained_tiers_come_from_the_validation_predictions() -> None:
    # given a trained model
    model, _, _ = _trained("boosting")
    hot, gray, junk = model.tiers.summaries
    # then the tiers partition the validation people and hot holds at least half the wins, junk at most 5 %
    assert hot.count + gray.count + junk.count == model.metrics["validation_rows"] == 600
    assert hot.share_of_wins >= 0.5 and junk.share_of_wins <= 0.05
    assert model.tiers.junk_threshold <= model.tiers.hot_threshold


def test_activation_refuses_a_model_worse_than_naive_bayes() -> None:
    # given outcomes, a good predictor and a worse one
    y = np.array([0, 0, 0, 1, 1, 0, 1, 1, 0, 1])
    good = np.array([0.1, 0.2, 0.3, 0.7, 0.8, 0.2, 0.9, 0.6, 0.4, 0.7])
    worse = np.array([0.4, 0.6, 0.3, 0.5, 0.6, 0.5, 0.4, 0.6, 0.5, 0.5])
    # when
    refused = activation_decide(evaluate(y, worse), evaluate(y, good))
    accepted = activation_decide(evaluate(y, good), evaluate(y, worse))
    # then
    assert not refused.active and refused.reason.startswith("validation AUC")
    assert accepted.active


def test_activation_refuses_a_model_with_worse_log_loss_even_at_equal_auc() -> None:
    # given the same ranking, one overconfident
    y = np.array([0, 1, 0, 1])
    calm = np.array([0.3, 0.7, 0.4, 0.6])
    overconfident = np.array([0.001, 0.999, 0.9, 0.95])
    # when
    decision = activation_decide(evaluate(y, overconfident), evaluate(y, calm))
    # then
    assert not decision.active and "log loss" in decision.reason


def test_trained_model_is_activated_only_by_the_naive_bayes_rule() -> None:
    # given a trained model
    model, _, _ = _trained("boosting")
    # then its activation is the rule applied to its own validation metrics
    expected = activation_decide(model.evaluations["boosting"], model.evaluations["naive_bayes"])
    assert model.activation == expected
    assert model.metrics["activation"]["active"] == expected.active
    assert set(model.metrics["validation"]) == {"boosting", "naive_bayes", "rule_score"}


def test_round_trip_gives_identical_probabilities() -> None:
    # given a model and its stored bytes
    model, matrix, _ = _trained("boosting")
    data = model.to_bytes()
    # when
    again = ScoringModel.from_bytes(data)
    # then
    assert np.array_equal(again.predict_proba(matrix), model.predict_proba(matrix))
    assert again.explain(matrix.values[0]) == model.explain(matrix.values[0])
    assert again.version == "test-1" and again.tiers == model.tiers
    header = ScoringModel.read_header(data)
    assert header["version"] == "test-1" and header["metrics"] == json.loads(json.dumps(model.metrics))


def test_stored_bytes_from_elsewhere_are_refused() -> None:
    # given foreign bytes and bytes claiming another scikit-learn
    model, _, _ = _trained("logistic")
    data = model.to_bytes()
    header = ScoringModel.read_header(data)
    header["sklearn_version"] = "0.1"
    other = FORMAT_MAGIC + json.dumps(header).encode() + b"\n" + data[len(FORMAT_MAGIC) :].partition(b"\n")[2]
    # when / then
    with pytest.raises(ValidationFailed) as err:
        ScoringModel.from_bytes(b"PK\x03\x04 not a model")
    assert err.value.field == "model"
    with pytest.raises(ValidationFailed) as err:
        ScoringModel.from_bytes(other)
    assert err.value.field == "sklearn_version"


def test_expected_amount_shrinks_small_segments_by_hand() -> None:
    # given won deals: A 100 and 200, B 1000; a lost deal in B is ignored; shrinkage 2
    amounts = ExpectedAmount.fit(["A", "A", "B", "B"], [100, 200, 1000, 50_000], [1, 1, 1, 0], shrinkage=2)
    # when
    values = amounts.amount_for(["A", "B", "C", None])
    # then overall 1300 / 3; A (300 + 2·overall) / 4; B (1000 + 2·overall) / 3; unseen segments get the overall mean
    overall = 1300 / 3
    assert values.tolist() == pytest.approx([(300 + 2 * overall) / 4, (1000 + 2 * overall) / 3, overall, overall])


def test_population_stability_index_by_hand() -> None:
    # given / when / then
    assert population_stability_index(np.array([0.5, 0.5]), np.array([0.25, 0.75])) == pytest.approx(
        -0.25 * math.log(0.5) + 0.25 * math.log(1.5)
    )
    assert population_stability_index(np.array([0.2, 0.8]), np.array([0.2, 0.8])) == 0.0


def test_drift_report_flags_a_shifted_feature_and_drifted_calibration() -> None:
    # given recent people like the training ones, and recent people from much bigger companies who never buy
    model, _, _ = _trained("boosting")
    inputs, _, _, _ = _population(1500, seed=99)
    same = model.features(inputs)
    shifted_values = same.values.copy()
    shifted_values[:, same.names.index("company_size")] *= 50
    shifted = FeatureMatrix(values=shifted_values, names=same.names, groups=same.groups)
    # when
    calm = model.drift_report(same)
    drifted = model.drift_report(shifted, np.zeros(len(shifted_values)))
    # then
    assert all(f.status == "stable" for f in calm.features) and calm.warnings == ()
    by_key = {f.key: f for f in drifted.features}
    assert by_key["profile:company_size"].status == "major shift"
    assert by_key["profile:occupation"].status == "stable"
    assert drifted.observed_rate == 0.0 and drifted.mean_predicted is not None and drifted.mean_predicted > 0.2
    assert any(w.startswith("calibration drifted") for w in drifted.warnings)


def test_the_time_split_validates_on_the_latest_people() -> None:
    # given the trained model (2,400 people, validation share 25 %)
    model, _, _ = _trained("logistic")
    # then
    assert (model.metrics["train_rows"], model.metrics["validation_rows"]) == (1800, 600)
    assert model.metrics["selected"] == "logistic" and model.kind == "logistic"


def test_selection_picks_the_lower_validation_log_loss() -> None:
    # given both candidates on a smaller population
    inputs, y, _, _ = _population(1200, seed=5)
    builder = FeatureBuilder.fit(SPEC, inputs)
    matrix = builder.transform(inputs)
    # when
    model = model_train(matrix, y, config=TrainConfig(split="kfold", folds=3, seed=1))
    # then
    losses = {k: model.metrics["validation"][k]["log_loss"] for k in ("boosting", "logistic")}
    assert model.kind == min(losses, key=lambda k: losses[k])
    assert model.metrics["validation_rows"] == 1200


def test_training_refuses_bad_input() -> None:
    # given a small matrix
    model, matrix, y = _trained("logistic")
    # when / then
    with pytest.raises(ValidationFailed) as err:
        model_train(matrix, np.where(y == 1, 2.0, 0.0))
    assert err.value.field == "y"
    with pytest.raises(ValidationFailed) as err:
        model_train(matrix, y, config=TrainConfig(split="time"))
    assert err.value.field == "times"
    with pytest.raises(ValidationFailed) as err:
        model.predict_proba(np.zeros((2, 3)))
    assert err.value.field == "features"
    with pytest.raises(ValidationFailed) as err:
        TrainConfig(hot_win_share=0.01, junk_win_share=0.05)
    assert err.value.field == "hot_win_share"


def test_split_by_time_by_hand() -> None:
    # given eight cut-offs out of order, two sharing the boundary time
    times = [50.0, 10.0, 80.0, 30.0, 60.0, 60.0, 20.0, 70.0]
    # when a quarter validates
    train, validation = split_by_time(times, 0.25)
    # then the two latest (80 and 70) validate; everything earlier trains
    assert validation.tolist() == [2, 7]
    assert train.tolist() == [0, 1, 3, 4, 5, 6]


def test_report_prints_the_model_and_both_baselines() -> None:
    # given a trained model
    model, _, _ = _trained("boosting")
    # when
    text = model.report()
    # then
    assert text.startswith("Model test-1 (boosting), time split, latest 25% of people validate, 600 validation people")
    assert f"model (boosting): AUC {model.evaluations['boosting'].auc:.4f}" in text
    assert f"baseline: naive Bayes (Odoo): AUC {model.evaluations['naive_bayes'].auc:.4f}" in text
    assert f"baseline: fit + engagement rules: AUC {model.evaluations['rule_score'].auc:.4f}" in text
    assert text.count("lift by decile") == 3 and text.count("calibration:") == 3
