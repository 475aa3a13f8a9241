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

        from tandem.core.background import background_loops

        # Loops that apps registered (the capture journal's drain) run beside Huey's task threads.
        stop = threading.Event()
        threads = [
            threading.Thread(target=loop, kwargs={"stop": stop}, name=name, daemon=True)
            for name, loop in background_loops().items()
        ]
        for thread in threads:
            thread.start()
        try:
            call_command("run_huey", workers=opts["threads"], worker_type="thread", verbose=False)
        finally:
            stop.set()
            for thread in threads:
                thread.join(timeout=10)
