"""`tandem report attribution`: conversions (won deals) and revenue credited to channels or campaigns."""

from __future__ import annotations

import argparse
import datetime as dt
import json
from typing import Any, TextIO

from tandem.analytics.reports.options import ATTRIBUTION_BY, REPORT_MODELS
from tandem.core import csvsafe

NAME = "attribution"
HELP = "Attribution of won deals and revenue by channel or campaign (rule-based, Markov, Shapley, incremental)"
FORMATS = ("json", "csv", "table")
def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", choices=REPORT_MODELS, default="linear", help="attribution model (default linear)")
    parser.add_argument("--by", choices=ATTRIBUTION_BY, default="channel", help="credit channels or campaigns")
    parser.add_argument("--half-life", dest="half_life", type=float, default=None, help="time decay half-life, days")
    parser.add_argument("--bootstrap", type=int, default=200, help="incremental: bootstrap resamples (default 200)")
    parser.add_argument("--from", dest="date_from", type=dt.date.fromisoformat, default=None, help="YYYY-MM-DD")
    parser.add_argument("--to", dest="date_to", type=dt.date.fromisoformat, default=None, help="YYYY-MM-DD")


def _fmt(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:,.2f}"
    return str(value)


def run(*, options: dict[str, Any], out: TextIO) -> None:
    # Here, not at the top, so that `tandem report --help` stays light (see tandem.analytics.cli).
    from tandem.analytics.reports.selectors import attribution_columns, attribution_report_get

    report = attribution_report_get(
        model=options.get("model") or "linear",
        by=options.get("by") or "channel",
        half_life=options.get("half_life"),
        bootstrap=int(options.get("bootstrap") or 0) if options.get("bootstrap") is not None else 200,
        date_from=options.get("date_from"),
        date_to=options.get("date_to"),
    )
    fmt = options.get("format") or "json"
    if fmt == "json":
        out.write(json.dumps(report, indent=2) + "\n")
        return
    cols = attribution_columns(report)
    if fmt == "csv":
        writer = csvsafe.DictWriter(out, fieldnames=cols, lineterminator="\n", extrasaction="ignore")
        writer.writeheader()
        writer.writerows(report["rows"])
        return
    out.write(
        f"{report['model']} by {report['by']}: {report['total_conversions']:,.0f} conversions, "
        f"{report['total_revenue']:,.2f} revenue\n"
    )
    rows = report["rows"]
    widths = {c: max(len(c), *(len(_fmt(r.get(c))) for r in rows)) if rows else len(c) for c in cols}
    out.write("  ".join(c.ljust(widths[c]) for c in cols).rstrip() + "\n")
    for r in rows:
        out.write("  ".join(_fmt(r.get(c)).ljust(widths[c]) for c in cols).rstrip() + "\n")
