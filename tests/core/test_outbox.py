"""The outbox: work a write queues is handed to Huey after the commit; a queue that is down never fails the write."""

from __future__ import annotations

import datetime as dt
import sqlite3
import threading

import pytest
from django.db import transaction
from django.utils import timezone
from huey.contrib.djhuey import HUEY, db_task
from huey.storage import SqliteStorage

from tandem.core.background import background_loops
from tandem.core.models import PendingTask
from tandem.core.outbox import (
    CLAIM,
    FIRST_RETRY,
    outbox_loop,
    pending_tasks_drain,
    task_enqueue_on_commit,
    task_name,
)

pytestmark = pytest.mark.django_db
CALLS: list[int] = []


@db_task()
def record_task(value: int) -> None:
    """A task that only remembers it ran (the tests read CALLS)."""
    CALLS.append(value)


@pytest.fixture(autouse=True)
def _calls():  # type: ignore[no-untyped-def]
    CALLS.clear()
    yield
    CALLS.clear()


@pytest.fixture
def immediate():  # type: ignore[no-untyped-def]
    before = HUEY.immediate
    HUEY.immediate = True
    yield
    HUEY.immediate = before


@pytest.fixture
def sqlite_queue(tmp_path, monkeypatch):  # type: ignore[no-untyped-def]
    """Huey's real SQLite queue in a file of its own, impatient when the file is locked (0.1 s)."""
    storage = SqliteStorage(name="tandem-test", filename=str(tmp_path / "huey.sqlite3"), timeout=0.1)
    monkeypatch.setattr(HUEY, "storage", storage)
    return storage


def test_a_task_is_named_by_its_dotted_path():
    # given / when / then: the name imports back to the task
    assert task_name(record_task) == "tests.core.test_outbox.record_task"


def test_queued_work_is_handed_over_after_the_commit_and_its_row_removed(
    immediate, django_capture_on_commit_callbacks
):
    # given a write that queues a task inside its transaction
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        row = task_enqueue_on_commit(task=record_task, args=[7])
        # then before the commit the row is there and nothing ran
        assert (PendingTask.objects.get().task, row.args, CALLS) == (
            "tests.core.test_outbox.record_task",
            [7],
            [],
        )
    # then after the commit the task ran and the outbox is empty
    assert CALLS == [7] and not PendingTask.objects.exists()


def test_a_rolled_back_write_queues_nothing(immediate, django_capture_on_commit_callbacks):
    # given a write that queues a task, then fails
    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        task_enqueue_on_commit(task=record_task, args=[1])
        raise RuntimeError("the write failed")
    # then neither the row nor the task survived
    assert callbacks == [] and CALLS == [] and not PendingTask.objects.exists()


def test_a_locked_queue_keeps_the_work_in_the_outbox_and_the_drain_hands_it_over_later(
    sqlite_queue, tmp_path, django_capture_on_commit_callbacks
):
    # given Huey's SQLite queue locked by another writer (the queue is down for us)
    blocker = sqlite3.connect(str(tmp_path / "huey.sqlite3"), isolation_level=None)
    blocker.execute("begin exclusive")
    try:
        # when a write queues a task and commits
        with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
            task_enqueue_on_commit(task=record_task, args=[3])
        # then the write is done, the failure is on the row with a back-off, and the drain cannot hand it over yet
        row = PendingTask.objects.get()
        assert (row.attempts, row.claimed_until) == (1, None)
        assert row.last_error.startswith("OperationalError: database is locked")
        assert row.next_attempt_at > timezone.now() + FIRST_RETRY - dt.timedelta(seconds=2)
        assert pending_tasks_drain(now=row.next_attempt_at) == 0
        assert PendingTask.objects.get().attempts == 2
    finally:
        blocker.rollback()
        blocker.close()
    # when the queue answers again and the drain runs once the row is due
    due = PendingTask.objects.get().next_attempt_at
    assert pending_tasks_drain(now=due - dt.timedelta(seconds=1)) == 0
    delivered = pending_tasks_drain(now=due)
    # then the task is on the queue (once), the row is gone, and the worker runs it
    assert delivered == 1 and not PendingTask.objects.exists() and sqlite_queue.queue_size() == 1
    HUEY.execute(HUEY.dequeue())
    assert CALLS == [3]


def test_the_drain_skips_a_row_someone_else_claimed_until_the_claim_expires(immediate):
    # given a row claimed by a request's hand-over that has not finished
    now = timezone.now()
    PendingTask.objects.create(
        task=task_name(record_task), args=[5], created_at=now, next_attempt_at=now, claimed_until=now + CLAIM
    )
    # when the worker drains now, then after the claim ran out
    first = pending_tasks_drain(now=now)
    second = pending_tasks_drain(now=now + CLAIM + dt.timedelta(seconds=1))
    # then only the second hands it over, once
    assert (first, second, CALLS) == (0, 1, [5]) and not PendingTask.objects.exists()


def test_the_worker_runs_the_outbox_loop_until_stopped():
    # given the loop registered for `tandem worker`, with a drain that counts its rounds
    rounds: list[int] = []
    stop = threading.Event()

    def drain() -> int:
        rounds.append(1)
        if len(rounds) == 2:
            stop.set()
        if len(rounds) == 1:
            raise RuntimeError("database down")  # a failing round is logged, the loop goes on
        return 0

    # when it runs in a thread of its own, as the worker starts it
    thread = threading.Thread(target=outbox_loop, kwargs={"stop": stop, "every": 0.01, "drain": drain})
    thread.start()
    thread.join(timeout=10)
    # then it drained twice (surviving the failure) and returned once stopped; core registered it for the worker
    assert len(rounds) == 2 and not thread.is_alive()
    assert background_loops()["task-outbox"] is outbox_loop
