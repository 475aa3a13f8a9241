"""`tandem import csv`, `tandem import mappings` and `tandem import maven`: arguments and output (the command module
stays small)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import CommandError, CommandParser, OutputWrapper

from tandem.capture.csvimport.mapping import KINDS, table_read
from tandem.capture.csvimport.maven import PIPELINE, maven_import
from tandem.capture.csvimport.selectors import mapping_list, mapping_resolve
from tandem.capture.csvimport.services import OUTCOMES, csv_import_table, mapping_save
from tandem.capture.management.commands.export import ProgressBars
from tandem.core.errors import TandemError


def csv_arguments(parser: CommandParser) -> None:
    parser.add_argument("file", type=Path, help="the CSV file to import")
    parser.add_argument("--kind", choices=KINDS, required=True, help="what each row is")
    parser.add_argument(
        "--mapping",
        default="auto",
        help="auto (recognise the file, else map by header similarity), hubspot, salesforce, or a saved name",
    )
    parser.add_argument(
        "--dry-run", action="store_true", help="show what would happen, row by row; write nothing"
    )
    parser.add_argument(
        "--good-rows",
        action="store_true",
        help="import the good rows and write the refused ones to --refused-file (default: all or nothing)",
    )
    parser.add_argument(
        "--refused-file",
        type=Path,
        default=None,
        help="where --good-rows writes refused rows (FILE.refused.csv)",
    )
    parser.add_argument("--save-mapping", metavar="NAME", default="", help="save the mapping used under NAME")
    parser.add_argument(
        "--show", type=int, default=50, help="rows a dry run lists (refused rows always listed)"
    )
    parser.add_argument("--no-progress", action="store_true", help="do not draw progress bars")


def csv_command(*, opts: dict[str, Any], stdout: OutputWrapper) -> None:
    path: Path = opts["file"]
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise CommandError(f"cannot read {path}: {exc.strerror or exc}") from exc
    mode = "good_rows" if opts["good_rows"] else "all_or_nothing"
    with ProgressBars(enabled=not opts["no_progress"]) as bars:
        try:
            table = table_read(data=data, name=path.name)
            mapping = mapping_resolve(name=opts["mapping"], kind=opts["kind"], headers=table.headers)
            result = csv_import_table(
                table=table,
                mapping=mapping,
                mode=mode,
                dry_run=opts["dry_run"],
                by_user=None,
                progress=bars.update,
            )
            if opts["save_mapping"]:
                mapping_save(name=opts["save_mapping"], mapping=mapping)
        except TandemError as exc:
            raise CommandError(exc.message) from exc
    stdout.write(f"mapping: {mapping.name} ({mapping.kind}); {len(table.rows)} rows")
    if opts["dry_run"]:
        shown = 0
        for row in result.rows:
            if row.outcome == "refused" or shown < opts["show"]:
                stdout.write(
                    f"row {row.line:>6}  {row.outcome:<9}  {row.key}  {row.error or row.detail}".rstrip()
                )
                shown += row.outcome != "refused"
    counts = result.counts
    stdout.write("  ".join(f"{name} {counts[name]}" for name in OUTCOMES))
    if opts["dry_run"]:
        stdout.write("dry run: nothing was written")
    else:
        stdout.write(
            f"touchpoints created: {result.touchpoints_created}; external ids linked: {result.links_created}; "
            f"accounts created: {result.accounts_created}; stage changes written: {result.stage_changes}"
        )
    if result.refused and not opts["dry_run"]:
        target = opts["refused_file"] or path.with_name(path.stem + ".refused.csv")
        target.write_text(result.refused_csv(), encoding="utf-8")
        stdout.write(f"refused rows written to {target}")
    if opts["save_mapping"]:
        stdout.write(f"mapping saved as {opts['save_mapping']}")


def mappings_command(*, stdout: OutputWrapper) -> None:
    stdout.write(f"{'name':<24}{'kind':<13}{'source':<9}{'columns':>8}  description")
    for item in mapping_list():
        stdout.write(
            f"{item['name']:<24}{item['kind']:<13}{item['source']:<9}{item['columns']:>8}  {item['description']}"
        )


def maven_command(*, opts: dict[str, Any], stdout: OutputWrapper) -> None:
    with ProgressBars(enabled=not opts["no_progress"]) as bars:
        try:
            result = maven_import(directory=opts["directory"], dry_run=opts["dry_run"], progress=bars.update)
        except TandemError as exc:
            raise CommandError(exc.message) from exc
    stdout.write(f"{'':<10}{'created':>10}{'updated':>10}{'unchanged':>11}")
    for label, counts in (
        ("users", result.users),
        ("teams", result.teams),
        ("products", result.products),
        ("accounts", result.accounts),
        ("deals", result.deals),
    ):
        stdout.write(f"{label:<10}{counts.created:>10}{counts.updated:>10}{counts.unchanged:>11}")
    stdout.write(
        f"pipeline {PIPELINE!r}: {'created' if result.pipeline_created else 'already there'}; "
        f"deal stage changes written: {result.stage_changes}; product lines changed: {result.product_lines_changed}"
    )
    if opts["dry_run"]:
        stdout.write("dry run: nothing was written")
    elif not result.changed:
        stdout.write("nothing changed: the database already held this data")
