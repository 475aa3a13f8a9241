"""gunicorn settings for `tandem serve`: start the background worker with the server, stop it with the server.

The worker (Huey's consumer) drains the capture journal and runs imports and other background tasks. It is a
child of gunicorn's arbiter, so a service manager stopping gunicorn stops it too.
"""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

_worker: subprocess.Popen[bytes] | None = None

# Load the application once, in the arbiter, before forking the workers: each worker starts with every module
# imported and every template compiled (tandem/wsgi.py warms them and closes the database connections it opened),
# instead of paying seconds for that in its first request. A code change therefore needs a restart, not a HUP.
preload_app = True


# The access log names each request's X-Request-ID (set by RequestIdMiddleware), as the application's log lines do.
access_log_format = (
    '%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s" %(L)ss id=%({x-request-id}o)s'
)


def _metrics_dir_reset() -> None:
    # prometheus_client's multiprocess mode: each worker writes its samples to files in this folder and /metrics
    # sums them. Files of a previous run would be summed too, so the folder starts empty (docs/operations.md).
    folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if not folder:
        return
    import pathlib

    path = pathlib.Path(folder)
    path.mkdir(parents=True, exist_ok=True)
    for stale in path.glob("*.db"):
        stale.unlink()


def child_exit(server: Any, worker: Any) -> None:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)


def on_starting(server: Any) -> None:
    global _worker
    _metrics_dir_reset()
    if os.environ.get("TANDEM_SERVE_WORKER", "1") != "1":
        return
    # On PostgreSQL the worker yields the CPU to the web workers (nice 10). Not on SQLite: there the worker holds
    # the database's one write lock while it writes, and a deprioritised lock holder would stall every request.
    sqlite = os.environ.get("TANDEM_DATABASE_URL", "sqlite").startswith("sqlite")
    _worker = subprocess.Popen(
        [sys.executable, "-m", "tandem.cli", "worker"], preexec_fn=None if sqlite else (lambda: os.nice(10))
    )
    server.log.info("Tandem background worker started (pid %s)", _worker.pid)


def on_exit(server: Any) -> None:
    if _worker is not None and _worker.poll() is None:
        _worker.terminate()
        try:
            _worker.wait(timeout=10)
        except subprocess.TimeoutExpired:
            _worker.kill()
