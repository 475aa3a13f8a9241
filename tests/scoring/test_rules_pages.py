"""Admins edit the scoring rules on a page and through the API; everyone is rescored after a change."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from tandem.core.models import Event
from tandem.scoring.models import ScoringConfig
from tandem.scoring.selectors import DEFAULT_ENGAGEMENT, DEFAULT_FIT
from tandem.users.models import Role
from tests.users.factories import UserFactory

FIT = {"rules": [{"field": "industry", "op": "in", "points": 30, "values": ["Software"], "label": "Software"}],
       "grade_minimums": [30, 20, 10]}
ENGAGEMENT = {"points_by_kind": {"webinar": 12}, "half_life_days": 14}


def _client(role: str) -> Client:
    client = Client()
    client.force_login(UserFactory(role=role))
    return client


@pytest.mark.django_db
def test_the_rules_page_shows_the_defaults_and_refuses_reps():
    # when marketing and a rep open the rules page
    page = _client(Role.MARKETING).get("/scoring/rules/")
    # then marketing sees the defaults without the edit form, the rep is refused
    assert page.status_code == 200
    text = page.content.decode()
    assert "defaults" in text and "Decision maker" in text and 'id="edit"' not in text
    assert _client(Role.SALES_REP).get("/scoring/rules/").status_code == 403
    assert _client(Role.MARKETING).post("/scoring/rules/", {"fit": "{}"}).status_code == 403


@pytest.mark.django_db
def test_an_admin_saves_rules_and_everyone_is_queued_for_rescoring(django_capture_on_commit_callbacks):
    # given an admin on the rules page
    admin = _client(Role.ADMIN)
    # when they save new rules
    with django_capture_on_commit_callbacks() as callbacks:
        response = admin.post(
            "/scoring/rules/", {"fit": json.dumps(FIT), "engagement": json.dumps(ENGAGEMENT), "cutoff_days": "5"}
        )
    # then version 1 is stored with an event, and a refresh of everyone is queued after the commit
    assert response.status_code == 302
    row = ScoringConfig.objects.get()
    assert (row.version, row.fit["grade_minimums"], row.engagement["half_life_days"], row.cutoff_days) == (1, [30.0, 20.0, 10.0], 14.0, 5.0)
    assert Event.objects.filter(kind="scoring.rules_changed", subject_id=row.pk).count() == 1
    assert len(callbacks) == 1


@pytest.mark.django_db
def test_bad_rules_are_refused_naming_the_field_and_nothing_is_saved():
    admin = _client(Role.ADMIN)
    bad_json = admin.post("/scoring/rules/", {"fit": "{not json", "engagement": "{}", "cutoff_days": "7"})
    bad_grades = admin.post(
        "/scoring/rules/",
        {"fit": json.dumps({**FIT, "grade_minimums": [10, 20, 30]}), "engagement": "{}", "cutoff_days": "7"},
    )
    assert bad_json.status_code == 422 and b"(field <span class=\"mono\">fit</span>)" in bad_json.content
    assert bad_grades.status_code == 422 and b"grade_minimums" in bad_grades.content
    assert ScoringConfig.objects.count() == 0


@pytest.mark.django_db
def test_rules_api_reads_defaults_and_admins_replace_them():
    # given marketing and an admin
    marketing, admin = _client(Role.MARKETING), _client(Role.ADMIN)
    # then the defaults are version 0
    got = marketing.get("/api/scoring/rules").json()
    assert (got["version"], got["fit"], got["engagement"]) == (0, DEFAULT_FIT.to_dict(), DEFAULT_ENGAGEMENT.to_dict())
    # and marketing may not replace them, an admin may; a bad rule is a 422 naming the field
    body = {"fit": FIT, "engagement": ENGAGEMENT, "cutoff_days": 7}
    assert marketing.put("/api/scoring/rules", body, content_type="application/json").status_code == 403
    saved = admin.put("/api/scoring/rules", body, content_type="application/json")
    assert saved.status_code == 200 and saved.json()["version"] == 1
    refused = admin.put("/api/scoring/rules", {**body, "cutoff_days": 400}, content_type="application/json")
    assert refused.status_code == 422 and refused.json()["field"] == "cutoff_days"
    assert ScoringConfig.objects.count() == 1
