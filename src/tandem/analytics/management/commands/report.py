"""`tandem report NAME [options] --format ...`: the reports of the web UI, on the command line."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from tandem.analytics.cli import report_modules
from tandem.core.errors import TandemError


class Command(BaseCommand):
    help = "Print a report (attribution, funnel, spc, segments, experiment, sla, themes, weekly, ...) as JSON, CSV or a table."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="report", required=True, metavar="REPORT")
        for name, module in report_modules().items():
            # argparse %-formats help texts: a report's "95 %" would break `tandem report --help`.
            p = sub.add_parser(name, help=module.HELP.replace("%", "%%"))
            formats = tuple(getattr(module, "FORMATS", ("json",)))
            p.add_argument("--format", choices=formats, default=formats[0], help=f"output format (default {formats[0]})")
            module.add_arguments(p)

    def handle(self, *args: Any, **opts: Any) -> None:
        module = report_modules()[opts["report"]]
        try:
            module.run(options=opts, out=self.stdout)
        except TandemError as exc:
            raise CommandError(exc.message) from exc
