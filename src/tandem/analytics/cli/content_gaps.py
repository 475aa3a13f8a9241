"""`tandem report content-gaps`: themes heard often that no current asset answers, most lost deals first."""

from __future__ import annotations

import argparse
import json
from typing import Any, TextIO

NAME = "content-gaps"
HELP = "Themes heard at least N times with no unexpired asset answering them, ranked by lost deals"
FORMATS = ("json", "table")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--min-questions", type=int, default=3, help="how often a theme must be heard (default 3)")


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value:.0%}"


def run(*, options: dict[str, Any], out: TextIO) -> None:
    # Here, not at the top, so that `tandem report --help` stays light (see tandem.analytics.cli).
    from tandem.enablement.selectors import content_gaps_report

    gaps = content_gaps_report(min_questions=int(options.get("min_questions") or 3))
    if (options.get("format") or "json") == "json":
        out.write(json.dumps({"gaps": [g.to_dict() for g in gaps]}, indent=2) + "\n")
        return
    out.write("theme                                     questions  people  lost deals  lost share (95 %)\n")
    for g in gaps:
        out.write(
            f"{g.label[:40]:<40} {g.questions:10d} {g.people:7d} {g.lost_deals:11d}  "
            f"{_pct(g.lost_share)} ({_pct(g.lost_low)}–{_pct(g.lost_high)}, n = {g.closed_deals})\n"
        )
