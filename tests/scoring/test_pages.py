"""The rep's queue, the model page, the person page's score and the scoring API's permissions."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client

from tandem.crm.models import DealStage
from tandem.scoring.models import ModelStatus, PersonScore, ScoringModel
from tandem.users.models import Role
from tests.crm.factories import DealFactory, PersonFactory
from tests.users.factories import TeamFactory, UserFactory

WHEN = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)


def _score(person, probability: float, value: float, tier: str = "gray") -> PersonScore:  # type: ignore[no-untyped-def]
    return PersonScore.objects.create(
        person=person,
        probability=probability,
        tier=tier,
        expected_value=value,
        fit_grade="B",
        engagement=12.0,
        factors={"raising": [{"text": "Webinar: 2 times", "contribution": 0.8}], "lowering": [{"text": "Job title: Student", "contribution": -0.5}]},
        scored_at=WHEN,
    )


def _model() -> ScoringModel:
    evaluation = {
        "count": 10, "base_rate": 0.2, "auc": 0.81, "brier": 0.12, "log_loss": 0.4, "ece": 0.02,
        "calibration": [{"lower": 0.0, "upper": 0.1, "count": 10, "mean_predicted": 0.05, "observed_rate": 0.1}],
        "lift": [{"decile": d, "count": 1, "wins": 0, "win_rate": 0.0, "lift": 0.0, "cumulative_share_of_wins": 0.0,
                  "cumulative_share_of_leads": d / 10} for d in range(1, 11)],
    }
    return ScoringModel.objects.create(
        version="v1-test", horizon_days=90, status=ModelStatus.ACTIVE, kind="logistic", reason="beats naive Bayes",
        metrics={"people": 100, "wins": 20, "validation_rows": 25},
        evaluations={"model": evaluation, "naive_bayes": evaluation, "rule_score": evaluation},
        tiers={"tiers": [{"name": "hot", "min_probability": 0.3, "max_probability": 1.0, "meaning": "Hot: 10% of leads, 50% of wins"}]},
        feature_importance=[{"key": "profile:channel", "label": "Source channel", "auc_drop": 0.05}],
        model_bytes=b"",
    )


@pytest.mark.django_db
def test_queue_lists_the_reps_open_leads_by_expected_value_in_pinned_queries(django_assert_num_queries):
    # given a rep with three scored open leads, one won lead and someone else's lead
    rep = UserFactory(role=Role.SALES_REP)
    other = UserFactory(role=Role.SALES_REP)
    low = PersonFactory(owner=rep, last_name="Low")
    high = PersonFactory(owner=rep, last_name="High")
    mid = PersonFactory(owner=rep, last_name="Mid")
    won = PersonFactory(owner=rep, last_name="Won")
    theirs = PersonFactory(owner=other, last_name="Theirs")
    _score(low, 0.5, 100.0)
    _score(high, 0.1, 900.0)
    _score(mid, 0.3, 400.0)
    _score(won, 0.9, 5000.0)
    _score(theirs, 0.9, 9000.0)
    DealFactory(person=won, stage=DealStage.WON, closed_at=WHEN, amount=1000)
    client = Client()
    client.force_login(rep)
    # when the rep opens the queue (session, user, the queue itself)
    with django_assert_num_queries(3):
        response = client.get("/scoring/queue/")
    # then only their open leads appear, highest expected value first; by probability on request
    names = [p.last_name for p in response.context["people"]]
    assert names == ["High", "Mid", "Low"]
    by_probability = client.get("/scoring/queue/?order=probability")
    assert [p.last_name for p in by_probability.context["people"]] == ["Low", "Mid", "High"]
    assert b"tier-gray" in response.content


@pytest.mark.django_db
def test_person_page_shows_score_tier_value_and_factors():
    # given a scored person
    rep = UserFactory(role=Role.SALES_REP)
    person = PersonFactory(owner=rep)
    _score(person, 0.2345, 1234.0, tier="hot")
    client = Client()
    client.force_login(rep)
    # when their page is opened
    html = client.get(f"/people/{person.pk}/").content.decode()
    # then the score, tier, expected value and both factors are shown
    assert 'data-testid="person-score"' in html
    assert "23.4%" in html and "1,234" in html and ">hot<" in html
    assert "Webinar: 2 times: <strong>+</strong>" in html and "Job title: Student: <strong>−</strong>" in html


@pytest.mark.django_db
def test_model_page_for_marketing_and_refused_to_reps():
    # given a stored model
    _model()
    marketing = Client()
    marketing.force_login(UserFactory(role=Role.MARKETING))
    rep = Client()
    rep.force_login(UserFactory(role=Role.SALES_REP))
    # when each opens the model page
    ok = marketing.get("/scoring/")
    refused = rep.get("/scoring/")
    # then marketing sees the metrics and charts, the rep is refused
    assert ok.status_code == 200
    assert b"calibration-figure" in ok.content and b"0.810" in ok.content
    assert refused.status_code == 403


@pytest.mark.django_db
def test_api_permissions_models_train_score_and_queue():
    # given a model, a rep with a scored lead and another rep's scored lead
    _model()
    team = TeamFactory(name="Scorers")
    rep = UserFactory(role=Role.SALES_REP, team=team)
    mine = PersonFactory(owner=rep)
    theirs = PersonFactory(owner=UserFactory(role=Role.SALES_REP, team=team))
    _score(mine, 0.25, 500.0)
    _score(theirs, 0.5, 700.0)
    rep_client = Client()
    rep_client.force_login(rep)
    manager = Client()
    manager.force_login(UserFactory(role=Role.SALES_MANAGER, team=team))
    # when they call the endpoints
    # then a rep may not list models nor train, sees only their own lead's score, and their queue
    assert rep_client.get("/api/scoring/models").status_code == 403
    assert rep_client.post("/api/scoring/train", {"horizon_days": 90}, content_type="application/json").status_code == 403
    assert manager.post("/api/scoring/train", {"horizon_days": 90}, content_type="application/json").status_code == 403
    assert [m["version"] for m in manager.get("/api/scoring/models").json()["items"]] == ["v1-test"]
    score = rep_client.get(f"/api/people/{mine.pk}/score")
    assert score.status_code == 200 and score.json()["expected_value"] == 500.0
    # (another rep's lead is out of a rep's sight, as if it did not exist; the team's manager sees it)
    assert rep_client.get(f"/api/people/{theirs.pk}/score").status_code == 404
    assert manager.get(f"/api/people/{theirs.pk}/score").json()["probability"] == 0.5
    assert [q["person_id"] for q in rep_client.get("/api/scoring/queue").json()] == [mine.pk]
