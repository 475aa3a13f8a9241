"""`tandem report requests`: the collateral board in numbers — counts by column, due-date warnings,
lead time by type (median, 80th percentile, n) and requests suggested for the content library."""

from __future__ import annotations

import argparse
import datetime as dt
import json
from typing import Any, TextIO

NAME = "requests"
HELP = "Collateral requests: counts by column, overdue / due soon, lead time by type, library suggestions"
FORMATS = ("json", "table")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--today", type=dt.date.fromisoformat, default=None, help="YYYY-MM-DD for the due-date warnings (default: today)")


def run(*, options: dict[str, Any], out: TextIO) -> None:
    # Here, not at the top, so that `tandem report --help` stays light (see tandem.analytics.cli).
    from tandem.enablement.requests.selectors import collateral_report

    report = collateral_report(today=options.get("today"))
    if (options.get("format") or "json") == "json":
        out.write(json.dumps(report, indent=2) + "\n")
        return
    out.write(f"Collateral requests as of {report['as_of']}\n")
    out.write("  ".join(f"{status}: {n}" for status, n in report["counts"].items()) + "\n\n")
    out.write("due-date warnings\n")
    for w in report["warnings"]:
        out.write(f"  #{w['id']:<5} {w['warning']:<9} due {w['due_on']}  {w['type']:<10} {w['status']:<11} {w['purpose'][:50]}\n")
    if not report["warnings"]:
        out.write("  none\n")
    out.write("\ntype          n  median days  80 % within  ask ahead\n")
    for lt in report["lead_times"]:
        out.write(f"{lt['type']:<11} {lt['n']:3d}  {lt['median_days']:11.1f}  {lt['p80_days']:11.1f}  {lt['ask_days_ahead']:6d} d\n")
    if not report["lead_times"]:
        out.write("  nothing delivered yet\n")
    out.write("\nsuggested for the library\n")
    for s in report["suggestions"]:
        out.write(f"  {s['type']:<10} {s['label'][:40]:<40} {s['n_requests']} requests, {s['n_reps']} reps\n")
    if not report["suggestions"]:
        out.write("  none\n")
