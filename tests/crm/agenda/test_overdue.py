"""Overdue tasks: the lifecycle job tells each owner once, in the app, as SLA breaches are told."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from tandem.core.models import Event
from tandem.crm.agenda.services import task_update
from tandem.crm.models import Task
from tandem.lifecycle.models import Notification
from tandem.lifecycle.services import tasks_overdue_notify
from tandem.lifecycle.tasks import task_overdue_check
from tests.crm.agenda.factories import TaskFactory
from tests.users.factories import UserFactory

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 12, 7, 10, 0, tzinfo=dt.UTC)


def test_an_overdue_task_notifies_its_owner_once_however_often_the_job_runs() -> None:
    # given a rep in Berlin with an overdue task, a task not yet due, a done one, and a colleague's overdue one
    rep = UserFactory(role="sales_rep", time_zone="Europe/Berlin")
    other = UserFactory(role="sales_rep")
    late = TaskFactory(owner=rep, title="Call Ada", due_at=NOW - dt.timedelta(hours=2))
    TaskFactory(owner=rep, due_at=NOW + dt.timedelta(minutes=1))
    TaskFactory(
        owner=rep, due_at=NOW - dt.timedelta(hours=3), done_at=NOW - dt.timedelta(hours=4), done_by=rep
    )
    theirs = TaskFactory(owner=other, title="Send quote", due_at=NOW - dt.timedelta(minutes=1))
    # when the job runs twice
    first = tasks_overdue_notify(now=NOW)
    second = tasks_overdue_notify(now=NOW + dt.timedelta(minutes=1))
    # then each overdue task's owner got one notification, on their own clock, linking to their overdue tasks
    assert (first, second) == (sorted([late.pk, theirs.pk]), [])
    notes = list(
        Notification.objects.order_by("user_id", "id").values_list(
            "user_id", "kind", "text", "url", "created_at"
        )
    )
    assert notes == sorted(
        [
            (
                rep.pk,
                "task_overdue",
                "Task overdue: Call Ada (due Mon 07 Dec 09:00 Europe/Berlin).",
                "/tasks/?state=overdue",
                NOW,
            ),
            (
                other.pk,
                "task_overdue",
                "Task overdue: Send quote (due Mon 07 Dec 09:59 UTC).",
                "/tasks/?state=overdue",
                NOW,
            ),
        ]
    )
    assert Task.objects.get(pk=late.pk).overdue_notified_at == NOW
    assert Event.objects.filter(kind="task.overdue_notified").count() == 2


def test_a_task_moved_later_and_overdue_again_notifies_again() -> None:
    # given an overdue task whose owner was told
    rep = UserFactory(role="sales_rep")
    task = TaskFactory(owner=rep, due_at=NOW - dt.timedelta(hours=1))
    tasks_overdue_notify(now=NOW)
    # when it is moved an hour later, and that passes too
    task_update(task=task, by_user=rep, due_at=NOW + dt.timedelta(hours=1), now=NOW)
    again = tasks_overdue_notify(now=NOW + dt.timedelta(hours=2))
    # then the owner is told a second time
    assert again == [task.pk]
    assert Notification.objects.filter(user=rep, kind="task_overdue").count() == 2


def test_the_periodic_job_runs_the_notifier(settings) -> None:  # type: ignore[no-untyped-def]
    # given a task overdue now
    rep = UserFactory(role="sales_rep")
    TaskFactory(owner=rep, due_at=timezone.now() - dt.timedelta(minutes=5))
    # when the Huey job runs twice
    task_overdue_check.call_local()
    task_overdue_check.call_local()
    # then one notification
    assert Notification.objects.filter(user=rep, kind="task_overdue").count() == 1
