"""`tandem import bundle PATH`: restore a backup .zip (format version 2) into an empty database, or merge an
interchange bundle (version 1: a folder of CSV files, or a .zip of them) into the database.
`tandem import csv FILE --kind people|touchpoints|deals --mapping auto|NAME`: import another tool's CSV export.
`tandem import csv FILE --mapping FILE.json | --preset NAME`: the same with a mapping file or a shipped preset.
`tandem import mappings`: list the saved and shipped CSV mappings.
`tandem import mapping export NAME > FILE.json`, `tandem import mapping check FILE.json [--file CSV]`.
`tandem import maven DIR`: import Maven Analytics' CRM sales data set (teams, products, accounts, deals)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from tandem.capture.csvimport.arguments import csv_arguments, mapping_arguments
from tandem.capture.management.commands.export import ProgressBars, bundle_arguments
from tandem.core.errors import TandemError
from tandem.core.lazy import deferred

if TYPE_CHECKING:
    from tandem.capture.csvimport import cli
else:
    # Imported at first use, not for `--help`: the import code brings numpy, django-ninja and the CRM's validators.
    cli = deferred("tandem.capture.csvimport.cli")


class Command(BaseCommand):
    help = "Import data into Tandem (bundle DIR: a whole company as a folder of CSV files)."

    def add_arguments(self, parser: CommandParser) -> None:
        # A subcommand per kind of data.
        sub = parser.add_subparsers(dest="what", required=True)
        bundle_arguments(
            sub.add_parser(
                "bundle", help="import a backup .zip or an interchange bundle folder (docs/bundle.md)"
            ),
            directory="a backup .zip, or a folder (or .zip) holding people.csv and the other files",
        )
        csv_arguments(sub.add_parser("csv", help="import a CSV export of another tool (docs/capture.md)"))
        sub.add_parser("mappings", help="list the saved and shipped CSV mappings")
        mapping_arguments(
            sub.add_parser(
                "mapping", help="export a saved or shipped mapping as a file, or check a mapping file"
            )
        )
        maven = sub.add_parser(
            "maven",
            help="import the Maven CRM sales data set: its folder of four CSV files (docs/capture.md)",
        )
        maven.add_argument(
            "directory", type=Path, help="folder holding sales_pipeline.csv, accounts.csv, ..."
        )
        maven.add_argument("--dry-run", action="store_true", help="check and count everything; write nothing")
        maven.add_argument("--no-progress", action="store_true", help="do not draw progress bars")

    def handle(self, *args: Any, **opts: Any) -> None:
        getattr(self, "_" + opts["what"])(opts)

    def _csv(self, opts: dict[str, Any]) -> None:
        cli.csv_command(opts=opts, stdout=self.stdout)

    def _mapping(self, opts: dict[str, Any]) -> None:
        cli.mapping_command(opts=opts, stdout=self.stdout)

    def _mappings(self, opts: dict[str, Any]) -> None:
        cli.mappings_command(stdout=self.stdout)

    def _maven(self, opts: dict[str, Any]) -> None:
        cli.maven_command(opts=opts, stdout=self.stdout)

    def _bundle(self, opts: dict[str, Any]) -> None:
        # Imported here, not at the top: the capture services bring numpy, django-ninja and the CRM's validators.
        from tandem.capture.bundle import FILES
        from tandem.capture.services import bundle_import_path

        with ProgressBars(enabled=not opts["no_progress"]) as bars:
            try:
                result = bundle_import_path(path=opts["directory"], progress=bars.update)
            except TandemError as exc:
                raise CommandError(exc.message) from exc
        width = 18 if set(result.files) == set(FILES) else 24
        self.stdout.write(f"{'file':<{width}}{'created':>10}{'updated':>10}{'unchanged':>11}")
        for name, counts in result.files.items():
            self.stdout.write(
                f"{name:<{width}}{counts.created:>10}{counts.updated:>10}{counts.unchanged:>11}"
            )
        accounts = result.accounts
        self.stdout.write(
            f"{'(accounts)':<{width}}{accounts.created:>10}{accounts.updated:>10}{accounts.unchanged:>11}"
        )
        self.stdout.write(
            f"stage changes written: {result.stage_changes}; lost reasons created: {result.lost_reasons_created}"
        )
        if not result.changed:
            self.stdout.write("nothing changed: the database already held this bundle")
