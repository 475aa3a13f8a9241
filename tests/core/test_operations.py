"""Operations: /healthz, /readyz (database, migrations, queue), /metrics and who may read it, request ids, JSON
logs, the Sentry switch and the hashed static files. Redis is a real redis-server started on a free port here;
the unreachable database is a real PostgreSQL URL pointing at a closed port, tried in a fresh interpreter."""

from __future__ import annotations

import datetime as dt
import io
import json
import logging
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.core.management import call_command
from django.test import Client
from django.utils import timezone
from huey import RedisHuey
from huey.contrib import djhuey

from tandem.capture.models import Submission
from tandem.core import operations
from tandem.core.models import Job, JobStatus
from tandem.core.observability import REQUEST_SECONDS, JsonFormatter, RequestIdFilter, RequestIdMiddleware
from tests.redis_helpers import REDIS_SERVER, RedisServer, free_port


def _client(**extra: str) -> Client:
    return Client(HTTP_HOST="localhost", **extra)


@pytest.fixture
def redis_server(monkeypatch) -> Iterator[RedisServer]:  # type: ignore[no-untyped-def]
    if REDIS_SERVER is None:
        pytest.skip("redis-server is not installed (apt-get install -y redis-server)")
    server = RedisServer(REDIS_SERVER, free_port())
    server.start()
    # The queue the probe checks is this server's, as TANDEM_REDIS_URL would make it.
    monkeypatch.setattr(
        djhuey, "HUEY", RedisHuey("tandem-ops-test", url=f"redis://127.0.0.1:{server.port}/0")
    )
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(autouse=True)
def _fresh_migrations_verdict() -> Iterator[None]:
    operations.migrations_cache_clear()
    yield
    operations.migrations_cache_clear()


def test_healthz_answers_ok_without_touching_the_database():
    # given a process that is up, in a test with no database access (any query would raise)
    # when a probe asks
    response = _client().get("/healthz")
    # then it answers "ok" and nothing else
    assert response.status_code == 200
    assert response.content == b"ok"
    assert response["Content-Type"] == "text/plain; charset=utf-8"


@pytest.mark.django_db
def test_readyz_lists_each_check_when_ready():
    # given a migrated database and a queue that answers
    # when a probe asks
    response = _client().get("/readyz")
    # then 200 with the three checks, each passed
    body = response.json()
    assert response.status_code == 200
    assert body["status"] == "ready"
    assert [(c["name"], c["ok"], c["error"]) for c in body["checks"]] == [
        ("database", True, ""),
        ("migrations", True, ""),
        ("queue", True, ""),
    ]


@pytest.mark.django_db
def test_readyz_names_a_migration_the_database_lacks(monkeypatch):
    # given code that knows a migration the database has not applied
    leaves = operations._migration_leaves() | {("core", "9999_operations_later")}
    monkeypatch.setattr(operations, "_leaves", frozenset(leaves))
    # when a probe asks
    response = _client().get("/readyz")
    # then 503, naming it and what to run
    assert response.status_code == 503
    checks = {c["name"]: c for c in response.json()["checks"]}
    assert checks["migrations"]["error"] == "not applied: core.9999_operations_later (run `tandem migrate`)"
    assert checks["database"]["ok"] is True
    assert response.json()["status"] == "unready"


@pytest.mark.django_db
def test_readyz_reuses_the_migrations_verdict_for_a_few_seconds(django_assert_num_queries):
    # given a probe that has just checked the migrations
    assert _client().get("/readyz").status_code == 200
    # when another probe comes within the cache's seconds
    with django_assert_num_queries(1):  # SELECT 1 only: django_migrations is not read again
        response = _client().get("/readyz")
    # then it still answers ready
    assert response.status_code == 200


@pytest.mark.django_db
def test_readyz_fails_while_redis_is_down_and_recovers(redis_server):
    # given the queue in a running Redis
    assert _client().get("/readyz").status_code == 200
    # when Redis stops
    redis_server.stop()
    down = _client().get("/readyz")
    # then 503: the queue check names the connection error, the database still answers
    checks = {c["name"]: c for c in down.json()["checks"]}
    assert down.status_code == 503
    assert checks["queue"]["ok"] is False
    assert checks["queue"]["error"].startswith("ConnectionError: ")
    assert checks["database"]["ok"] is True
    # when it starts again on the same port
    redis_server.start()
    # then ready again, with no restart of Tandem
    assert _client().get("/readyz").status_code == 200


PROBE = """
import django, json
django.setup()
from django.test import Client
r = Client(HTTP_HOST="localhost").get("/readyz")
print(json.dumps({"status": r.status_code, "body": r.json()}))
"""


