"""`tandem import csv`, `tandem import mappings` and `tandem import maven`: their work and output (the command module
stays small; their arguments are in tandem.capture.csvimport.arguments, which `--help` reads without this)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import CommandError, OutputWrapper

from tandem.capture.csvimport.mapping import Mapping, RowReader, table_read
from tandem.capture.csvimport.mappingfile import (
    mapping_file_read,
    mapping_file_text,
    mapping_fit,
    mapping_is_file,
    mapping_named,
)
from tandem.capture.csvimport.maven import PIPELINE, maven_import
from tandem.capture.csvimport.presets import preset_detect
from tandem.capture.csvimport.selectors import AUTO, mapping_list, mapping_resolve
from tandem.capture.csvimport.services import OUTCOMES, csv_import_table, mapping_save
from tandem.capture.management.commands.export import ProgressBars
from tandem.core.errors import TandemError, ValidationFailed


def csv_command(*, opts: dict[str, Any], stdout: OutputWrapper) -> None:
    path: Path = opts["file"]
    if not path.is_file():
        raise CommandError(f"cannot read {path}: no such file")
    # The path itself: the file is streamed, not read into memory first (tandem.core.textfiles).
    data = path
    mode = "good_rows" if opts["good_rows"] else "all_or_nothing"
    with ProgressBars(enabled=not opts["no_progress"]) as bars:
        try:
            table = table_read(data=data, name=path.name)
            mapping = _mapping_for(opts=opts, headers=table.headers)
            result = csv_import_table(
                table=table,
                mapping=mapping,
                mode=mode,
                dry_run=opts["dry_run"],
                by_user=None,
                progress=bars.update,
                file_name=path.name,
            )
            if opts["save_mapping"]:
                mapping_save(name=opts["save_mapping"], mapping=mapping)
        except TandemError as exc:
            raise CommandError(exc.message) from exc
        except OSError as exc:
            raise CommandError(f"cannot read {path}: {exc.strerror or exc}") from exc
    stdout.write(f"Detected: {table.detected}")
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
    if result.outcome_deals:
        deals = result.outcome_deals
        stdout.write(
            f"won deals created: {deals['won']}; lost deals created: {deals['lost']}; deals updated: {deals['updated']}"
        )
    if result.refused and not opts["dry_run"]:
        target = opts["refused_file"] or path.with_name(path.stem + ".refused.csv")
        target.write_text(result.refused_csv(), encoding="utf-8")
        stdout.write(f"refused rows written to {target}")
    if opts["save_mapping"]:
        stdout.write(f"mapping saved as {opts['save_mapping']}")


def _mapping_for(*, opts: dict[str, Any], headers: list[str]) -> Mapping:
    """The mapping --mapping or --preset names, matched to the file's headers (its kind, unless --kind says)."""
    kind: str | None = opts["kind"]
    given: str = opts["mapping"]
    if opts.get("preset") or given != AUTO:
        if opts.get("preset"):
            mapping = mapping_named(name=opts["preset"], preset_only=True)
        elif mapping_is_file(given):
            mapping = mapping_file_read(path=Path(given))
        else:
            mapping = mapping_named(name=given)
        if kind is not None and mapping.kind != kind:
            raise ValidationFailed(
                f"mapping {mapping.name!r} is for {mapping.kind}, not {kind}", field="kind", value=kind
            )
        return mapping_fit(
            mapping=mapping, headers=headers, strict=not opts.get("preset") and mapping_is_file(given)
        )
    if kind is None:
        found = preset_detect(headers=headers)
        kind = found.kind if found is not None else "people"
    return mapping_resolve(name=AUTO, kind=kind, headers=headers)


def mapping_command(*, opts: dict[str, Any], stdout: OutputWrapper) -> None:
    try:
        if opts["mapping_action"] == "export":
            stdout.write(mapping_file_text(mapping=mapping_named(name=opts["name"])), ending="")
            return
        mapping = mapping_file_read(path=opts["mapping_file"])
        if opts["file"] is not None:
            table = table_read(data=opts["file"], name=opts["file"].name)
            RowReader(
                mapping=mapping_fit(mapping=mapping, headers=table.headers, strict=True),
                headers=table.headers,
            )
    except TandemError as exc:
        raise CommandError(exc.message) from exc
    fits = f"; it fits {opts['file'].name}" if opts["file"] is not None else ""
    stdout.write(
        f"mapping file {opts['mapping_file']}: mapping {mapping.name!r} ({mapping.kind}), {len(mapping.columns)} columns{fits}"
    )


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
