"""Logging, changing and deleting activities, and the kinds admins manage: checks first, a row and an event."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from tandem.core.errors import NotAllowed, ValidationFailed
from tandem.core.http import PermissionRefused
from tandem.core.models import Event
from tandem.crm.activities.services import (
    activity_delete,
    activity_record,
    activity_type_create,
    activity_type_delete,
    activity_type_update,
    activity_update,
)
from tandem.crm.models import Activity, ActivityType, Task
from tandem.crm.services import activity_log
from tandem.users.models import Role
from tests.crm.factories import AccountFactory, DealFactory, PersonFactory
from tests.users.factories import UserFactory

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2026, 6, 15, 10, 0, tzinfo=dt.UTC)


@pytest.fixture
def people():  # type: ignore[no-untyped-def]
    # Ana and Ben work at Acme; Cy is elsewhere. Ana has a deal, and so has Ben.
    acme = AccountFactory(name="Acme")
    ana, ben, cy = (
        PersonFactory(account=acme),
        PersonFactory(account=acme),
        PersonFactory(account=AccountFactory()),
    )
    return ana, ben, cy, DealFactory(person=ana, account=acme), DealFactory(person=ben, account=acme)


def _state() -> tuple[object, ...]:
    return (list(Activity.objects.values()), Event.objects.count(), list(ActivityType.objects.values()))


def test_a_call_is_recorded_with_its_event_by_whoever_logs_it(people):
    # given a rep and Ana with a deal
    ana, _, _, deal, _ = people
    rep = UserFactory(role=Role.SALES_REP)
    # when the rep logs a call on the deal
    call = activity_record(
        person=ana,
        kind="call",
        occurred_at=T0,
        outcome="connected",
        direction="outbound",
        duration_minutes=15,
        subject=" Discovery ",
        notes="Wants pricing",
        deal=deal,
        external_id="ext-1",
        by_user=rep,
    )
    # then the row holds it all, on Ana's account, done by the rep
    row = Activity.objects.get()
    assert (row.pk, row.person_id, row.kind_id, row.occurred_at, row.outcome, row.direction) == (
        call.pk,
        ana.pk,
        "call",
        T0,
        "connected",
        "outbound",
    )
    assert (
        row.duration_minutes,
        row.subject,
        row.notes,
        row.deal_id,
        row.account_id,
        row.user_id,
        row.external_id,
    ) == (
        15,
        "Discovery",
        "Wants pricing",
        deal.pk,
        ana.account_id,
        rep.pk,
        "ext-1",
    )
    # and one event says so
    event = Event.objects.get(kind="activity.logged")
    assert (event.subject_type, event.subject_id, event.actor_id) == ("crm.activity", call.pk, rep.pk)
    assert event.data == {
        "person_id": ana.pk,
        "kind": "call",
        "outcome": "connected",
        "direction": "outbound",
        "occurred_at": "2026-06-15T10:00:00+00:00",
        "duration_minutes": 15,
        "deal_id": deal.pk,
        "account_id": ana.account_id,
        "user_id": rep.pk,
        "external_id": "ext-1",
    }


def test_a_deal_of_the_persons_account_is_accepted(people):
    # given Ben's deal at Acme, where Ana works
    ana, _, _, _, bens_deal = people
    # when a meeting with Ana is logged on it
    meeting = activity_record(person=ana, kind="meeting", deal=bens_deal, occurred_at=T0)
    # then
    assert (meeting.deal_id, meeting.account_id, meeting.user_id) == (bens_deal.pk, ana.account_id, None)


def test_crm_activity_log_is_the_same_path(people):
    # given
    ana = people[0]
    rep = UserFactory(role=Role.SALES_REP)
    # when the older service logs a call
    call = activity_log(person=ana, kind="call", user=rep, occurred_at=T0, outcome="connected")
    # then it went through activity_record: checked, with its event
    assert Event.objects.filter(kind="activity.logged", subject_id=call.pk).count() == 1
    with pytest.raises(ValidationFailed) as refused:
        activity_log(person=ana, kind="call", outcome="great")
    assert refused.value.field == "outcome"


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"kind": "fax"}, "kind", "unknown activity kind 'fax' (one of call, email, meeting, note)"),
        ({"kind": "retired"}, "kind", "retired activity kind 'retired' (one of call, email, meeting, note)"),
        ({"outcome": "great"}, "outcome", "unknown outcome 'great' (one of connected, no_answer"),
        (
            {"direction": "sideways"},
            "direction",
            "unknown direction 'sideways' (one of outbound, inbound, or empty)",
        ),
        ({"duration_minutes": -1}, "duration_minutes", "duration_minutes must not be negative, got -1"),
        ({"duration_minutes": 1441}, "duration_minutes", "must be at most 1440 minutes (a day), got 1441"),
        ({"duration_minutes": True}, "duration_minutes", "must be a whole number of minutes, got True"),
        ({"occurred_at": "days"}, "occurred_at", "occurred_at must be a date and time"),
        ({"occurred_at": "future"}, "occurred_at", "is more than a day in the future"),
        ({"occurred_at": dt.datetime(1969, 12, 31, tzinfo=dt.UTC)}, "occurred_at", "is before 1970"),
        ({"notes": "a\x00b"}, "notes", "notes must not contain NUL characters"),
        ({"subject": "x" * 201}, "subject", "subject must be at most 200 characters, got 201"),
        ({"deal": "cys"}, "deal_id", "belongs neither to"),
        ({"account": "other"}, "account_id", "is neither"),
        ({"external_id": "taken"}, "external_id", "activity #"),
    ],
)
def test_bad_input_is_refused_naming_the_field_and_nothing_changes(people, change, field, message):
    # given a retired kind, Cy's deal, another account and a taken external id
    ana, _, cy, _, _ = people
    ActivityType.objects.create(key="retired", label="Retired", is_active=False)
    values = dict(change)
    if values.get("deal") == "cys":
        values["deal"] = DealFactory(person=cy, account=cy.account)
    if values.get("account") == "other":
        values["account"] = AccountFactory()
    if values.get("occurred_at") == "future":
        values["occurred_at"] = timezone.now() + dt.timedelta(days=2)
    if values.get("external_id") == "taken":
        activity_record(person=cy, kind="note", external_id="taken")
    before = _state()
    # when
    with pytest.raises((ValidationFailed, NotAllowed)) as refused:
        activity_record(person=ana, **{"kind": "call", **values})
    # then
    assert refused.value.field == field
    assert message in refused.value.message
    assert _state() == before


def test_the_author_changes_an_activity_and_the_event_lists_the_changes(people):
    # given a rep's call
    ana, _, _, deal, _ = people
    rep = UserFactory(role=Role.SALES_REP)
    call = activity_record(person=ana, kind="call", occurred_at=T0, by_user=rep)
    # when the rep adds the outcome, duration and deal
    activity_update(
        activity=call, by_user=rep, outcome="no_answer", duration_minutes=1, deal=deal, notes="  "
    )
    # then
    call.refresh_from_db()
    assert (call.outcome, call.duration_minutes, call.deal_id, call.notes) == ("no_answer", 1, deal.pk, "")
    event = Event.objects.get(kind="activity.changed")
    assert (event.subject_id, event.actor_id) == (call.pk, rep.pk)
    assert event.data == {
        "person_id": ana.pk,
        "changes": {"outcome": ["", "no_answer"], "duration_minutes": [None, 1], "deal": [None, deal.pk]},
    }


def test_another_rep_may_not_change_or_delete_it_but_a_manager_may(people):
    # given Ray's call
    ana = people[0]
    ray, other, manager = (
        UserFactory(role=Role.SALES_REP),
        UserFactory(role=Role.SALES_REP),
        UserFactory(role=Role.SALES_MANAGER),
    )
    call = activity_record(person=ana, kind="call", occurred_at=T0, by_user=ray)
    before = _state()
    # when another rep tries
    with pytest.raises(PermissionRefused, match="Only the activity's author, a sales manager or an admin"):
        activity_update(activity=call, by_user=other, outcome="connected")
    with pytest.raises(PermissionRefused):
        activity_delete(activity=call, by_user=other)
    # then nothing changed
    assert _state() == before
    # when the manager deletes it
    pk = call.pk
    activity_delete(activity=call, by_user=manager, reason="logged twice")
    # then it is gone, and the event keeps what it was
    assert not Activity.objects.exists()
    event = Event.objects.get(kind="activity.deleted")
    assert (event.subject_type, event.subject_id, event.actor_id, event.reason) == (
        "crm.activity",
        pk,
        manager.pk,
        "logged twice",
    )
    assert (event.data["kind"], event.data["user_id"], event.data["person_id"]) == ("call", ray.pk, ana.pk)


def test_a_change_to_a_bad_value_is_refused_and_nothing_changes(people):
    # given
    ana = people[0]
    rep = UserFactory(role=Role.SALES_REP)
    call = activity_record(person=ana, kind="call", occurred_at=T0, by_user=rep)
    before = _state()
    # when / then
    with pytest.raises(ValidationFailed) as refused:
        activity_update(activity=call, by_user=rep, outcome="connected", occurred_at=None)
    assert refused.value.field == "occurred_at"
    with pytest.raises(ValidationFailed) as unknown:
        activity_update(activity=call, by_user=rep, person=people[1])
    assert unknown.value.field == "person"
    assert _state() == before


def test_admins_add_relabel_and_retire_kinds_with_events():
    # given an admin
    admin = UserFactory(role=Role.ADMIN)
    # when a kind is added, relabelled, made a non-touch and retired
    kind = activity_type_create(key=" LinkedIn_msg ", label="LinkedIn  message", by_user=admin)
    activity_type_update(
        activity_type=kind, label="LinkedIn", counts_as_touch=False, active=False, by_user=admin
    )
    # then
    kind.refresh_from_db()
    assert (kind.key, kind.label, kind.counts_as_touch, kind.is_active, kind.builtin, kind.position) == (
        "linkedin_msg",
        "LinkedIn",
        False,
        False,
        False,
        4,
    )
    assert list(Event.objects.order_by("pk").values_list("kind", "data")) == [
        (
            "activity_type.created",
            {"key": "linkedin_msg", "label": "LinkedIn message", "counts_as_touch": True},
        ),
        (
            "activity_type.changed",
            {
                "key": "linkedin_msg",
                "changes": {
                    "label": ["LinkedIn message", "LinkedIn"],
                    "counts_as_touch": [True, False],
                    "is_active": [True, False],
                },
            },
        ),
    ]


@pytest.mark.parametrize(
    ("key", "label", "error", "field", "message"),
    [
        ("9lives", "Nine", ValidationFailed, "key", "must start with a letter"),
        (
            "linked-in",
            "Linked",
            ValidationFailed,
            "key",
            "must start with a letter and hold only a-z, 0-9 and _",
        ),
        ("x" * 25, "Long", ValidationFailed, "key", "key must be at most 24 characters"),
        ("call", "Phone", NotAllowed, "key", "an activity kind 'call' already exists"),
        ("phone", "CALL", NotAllowed, "label", "the kind 'call' is already labelled 'CALL'"),
        ("phone", "", ValidationFailed, "label", "label must not be empty"),
    ],
)
def test_a_bad_kind_is_refused_and_nothing_changes(db, key, label, error, field, message):
    # given
    before = _state()
    # when
    with pytest.raises(error) as refused:
        activity_type_create(key=key, label=label)
    # then
    assert (refused.value.field, message in refused.value.message) == (field, True)
    assert _state() == before


def test_a_kind_in_use_or_built_in_is_never_deleted(people):
    # given a kind with an activity, one a task names, an unused one, and a built-in one
    ana = people[0]
    used, tasked, unused = (
        activity_type_create(key="visit", label="Visit"),
        activity_type_create(key="demo", label="Demo"),
        activity_type_create(key="fax", label="Fax"),
    )
    activity_record(person=ana, kind="visit", occurred_at=T0)
    Task.objects.create(title="Demo them", due_at=T0, owner=UserFactory(), activity_kind=tasked)
    before = _state()
    # when / then
    for kind, message in (
        (used, "'visit' is used by 1 activities and 0 tasks; retire it instead"),
        (tasked, "'demo' is used by 0 activities and 1 tasks; retire it instead"),
        (ActivityType.objects.get(key="note"), "'note' is built in and cannot be deleted; retire it instead"),
    ):
        with pytest.raises(NotAllowed) as refused:
            activity_type_delete(activity_type=kind)
        assert refused.value.message == message
    assert _state() == before
    # when the unused one is deleted
    activity_type_delete(activity_type=unused)
    # then
    assert not ActivityType.objects.filter(key="fax").exists()
    assert Event.objects.filter(kind="activity_type.deleted", data__key="fax").count() == 1
