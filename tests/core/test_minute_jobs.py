"""Minute jobs on several nodes: one run at a time across the cluster, and no row skipped when ids commit late."""

from __future__ import annotations

import threading
import uuid

import pytest
from django.db import connection, connections
from huey.exceptions import TaskLockedException

from tandem.campaigns.models import Touchpoint
from tandem.core.locks import cluster_lock, job_lock
from tandem.core.models import Event
from tandem.core.watermark import ids_unseen
from tandem.scoring.models import PersonScore
from tandem.scoring.services import SWEEP_EVENT, people_rescore_recent
from tandem.scoring.tasks import rescore_sweep
from tests.campaigns.factories import TouchpointFactory
from tests.crm.factories import PersonFactory

WAIT = 30  # seconds: generous, the machine is shared


def _postgresql_only() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("late commits under lower ids and advisory locks are PostgreSQL's; SQLite has one writer")


def _in_thread(body, *, started: threading.Event, release: threading.Event) -> threading.Thread:  # type: ignore[no-untyped-def]
    """Run `body` in a thread of its own (its own database connection) until `release` is set."""
    failures: list[BaseException] = []

    def run() -> None:
        try:
            body(started=started, release=release)
        except BaseException as exc:
            failures.append(exc)
            started.set()
        finally:
            connections.close_all()

    thread = threading.Thread(target=run)
    thread.failures = failures  # type: ignore[attr-defined]
    thread.start()
    assert started.wait(WAIT)
    assert not failures, failures
    return thread


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_runs_of_a_minute_job_do_the_work_once():
    # given a job body that counts its runs, and a first run at work (in another thread, its own connection)
    name = f"test-job-{uuid.uuid4().hex}"
    runs: list[str] = []

    def first(*, started: threading.Event, release: threading.Event) -> None:
        with job_lock(name):
            runs.append("first")
            started.set()
            release.wait(WAIT)

    started, release = threading.Event(), threading.Event()
    thread = _in_thread(first, started=started, release=release)
    # when a second run starts meanwhile
    with pytest.raises(TaskLockedException), job_lock(name):
        runs.append("second")
    release.set()
    thread.join(WAIT)
    # then only the first did the work; once it ended, the next run may
    assert runs == ["first"]
    with job_lock(name):
        runs.append("third")
    assert runs == ["first", "third"]


@pytest.mark.django_db(transaction=True)
def test_a_minute_job_skips_while_another_node_runs_it():
    _postgresql_only()
    # given another node running the rescore sweep: it holds the advisory lock (not this node's huey lock)
    PersonFactory()
    people_rescore_recent()  # the first sweep sets the watermarks
    TouchpointFactory()
    sweeps = Event.objects.filter(kind=SWEEP_EVENT).count()

    def other_node(*, started: threading.Event, release: threading.Event) -> None:
        with cluster_lock("scoring-rescore-sweep") as mine:
            assert mine
            started.set()
            release.wait(WAIT)

    started, release = threading.Event(), threading.Event()
    thread = _in_thread(other_node, started=started, release=release)
    # when this node's scheduler runs the sweep meanwhile
    rescore_sweep.call_local()
    # then it left the work to the other node: nothing scored, no sweep recorded
    assert (PersonScore.objects.count(), Event.objects.filter(kind=SWEEP_EVENT).count()) == (0, sweeps)
    release.set()
    thread.join(WAIT)
    # and once the other node is done, the next run does it
    rescore_sweep.call_local()
    assert (PersonScore.objects.count(), Event.objects.filter(kind=SWEEP_EVENT).count()) == (1, sweeps + 1)


@pytest.mark.django_db(transaction=True)
def test_a_lower_id_committed_late_is_read_exactly_once():
    _postgresql_only()
    # given the rescore sweep's watermarks set, and a watermark of our own over the touchpoints
    slow_person, fast_person = PersonFactory(), PersonFactory()
    people_rescore_recent()
    state: object = Touchpoint.objects.order_by("-id").values_list("id", flat=True).first() or 0
    touchpoints = Touchpoint.objects.values_list("id", "person_id")
    read: list[int] = []

    def run() -> None:
        nonlocal state
        found, state = ids_unseen(rows=touchpoints, state=state, limit=1000)
        read.extend(int(row[0]) for row in found)
        people_rescore_recent()

    # and a slow transaction that inserted a touchpoint (the lower id) and has not committed
    slow_id: list[int] = []

    def slow(*, started: threading.Event, release: threading.Event) -> None:
        from django.db import transaction

        with transaction.atomic():
            slow_id.append(TouchpointFactory(person=slow_person).pk)
            started.set()
            release.wait(WAIT)

    started, release = threading.Event(), threading.Event()
    thread = _in_thread(slow, started=started, release=release)
    # when a faster one commits a higher id and the jobs run, then the slow one commits and the jobs run again
    fast_id = TouchpointFactory(person=fast_person).pk
    assert fast_id > slow_id[0]
    run()
    assert read == [fast_id]
    assert list(PersonScore.objects.values_list("person_id", flat=True)) == [fast_person.pk]
    release.set()
    thread.join(WAIT)
    run()
    run()
    # then every touchpoint was read exactly once, and the slow one's person was scored too
    assert read == [fast_id, slow_id[0]]
    assert sorted(PersonScore.objects.values_list("person_id", flat=True)) == sorted(
        [slow_person.pk, fast_person.pk]
    )
    # and with no transaction left open, the watermark settled past both
    assert (state["mark"], state["seen"], state["read"], state["pending"]) == (fast_id, fast_id, [], [])  # type: ignore[index]


@pytest.mark.django_db
def test_on_sqlite_the_watermark_settles_at_once():
    if connection.vendor != "sqlite":
        pytest.skip("SQLite's side: one writer at a time, ids commit in order")
    # given a watermark before two touchpoints
    first, second = TouchpointFactory(), TouchpointFactory()
    touchpoints = Touchpoint.objects.values_list("id", "person_id")
    # when the job reads from the first one's predecessor
    found, state = ids_unseen(rows=touchpoints, state=first.pk - 1, limit=1000)
    # then both come, in id order, and nothing is left unsettled
    assert [row[0] for row in found] == [first.pk, second.pk]
    assert state == {"mark": second.pk, "seen": second.pk, "count": "0:0", "read": [], "pending": []}
