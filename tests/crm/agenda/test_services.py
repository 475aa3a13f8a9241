"""Task services: exact rows and events, refusals that change nothing, completion logging its activity, merging."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone

from tandem.core.errors import NotAllowed, NotFound, ValidationFailed
from tandem.core.models import Event
from tandem.crm.agenda.selectors import person_tasks
from tandem.crm.agenda.services import (
    task_complete,
    task_create,
    task_delete,
    task_reopen,
    task_update,
    tasks_mark_overdue_notified,
)
from tandem.crm.models import Activity, Task
from tandem.crm.services import deal_create, person_merge
from tests.crm.agenda.factories import TaskFactory
from tests.crm.factories import AccountFactory, PersonFactory
from tests.users.factories import TeamFactory, UserFactory

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 12, 7, 10, 0, tzinfo=dt.UTC)
TOMORROW_9 = dt.datetime(2026, 12, 8, 9, 0, tzinfo=dt.UTC)


def _state() -> tuple[Any, ...]:
    return (
        list(Task.objects.order_by("id").values()),
        Event.objects.count(),
        Activity.objects.count(),
    )


def _events(kind: str) -> list[dict[str, Any]]:
    return [e.data for e in Event.objects.filter(kind=kind).order_by("id")]


# ---- create ----


def test_a_task_about_a_deal_is_about_its_contact_and_account_too_with_an_event() -> None:
    # given a rep and a deal of a person at an account
    rep = UserFactory(role="sales_rep")
    account = AccountFactory(name="Globex")
    person = PersonFactory(owner=rep, account=account)
    deal = deal_create(person=person, amount=Decimal("900"), name="Renewal")
    # when the rep makes a task about the deal
    task = task_create(
        title="  Send the renewal quote  ",
        due_at=TOMORROW_9,
        deal_id=deal.pk,
        priority="high",
        activity_kind="email",
        notes="Ask about seats",
        by_user=rep,
        now=NOW,
    )
    # then the task is the rep's, about the deal, its person and their account, and the event says so
    stored = Task.objects.values(
        "title",
        "due_at",
        "owner_id",
        "person_id",
        "deal_id",
        "account_id",
        "priority",
        "activity_kind_id",
        "notes",
        "source",
        "created_by_id",
        "done_at",
        "overdue_notified_at",
    ).get(pk=task.pk)
    assert stored == {
        "title": "Send the renewal quote",
        "due_at": TOMORROW_9,
        "owner_id": rep.pk,
        "person_id": person.pk,
        "deal_id": deal.pk,
        "account_id": account.pk,
        "priority": "high",
        "activity_kind_id": "email",
        "notes": "Ask about seats",
        "source": "",
        "created_by_id": rep.pk,
        "done_at": None,
        "overdue_notified_at": None,
    }
    event = Event.objects.get(kind="task.created")
    assert (event.subject_type, event.subject_id, event.actor_id) == ("crm.task", task.pk, rep.pk)
    assert event.data == {
        "title": "Send the renewal quote",
        "due_at": "2026-12-08T09:00:00+00:00",
        "owner": rep.pk,
        "person": person.pk,
        "deal": deal.pk,
        "account": account.pk,
        "priority": "high",
        "activity_kind": "email",
        "source": "",
    }


@pytest.mark.parametrize(
    ("changes", "error", "field"),
    [
        ({"title": "   "}, ValidationFailed, "title"),
        ({"title": "Call\x00back"}, ValidationFailed, "title"),
        ({"title": "x" * 201}, ValidationFailed, "title"),
        ({"notes": "a\x00b"}, ValidationFailed, "notes"),
        ({"source": "sla\x00"}, ValidationFailed, "source"),
        ({"due_at": dt.datetime(2026, 12, 8, 9, 0)}, ValidationFailed, "due_at"),  # no time zone
        ({"due_at": dt.datetime(2025, 12, 1, 9, 0, tzinfo=dt.UTC)}, ValidationFailed, "due_at"),  # a year ago
        ({"due_at": dt.datetime(2037, 1, 1, tzinfo=dt.UTC)}, ValidationFailed, "due_at"),  # ten years ahead
        ({"due_at": "tomorrow"}, ValidationFailed, "due_at"),
        ({"priority": "urgent"}, ValidationFailed, "priority"),
        ({"activity_kind": "fax"}, ValidationFailed, "activity_kind"),
        ({"person_id": 999_999}, ValidationFailed, "person_id"),
        ({"deal_id": 999_999}, ValidationFailed, "deal_id"),
        ({"account_id": 999_999}, ValidationFailed, "account_id"),
        ({"person_id": 0}, ValidationFailed, "person_id"),
        ({"owner_id": 999_999}, ValidationFailed, "owner_id"),
    ],
)
def test_bad_input_is_refused_naming_the_field_and_changes_nothing(
    changes: dict[str, Any], error: type, field: str
) -> None:
    # given a rep
    rep = UserFactory(role="sales_rep")
    before = _state()
    # when a task is created with one bad value
    fields = {"title": "Call back", "due_at": TOMORROW_9, **changes}
    with pytest.raises(error) as refused:
        task_create(**fields, by_user=rep, now=NOW)
    # then the error names the field and nothing was written
    assert refused.value.field == field
    assert _state() == before


def test_owner_must_be_active_in_the_givers_team_and_able_to_have_tasks() -> None:
    # given a manager with a team of one rep, a rep of another team, a left rep and a marketer in the team
    manager = UserFactory(role="sales_manager")
    team = TeamFactory(name="North", manager=manager)
    ann = UserFactory(role="sales_rep", team=team)
    outsider = UserFactory(role="sales_rep")
    gone = UserFactory(role="sales_rep", team=team, is_active=False)
    marketer = UserFactory(role="marketing", team=team)
    before = _state()
    # when tasks are given to each of them
    refusals = []
    for giver, owner in ((ann, manager), (manager, outsider), (manager, gone), (manager, marketer)):
        with pytest.raises((NotAllowed, ValidationFailed)) as refused:
            task_create(title="Call", due_at=TOMORROW_9, owner_id=owner.pk, by_user=giver, now=NOW)
        refusals.append((type(refused.value).__name__, refused.value.field))
    given = task_create(title="Call", due_at=TOMORROW_9, owner_id=ann.pk, by_user=manager, now=NOW)
    # then a rep cannot give tasks, a manager only to active team members who can have them
    assert refusals == [
        ("PermissionRefused", "owner_id"),
        ("PermissionRefused", "owner_id"),
        ("ValidationFailed", "owner_id"),
        ("ValidationFailed", "owner_id"),
    ]
    assert (given.owner_id, given.created_by_id) == (ann.pk, manager.pk)
    assert Task.objects.count() == len(before[0]) + 1


def test_a_deal_that_is_not_the_persons_is_refused() -> None:
    # given a person and someone else's deal
    rep = UserFactory(role="sales_rep")
    person = PersonFactory(owner=rep)
    other = deal_create(person=PersonFactory(owner=rep), amount=Decimal("10"))
    before = _state()
    # when a task names both
    with pytest.raises(ValidationFailed) as refused:
        task_create(
            title="Call", due_at=TOMORROW_9, person_id=person.pk, deal_id=other.pk, by_user=rep, now=NOW
        )
    # then it names the deal and nothing changed
    assert (refused.value.field, refused.value.value) == ("deal_id", other.pk)
    assert _state() == before


# ---- update and reassign ----


def test_a_manager_reassigns_a_task_and_both_events_are_written() -> None:
    # given a manager's team of two reps, one with a task
    manager = UserFactory(role="sales_manager")
    team = TeamFactory(name="South", manager=manager)
    ann, bob = UserFactory(role="sales_rep", team=team), UserFactory(role="sales_rep", team=team)
    task = task_create(title="Call", due_at=TOMORROW_9, by_user=ann, now=NOW)
    # when the manager gives it to Bob with a new title
    task_update(task=task, by_user=manager, owner_id=bob.pk, title="Call Globex", now=NOW)
    # then Bob owns it and the change and the reassignment are recorded
    task.refresh_from_db()
    assert (task.owner_id, task.title) == (bob.pk, "Call Globex")
    assert _events("task.updated") == [
        {"changes": {"title": ["Call", "Call Globex"], "owner_id": [ann.pk, bob.pk]}}
    ]
    assert _events("task.reassigned") == [{"from": ann.pk, "to": bob.pk}]


def test_a_rep_cannot_reassign_nor_change_anothers_task() -> None:
    # given two reps of one team, Ann with a task
    team = TeamFactory(name="West")
    ann, bob = UserFactory(role="sales_rep", team=team), UserFactory(role="sales_rep", team=team)
    task = task_create(title="Call", due_at=TOMORROW_9, by_user=ann, now=NOW)
    before = _state()
    # when Ann gives it to Bob, and Bob edits it
    with pytest.raises(NotAllowed) as give:
        task_update(task=task, by_user=ann, owner_id=bob.pk, now=NOW)
    with pytest.raises(NotAllowed) as edit:
        task_update(task=task, by_user=bob, title="Mine now", now=NOW)
    # then both are refused and nothing changed
    assert (give.value.field, edit.value.field) == ("owner_id", "owner_id")
    assert _state() == before


def test_moving_the_due_time_later_lets_the_owner_be_told_again() -> None:
    # given an overdue task whose owner was told
    rep = UserFactory(role="sales_rep")
    task = TaskFactory(owner=rep, due_at=NOW - dt.timedelta(hours=1), overdue_notified_at=NOW)
    # when it is moved to tomorrow, then only its notes change
    task_update(task=task, by_user=rep, due_at=TOMORROW_9, now=NOW)
    moved = Task.objects.get(pk=task.pk)
    task_update(task=task, by_user=rep, notes="left a message", now=NOW)
    # then it may be notified again; an edit that leaves the due time alone keeps that
    assert (moved.due_at, moved.overdue_notified_at) == (TOMORROW_9, None)
    assert Task.objects.get(pk=task.pk).notes == "left a message"
    assert len(_events("task.updated")) == 2


def test_unknown_fields_and_no_op_updates() -> None:
    # given a task
    rep = UserFactory(role="sales_rep")
    task = task_create(title="Call", due_at=TOMORROW_9, by_user=rep, now=NOW)
    before = _state()
    # when a field that cannot be edited is sent, and then the same title again
    with pytest.raises(ValidationFailed) as refused:
        task_update(task=task, by_user=rep, done_at=NOW)
    task_update(task=task, by_user=rep, title="Call", now=NOW)
    # then the first names the field, and neither writes anything
    assert refused.value.field == "done_at"
    assert _state() == before


# ---- complete, reopen, delete ----


def test_completing_a_task_logs_its_call_and_both_events_in_one_step() -> None:
    # given a rep's call task about a person with a deal
    rep = UserFactory(role="sales_rep")
    person = PersonFactory(owner=rep)
    deal = deal_create(person=person, amount=Decimal("50"))
    task = task_create(
        title="Call back Tuesday", due_at=TOMORROW_9, deal_id=deal.pk, activity_kind="call", by_user=rep
    )
    # when the rep completes it, logging a connected call
    before = timezone.now()
    done = task_complete(
        task=task, by_user=rep, log_activity=True, outcome="connected", notes="Wants pricing"
    )
    # then the call is logged on the person, with the deal, by the rep, and the task points at it
    activity = Activity.objects.get()
    assert (
        activity.person_id,
        activity.kind_id,
        activity.outcome,
        activity.notes,
        activity.subject,
        activity.deal_id,
        activity.user_id,
    ) == (person.pk, "call", "connected", "Wants pricing", "Call back Tuesday", deal.pk, rep.pk)
    stored = Task.objects.get(pk=task.pk)
    assert (stored.done_by_id, stored.activity_id) == (rep.pk, activity.pk)
    assert (
        stored.done_at is not None
        and before <= stored.done_at <= timezone.now()
        and done.done_at == stored.done_at
    )
    assert [
        e.kind for e in Event.objects.filter(kind__in=["activity.logged", "task.completed"]).order_by("id")
    ] == [
        "activity.logged",
        "task.completed",
    ]
    assert _events("task.completed") == [
        {
            "activity": activity.pk,
            "activity_kind": "call",
            "due_at": "2026-12-08T09:00:00+00:00",
            "late": False,
        }
    ]


@pytest.mark.parametrize(
    ("task_kwargs", "complete_kwargs", "field"),
    [
        ({"activity_kind": "call"}, {"outcome": "maybe"}, "outcome"),  # refused by the activity service
        ({"activity_kind": "call"}, {"notes": "a\x00b"}, "notes"),
        ({}, {}, "activity_kind"),  # no kind on the task, none given
        ({"activity_kind": "call", "person": False}, {}, "activity"),  # no person to log it on
    ],
)
def test_a_refused_activity_leaves_the_task_open_and_nothing_logged(
    task_kwargs: dict[str, Any], complete_kwargs: dict[str, Any], field: str
) -> None:
    # given an open task
    rep = UserFactory(role="sales_rep")
    with_person = task_kwargs.pop("person", True)
    person_id = PersonFactory(owner=rep).pk if with_person else None
    task = task_create(title="Call", due_at=TOMORROW_9, person_id=person_id, by_user=rep, **task_kwargs)
    before = _state()
    # when completing it with an activity that cannot be logged
    with pytest.raises(ValidationFailed) as refused:
        task_complete(task=task, by_user=rep, log_activity=True, **complete_kwargs)
    # then the error names the field, the task is still open and nothing was written
    assert refused.value.field == field
    assert _state() == before


def test_done_twice_is_refused_reopen_makes_it_open_and_keeps_the_activity() -> None:
    # given a task completed with a call
    rep = UserFactory(role="sales_rep")
    task = task_create(
        title="Call", due_at=TOMORROW_9, person_id=PersonFactory(owner=rep).pk, activity_kind="call", by_user=rep
    )
    task_complete(task=task, by_user=rep, log_activity=True)
    before = _state()
    # when it is completed again, then reopened, then reopened again
    with pytest.raises(NotAllowed) as twice:
        task_complete(task=task, by_user=rep)
    unchanged = _state() == before
    task_reopen(task=task, by_user=rep)
    with pytest.raises(NotAllowed) as reopened_twice:
        task_reopen(task=task, by_user=rep)
    # then the second completion and second reopening are refused; the reopened task keeps its logged call
    assert (twice.value.field, reopened_twice.value.field, unchanged) == ("done_at", "done_at", True)
    stored = Task.objects.get(pk=task.pk)
    assert (stored.done_at, stored.done_by_id, stored.activity_id) == (None, None, Activity.objects.get().pk)
    assert len(_events("task.reopened")) == 1


def test_deleting_keeps_what_the_task_was_in_its_event() -> None:
    # given a task
    rep = UserFactory(role="sales_rep")
    task = task_create(title="Call", due_at=TOMORROW_9, by_user=rep, source="sla.first_touch", now=NOW)
    task_id = task.pk
    # when it is deleted by someone outside its owner's scope, then by its owner
    with pytest.raises(NotAllowed):
        task_delete(task=task, by_user=UserFactory(role="sales_rep"))
    task_delete(task=task, by_user=rep)
    # then it is gone and the event keeps it; deleting it again is a NotFound
    assert not Task.objects.filter(pk=task_id).exists()
    event = Event.objects.get(kind="task.deleted")
    assert (event.subject_id, event.data["title"], event.data["source"], event.data["done_at"]) == (
        task_id,
        "Call",
        "sla.first_touch",
        None,
    )
    with pytest.raises(NotFound):
        task_delete(task=task if task.pk else Task(pk=task_id), by_user=rep)


def test_marking_overdue_notified_marks_each_open_task_once() -> None:
    # given an open overdue task, one already marked, and a done one
    rep = UserFactory(role="sales_rep")
    fresh = TaskFactory(owner=rep, due_at=NOW - dt.timedelta(hours=1))
    told = TaskFactory(
        owner=rep, due_at=NOW - dt.timedelta(hours=2), overdue_notified_at=NOW - dt.timedelta(hours=1)
    )
    done = TaskFactory(owner=rep, due_at=NOW - dt.timedelta(hours=3), done_at=NOW)
    # when all three are marked, twice
    first = tasks_mark_overdue_notified(task_ids=[fresh.pk, told.pk, done.pk], at=NOW)
    second = tasks_mark_overdue_notified(task_ids=[fresh.pk, told.pk, done.pk], at=NOW)
    # then only the fresh one was marked, once, with its event
    assert (first, second) == ([fresh.pk], [])
    assert Task.objects.get(pk=fresh.pk).overdue_notified_at == NOW
    assert list(Event.objects.filter(kind="task.overdue_notified").values_list("subject_id", flat=True)) == [
        fresh.pk
    ]


# ---- merging people ----


def test_tasks_follow_the_survivor_of_a_merge() -> None:
    # given two records of one person, the duplicate with an open task
    rep = UserFactory(role="sales_rep")
    survivor, duplicate = PersonFactory(owner=rep), PersonFactory(owner=rep)
    task = task_create(title="Call back", due_at=TOMORROW_9, person_id=duplicate.pk, by_user=rep)
    # when they are merged
    person_merge(survivor=survivor, duplicate=duplicate, by_user=UserFactory(role="sales_manager"))
    # then the task is about the survivor and shows on their page
    assert Task.objects.get(pk=task.pk).person_id == survivor.pk
    assert [t.pk for t in person_tasks(person_id=survivor.pk, user=rep)] == [task.pk]
    assert Event.objects.get(kind="person.merged").data["moved"]["tasks"] == 1
