"""Probes and metrics for operators: /healthz, /readyz and /metrics (docs/operations.md).

/healthz says the process answers (no database). /readyz says this node can do its work: the database answers,
every migration the code knows is applied, and the task queue (Huey's SQLite file or Redis) answers. /metrics is
Prometheus' text format: request latency from every process, and gauges read from the database at scrape time
(queue depth, job durations, and what apps above register: the capture journal's backlog and drain).
"""

from __future__ import annotations

import hmac
import ipaddress
import os
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

# The paths the probes and the scrape answer on: outside the sign-in gate and the HTTPS redirect.
PROBE_PATHS = ("/healthz", "/readyz", "/metrics")

# ---- readiness ----

# How long a migrations verdict is reused: reading django_migrations on every probe of every node is waste, and
# a deploy that migrates is seen within this many seconds.
MIGRATIONS_CACHE_SECONDS = 10.0
_migrations_verdict: tuple[float, str, str] | None = None  # (when, database alias+name, error or "")
_leaves: frozenset[tuple[str, str]] | None = None


def _migration_leaves() -> frozenset[tuple[str, str]]:
    # The code's migrations do not change while the process runs: read the graph from disk once.
    global _leaves
    if _leaves is None:
        from django.db.migrations.loader import MigrationLoader

        _leaves = frozenset(MigrationLoader(None, ignore_no_migrations=True).graph.leaf_nodes())
    return _leaves


def migrations_pending() -> list[str]:
    """The latest migration of each app that the database has not applied ("app.name"), sorted."""
    from django.db.migrations.recorder import MigrationRecorder

    applied = set(MigrationRecorder(connection).applied_migrations())
    return sorted(f"{app}.{name}" for app, name in _migration_leaves() - applied)


def _check_database() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return ""


def _check_migrations() -> str:
    global _migrations_verdict
    now = time.monotonic()
    key = f"{connection.alias}:{connection.settings_dict.get('NAME')}"
    if (
        _migrations_verdict
        and _migrations_verdict[1] == key
        and now - _migrations_verdict[0] < MIGRATIONS_CACHE_SECONDS
    ):
        return _migrations_verdict[2]
    pending = migrations_pending()
    error = f"not applied: {', '.join(pending)} (run `tandem migrate`)" if pending else ""
    _migrations_verdict = (now, key, error)
    return error


def migrations_cache_clear() -> None:
    """Forget the cached migrations verdict (tests, and after `migrate` in the same process)."""
    global _migrations_verdict
    _migrations_verdict = None


def task_queue() -> Any:
    """The Huey instance the settings configured (looked up on each call, so a test can point it elsewhere)."""
    from huey.contrib import djhuey

    return djhuey.HUEY


def _check_queue() -> str:
    task_queue().pending_count()
    return ""


READINESS_CHECKS: dict[str, Callable[[], str]] = {
    "database": _check_database,
    "migrations": _check_migrations,
    "queue": _check_queue,
}


def readiness() -> tuple[bool, list[dict[str, Any]]]:
    """Run every check in order: (all passed, [{"name", "ok", "error", "ms"}]). Migrations need the database."""
    results: list[dict[str, Any]] = []
    database_ok = True
    for name, check in READINESS_CHECKS.items():
        started = time.perf_counter()
        if name == "migrations" and not database_ok:
            error = "skipped: the database does not answer"
        else:
            try:
                error = check()
            except Exception as exc:  # a probe reports what failed; it never answers 500
                error = (
                    f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else ''}"
                )
        if name == "database" and error:
            database_ok = False
            # A failed connection must not stay in the pool: the next probe opens a new one.
            connection.close_if_unusable_or_obsolete()
        results.append(
            {
                "name": name,
                "ok": not error,
                "error": error,
                "ms": round((time.perf_counter() - started) * 1000, 1),
            }
        )
    return all(r["ok"] for r in results), results


@never_cache
@require_GET
def healthz(request: HttpRequest) -> HttpResponse:
    """The process is up and answers; touches nothing else."""
    return HttpResponse("ok", content_type="text/plain; charset=utf-8")


@never_cache
@require_GET
def readyz(request: HttpRequest) -> HttpResponse:
    """200 when this node can serve (database, migrations, queue), else 503; the body lists each check."""
    ready, checks = readiness()
    return JsonResponse(
        {"status": "ready" if ready else "unready", "checks": checks}, status=200 if ready else 503
    )


