"""The hand-off over the REST API: inbox answers, routing, the SLA policy and scorecard, dry run, notifications."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from django.test import Client

from tandem.campaigns.models import Touchpoint
from tandem.core.models import Event
from tandem.crm.models import Person
from tandem.lifecycle.models import RoutingConfig, SlaPolicyVersion
from tandem.lifecycle.services import people_qualify, routing_publish, sla_breaches_detect
from tandem.users.models import Role
from tests.crm.factories import PersonFactory
from tests.users.factories import TeamFactory, UserFactory

pytestmark = pytest.mark.django_db

MONDAY_4PM = dt.datetime(2026, 6, 15, 16, 0, tzinfo=dt.UTC)
JSON = "application/json"


def _client(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def squad() -> Any:
    team = TeamFactory(name="Squad", time_zone="UTC")
    ann, bob = (UserFactory(role=Role.SALES_REP, team=team) for _ in range(2))
    routing_publish(spec={"rules": [{"id": "rr", "kind": "round_robin", "team_id": team.pk}]}, reason="One team", by_user=None)
    lead = PersonFactory(first_name="Lee", last_name="Lead")
    Touchpoint.objects.create(person=lead, occurred_at=MONDAY_4PM - dt.timedelta(hours=1), kind="demo_request", channel="email")
    people_qualify(person_ids=[lead.pk], as_of=MONDAY_4PM)
    return ann, bob, Person.objects.get(pk=lead.pk)


def test_a_rep_reads_the_inbox_and_answers_over_the_api(squad: Any) -> None:
    # given Ann's new MQL (routed to her first) and Bob, who does not own it
    ann, bob, lead = squad
    api_ann, api_bob = _client(ann), _client(bob)
    # when Ann lists her inbox, Bob tries to accept, Ann rejects with an unknown reason, then with a real one
    listing = api_ann.get("/api/inbox?age=all").json()
    stranger = api_bob.post(f"/api/inbox/{lead.pk}/accept")
    bad = api_ann.post(f"/api/inbox/{lead.pk}/reject", json.dumps({"reason_code": "boring"}), content_type=JSON)
    stage_after_refusals = Person.objects.get(pk=lead.pk).lifecycle_stage
    good = api_ann.post(f"/api/inbox/{lead.pk}/reject", json.dumps({"reason_code": "student", "comment": "Thesis"}), content_type=JSON)
    missing = api_ann.post("/api/inbox/999999/accept")
    # then the inbox shows the deadline (4 business hours, 9–17 UTC: Tuesday 12:00) and what matched
    assert [(i["person_id"], i["deadline"], i["definition_version"]) for i in listing["items"]] == [
        (lead.pk, "2026-06-16T12:00:00+00:00", 1)
    ]
    assert listing["reasons"]["student"] == "Student / job seeker"
    # and the refusals name why and change nothing (Bob does not see Ann's lead: 404); the rejection recycles it
    assert (stranger.status_code, bad.status_code, bad.json()["field"], stage_after_refusals) == (404, 422, "reason_code", "mql")
    assert good.status_code == 200 and good.json()["to_stage"] == "recycled" and good.json()["reason"] == "Student / job seeker: Thesis"
    assert missing.status_code == 404


def test_accepting_over_the_api_makes_a_sal(squad: Any) -> None:
    # given Ann's new MQL
    ann, _, lead = squad
    # when she accepts it over the API
    response = _client(ann).post(f"/api/inbox/{lead.pk}/accept")
    # then it is a SAL
    assert response.status_code == 200 and response.json()["to_stage"] == "sal"
    assert Person.objects.get(pk=lead.pk).lifecycle_stage == "sal"


def test_only_admins_publish_routing_and_sla_policy_and_everyone_reads_them(squad: Any) -> None:
    # given an admin and a rep
    ann, _, _ = squad
    admin, rep = _client(UserFactory(role=Role.ADMIN)), _client(ann)
    policy = {"spec": {"first_touch_hours": 2, "reroute_after_hours": 4}, "reason": "Faster"}
    # when the rep tries to publish both, the admin publishes a bad then a good policy, and the rep reads
    refused = [
        rep.post("/api/sla/policy", json.dumps(policy), content_type=JSON).status_code,
        rep.post("/api/routing", json.dumps({"spec": {"rules": []}, "reason": "x"}), content_type=JSON).status_code,
    ]
    bad = admin.post("/api/sla/policy", json.dumps({"spec": {"first_touch_hours": -1}, "reason": "x"}), content_type=JSON)
    good = admin.post("/api/sla/policy", json.dumps(policy), content_type=JSON)
    bad_rules = admin.post("/api/routing", json.dumps({"spec": {"rules": [{"kind": "lottery"}]}, "reason": "x"}), content_type=JSON)
    read_policy, read_routing = rep.get("/api/sla/policy").json(), rep.get("/api/routing").json()
    # then the rep is refused, the bad input named, and one version of each is in force
    assert refused == [403, 403]
    assert (bad.status_code, bad.json()["field"], bad_rules.status_code) == (422, "first_touch_hours", 422)
    assert good.status_code == 201 and (SlaPolicyVersion.objects.count(), RoutingConfig.objects.count()) == (1, 1)
    assert read_policy["policy"]["reroute_after_hours"] == 4
    assert read_policy["sentences"][-1] == "An MQL still untouched 4 business hours after its breach goes to another rep by the routing rules."
    assert read_routing["version"] == 1 and read_routing["warnings"] == ["There is no fallback rule: people no rule takes stay unassigned"]


def test_the_scorecard_dry_run_and_notifications_over_the_api(squad: Any) -> None:
    # given Ann's MQL breached at Tuesday 12:00
    ann, _, lead = squad
    sla_breaches_detect(now=dt.datetime(2026, 6, 16, 12, 0, tzinfo=dt.UTC))
    api = _client(ann)
    # when she reads the June scorecard, a bad period, a dry run and her notifications
    card = api.get("/api/sla/scorecard?date_from=2026-06-01&date_to=2026-06-30")
    bad = api.get("/api/sla/scorecard?date_from=2026-07-01&date_to=2026-06-01")
    dry = api.post("/api/definitions/dry-run", json.dumps({"spec": {"any": [{"id": "demo", "type": "touchpoint", "kinds": ["demo_request"], "days": 30}]}}), content_type=JSON)
    bad_dry = api.post("/api/definitions/dry-run", json.dumps({"spec": {"any": [{"id": "x", "type": "touchpoint", "days": 0}]}}), content_type=JSON)
    notes = api.get("/api/notifications").json()["items"]
    # then the scorecard shows her breached MQL; bad input is named; the dry run counts one MQL in June
    assert card.status_code == 200
    assert [(r["rep"], r["mqls"], r["breached"]) for r in card.json()["reps"]] == [(ann.username, 1, 1)]
    assert (bad.status_code, bad.json()["field"]) == (422, "from")
    assert dry.status_code == 200 and dry.json()["total"]["mqls"] == 1
    assert (bad_dry.status_code, bad_dry.json()["field"]) == (422, "days")
    assert [(n["kind"], n["text"]) for n in notes] == [("sla_breach", "SLA breached: Lee Lead was not touched by 2026-06-16 12:00 UTC.")]
    assert Event.objects.filter(kind="sla.first_touch_breached", subject_id=lead.pk).count() == 1