def test_readyz_fails_when_postgresql_does_not_answer(tmp_path):
    # given Tandem configured for a PostgreSQL server that is not there (a closed port)
    env = {k: v for k, v in os.environ.items() if not k.startswith("TANDEM_")}
    env.update(
        DJANGO_SETTINGS_MODULE="tandem.settings",
        TANDEM_VAR_DIR=str(tmp_path / "var"),
        TANDEM_DATABASE_URL=f"postgres://postgres@127.0.0.1:{free_port()}/tandem",
    )
    # when a probe asks
    out = subprocess.run(
        [sys.executable, "-c", PROBE],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    got = json.loads(out.stdout.strip().splitlines()[-1])
    # then 503: the database check names the refused connection, migrations are not tried, the queue answers
    checks = {c["name"]: c for c in got["body"]["checks"]}
    assert got["status"] == 503
    assert checks["database"]["ok"] is False
    assert checks["database"]["error"].startswith("OperationalError: connection failed")
    assert checks["migrations"]["error"] == "skipped: the database does not answer"
    assert checks["queue"] == {"name": "queue", "ok": True, "error": "", "ms": checks["queue"]["ms"]}


@pytest.mark.django_db
def test_metrics_are_refused_by_default(settings):
    # given no allowed address and no token (the defaults)
    settings.METRICS_ALLOWED_ADDRESSES = []
    settings.METRICS_TOKEN = ""
    # when anyone asks, even from the same machine or with a made-up token
    local = _client().get("/metrics")
    guessed = _client(HTTP_AUTHORIZATION="Bearer ").get("/metrics")
    # then 403, saying how to open them
    assert local.status_code == guessed.status_code == 403
    assert local.content == (
        b"metrics are for the addresses in TANDEM_METRICS_ALLOWED_ADDRESSES or a Bearer TANDEM_METRICS_TOKEN\n"
    )


@pytest.mark.django_db
def test_metrics_answer_an_allowed_network_only(settings):
    # given one allowed network
    settings.METRICS_ALLOWED_ADDRESSES = ["10.0.0.0/8"]
    settings.METRICS_TOKEN = ""
    # when a scraper inside it and one outside it ask
    inside = _client(REMOTE_ADDR="10.1.2.3").get("/metrics")
    outside = _client(REMOTE_ADDR="192.168.1.9").get("/metrics")
    # then only the inside one is answered
    assert inside.status_code == 200
    assert inside["Content-Type"] == "text/plain; version=1.0.0; charset=utf-8"
    assert outside.status_code == 403


def _samples(text: str) -> dict[str, float]:
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            out[name] = float(value)
    return out


@pytest.mark.django_db
def test_metrics_read_the_journal_the_queue_and_the_jobs_at_scrape_time(settings):
    # given a token, a journal with 3 submissions waiting and 2 done, and two finished jobs
    settings.METRICS_TOKEN = "scrape-secret"
    settings.METRICS_ALLOWED_ADDRESSES = []
    now = timezone.now()
    rows = [
        Submission.objects.create(received_at=now - dt.timedelta(seconds=s), source="form", status=st)
        for s, st in [(90, "processed"), (80, "spam"), (70, "received"), (60, "received"), (30, "received")]
    ]
    started = now - dt.timedelta(minutes=5)
    for seconds, status in [(2, JobStatus.SUCCEEDED), (40, JobStatus.FAILED)]:
        Job.objects.create(
            kind="scoring.train",
            label="Training",
            status=status,
            created_at=started,
            updated_at=now,
            started_at=started,
            finished_at=started + dt.timedelta(seconds=seconds),
        )
    Job.objects.create(
        kind="feedback.themes", label="Themes", status=JobStatus.RUNNING, created_at=now, updated_at=now
    )
    # when Prometheus scrapes with the token
    response = _client(HTTP_AUTHORIZATION="Bearer scrape-secret").get("/metrics")
    # then the figures are the database's
    assert response.status_code == 200
    got = _samples(response.content.decode())
    last = rows[-1].pk
    assert got["tandem_capture_journal_backlog"] == 3.0
    assert 70.0 <= got["tandem_capture_journal_oldest_seconds"] < 75.0  # the oldest waiting came 70 s ago
    assert got["tandem_capture_journal_received_total"] == float(last)
    assert got["tandem_capture_journal_drained_total"] == float(last - 3)
    assert got["tandem_queue_pending"] == float(djhuey.HUEY.pending_count())
    assert got['tandem_jobs_active{kind="feedback.themes",status="running"}'] == 1.0
    assert got['tandem_job_duration_seconds_bucket{kind="scoring.train",le="1",status="succeeded"}'] == 0.0
    assert got['tandem_job_duration_seconds_bucket{kind="scoring.train",le="5",status="succeeded"}'] == 1.0
    assert got['tandem_job_duration_seconds_count{kind="scoring.train",status="succeeded"}'] == 1.0
    assert got['tandem_job_duration_seconds_sum{kind="scoring.train",status="failed"}'] == 40.0
    assert got['tandem_job_duration_seconds_bucket{kind="scoring.train",le="15",status="failed"}'] == 0.0
    assert got['tandem_job_duration_seconds_bucket{kind="scoring.train",le="60",status="failed"}'] == 1.0
    assert {k: v for k, v in got.items() if k.startswith("tandem_metrics_source_up")} == {
        'tandem_metrics_source_up{source="queue"}': 1.0,
        'tandem_metrics_source_up{source="jobs"}': 1.0,
        'tandem_metrics_source_up{source="capture-journal"}': 1.0,
    }


def _count(route: str, status: str) -> float:
    for metric in REQUEST_SECONDS.collect():
        for sample in metric.samples:
            if sample.name.endswith("_count") and sample.labels == {
                "route": route,
                "method": "GET",
                "status": status,
            }:
                return sample.value
    return 0.0


def test_each_request_is_timed_by_route_name_and_status():
    # given the counts so far
    ok_before, missing_before = _count("healthz", "200"), _count("unresolved", "404")
    # when one probe and one unknown address are asked
    _client().get("/healthz")
    _client().get("/no-such-page-at-all")
    # then each adds one observation under its route; an unknown path is not a label of its own
    assert _count("healthz", "200") == ok_before + 1
    assert _count("unresolved", "404") == missing_before + 1


def test_a_sane_incoming_request_id_is_kept_and_anything_else_replaced():
    # given / when requests with a proxy's id, a forged multi-line id and none
    kept = _client(HTTP_X_REQUEST_ID="lb-7f3a:42").get("/healthz")
    forged = _client(HTTP_X_REQUEST_ID="x\nlevel=ERROR").get("/healthz")
    fresh = _client().get("/healthz")
    # then the proxy's id is answered back; the others get a new 32-hex id
    assert kept["X-Request-ID"] == "lb-7f3a:42"
    assert re.fullmatch(r"[0-9a-f]{32}", forged["X-Request-ID"])
    assert re.fullmatch(r"[0-9a-f]{32}", fresh["X-Request-ID"])
    assert forged["X-Request-ID"] != fresh["X-Request-ID"]


def test_json_log_lines_carry_the_request_id():
    # given a JSON handler like TANDEM_LOG_FORMAT=json's
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RequestIdFilter())
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("tandem.test_operations")
    logger.addHandler(handler)
    logger.propagate = False

    def view(request):  # type: ignore[no-untyped-def]
        logger.warning("drain slow: %s rows", 12, extra={"batch": 3})
        from django.http import HttpResponse

        return HttpResponse("done")

    from django.test import RequestFactory

    try:
        # when a request with an id logs, and then something outside any request does
        RequestIdMiddleware(view)(RequestFactory().get("/", HTTP_X_REQUEST_ID="req-1"))
        logger.warning("outside")
    finally:
        logger.removeHandler(handler)
        logger.propagate = True
    # then each line is one JSON object with the request id (or "-") and the extras
    first, second = (json.loads(line) for line in stream.getvalue().splitlines())
    assert {k: v for k, v in first.items() if k != "time"} == {
        "level": "WARNING",
        "logger": "tandem.test_operations",
        "message": "drain slow: 12 rows",
        "request_id": "req-1",
        "batch": 3,
    }
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00", first["time"])
    assert second["request_id"] == "-"
    assert second["message"] == "outside"


