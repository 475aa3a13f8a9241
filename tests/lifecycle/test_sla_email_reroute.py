"""SLA breach emails (only with SMTP configured, after commit, recorded) and re-routing of untouched MQLs."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.core import mail
from django.db import transaction

from tandem.core.errors import ValidationFailed
from tandem.core.models import Event
from tandem.crm.models import Activity, Person
from tandem.crm.services import person_change_stage
from tandem.lifecycle.models import Notification, RoutingState
from tandem.lifecycle.routing_rules import Rep, Roster, RoundRobinState, RoutingRules, Team, reroute, route
from tandem.lifecycle.services import (
    routing_publish,
    sla_breaches_detect,
    sla_policy_publish,
    sla_reroutes_apply,
)
from tandem.users.models import Role
from tests.crm.factories import PersonFactory
from tests.users.factories import TeamFactory, UserFactory

pytestmark = pytest.mark.django_db

# Monday 2026-06-15 14:00 UTC = 16:00 Berlin; 2 business hours on 09:00–17:00 Berlin: due Tuesday 10:00 Berlin.
HANDOFF = dt.datetime(2026, 6, 15, 14, 0, tzinfo=dt.UTC)
DEADLINE = dt.datetime(2026, 6, 16, 8, 0, tzinfo=dt.UTC)
LOCMEM = "django.core.mail.backends.locmem.EmailBackend"


@pytest.fixture
def berlin() -> Any:
    manager = UserFactory(role=Role.SALES_MANAGER, username="mia", email="mia@example.com")
    team = TeamFactory(name="Berlin", time_zone="Europe/Berlin", manager=manager)
    ann = UserFactory(role=Role.SALES_REP, team=team, username="ann", email="ann@example.com")
    bob = UserFactory(role=Role.SALES_REP, team=team, username="bob", email="bob@example.com")
    return team, manager, ann, bob


def _mql(owner: Any, first: str = "Kim") -> Person:
    person = PersonFactory(first_name=first, last_name="Lead")
    person_change_stage(person=person, to_stage="mql", at=HANDOFF)
    Person.objects.filter(pk=person.pk).update(owner=owner)
    return person


def test_a_breach_is_emailed_to_owner_and_manager_after_commit_when_smtp_is_configured(
    berlin: Any, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    # given SMTP configured (the locmem backend stands in for the server) and an untouched MQL of Ann's
    settings.EMAIL_HOST, settings.EMAIL_BACKEND, settings.DEFAULT_FROM_EMAIL = "smtp.example.com", LOCMEM, "tandem@example.com"
    settings.BASE_URL = "https://tandem.example.com"
    _, manager, ann, _ = berlin
    sla_policy_publish(spec={"first_touch_hours": 2}, reason="Faster", by_user=None)
    person = _mql(ann)
    # when the check runs at the deadline, looking at the outbox before and after the commit
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        breached = sla_breaches_detect(now=DEADLINE)
        before_commit = len(mail.outbox)
    # then nothing left before the commit; afterwards one mail to both, recorded in an event
    assert (breached, before_commit, len(callbacks)) == ([person.pk], 0, 1)
    assert len(mail.outbox) == 1
    sent = mail.outbox[0]
    assert (sent.to, sent.from_email, sent.subject) == (["ann@example.com", "mia@example.com"], "tandem@example.com", "[Tandem] SLA breached: Kim Lead")
    assert "not touched by 2026-06-16 08:00 UTC" in sent.body and "2026-06-16 10:00 Europe/Berlin" in sent.body
    assert f"Open the lead: https://tandem.example.com/people/{person.pk}/\n" in sent.body
    event = Event.objects.get(kind="sla.breach_emailed")
    assert (event.subject_id, event.data["to"], "error" in event.data) == (person.pk, ["ann@example.com", "mia@example.com"], False)
    # and manager has the in-app notification as well
    assert Notification.objects.filter(user=manager, kind="sla_breach").count() == 1


def test_no_email_and_no_error_without_smtp(berlin: Any, settings: Any, django_capture_on_commit_callbacks: Any) -> None:
    # given no SMTP host (the default) and an untouched MQL
    settings.EMAIL_HOST, settings.EMAIL_BACKEND = "", LOCMEM
    _, _, ann, _ = berlin
    sla_policy_publish(spec={"first_touch_hours": 2}, reason="Faster", by_user=None)
    person = _mql(ann)
    # when the check runs at the deadline
    with django_capture_on_commit_callbacks(execute=True):
        breached = sla_breaches_detect(now=DEADLINE)
    # then the breach is recorded in the app, and no mail is sent or recorded
    assert breached == [person.pk]
    assert (len(mail.outbox), Event.objects.filter(kind="sla.breach_emailed").count()) == (0, 0)
    assert Notification.objects.filter(kind="sla_breach").count() == 2


def test_a_rolled_back_breach_sends_no_mail(berlin: Any, settings: Any, django_capture_on_commit_callbacks: Any) -> None:
    # given SMTP configured and an untouched MQL
    settings.EMAIL_HOST, settings.EMAIL_BACKEND = "smtp.example.com", LOCMEM
    _, _, ann, _ = berlin
    _mql(ann)
    sla_policy_publish(spec={"first_touch_hours": 2}, reason="Faster", by_user=None)
    # when the check runs inside a transaction that is rolled back
    with django_capture_on_commit_callbacks(execute=True):
        try:
            with transaction.atomic():
                sla_breaches_detect(now=DEADLINE)
                raise RuntimeError("the worker died")
        except RuntimeError:
            pass
    # then no mail went out and no breach was kept
    assert (len(mail.outbox), Event.objects.filter(kind="sla.first_touch_breached").count()) == (0, 0)


def _round_robin(team: Any) -> None:
    routing_publish(
        spec={"rules": [{"id": "rr", "kind": "round_robin", "label": "Berlin team", "team_id": team.pk}]},
        reason="One team",
        by_user=None,
    )


def test_an_untouched_mql_is_rerouted_to_another_rep_n_business_hours_after_its_breach(
    berlin: Any, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    # given a policy re-routing 3 business hours after the breach, round-robin rules, and Ann's untouched MQL
    settings.EMAIL_HOST, settings.EMAIL_BACKEND = "smtp.example.com", LOCMEM
    team, _, ann, bob = berlin
    _round_robin(team)
    sla_policy_publish(spec={"first_touch_hours": 2, "reroute_after_hours": 3}, reason="Re-route", by_user=None)
    person = _mql(ann)
    touched = _mql(ann, first="Tom")
    Activity.objects.create(person=touched, user=ann, kind_id="call", occurred_at=DEADLINE + dt.timedelta(hours=1))
    # breach due Tuesday 10:00 Berlin; re-route due 3 business hours later, Tuesday 13:00 Berlin = 11:00 UTC
    due = dt.datetime(2026, 6, 16, 11, 0, tzinfo=dt.UTC)
    sla_breaches_detect(now=DEADLINE)
    # when the re-route runs a minute before, at the minute, and again later
    with django_capture_on_commit_callbacks(execute=True):
        early = sla_reroutes_apply(now=due - dt.timedelta(minutes=1))
        on_time = sla_reroutes_apply(now=due)
        again = sla_reroutes_apply(now=due + dt.timedelta(hours=8))
    # then only the untouched lead moves, once, to Bob (the only other rep), recorded as rule "sla.reroute"
    assert (early, on_time, again) == ([], [person.pk], [])
    assert Person.objects.get(pk=person.pk).owner_id == bob.pk
    assert Person.objects.get(pk=touched.pk).owner_id == ann.pk
    assigned = Event.objects.get(kind="person.owner_assigned", subject_id=person.pk)
    assert (assigned.rule, assigned.data) == ("sla.reroute", {"from": ann.pk, "to": bob.pk})
    assert assigned.reason.startswith("Untouched 3 business hours after the first-touch SLA breach (due 2026-06-16 08:00 UTC)")
    rerouted = Event.objects.get(kind="sla.rerouted")
    assert (rerouted.data["from"], rerouted.data["to"], rerouted.data["routing_rule"]) == (ann.pk, bob.pk, "rr")
    # and both reps are told in the app and by email
    notes = dict(Notification.objects.filter(kind="sla_reroute").values_list("user_id", "text"))
    assert notes[ann.pk].startswith("Re-routed: Kim Lead went to")
    assert notes[bob.pk].startswith("Re-routed to you: Kim Lead")
    reroute_mail = [m for m in mail.outbox if m.subject == "[Tandem] Re-routed: Kim Lead"]
    assert [m.to for m in reroute_mail] == [["ann@example.com", "bob@example.com"]]
    # and Bob is charged the lead in the round-robin tallies
    assert RoutingState.objects.get(pk=1).state[str(team.pk)]["counts"] == {str(bob.pk): 1}


def test_without_a_reroute_delay_or_another_rep_nothing_moves(berlin: Any) -> None:
    # given round-robin rules, an untouched MQL of Ann's, and first a policy without re-routing
    team, _, ann, bob = berlin
    _round_robin(team)
    person = _mql(ann)
    sla_policy_publish(spec={"first_touch_hours": 2}, reason="No re-route", by_user=None)
    off = sla_reroutes_apply(now=DEADLINE + dt.timedelta(days=3))
    # when re-routing is on but Bob is away (nobody else can take the lead)
    sla_policy_publish(spec={"first_touch_hours": 2, "reroute_after_hours": 0}, reason="Re-route at once", by_user=None)
    type(bob).objects.filter(pk=bob.pk).update(is_away=True)
    nobody = sla_reroutes_apply(now=DEADLINE)
    later = sla_reroutes_apply(now=DEADLINE + dt.timedelta(days=1))
    # then nothing moves; the attempt is recorded once with why
    assert (off, nobody, later) == ([], [], [])
    assert Person.objects.get(pk=person.pk).owner_id == ann.pk
    event = Event.objects.get(kind="sla.rerouted")
    assert event.data["to"] is None and event.reason.endswith("Berlin team: nobody in Berlin is available")


def test_a_reroute_delay_out_of_range_is_refused_by_name() -> None:
    # given a policy with a negative re-route delay
    # when it is published
    with pytest.raises(ValidationFailed) as caught:
        sla_policy_publish(spec={"reroute_after_hours": -1}, reason="x", by_user=None)
    # then the field is named and nothing is published
    assert caught.value.field == "reroute_after_hours"
    assert Event.objects.filter(kind="sla.published").count() == 0


def test_reroute_never_picks_the_current_owner_and_keeps_the_others_fair() -> None:
    # given a team of three equal reps with a running stretch of 30 leads, 10 each
    roster = Roster(reps=(Rep(1, "A"), Rep(2, "B"), Rep(3, "C")), teams=(Team(7, "T", (1, 2, 3)),))
    rules = RoutingRules.from_dict({"version": 1, "rules": [{"id": "rr", "kind": "round_robin", "team_id": 7}]})
    state = RoundRobinState()
    for _ in range(30):
        state = route({}, rules, roster, state).state
    # when A's lead is re-routed twice, then normal routing resumes for 30 more
    first = reroute({}, rules, roster, state, exclude_rep_id=1)
    second = reroute({}, rules, roster, first.state, exclude_rep_id=1)
    state = second.state
    owners = []
    for _ in range(30):
        routed = route({}, rules, roster, state)
        owners.append(routed.assignment.rep_id)
        state = routed.state
    # then B and C get the re-routes (charged to them, the stretch kept), so A gets the next two leads
    # and after 62 leads the counts are within one of 62 / 3
    assert (first.assignment.rep_id, second.assignment.rep_id) == (2, 3)
    assert second.state.teams[7].counts == {1: 10, 2: 11, 3: 11}
    assert owners[:2] == [1, 1]
    assert state.teams[7].counts == {1: 21, 2: 21, 3: 20}
