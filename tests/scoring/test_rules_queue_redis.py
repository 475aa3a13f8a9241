"""Saving the scoring rules while Redis (Huey's queue) is down: the save answers its success, publishes once, and
the rescoring it queued runs once Redis is back. A real redis-server, started on a free port for the test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.test import Client
from huey.contrib.djhuey import HUEY
from huey.storage import RedisStorage

from tandem.core.models import Event, PendingTask
from tandem.core.outbox import pending_tasks_drain
from tandem.scoring.models import PersonScore, ScoringConfig
from tandem.users.models import Role
from tests.crm.factories import PersonFactory
from tests.redis_helpers import REDIS_SERVER, RedisServer, free_port
from tests.users.factories import UserFactory

# The request commits for real: the hand-over to the queue runs inside it, after the commit, as in production.
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def redis_queue(monkeypatch) -> Iterator[tuple[RedisServer, RedisStorage]]:  # type: ignore[no-untyped-def]
    if REDIS_SERVER is None:
        pytest.skip(
            "redis-server is not installed (apt-get install redis-server): this test needs a real Redis"
        )
    server = RedisServer(REDIS_SERVER, free_port())
    server.start()
    # Huey's own Redis storage, as TANDEM_REDIS_URL configures it (RedisHuey), on the test's server.
    storage = RedisStorage(name="tandem-test", url=f"redis://127.0.0.1:{server.port}/0")
    monkeypatch.setattr(HUEY, "storage", storage)
    try:
        yield server, storage
    finally:
        server.stop()


def test_a_rules_save_succeeds_while_redis_is_down_publishes_once_and_its_rescoring_runs_after(redis_queue):
    # given an admin, an open lead, and Redis stopped
    server, storage = redis_queue
    person = PersonFactory()
    client = Client()
    client.force_login(UserFactory(role=Role.ADMIN))
    rules = client.get("/api/scoring/rules").json()
    changed = {"fit": rules["fit"], "engagement": rules["engagement"], "cutoff_days": 10.0}
    server.stop()
    # when the admin saves changed rules
    saved = client.put("/api/scoring/rules", changed, content_type="application/json")
    # then the save answers its success: version 1 is published, the rescoring waits in the outbox with the error
    assert saved.status_code == 200 and saved.json()["version"] == 1
    waiting = PendingTask.objects.get()
    assert (waiting.task, waiting.attempts) == ("tandem.scoring.tasks.scores_refresh_task", 1)
    assert waiting.last_error.startswith("ConnectionError")
    # when the client retries the very same request (as it did after the 500 it used to get)
    retried = client.put("/api/scoring/rules", changed, content_type="application/json")
    # then it answers the same version: nothing published or queued a second time
    assert retried.status_code == 200 and retried.json() == saved.json()
    assert list(ScoringConfig.objects.values_list("version", flat=True)) == [1]
    assert Event.objects.filter(kind="scoring.rules_changed").count() == 1
    assert PendingTask.objects.count() == 1 and not PersonScore.objects.exists()
    # when Redis is back and the worker's outbox loop drains the due rows
    server.start()
    delivered = pending_tasks_drain(now=PendingTask.objects.get().next_attempt_at)
    # then the rescoring is on Redis' queue, once, and the outbox is empty
    assert delivered == 1 and not PendingTask.objects.exists() and storage.queue_size() == 1
    # when the worker takes it from Redis and runs it
    task = HUEY.dequeue()
    HUEY.execute(task)
    # then it was the rescoring, and the open lead is scored under the new rules
    assert task.name == "scores_refresh_task" and storage.queue_size() == 0
    assert PersonScore.objects.filter(person=person).exists()
