"""Drift against the database: stored by the full refresh, shown on the model page, printed and served."""

from __future__ import annotations

import datetime as dt
import io
import json
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.test import Client

from tandem.crm.models import Deal, DealStage, Person
from tandem.crm.services import deal_close, deal_create
from tandem.scoring.models import ScoringModel
from tandem.scoring.services import _active_pure, people_score_refresh, scoring_model_train
from tandem.users.models import Role
from tests.scoring.test_wiring_services import FAST, NOW, _company, _open_ids
from tests.users.factories import UserFactory


@pytest.mark.django_db
def test_refresh_measures_drift_and_calibration_on_outcomes_closed_since_training(monkeypatch):
    # given a model trained at NOW and the people open then
    _company()
    row = scoring_model_train(horizon_days=90, now=NOW, config=FAST)
    open_then = sorted(_open_ids())
    # when, after training, three of them are won within the horizon and two lost, and scores are
    # refreshed 120 days later (every horizon has run out)
    winners, losers = open_then[:3], open_then[3:5]
    for pid in winners + losers:
        deal = deal_create(person=Person.objects.get(pk=pid), amount=Decimal(1000), created_at=NOW + dt.timedelta(days=5))
        if pid in winners:
            deal_close(deal=deal, won=True, at=NOW + dt.timedelta(days=30))
        else:
            deal_close(deal=deal, won=False, at=NOW + dt.timedelta(days=30), lost_reason="No budget")
    later = NOW + dt.timedelta(days=120)
    people_score_refresh(now=later)
    drift = ScoringModel.objects.get(pk=row.pk).drift
    # then every person open at training counts, with exactly the three wins, and every input has a PSI
    created_by_then = set(Person.objects.filter(created_at__lte=NOW).values_list("id", flat=True))
    assert drift["calibration"]["count"] == len(set(open_then) & created_by_then)
    assert drift["calibration"]["wins"] == 3
    assert drift["calibration"]["status"] in {"holding", "drifted"}
    assert drift["open_leads"] == len(open_then) - 5
    model = _active_pure()[1]
    assert model is not None and {f["key"] for f in drift["features"]} == {g.key for g in model.groups}
    assert all(f["psi"] >= 0 for f in drift["features"])
    assert drift["sentence"].endswith(".")
    # and the model page shows it with the sentence on how to read it
    client = Client()
    client.force_login(UserFactory(role=Role.MARKETING))
    page = client.get("/scoring/").content.decode()
    assert 'data-testid="drift"' in page and "How to read it: PSI compares" in page
    assert f"on {drift['calibration']['count']:,} leads that were open then" in page
    # and the API serves the stored report
    served = client.get("/api/scoring/drift").json()
    assert served["drift"] == drift
    # and `tandem score drift --format json` measures it again now: the same people, the same wins
    monkeypatch.setattr("tandem.scoring.services.timezone.now", lambda: later)
    out = io.StringIO()
    call_command("score", "drift", "--format", "json", stdout=out)
    printed = json.loads(out.getvalue())
    assert (printed["calibration"]["count"], printed["calibration"]["wins"]) == (drift["calibration"]["count"], 3)
    assert Deal.objects.filter(stage=DealStage.WON, person_id__in=winners).count() == 3