SETTINGS_PROBE = """
import django, logging, sys
django.setup()
from django.conf import settings
logging.getLogger("tandem.ops").warning("hello")
print(settings.SENTRY_ENABLED, "sentry_sdk" in sys.modules)
"""


def _fresh(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in os.environ.items() if not k.startswith("TANDEM_")}
    full.update(DJANGO_SETTINGS_MODULE="tandem.settings", TANDEM_VAR_DIR=str(tmp_path / "var"), **env)
    return subprocess.run(
        [sys.executable, "-c", SETTINGS_PROBE],
        env=full,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_log_format_json_and_no_sentry_without_a_dsn(tmp_path):
    # given TANDEM_LOG_FORMAT=json and no TANDEM_SENTRY_DSN
    # when Tandem starts and logs
    out = _fresh(tmp_path, TANDEM_LOG_FORMAT="json")
    # then the line is JSON, and Sentry is neither initialised nor even imported
    line = json.loads(out.stderr.strip().splitlines()[-1])
    assert (line["level"], line["logger"], line["message"], line["request_id"]) == (
        "WARNING",
        "tandem.ops",
        "hello",
        "-",
    )
    assert out.stdout.strip() == "False False"


def test_a_sentry_dsn_without_sentry_sdk_installed_is_said_and_ignored(tmp_path):
    import importlib.util

    if importlib.util.find_spec("sentry_sdk") is not None:
        pytest.skip("sentry-sdk is installed here: this checks an installation without the [sentry] extra")
    # given a DSN but no sentry-sdk (no network is touched either way: nothing is sent at start-up)
    # when Tandem starts
    out = _fresh(tmp_path, TANDEM_SENTRY_DSN="https://key@sentry.invalid/1")
    # then it runs, says why nothing is reported, and reports nothing
    assert out.returncode == 0
    assert out.stdout.strip() == "False False"
    assert (
        "TANDEM_SENTRY_DSN is set but sentry-sdk is not installed (pip install 'tandem[sentry]'): "
        "errors are not reported to Sentry"
    ) in out.stderr


def test_text_logs_by_default_and_a_wrong_format_is_refused(tmp_path):
    # given / when the default, and a format Tandem does not know
    text = _fresh(tmp_path)
    wrong = _fresh(tmp_path, TANDEM_LOG_FORMAT="xml")
    # then a text line with "-" for the request id; the unknown format stops start-up naming the variable
    assert re.fullmatch(
        r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} WARNING tandem\.ops \[-\] hello", text.stderr.strip()
    )
    assert wrong.returncode == 1
    assert "TANDEM_LOG_FORMAT must be text or json, not 'xml'" in wrong.stderr