# ---- metrics ----

# name -> a function yielding prometheus_client metric families, read at scrape time. Apps above core (the
# capture journal) register theirs in AppConfig.ready(), as background loops are registered.
_SOURCES: dict[str, Callable[[], Iterable[Any]]] = {}


def metrics_source_register(*, name: str, collect: Callable[[], Iterable[Any]]) -> None:
    """Have /metrics include what `collect()` yields (prometheus_client metric families), read at each scrape."""
    _SOURCES[name] = collect


def _queue_metrics() -> Iterator[Any]:
    from prometheus_client.core import GaugeMetricFamily

    yield GaugeMetricFamily(
        "tandem_queue_pending", "Tasks waiting in Huey's queue.", value=task_queue().pending_count()
    )


# Seconds: from a minute-job sweep to an hour-long training.
JOB_BUCKETS = (1.0, 5.0, 15.0, 60.0, 300.0, 900.0, 3600.0, float("inf"))


def _job_metrics() -> Iterator[Any]:
    from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily

    from tandem.core.models import ACTIVE_JOB_STATUSES, Job

    active = GaugeMetricFamily(
        "tandem_jobs_active", "Jobs queued or running, by kind and status.", labels=["kind", "status"]
    )
    counts: dict[tuple[str, str], int] = {}
    for kind, status in Job.objects.filter(status__in=ACTIVE_JOB_STATUSES).values_list("kind", "status"):
        counts[(kind, status)] = counts.get((kind, status), 0) + 1
    for (kind, status), n in sorted(counts.items()):
        active.add_metric([kind, status], n)
    yield active
    # Finished jobs' durations from their rows: the same figures whichever process ran them.
    durations: dict[tuple[str, str], list[float]] = {}
    for kind, status, started, finished in Job.objects.filter(
        started_at__isnull=False, finished_at__isnull=False
    ).values_list("kind", "status", "started_at", "finished_at"):
        if started is None or finished is None:  # excluded by the filter; says so to the type checker
            continue
        durations.setdefault((kind, status), []).append(max((finished - started).total_seconds(), 0.0))
    histogram = HistogramMetricFamily(
        "tandem_job_duration_seconds",
        "Finished jobs' run time, by kind and status.",
        labels=["kind", "status"],
    )
    for (kind, status), values in sorted(durations.items()):
        buckets = [
            (f"{b:g}" if b != float("inf") else "+Inf", sum(1 for v in values if v <= b)) for b in JOB_BUCKETS
        ]
        histogram.add_metric([kind, status], buckets, sum(values))
    yield histogram


class _ScrapeCollector:
    """Every gauge read at scrape time; a source that fails says so in tandem_metrics_source_up, not a 500."""

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import GaugeMetricFamily

        up = GaugeMetricFamily(
            "tandem_metrics_source_up", "1 when the source answered this scrape.", labels=["source"]
        )
        for name, collect in {"queue": _queue_metrics, "jobs": _job_metrics, **_SOURCES}.items():
            try:
                families = list(collect())
            except Exception:
                up.add_metric([name], 0)
                continue
            up.add_metric([name], 1)
            yield from families
        yield up


def _metrics_allowed(request: HttpRequest) -> bool:
    token = settings.METRICS_TOKEN
    header = request.headers.get("Authorization", "")
    if (
        token
        and header.startswith("Bearer ")
        and hmac.compare_digest(header[7:].strip().encode(), token.encode())
    ):
        return True
    try:
        address = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
    except ValueError:
        return False
    return any(
        address in ipaddress.ip_network(net, strict=False) for net in settings.METRICS_ALLOWED_ADDRESSES
    )


@never_cache
@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    """Prometheus' text format, for the addresses in TANDEM_METRICS_ALLOWED_ADDRESSES or the bearer token."""
    from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

    from tandem.core.observability import REQUEST_SECONDS

    if not _metrics_allowed(request):
        return HttpResponse(
            "metrics are for the addresses in TANDEM_METRICS_ALLOWED_ADDRESSES or a Bearer TANDEM_METRICS_TOKEN\n",
            status=403,
            content_type="text/plain; charset=utf-8",
        )
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        # Under gunicorn each worker writes its samples to files in this folder; the scrape sums them all.
        multiprocess.MultiProcessCollector(registry)
    else:
        registry.register(REQUEST_SECONDS)
    registry.register(_ScrapeCollector())  # type: ignore[arg-type]
    return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)
