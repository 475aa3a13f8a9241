"""Two web nodes and two workers on one PostgreSQL database and one Redis queue, as `docker compose up --scale`
or two hosts run them: each submission is processed once, a minute job's tick does its work once across the
cluster, and both web nodes answer the same reports as one process computes them. Every node is a real process
(`tandem serve`, `tandem worker`) with a var/ folder of its own: nothing but the database and Redis is shared."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection
from huey import RedisHuey
from huey.contrib import djhuey

from tandem.analytics.reports.selectors import attribution_report_get, funnel_report_get
from tandem.campaigns.models import Touchpoint
from tandem.capture.models import Submission
from tandem.core.models import Event
from tandem.crm.models import Person, StageChange
from tandem.scoring.services import SWEEP_EVENT, people_rescore_recent
from tandem.scoring.tasks import rescore_sweep
from tandem.users.roles import roles_sync
from tandem.users.services import api_token_create
from tests.capture.factories import make_form
from tests.cluster_helpers import node_env
from tests.redis_helpers import free_port
from tests.users.factories import UserFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

REDIS_HOST, REDIS_PORT = "127.0.0.1", 6379
# A database number of the shared Redis that the other tests leave alone, and a queue name of this run's own.
REDIS_DB = 11
SUBMISSIONS = 40
WAIT = 60  # seconds for any one step: the machine is shared
# Four fresh interpreters importing Tandem at once: seconds on an idle machine, far more on a busy one.
START = 240


def _until(check: Callable[[], Any], *, what: str | Callable[[], str], timeout: float = WAIT) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        got = check()
        if got:
            return got
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what() if callable(what) else what}")
        time.sleep(0.2)


def _http(url: str, *, body: dict[str, Any] | None = None, token: str = "") -> tuple[int, Any]:
    headers = {"Content-Type": "application/json"} if body is not None else {}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(
        url, data=json.dumps(body).encode() if body is not None else None, headers=headers
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return int(response.status), json.loads(response.read() or b"null")
    except urllib.error.HTTPError as exc:
        return int(exc.code), exc.read().decode(errors="replace")
    except (urllib.error.URLError, ConnectionError):
        return 0, None


@pytest.fixture
def shared_redis() -> Iterator[tuple[str, str]]:
    client = redis.Redis(host=REDIS_HOST, port=REDIS_PORT, db=REDIS_DB, socket_connect_timeout=1)
    try:
        client.ping()
    except redis.ConnectionError:
        pytest.skip(f"no Redis answers on {REDIS_HOST}:{REDIS_PORT}: the nodes share their queue there")
    queue = f"tandem-two-nodes-{uuid.uuid4().hex[:10]}"
    try:
        yield f"redis://{REDIS_HOST}:{REDIS_PORT}/{REDIS_DB}", queue
    finally:
        for key in client.scan_iter(match=f"*{queue}*"):
            client.delete(key)


@pytest.fixture
def cluster(tmp_path: Path, shared_redis: tuple[str, str]) -> Iterator[dict[str, Any]]:
    """Two web nodes (gunicorn, one sync worker each) and two workers, each with its own var/ folder."""
    redis_url, queue = shared_redis
    processes: list[subprocess.Popen[bytes]] = []
    ports = [free_port(), free_port()]

    def start(name: str, *args: str) -> None:
        env = node_env(
            tmp_path / name,
            TANDEM_REDIS_URL=redis_url,
            TANDEM_QUEUE_NAME=queue,
            TANDEM_CAPTURE_ADDRESS_RATE_LIMIT="100000",
            TANDEM_ALLOWED_HOSTS="127.0.0.1,localhost",
            PYTHONUNBUFFERED="1",
        )
        log = (tmp_path / f"{name}.log").open("wb")
        processes.append(
            subprocess.Popen(
                [sys.executable, "-m", "tandem.cli", *args], env=env, cwd=tmp_path, stdout=log, stderr=log
            )
        )

    for index, port in enumerate(ports):
        start(
            f"web{index}",
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "1",
            "--no-worker",
        )
    for index in range(2):
        start(f"worker{index}", "worker", "--threads", "2")
    try:
        urls = [f"http://127.0.0.1:{port}" for port in ports]
        for url in urls:
            _until(lambda url=url: _http(f"{url}/readyz")[0] == 200, what=f"{url}/readyz", timeout=START)
        yield {"urls": urls, "queue": queue, "redis_url": redis_url}
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _as_json(value: Any) -> Any:
    return json.loads(json.dumps(value, cls=DjangoJSONEncoder))


def _skip_unless_postgresql() -> None:
    if connection.vendor != "postgresql":
        pytest.skip(
            "several nodes share one PostgreSQL database; this is the SQLite run (one node by design)"
        )


@pytest.fixture
def world() -> dict[str, Any]:
    _skip_unless_postgresql()
    roles_sync()
    admin = UserFactory(role="admin")
    # The rescore sweep's first run only sets its watermarks (scores of the past come from the full refresh):
    # taken here, so every person the nodes create is a change some tick of the sweep must rescore.
    people_rescore_recent()
    return {
        "form": make_form(rate_limit_per_minute=100_000),
        "token": api_token_create(user=admin, name="nodes")[1],
    }


def test_two_web_nodes_and_two_workers_process_each_submission_once_and_answer_alike(world, cluster):
    # given two web nodes and two workers on one database and one queue
    web_a, web_b = cluster["urls"]
    key = world["form"].public_key
    # when submissions arrive alternately at the two web nodes
    codes = [
        _http(
            f"{(web_a, web_b)[i % 2]}/api/capture/forms/{key}/submissions",
            body={"email": f"lead{i}@nodes.example", "first_name": f"Lead{i}", "utm_source": "google"},
        )[0]
        for i in range(SUBMISSIONS)
    ]
    # and both workers drain the journal
    _until(
        lambda: Submission.objects.filter(status="processed").count() == SUBMISSIONS,
        what="the workers to process the journal",
    )
    # then each was accepted, journaled once and processed once: one person, one touchpoint, one stage change each
    assert set(codes) == {202}, codes
    assert Submission.objects.count() == SUBMISSIONS
    assert set(Submission.objects.values_list("attempts", flat=True)) == {1}
    assert (Person.objects.count(), Touchpoint.objects.count(), StageChange.objects.count()) == (
        SUBMISSIONS,
        SUBMISSIONS,
        SUBMISSIONS,
    )

    # when a minute ticks on both nodes at once: each node's scheduler puts the rescore sweep on the shared queue
    huey = RedisHuey(cluster["queue"], url=cluster["redis_url"])
    _until(lambda: huey.pending_count() == 0, what="the queue to empty")
    for _node in range(2):
        task = rescore_sweep.s()
        huey.storage.enqueue(djhuey.HUEY.serialize_task(task), task.priority)

    def people_rescored() -> int:
        # A fresh query each time (a QuerySet iterated once keeps its rows).
        return sum(
            data["people"] for data in Event.objects.filter(kind=SWEEP_EVENT).values_list("data", flat=True)
        )

    _until(
        lambda: people_rescored() >= SUBMISSIONS and huey.pending_count() == 0,
        what=lambda: (
            f"the rescore sweep (people rescored: {people_rescored()}, queued: {huey.pending_count()})"
        ),
    )
    time.sleep(1)  # the other node's run, if it started late, has ended by now
    # then across every tick (each node's own at its start, and this one) each new person was rescored by one run
    # only: the sweep records (the product's own, with their watermarks) add up to one rescore per person
    assert people_rescored() == SUBMISSIONS
    seen = [
        data["person"]["seen"]
        for data in Event.objects.filter(kind=SWEEP_EVENT).order_by("id").values_list("data", flat=True)
        if isinstance(data["person"], dict)
    ]
    assert seen == sorted(seen)  # each run read on from where the one before it stopped

    # when both web nodes are asked for the reports
    paths = {
        "funnel": "/api/reports/funnel",
        "attribution": "/api/reports/attribution?model=linear&by=channel&bootstrap=0",
    }
    answers = {
        name: [_http(f"{url}{path}", token=world["token"]) for url in (web_a, web_b)]
        for name, path in paths.items()
    }
    # then both answer 200 with the same JSON, and it is what one process computes from the same database
    expected = {
        "funnel": _as_json(funnel_report_get(by="none", period="month", date_from=None, date_to=None)),
        "attribution": _as_json(
            attribution_report_get(
                model="linear", by="channel", half_life=None, bootstrap=0, date_from=None, date_to=None
            )
        ),
    }
    for name, ((status_a, body_a), (status_b, body_b)) in answers.items():
        assert (status_a, status_b) == (200, 200), (name, body_a, body_b)
        assert body_a == body_b == expected[name], name
    assert expected["funnel"]["total"]["counts"]["lead"] == SUBMISSIONS
