"""Training, refreshing and rescoring against the database (a small generated demo company)."""

from __future__ import annotations

import csv
import datetime as dt
import io

import numpy as np
import pytest
from django.core.management import call_command

from tandem.campaigns.models import Touchpoint
from tandem.core.models import Event
from tandem.crm.models import Deal, DealStage, Person
from tandem.demo.company import generate_company
from tandem.demo.services import demo_load
from tandem.scoring import model as pure_model
from tandem.scoring.model import Activation, TrainConfig
from tandem.scoring.models import ModelStatus, PersonScore, ScoringModel
from tandem.scoring.selectors import scoring_dataset
from tandem.scoring.services import people_score_refresh, person_rescore, scoring_model_train

END = dt.date(2026, 6, 30)
NOW = dt.datetime(2026, 6, 30, 12, 0, tzinfo=dt.UTC)
FAST = TrainConfig(candidates=("logistic",))


def _company(people: int = 1500) -> None:
    demo_load(company=generate_company(people=people, seed=7, end=END))


def _open_ids() -> set[int]:
    closed = set(
        Deal.objects.filter(person__isnull=False, stage__in=[DealStage.WON, DealStage.LOST]).values_list(
            "person_id", flat=True
        )
    )
    return set(Person.objects.values_list("id", flat=True)) - closed


@pytest.mark.django_db
def test_train_activates_a_model_and_refresh_scores_every_open_person(tmp_path):
    # given a small company with closed outcomes
    _company()
    # when a model is trained and open people are refreshed
    row = scoring_model_train(horizon_days=90, now=NOW, config=FAST)
    count = people_score_refresh(now=NOW)
    # then it is active, carries the model and both baselines, and every open person has a score
    assert row.status == ModelStatus.ACTIVE
    assert set(row.evaluations) == {"model", "naive_bayes", "rule_score"}
    assert len(row.evaluations["model"]["lift"]) == 10
    assert row.metrics["validation"][row.kind]["auc"] >= row.metrics["validation"]["naive_bayes"]["auc"]
    assert [i["auc_drop"] for i in row.feature_importance] == sorted(
        (i["auc_drop"] for i in row.feature_importance), reverse=True
    )
    open_ids = _open_ids()
    assert count == len(open_ids)
    assert set(PersonScore.objects.values_list("person_id", flat=True)) == open_ids
    score = PersonScore.objects.exclude(probability=None).first()
    assert score is not None and score.tier in {"hot", "gray", "junk"}
    assert score.factors["raising"] or score.factors["lowering"]
    assert Event.objects.filter(kind="scoring.model_activated", subject_id=row.pk).count() == 1
    # and the export writes exactly those of them who consent to e-mail, with the five columns
    target = tmp_path / "scores.csv"
    call_command("score", "export", "--format", "csv", "--output", str(target))
    rows = list(csv.reader(io.StringIO(target.read_text())))
    assert rows[0] == ["email", "probability", "tier", "expected_value", "top_factors"]
    consenting = Person.objects.filter(id__in=open_ids, consent_email=True).values_list("email", flat=True)
    assert sorted(r[0] for r in rows[1:]) == sorted(consenting)


@pytest.mark.django_db
def test_rescore_at_a_cutoff_ignores_a_touchpoint_added_after_it():
    # given an active model and an open person scored at NOW
    _company()
    scoring_model_train(horizon_days=90, now=NOW, config=FAST)
    person = Person.objects.get(pk=min(_open_ids()))
    before = person_rescore(person=person, now=NOW)
    assert before is not None
    features_before = scoring_dataset(person_ids=[person.pk], now=NOW)
    # when a webinar touchpoint one hour after the cut-off is added and the person is rescored at NOW
    later = NOW + dt.timedelta(hours=1)
    Touchpoint.objects.create(person=person, occurred_at=later, channel="webinar", kind="webinar")
    after = person_rescore(person=person, now=NOW)
    stored = PersonScore.objects.get(person=person)
    # then the features seen at the cut-off, the probability, engagement and factors are unchanged
    features_after = scoring_dataset(person_ids=[person.pk], now=NOW)
    cut = NOW.timestamp()
    seen_before = features_before.inputs.events.time[features_before.inputs.events.time <= cut]
    seen_after = features_after.inputs.events.time[features_after.inputs.events.time <= cut]
    assert np.array_equal(np.sort(seen_before), np.sort(seen_after))
    assert len(features_after.inputs.events) == len(features_before.inputs.events) + 1
    assert after is not None
    assert (stored.probability, stored.engagement, stored.factors) == (
        before.probability,
        before.engagement,
        before.factors,
    )
    # and once the cut-off passes the touchpoint, it counts (10 webinar points, decayed over one hour)
    moved = person_rescore(person=person, now=later)
    assert moved is not None
    half_life = 30.0 * 86_400
    expected = before.engagement * 0.5 ** (3600 / half_life) + 10.0
    assert moved.engagement == pytest.approx(expected, rel=1e-9)


@pytest.mark.django_db
def test_a_model_worse_than_naive_bayes_is_refused_and_the_active_one_stays(monkeypatch):
    # given an active model
    _company()
    first = scoring_model_train(horizon_days=90, now=NOW, config=FAST)
    # when the next one loses to the naive-Bayes baseline on validation
    monkeypatch.setattr(
        pure_model,
        "activation_decide",
        lambda model, naive_bayes: Activation(False, f"validation AUC {model.auc:.4f} is below the baseline's"),
    )
    second = scoring_model_train(horizon_days=90, now=NOW, config=FAST)
    # then it is stored as refused with its reason, and the first stays active
    assert second.status == ModelStatus.REFUSED
    assert second.reason.startswith("validation AUC")
    assert list(ScoringModel.objects.filter(status=ModelStatus.ACTIVE).values_list("pk", flat=True)) == [first.pk]
    assert Event.objects.filter(kind="scoring.model_refused", subject_id=second.pk).count() == 1
