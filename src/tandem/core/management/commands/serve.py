"""`tandem serve`: run Tandem with gunicorn's sync workers, or Django's reloading server with --dev."""

from __future__ import annotations

import os
import sys
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser


def default_workers() -> int:
    # gunicorn's rule of thumb (2 × cores + 1), capped: SQLite has one writer at a time anyway.
    return min(2 * (os.cpu_count() or 1) + 1, 8)


def gunicorn_argv(*, host: str, port: int, workers: int, timeout: int) -> list[str]:
    """The gunicorn command line: this interpreter, so the venv's gunicorn runs whatever PATH says."""
    return [
        sys.executable,
        "-m",
        "gunicorn",
        "tandem.wsgi:application",
        "--bind",
        f"[{host}]:{port}" if ":" in host else f"{host}:{port}",
        "--workers",
        str(workers),
        "--worker-class",
        "sync",
        "--timeout",
        str(timeout),
        "--access-logfile",
        "-",
        "--config",
        "python:tandem.core.gunicorn_conf",
    ]


def _start_dev_worker() -> None:
    """Beside the development server, the background worker too; it stops when this process exits."""
    import atexit
    import subprocess

    worker = subprocess.Popen([sys.executable, "-m", "tandem.cli", "worker"])
    atexit.register(worker.terminate)


def _log_open(path: str) -> tuple[int, str]:
    """Open the log file for appending (its folder made if missing); a path that cannot be written is refused."""
    import pathlib

    target = pathlib.Path(path).resolve()
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        return os.open(target, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644), str(target)
    except OSError as exc:
        raise CommandError(f"--log-file {path}: {exc.strerror}") from exc


def _log_to(fd: int) -> None:
    """Send this process's stdout and stderr to the file, so gunicorn's access and error logs and the background
    worker it starts (which inherits them) write there; the terminal keeps only what came before."""
    sys.stdout.flush()
    sys.stderr.flush()
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)


class Command(BaseCommand):
    help = "Serve Tandem: gunicorn with sync workers on 127.0.0.1:8000, or Django's reloading server (--dev)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
        parser.add_argument("--port", type=int, default=8000, help="port to listen on (default 8000)")
        parser.add_argument(
            "--workers",
            type=int,
            default=None,
            help=f"gunicorn worker processes (default {default_workers()})",
        )
        parser.add_argument(
            "--timeout", type=int, default=60, help="seconds before a stuck worker is restarted"
        )
        parser.add_argument(
            "--dev", action="store_true", help="Django's development server, reloading on changes"
        )
        parser.add_argument(
            "--log-file",
            default=None,
            help="write the server's and the background worker's log to this file instead of the terminal",
        )
        parser.add_argument(
            "--no-worker",
            action="store_true",
            help="do not start the background worker (run `tandem worker` yourself, e.g. on another machine)",
        )

    def handle(self, *args: Any, **opts: Any) -> None:
        host, port = opts["host"], opts["port"]
        workers = opts["workers"] if opts["workers"] is not None else default_workers()
        if not 0 < port < 65536:
            raise CommandError(f"--port must be between 1 and 65535, got {port}")
        if workers < 1:
            raise CommandError(f"--workers must be at least 1, got {workers}")
        if host not in settings.ALLOWED_HOSTS and host not in ("0.0.0.0", "::"):
            self.stderr.write(
                f"note: {host} is not in TANDEM_ALLOWED_HOSTS, so Django will refuse its requests"
            )
        if host in ("0.0.0.0", "::"):
            self.stderr.write(
                "note: listening on every interface; TANDEM_ALLOWED_HOSTS names the hosts served"
            )
        url = f"http://{'localhost' if host in ('0.0.0.0', '::') else host}:{port}/"
        if opts["dev"]:
            if not os.environ.get("RUN_MAIN"):  # the reloader runs this command again in a child process
                self.stdout.write(f"Tandem (development server) on {url}  (Ctrl+C stops)")
                if not opts["no_worker"]:
                    _start_dev_worker()
            call_command("runserver", f"[{host}]:{port}" if ":" in host else f"{host}:{port}")
            return
        log = _log_open(opts["log_file"]) if opts["log_file"] else None
        self.stdout.write(f"Tandem on {url} with {workers} gunicorn workers  (Ctrl+C stops)")
        if log is not None:
            self.stdout.write(f"Server log: {log[1]}")
        self.stdout.flush()
        if log is not None:
            _log_to(log[0])
        argv = gunicorn_argv(host=host, port=port, workers=workers, timeout=opts["timeout"])
        os.environ["TANDEM_SERVE_WORKER"] = "0" if opts["no_worker"] else "1"
        # Replace this process: Ctrl+C and service managers' signals then reach gunicorn's arbiter directly.
        os.execv(argv[0], argv)