@pytest.mark.django_db
def test_probes_are_not_redirected_to_https(settings):
    # given an installation behind HTTPS that redirects plain HTTP
    settings.SECURE_SSL_REDIRECT = True
    settings.METRICS_TOKEN = "t"
    # when a probe, a scrape and a page arrive over plain HTTP
    health = _client().get("/healthz")
    ready = _client().get("/readyz")
    scrape = _client(HTTP_AUTHORIZATION="Bearer t").get("/metrics")
    page = _client().get("/people/")
    # then the probes and the scrape are answered; the page is redirected
    assert (health.status_code, ready.status_code, scrape.status_code) == (200, 200, 200)
    assert page.status_code == 301
    assert page["Location"] == "https://localhost/people/"


def test_the_sign_in_gate_lets_probes_pass():
    from tandem.users.middleware import _TOKEN_PATHS

    assert {"/healthz", "/readyz", "/metrics"} <= set(_TOKEN_PATHS)


def test_collectstatic_hashes_files_that_are_then_cached_for_years(settings, tmp_path):
    # given a static file, the manifest storage and an empty STATIC_ROOT
    source = tmp_path / "src"
    source.mkdir()
    (source / "ops.css").write_text("body { color: black; }\n" * 50)
    settings.STATICFILES_DIRS = [str(source)]
    settings.STATICFILES_FINDERS = ["django.contrib.staticfiles.finders.FileSystemFinder"]
    settings.STATIC_ROOT = tmp_path / "root"
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "tandem.core.staticstorage.StaticStorage"},
    }
    from django.contrib.staticfiles.storage import staticfiles_storage

    # before collectstatic the plain name is linked
    assert staticfiles_storage.url("ops.css") == "/static/ops.css"
    # when collectstatic runs
    call_command("collectstatic", "--noinput", verbosity=0)
    settings.STORAGES = {**settings.STORAGES}  # a new storage instance reads the new manifest
    url = staticfiles_storage.url("ops.css")
    # then pages link the hashed name, served compressed and immutable for ten years
    assert re.fullmatch(r"/static/ops\.[0-9a-f]{12}\.css", url)
    assert (tmp_path / "root" / (url.removeprefix("/static/") + ".gz")).exists()
    hashed = _client(HTTP_ACCEPT_ENCODING="gzip").get(url)
    plain = _client().get("/static/ops.css")
    assert hashed.status_code == plain.status_code == 200
    assert hashed["Cache-Control"] == "max-age=315360000, public, immutable"
    assert hashed["Content-Encoding"] == "gzip"
    assert plain["Cache-Control"] == "max-age=60, public"
