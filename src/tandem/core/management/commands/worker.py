"""`tandem worker`: run the background worker (capture journal drain, imports, periodic tasks)."""

from __future__ import annotations

from typing import Any

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser


class Command(BaseCommand):
    help = "Run the background worker that drains the capture journal and runs imports (tandem serve starts one)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--threads", type=int, default=2, help="worker threads (default 2)")

    def handle(self, *args: Any, **opts: Any) -> None:
        if opts["threads"] < 1:
            from django.core.management.base import CommandError

            raise CommandError(f"--threads must be at least 1, got {opts['threads']}")
        import threading

        from tandem.capture.intake.processing import drain_loop

        # The capture journal's drain runs as its own loop beside Huey's task threads.
        stop = threading.Event()
        drain = threading.Thread(target=drain_loop, kwargs={"stop": stop}, name="capture-drain", daemon=True)
        drain.start()
        try:
            call_command("run_huey", workers=opts["threads"], worker_type="thread", verbose=False)
        finally:
            stop.set()
            drain.join(timeout=10)
