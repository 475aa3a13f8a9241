"""`tandem definition show|publish FILE --reason ...|dry-run FILE`: the MQL/SQL definitions from the command line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from tandem.core.errors import TandemError, ValidationFailed
from tandem.core.lazy import deferred

if TYPE_CHECKING:
    from tandem.lifecycle import selectors, services
else:
    # Imported at first use, not for `--help`: they bring numpy, django-ninja and the CRM's validators.
    selectors = deferred("tandem.lifecycle.selectors")
    services = deferred("tandem.lifecycle.services")


def read_json_object(path: Path, *, what: str = "A definition") -> dict[str, Any]:
    """A JSON object from a file; unreadable files, bad JSON and non-objects are refused naming the file."""
    try:
        spec = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ValidationFailed(f"cannot read {path}: {exc.strerror}", field="file", value=str(path)) from exc
    except json.JSONDecodeError as exc:
        raise ValidationFailed(f"{path} is not valid JSON: {exc.msg} (line {exc.lineno})", field="file", value=str(path)) from exc
    if not isinstance(spec, dict):
        raise ValidationFailed(f"{what} must be a JSON object.", field="file", value=str(path))
    return spec


class Command(BaseCommand):
    help = "Qualification definitions: show the current ones and their history, publish a new version, dry-run one."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
        show = sub.add_parser("show", help="the current MQL and SQL definitions in plain words, with their history")
        show.add_argument("--format", choices=("text", "json"), default="text")
        publish = sub.add_parser("publish", help="publish FILE (JSON) as the next version of its definition")
        publish.add_argument("file", type=Path)
        publish.add_argument("--reason", required=True, help="why it changes (kept in the history)")
        publish.add_argument("--stage", choices=("mql", "sql"), default=None, help="default: the file's 'name'")
        dry = sub.add_parser("dry-run", help="MQLs per month FILE would have produced, and how they converted")
        dry.add_argument("file", type=Path)
        dry.add_argument("--format", choices=("text", "json"), default="text")

    def handle(self, *args: Any, **opts: Any) -> None:
        try:
            getattr(self, "_" + opts["action"].replace("-", "_"))(opts)
        except TandemError as exc:
            where = f" ({exc.field}={exc.value!r})" if getattr(exc, "field", None) else ""
            raise CommandError(f"{exc}{where}") from exc

    def _show(self, opts: dict[str, Any]) -> None:
        history = selectors.definitions_history()
        if opts["format"] == "json":
            self.stdout.write(json.dumps({s: [v.to_dict() for v in vs] for s, vs in history.items()}, indent=2, default=str))
            return
        for stage, versions in history.items():
            if not versions:
                self.stdout.write(f"{stage.upper()}: none published")
                continue
            current = versions[0]
            self.stdout.write(f"{stage.upper()} v{current.version} (current)")
            for sentence in current.sentences:
                self.stdout.write(f"  - {sentence}")
            for v in versions:
                self.stdout.write(f"  v{v.version}  {v.created_at:%Y-%m-%d %H:%M}  {v.created_by}: {v.reason}")
                for change in v.changes:
                    self.stdout.write(f"      {change}")

    def _publish(self, opts: dict[str, Any]) -> None:
        spec = read_json_object(opts["file"])
        stage = opts["stage"] or str(spec.get("name") or "")
        row = services.definition_publish(stage=stage, spec=spec, reason=opts["reason"], by_user=None)
        self.stdout.write(f"published {row.stage.upper()} v{row.version}")

    def _dry_run(self, opts: dict[str, Any]) -> None:
        summary = selectors.definition_dry_run(spec=read_json_object(opts["file"]))
        if opts["format"] == "json":
            self.stdout.write(json.dumps(summary.to_dict(), indent=2))
            return
        self.stdout.write("month      MQLs  to SQL  MQL→SQL (95 % interval)   won")
        for m in (*summary.months, summary.total):
            self.stdout.write(
                f"{m.month:<9} {m.mqls:5d}  {m.to_sql:6d}  {m.sql_rate:6.1%} ({m.sql_low:.1%}–{m.sql_high:.1%})  {m.won:5d}"
            )
