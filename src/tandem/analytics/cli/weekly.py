"""`tandem report weekly`: the weekly alignment report for the sales-marketing meeting, as HTML or JSON."""

from __future__ import annotations

import argparse
import datetime as dt
import json
from pathlib import Path
from typing import Any, TextIO

from django.contrib.staticfiles import finders
from django.template.loader import render_to_string

from tandem.core.errors import ValidationFailed

NAME = "weekly"
HELP = "weekly alignment report: what came in, what converted, SLA both sides, top wins, biggest changes"
FORMATS = ("html", "json")
STYLESHEETS = ("core/tandem.css", "analytics/dashboard.css")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--week", default=None, help="any day of the week, YYYY-MM-DD (default: the last complete week)")


def _week(value: str | None) -> dt.date | None:
    if not value:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise ValidationFailed("week must be a date like 2026-11-16", field="week", value=value) from None


def _css() -> str:
    """The stylesheets inlined, so the HTML file prints the same anywhere (no server needed)."""
    parts = []
    for name in STYLESHEETS:
        found = finders.find(name)
        if isinstance(found, str):
            parts.append(Path(found).read_text(encoding="utf-8"))
    return "\n".join(parts)


def run(*, options: dict[str, Any], out: TextIO) -> None:
    # Here, not at the top, so that `tandem report --help` stays light (see tandem.analytics.cli).
    from tandem.analytics.dashboard.display import weekly_context
    from tandem.analytics.dashboard.selectors import weekly_report_get

    report = weekly_report_get(week=_week(options.get("week")))
    if (options.get("format") or "html") == "json":
        out.write(json.dumps(report, indent=2) + "\n")
        return
    out.write(render_to_string("analytics/weekly_print.html", {**weekly_context(report), "css": _css()}))
