"""`tandem report content-usage`: each asset's uses and the win rate of the deals it was used on."""

from __future__ import annotations

import argparse
import json
from typing import Any, TextIO

NAME = "content-usage"
HELP = "Uses, people, deals and win rate (Wilson 95 %, n closed) per asset, against all closed deals"
FORMATS = ("json", "table")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """No options."""


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value:.0%}"


def run(*, options: dict[str, Any], out: TextIO) -> None:
    # Here, not at the top, so that `tandem report --help` stays light (see tandem.analytics.cli).
    from tandem.enablement.selectors import content_usage_report

    report = content_usage_report()
    if (options.get("format") or "json") == "json":
        out.write(json.dumps(report.to_dict(), indent=2) + "\n")
        return
    b = report.baseline
    out.write(f"all closed deals: won {_pct(b.win_rate)} ({_pct(b.win_low)}–{_pct(b.win_high)}, n = {b.won + b.lost})\n\n")
    out.write("asset                                     uses  deals  won  lost  win rate (95 %)\n")
    for a, u in report.rows:
        out.write(
            f"{a.title[:40]:<40} {u.uses:5d} {u.deals:6d} {u.won:4d} {u.lost:5d}  "
            f"{_pct(u.win_rate)} ({_pct(u.win_low)}–{_pct(u.win_high)}, n = {u.closed})\n"
        )
