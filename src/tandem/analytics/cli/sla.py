"""`tandem report sla`: both sides of the hand-off SLA for a period — per rep, per campaign, per channel, per month."""

from __future__ import annotations

import argparse
import datetime as dt
import json
from typing import Any, TextIO

from tandem.core.periods import period_from_dates

NAME = "sla"
HELP = "Two-sided SLA scorecard: reps' first touch and attempts; MQLs, acceptance and MQL→SQL per campaign/channel"
FORMATS = ("json", "table")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--from", dest="date_from", type=dt.date.fromisoformat, default=None, help="YYYY-MM-DD (default: 90 days ago)")
    parser.add_argument("--to", dest="date_to", type=dt.date.fromisoformat, default=None, help="YYYY-MM-DD, included (default: today)")


def _pct(value: Any) -> str:
    return "—" if value is None else f"{value:.0%}"


def run(*, options: dict[str, Any], out: TextIO) -> None:
    # Here, not at the top, so that `tandem report --help` stays light (see tandem.analytics.cli).
    from django.utils import timezone

    from tandem.lifecycle.selectors import sla_scorecard

    start, end = period_from_dates(options.get("date_from"), options.get("date_to"), tz=timezone.get_current_timezone())
    report = sla_scorecard(start=start, end=end)
    if (options.get("format") or "json") == "json":
        out.write(json.dumps(report, indent=2) + "\n")
        return
    out.write(f"MQLs handed over {start:%Y-%m-%d} – {end - dt.timedelta(days=1):%Y-%m-%d}: {report['mqls']}\n\n")
    out.write("rep               MQLs  touched  median min  attempts  within SLA (95 %)\n")
    for r in report["reps"]:
        median = "—" if r["median_minutes_to_touch"] is None else f"{r['median_minutes_to_touch']:.0f}"
        out.write(
            f"{r['rep'][:16]:<16} {r['mqls']:5d}  {r['touched']:7d}  {median:>10}  {r['mean_attempts']:8.1f}  "
            f"{_pct(r['within_rate'])} ({_pct(r['within_low'])}–{_pct(r['within_high'])})\n"
        )
    for title in ("campaigns", "channels"):
        out.write(f"\n{title[:-1]:<30} MQLs  accepted (95 %)       MQL→SQL (95 %)\n")
        for r in report[title]:
            out.write(
                f"{r['key'][:30]:<30} {r['mqls']:4d}  {_pct(r['acceptance_rate'])} ({_pct(r['acceptance_low'])}–{_pct(r['acceptance_high'])})"
                f"   {_pct(r['sql_rate'])} ({_pct(r['sql_low'])}–{_pct(r['sql_high'])})\n"
            )
