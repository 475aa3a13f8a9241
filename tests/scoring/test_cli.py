"""`tandem score evaluate` and `tandem score export` on stored rows."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json

import pytest
from django.core.management import call_command

from tandem.crm.models import DealStage
from tandem.scoring.models import ModelStatus, PersonScore, ScoringModel
from tests.crm.factories import DealFactory, PersonFactory

WHEN = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)
EVALUATION = {
    "count": 4, "base_rate": 0.25, "auc": 0.75, "brier": 0.1, "log_loss": 0.3, "ece": 0.02,
    "calibration": [{"lower": 0.0, "upper": 0.1, "count": 4, "mean_predicted": 0.05, "observed_rate": 0.25}],
    "lift": [{"decile": 1, "count": 4, "wins": 1, "win_rate": 0.25, "lift": 1.0, "cumulative_share_of_wins": 1.0,
              "cumulative_share_of_leads": 1.0}],
}


@pytest.mark.django_db
def test_evaluate_json_prints_the_model_and_both_baselines():
    # given an active model with three evaluations
    ScoringModel.objects.create(
        version="v7", horizon_days=60, status=ModelStatus.ACTIVE, kind="boosting", reason="ok",
        evaluations={"model": EVALUATION, "naive_bayes": dict(EVALUATION, auc=0.7), "rule_score": dict(EVALUATION, auc=0.6)},
        tiers={"tiers": []}, model_bytes=b"",
    )
    out = io.StringIO()
    # when evaluate runs with --format json
    call_command("score", "evaluate", "--format", "json", stdout=out)
    # then the AUCs of the three come out as stored, with calibration and lift
    payload = json.loads(out.getvalue())
    assert payload["version"] == "v7" and payload["horizon_days"] == 60
    assert {k: v["auc"] for k, v in payload["evaluations"].items()} == {"model": 0.75, "naive_bayes": 0.7, "rule_score": 0.6}
    assert payload["evaluations"]["model"]["lift"][0]["lift"] == 1.0


@pytest.mark.django_db
def test_export_writes_open_people_with_exact_columns_and_formatted_values():
    # given a scored open person, an unscored open person (both agreed to e-mails) and a won person
    scored = PersonFactory(email="ann@example.com", consent_email=True)
    PersonFactory(email="bob@example.com", consent_email=True)
    won = PersonFactory(email="won@example.com", consent_email=True)
    DealFactory(person=won, stage=DealStage.WON, closed_at=WHEN, amount=100)
    PersonScore.objects.create(
        person=scored, probability=0.12345, tier="gray", expected_value=617.25, scored_at=WHEN,
        factors={"raising": [{"text": "Webinar: 2 times", "contribution": 1.0}], "lowering": [{"text": "Industry: Retail", "contribution": -0.2}]},
    )
    out = io.StringIO()
    # when export runs to standard output
    call_command("score", "export", "--format", "csv", stdout=out)
    # then the header is exact and the won person is left out
    rows = list(csv.reader(io.StringIO(out.getvalue())))
    assert rows == [
        ["email", "probability", "tier", "expected_value", "top_factors"],
        ["ann@example.com", "0.1235", "gray", "617.25", "Webinar: 2 times: +; Industry: Retail: −"],
        ["bob@example.com", "", "", "", ""],
    ]


@pytest.mark.django_db
def test_export_leaves_out_whoever_has_no_email_consent_now_and_says_how_many():
    # given two open people who agreed to e-mails, one of whom has just withdrawn, and one who never agreed
    from tandem.crm.consent.services import consent_record

    PersonFactory(email="ann@example.com", consent_email=True)
    withdrawn = PersonFactory(email="cleo@example.com", consent_email=True)
    PersonFactory(email="dan@example.com")
    consent_record(person=withdrawn, channel="email", granted=False, source="ui", note="unsubscribed")
    out, err = io.StringIO(), io.StringIO()
    # when the scores are exported to standard output
    call_command("score", "export", stdout=out, stderr=err)
    # then only the consenting person is on the list, and the count left out is said beside it, not in the CSV
    assert list(csv.reader(io.StringIO(out.getvalue())))[1:] == [["ann@example.com", "", "", "", ""]]
    assert err.getvalue().strip() == "1 people exported; 2 left out for consent (no e-mail consent)"


@pytest.mark.django_db
def test_export_to_a_file_says_the_count_left_out_on_standard_output(tmp_path):
    # given one open person without consent
    PersonFactory(email="eve@example.com")
    target, out = tmp_path / "scores.csv", io.StringIO()
    # when exported to a file
    call_command("score", "export", "--output", str(target), stdout=out)
    # then the file has the header alone, and the message says why
    assert target.read_text() == "email,probability,tier,expected_value,top_factors\n"
    assert out.getvalue().strip() == "0 people exported; 1 left out for consent (no e-mail consent)"
