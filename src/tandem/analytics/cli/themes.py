"""`tandem report themes`: the themes questions fall into, with examples, and every question's theme."""

from __future__ import annotations

import argparse
import datetime as dt
import json
from typing import Any, TextIO

NAME = "themes"
HELP = (
    "Themes of the questions and objections reps heard: id, label, count, examples, and each question's theme"
)
FORMATS = ("json", "table")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--since",
        type=dt.date.fromisoformat,
        default=None,
        help="YYYY-MM-DD: only questions asked from this day on",
    )


def run(*, options: dict[str, Any], out: TextIO) -> None:
    # Here, not at the top, so that `tandem report --help` stays light (see tandem.analytics.cli).
    from tandem.feedback.selectors import themes_report

    report = themes_report(since=options.get("since"))
    if (options.get("format") or "json") == "json":
        out.write(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
        return
    out.write(f"{'id':>5}  {'questions':>9}  theme\n")
    for t in report["themes"]:
        out.write(f"{t['id']:>5}  {t['count']:>9}  {t['label']}\n")
        for example in t["examples"]:
            out.write(f"{'':>18}“{example}”\n")
    unthemed = sum(1 for a in report["assignments"] if a["theme_id"] is None)
    out.write(f"\n{len(report['assignments'])} questions, {unthemed} in no theme\n")
