"""`tandem export bundle FILE.zip`: write the whole database as a backup (a version-2 bundle, docs/bundle.md);
`--format 1` writes the interchange bundle (a folder of seven CSV files) instead."""

from __future__ import annotations

import sys
from pathlib import Path
from types import TracebackType
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from tqdm import tqdm


def bundle_arguments(parser: CommandParser, *, directory: str) -> None:
    """The arguments of `tandem import bundle` and `tandem export bundle`."""
    parser.add_argument("directory", type=Path, help=directory)
    parser.add_argument("--no-progress", action="store_true", help="do not draw progress bars")


class ProgressBars:
    """Progress bars on stderr for the bundle commands (import uses it too): one bar per step, fed by the
    services' progress(label, done, total) calls. Off when stderr is not a terminal."""

    def __init__(self, *, enabled: bool = True) -> None:
        self.enabled = enabled
        self.bar: tqdm[Any] | None = None
        self.label = ""

    def update(self, label: str, done: int, total: int) -> None:
        if not self.enabled:
            return
        if self.bar is None or label != self.label:
            self.close()
            # disable=None: tqdm turns itself off when stderr is not a terminal (pipes, logs, tests).
            self.bar = tqdm(total=total, desc=f"{label:<22}", unit=" rows", file=sys.stderr, disable=None)
            self.label = label
        self.bar.total = total
        self.bar.update(done - self.bar.n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None

    def __enter__(self) -> ProgressBars:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


class Command(BaseCommand):
    help = "Export data from Tandem (bundle FILE.zip: the whole company as a backup, docs/bundle.md)."

    def add_arguments(self, parser: CommandParser) -> None:
        # A subcommand per kind of data, so that other formats can join `bundle` later.
        sub = parser.add_subparsers(dest="what", required=True)
        bundle = sub.add_parser("bundle", help="write the database as a backup .zip (docs/bundle.md)")
        bundle_arguments(
            bundle, directory="the .zip file to write (with --format 1: the folder, created when missing)"
        )
        bundle.add_argument(
            "--format",
            type=int,
            choices=(1, 2),
            default=2,
            help="2 (default): the lossless backup, one .zip; 1: the interchange bundle, a folder of CSV files",
        )

    def handle(self, *args: Any, **opts: Any) -> None:
        getattr(self, "_" + opts["what"])(opts)

    def _bundle(self, opts: dict[str, Any]) -> None:
        # Imported here, not at the top: the capture services bring numpy, django-ninja and the CRM's validators.
        from tandem.capture.services import backup_export, bundle_export

        if opts["format"] == 2:
            with ProgressBars(enabled=not opts["no_progress"]) as bars:
                counts = backup_export(path=opts["directory"], progress=bars.update)
            for name, rows in counts.items():
                self.stdout.write(f"{name:<24}{rows:>10} rows")
            self.stdout.write(f"written to {opts['directory']}")
            return
        with ProgressBars(enabled=not opts["no_progress"]) as bars:
            result = bundle_export(directory=opts["directory"], progress=bars.update)
        for name, rows in result.rows.items():
            self.stdout.write(f"{name:<18}{rows:>10} rows")
        self.stdout.write(f"written to {result.directory}")
