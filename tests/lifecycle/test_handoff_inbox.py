"""Routing new MQLs, the rep's inbox with its SLA deadline, accept/reject, and rejections per campaign."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.test import Client

from tandem.campaigns.models import Campaign, Touchpoint
from tandem.core.errors import NotAllowed, ValidationFailed
from tandem.core.models import Event
from tandem.crm.models import Person, StageChange
from tandem.crm.services import person_change_stage
from tandem.lifecycle.models import RoutingState
from tandem.lifecycle.selectors import campaign_rejections, inbox_page
from tandem.lifecycle.services import mql_accept, mql_reject, people_qualify, routing_publish
from tandem.users.models import Role
from tests.crm.factories import PersonFactory
from tests.users.factories import TeamFactory, UserFactory

pytestmark = pytest.mark.django_db

MONDAY_4PM = dt.datetime(2026, 6, 15, 16, 0, tzinfo=dt.UTC)


def _demo_lead(campaign: Campaign | None = None) -> Person:
    person = PersonFactory()
    Touchpoint.objects.create(person=person, occurred_at=MONDAY_4PM - dt.timedelta(hours=1), kind="demo_request", channel="email", campaign=campaign)
    if campaign is not None:
        Person.objects.filter(pk=person.pk).update(latest_campaign=campaign)
        person.refresh_from_db()
    return person


@pytest.fixture
def team() -> Any:
    squad = TeamFactory(name="Squad", time_zone="UTC")
    reps = [UserFactory(role=Role.SALES_REP, team=squad) for _ in range(2)]
    routing_publish(
        spec={"rules": [{"id": "rr", "kind": "round_robin", "label": "Everyone", "team_id": squad.pk}]},
        reason="One team for now",
        by_user=None,
    )
    return squad, reps


def test_new_mqls_are_routed_round_robin_with_the_state_kept_between_batches(team: Any) -> None:
    # given two reps of equal capacity and round-robin rules
    _, (ann, bob) = team
    first, second, third = _demo_lead(), _demo_lead(), _demo_lead()
    # when one lead qualifies in a batch, then two in the next
    people_qualify(person_ids=[first.pk], as_of=MONDAY_4PM)
    people_qualify(person_ids=[second.pk, third.pk], as_of=MONDAY_4PM)
    # then the owners alternate across batches (the state was saved), each with the rule recorded
    owners = dict(Person.objects.filter(pk__in=[first.pk, second.pk, third.pk]).values_list("pk", "owner_id"))
    assert owners == {first.pk: ann.pk, second.pk: bob.pk, third.pk: ann.pk}
    events = Event.objects.filter(kind="person.owner_assigned", subject_id=first.pk)
    assert [e.rule for e in events] == ["routing:rr@v1"]
    assert RoutingState.objects.get(pk=1).state != {}


def test_the_inbox_shows_the_mql_with_its_business_hours_deadline(team: Any) -> None:
    # given a lead qualified Monday 16:00 UTC (4 business hours, 9-17 UTC: one hour on Monday, three on Tuesday from 9:00, so due Tuesday 12:00)
    _, (ann, _) = team
    lead = _demo_lead()
    people_qualify(person_ids=[lead.pk], as_of=MONDAY_4PM)
    client = Client()
    client.force_login(ann)
    # when the owner reads the inbox (at Monday 17:00, then Tuesday 12:00)
    items = inbox_page(user=ann, now=MONDAY_4PM + dt.timedelta(hours=1)).items
    late = inbox_page(user=ann, now=dt.datetime(2026, 6, 16, 12, 0, tzinfo=dt.UTC)).items
    body = client.get("/inbox/?age=all").content.decode()
    # then the deadline is Tuesday 12:00, pending before and overdue at the minute
    assert [(i.person.pk, i.deadline, i.overdue) for i in items] == [(lead.pk, dt.datetime(2026, 6, 16, 12, 0, tzinfo=dt.UTC), False)]
    assert late[0].overdue is True
    # and the page (read long after) shows it overdue since that deadline, in the reader's time zone (UTC)
    assert 'data-state="overdue"' in body and "was due Tue 16 Jun, 12:00" in body
    assert "Has a &#x27;demo_request&#x27; touchpoint in the last 30 days" in body


def test_accepting_makes_a_sal_and_rejecting_recycles_with_the_reason(team: Any) -> None:
    # given two MQLs owned by Ann, from a campaign, and Bob, another rep
    _, (ann, bob) = team
    campaign = Campaign.objects.create(name="Spring webinar", channel="webinar")
    keep, drop = _demo_lead(campaign), _demo_lead(campaign)
    for p in (keep, drop):
        person_change_stage(person=p, to_stage="mql")
        Person.objects.filter(pk=p.pk).update(owner=ann)
        p.refresh_from_db()
    # when Bob tries, then Ann accepts one and rejects the other (first without the needed comment)
    with pytest.raises(NotAllowed):
        mql_accept(person=keep, by_user=bob)
    mql_accept(person=keep, by_user=ann)
    with pytest.raises(ValidationFailed) as caught:
        mql_reject(person=drop, by_user=ann, reason_code="other", comment=" ")
    change = mql_reject(person=drop, by_user=ann, reason_code="no_budget", comment="Frozen until Q3")
    # then one is a SAL, the other recycled with the reason, its campaign and the comment
    assert caught.value.field == "comment"
    assert Person.objects.get(pk=keep.pk).lifecycle_stage == "sal"
    assert (change.to_stage, change.rule, change.reason) == ("recycled", "inbox:reject", "No budget: Frozen until Q3")
    assert change.details == {"reason_code": "no_budget", "comment": "Frozen until Q3", "campaign_id": campaign.pk}
    assert [(r.label, r.count, r.comments) for r in campaign_rejections(campaign_id=campaign.pk)] == [
        ("No budget", 1, ["Frozen until Q3"])
    ]


def test_reject_from_the_inbox_page_and_marketing_sees_it_on_the_campaign(team: Any) -> None:
    # given an MQL of a campaign owned by Ann
    _, (ann, _) = team
    campaign = Campaign.objects.create(name="Spring webinar", channel="webinar")
    lead = _demo_lead(campaign)
    people_qualify(person_ids=[lead.pk], as_of=MONDAY_4PM)
    rep, marketing = Client(), Client()
    rep.force_login(ann)
    marketing.force_login(UserFactory(role=Role.MARKETING))
    # when Ann rejects it as a student through the page
    response = rep.post(f"/inbox/{lead.pk}/reject/", {"reason_code": "student", "comment": ""})
    # then it leaves her inbox, and the campaign page lists the rejection
    assert response.status_code == 302
    assert f'id="mql-{lead.pk}"' not in rep.get("/inbox/").content.decode()
    page = marketing.get(f"/campaigns/{campaign.pk}/").content.decode()
    assert "Rejected by sales" in page and "Student / job seeker" in page
    assert StageChange.objects.filter(person=lead, to_stage="recycled", by_user=ann).count() == 1


def test_only_admins_publish_routing_rules_and_errors_name_the_field(team: Any) -> None:
    # given an admin and a rep
    admin, rep = Client(), Client()
    admin.force_login(UserFactory(role=Role.ADMIN))
    rep.force_login(UserFactory(role=Role.SALES_REP))
    # when both post rules from the editor's fields, the admin with a bad kind
    fields = {"r0-kind": "round_robin", "r0-id": "rr", "r0-label": "Everyone", "r0-target": f"team:{team[0].pk}", "reason": "x"}
    refused = rep.post("/routing/", {**fields, "action": "publish"})
    bad = admin.post("/routing/", {**fields, "r0-kind": "lottery", "action": "publish"})
    shown = rep.get("/routing/").content.decode()
    # then the rep is refused, the admin sees the kind and value named, and everyone reads the rules in words
    assert refused.status_code == 403
    assert bad.status_code == 422 and "Unknown routing rule kind (value: lottery)." in bad.content.decode()
    assert "Everyone: everyone goes to round-robin in team" in shown
