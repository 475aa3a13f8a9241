"""`tandem report economics`: spend, cost per lead/MQL/SQL/customer, ROI, LTV:CAC, payback and lead value."""

from __future__ import annotations

import argparse
import datetime as dt
import json
from typing import Any, TextIO

from tandem.analytics.economics.options import LTV_SEGMENTS, TABLES
from tandem.analytics.reports.options import ATTRIBUTION_BY, REPORT_MODELS
from tandem.core import csvsafe
from tandem.stats.constants import DEFAULT_HORIZON

NAME = "economics"
HELP = "Unit economics: spend, cost per lead/MQL/SQL, CAC, ROI by attribution model, LTV:CAC, payback, lead value"
FORMATS = ("json", "csv", "table")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--by", choices=ATTRIBUTION_BY, default="channel", help="per channel or campaign")
    parser.add_argument("--model", choices=REPORT_MODELS, default="linear", help="attribution model for revenue/ROI")
    parser.add_argument("--table", choices=tuple(TABLES), default="costs", help="csv/table: which table (default costs)")
    parser.add_argument("--segment", choices=LTV_SEGMENTS, default="source", help="LTV rows per source or account field")
    parser.add_argument("--horizon", type=int, default=DEFAULT_HORIZON, help="LTV horizon in months (default 24)")
    parser.add_argument("--margin", type=float, default=1.0, help="gross margin applied to LTV (0–1, default 1)")
    parser.add_argument("--bootstrap", type=int, default=200, help="incremental model: bootstrap resamples")
    parser.add_argument("--from", dest="date_from", type=dt.date.fromisoformat, default=None, help="YYYY-MM-DD")
    parser.add_argument("--to", dest="date_to", type=dt.date.fromisoformat, default=None, help="YYYY-MM-DD")


def fmt(value: Any) -> str:
    """A cell for the plain-text table."""
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:,.2f}"
    return str(value)


def write_table(out: TextIO, columns: tuple[str, ...], rows: list[dict[str, Any]], fmt_csv: bool) -> None:
    """Write rows as CSV or as aligned plain text."""
    if fmt_csv:
        writer = csvsafe.DictWriter(out, fieldnames=list(columns), lineterminator="\n", extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
        return
    widths = {c: max(len(c), *(len(fmt(r.get(c))) for r in rows)) if rows else len(c) for c in columns}
    out.write("  ".join(c.ljust(widths[c]) for c in columns).rstrip() + "\n")
    for r in rows:
        out.write("  ".join(fmt(r.get(c)).ljust(widths[c]) for c in columns).rstrip() + "\n")


def common_options(options: dict[str, Any]) -> dict[str, Any]:
    """The options economics and ltv share, with their defaults."""
    return {
        "by": options.get("by") or "channel",
        "segment": options.get("segment") or "source",
        "horizon": int(options.get("horizon") or DEFAULT_HORIZON),
        "margin": float(options["margin"]) if options.get("margin") is not None else 1.0,
        "date_from": options.get("date_from"),
        "date_to": options.get("date_to"),
    }


def run(*, options: dict[str, Any], out: TextIO) -> None:
    # Here, not at the top, so that `tandem report --help` stays light (see tandem.analytics.cli).
    from tandem.analytics.economics.selectors import economics_report_get, table_rows

    table = options.get("table") or "costs"
    report = economics_report_get(
        model=options.get("model") or "linear",
        bootstrap=int(options["bootstrap"]) if options.get("bootstrap") is not None else 200,
        **common_options(options),
    )
    fmt_name = options.get("format") or "json"
    if fmt_name == "json":
        out.write(json.dumps(report, indent=2) + "\n")
        return
    rows = table_rows(report, table)
    if fmt_name == "table":
        t = report["totals"]
        out.write(
            f"spend {fmt(t['spend'])}, revenue ({report['model']}) {fmt(t['revenue'])}, CAC {fmt(t['cac'])}, "
            f"LTV {fmt(t['ltv'])}, LTV:CAC {fmt(t['ltv_to_cac'])}, payback {fmt(t['payback_months'])} months\n"
        )
    write_table(out, TABLES[table], rows, fmt_csv=fmt_name == "csv")
