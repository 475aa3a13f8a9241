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


def on_starting(server: Any) -> None:
    global _worker
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
