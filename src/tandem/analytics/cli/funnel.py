"""`tandem report funnel`: lifecycle funnel counts, conversion (Wilson 95 % intervals) and velocity."""

from __future__ import annotations

import argparse
import datetime as dt
import json
from typing import Any, TextIO

from tandem.analytics.reports.options import SEGMENT_FIELDS
from tandem.core import csvsafe
from tandem.stats.constants import PERIODS

NAME = "funnel"
HELP = "Funnel lead → MQL → SAL → SQL → opportunity → customer: counts, conversion with 95% intervals, velocity"
FORMATS = ("json", "csv", "table")
def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--by", choices=(*SEGMENT_FIELDS, "none"), default="none", help="segment (default none)")
    parser.add_argument("--period", choices=PERIODS, default="month", help="cohort period (default month)")
    parser.add_argument("--from", dest="date_from", type=dt.date.fromisoformat, default=None, help="YYYY-MM-DD")
    parser.add_argument("--to", dest="date_to", type=dt.date.fromisoformat, default=None, help="YYYY-MM-DD")


def _fmt(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def run(*, options: dict[str, Any], out: TextIO) -> None:
    # Here, not at the top, so that `tandem report --help` stays light (see tandem.analytics.cli).
    from tandem.analytics.reports.selectors import FUNNEL_CSV_COLUMNS, funnel_report_get, funnel_rows

    report = funnel_report_get(
        by=options.get("by") or "none",
        period=options.get("period") or "month",
        date_from=options.get("date_from"),
        date_to=options.get("date_to"),
    )
    fmt = options.get("format") or "json"
    if fmt == "json":
        out.write(json.dumps(report, indent=2) + "\n")
        return
    rows = funnel_rows(report)
    if fmt == "csv":
        writer = csvsafe.DictWriter(out, fieldnames=FUNNEL_CSV_COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        return
    widths = {c: max(len(c), *(len(_fmt(r[c])) for r in rows)) if rows else len(c) for c in FUNNEL_CSV_COLUMNS}
    out.write("  ".join(c.ljust(widths[c]) for c in FUNNEL_CSV_COLUMNS).rstrip() + "\n")
    for r in rows:
        out.write("  ".join(_fmt(r[c]).ljust(widths[c]) for c in FUNNEL_CSV_COLUMNS).rstrip() + "\n")
