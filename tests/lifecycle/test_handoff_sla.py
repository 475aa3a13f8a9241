"""SLA policy versions and first-touch breach detection at the exact minute, with in-app notifications."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client

from tandem.core.errors import ValidationFailed
from tandem.core.models import Event
from tandem.crm.models import Activity, Person
from tandem.crm.services import person_change_stage
from tandem.lifecycle.models import Notification
from tandem.lifecycle.services import sla_breaches_detect, sla_policy_current, sla_policy_publish
from tandem.users.models import Role
from tests.crm.factories import PersonFactory
from tests.users.factories import TeamFactory, UserFactory

pytestmark = pytest.mark.django_db

# Monday 16:00 in Berlin (UTC+2 in June) = 14:00 UTC. With 2 business hours on 9:00-17:00 Berlin: one hour
# on Monday, one on Tuesday from 9:00, so due Tuesday 10:00 Berlin = 08:00 UTC.
HANDOFF = dt.datetime(2026, 6, 15, 14, 0, tzinfo=dt.UTC)
DEADLINE = dt.datetime(2026, 6, 16, 8, 0, tzinfo=dt.UTC)


def _mql_owned_by(owner: object) -> Person:
    person = PersonFactory(first_name="Kim", last_name="Lead")
    person_change_stage(person=person, to_stage="mql", at=HANDOFF)
    Person.objects.filter(pk=person.pk).update(owner=owner)
    return person


def test_a_published_policy_is_in_force_and_bad_values_name_the_field() -> None:
    # given no policy published
    # when one is published, then a bad one
    before = sla_policy_current()
    row = sla_policy_publish(spec={"first_touch_hours": 2, "min_attempts": 4}, reason="Faster follow-up", by_user=None)
    with pytest.raises(ValidationFailed) as caught:
        sla_policy_publish(spec={"first_touch_hours": 0}, reason="x", by_user=None)
    # then the defaults applied before, v1 applies now, and the bad value is refused by name
    assert (before.first_touch_hours, before.min_attempts) == (4.0, 3)
    assert (row.version, sla_policy_current().first_touch_hours, sla_policy_current().min_attempts) == (1, 2.0, 4)
    assert caught.value.field == "first_touch_hours"


def test_a_breach_is_detected_at_the_exact_minute_once_and_notifies_owner_and_manager() -> None:
    # given a Berlin team with a manager, a 2-hour policy, and an untouched MQL owned by a rep
    manager = UserFactory(role=Role.SALES_MANAGER)
    berlin = TeamFactory(name="Berlin", time_zone="Europe/Berlin", manager=manager)
    rep = UserFactory(role=Role.SALES_REP, team=berlin)
    sla_policy_publish(spec={"first_touch_hours": 2}, reason="Faster", by_user=None)
    person = _mql_owned_by(rep)
    # when the check runs one minute before the deadline, at it, and again a minute later
    early = sla_breaches_detect(now=DEADLINE - dt.timedelta(minutes=1))
    on_time = sla_breaches_detect(now=DEADLINE)
    again = sla_breaches_detect(now=DEADLINE + dt.timedelta(minutes=1))
    # then nothing before, one breach at the minute (an event and two notifications), nothing repeated
    assert (early, on_time, again) == ([], [person.pk], [])
    event = Event.objects.get(kind="sla.first_touch_breached")
    assert (event.subject_id, event.occurred_at, event.rule_version) == (person.pk, DEADLINE, 1)
    notes = sorted(Notification.objects.values_list("user_id", "text"))
    text = "SLA breached: Kim Lead was not touched by 2026-06-16 08:00 UTC."
    assert notes == sorted([(rep.pk, text), (manager.pk, text)])
    # and the rep sees it in the inbox, marked new once
    client = Client()
    client.force_login(rep)
    first_view, second_view = client.get("/inbox/").content.decode(), client.get("/inbox/").content.decode()
    assert "Kim Lead was not touched by 2026-06-16 08:00 UTC" in first_view and ">new</span>" in first_view
    assert ">new</span>" not in second_view


def test_a_touch_in_time_means_no_breach() -> None:
    # given an MQL the rep called exactly at the deadline (in time)
    rep = UserFactory(role=Role.SALES_REP, team=TeamFactory(name="Berlin", time_zone="Europe/Berlin"))
    sla_policy_publish(spec={"first_touch_hours": 2}, reason="Faster", by_user=None)
    person = _mql_owned_by(rep)
    Activity.objects.create(person=person, user=rep, kind_id="call", occurred_at=DEADLINE)
    # when the check runs after the deadline
    found = sla_breaches_detect(now=DEADLINE + dt.timedelta(hours=1))
    # then there is no breach and no notification
    assert found == []
    assert Notification.objects.count() == 0
