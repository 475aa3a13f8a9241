"""`tandem report ltv`: lifetime value from won-deal history (repeat purchases, retention by cohort, payback)."""

from __future__ import annotations

import argparse
import datetime as dt
import json
from typing import Any, TextIO

from tandem.analytics.cli.economics import common_options, fmt, write_table
from tandem.analytics.economics.options import LTV_SEGMENTS
from tandem.analytics.reports.options import ATTRIBUTION_BY
from tandem.stats.constants import DEFAULT_HORIZON

NAME = "ltv"
HELP = "Customer lifetime value: repeat purchases, average deal value, retention by cohort, LTV, LTV:CAC, payback"
FORMATS = ("json", "csv", "table")
def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--by", choices=ATTRIBUTION_BY, default="channel", help="CAC and LTV per channel or campaign")
    parser.add_argument("--segment", choices=LTV_SEGMENTS, default="source", help="rows per source or account field")
    parser.add_argument("--horizon", type=int, default=DEFAULT_HORIZON, help="LTV horizon in months (default 24)")
    parser.add_argument("--margin", type=float, default=1.0, help="gross margin applied to LTV (0–1, default 1)")
    parser.add_argument("--from", dest="date_from", type=dt.date.fromisoformat, default=None, help="first purchase from")
    parser.add_argument("--to", dest="date_to", type=dt.date.fromisoformat, default=None, help="first purchase to")


def run(*, options: dict[str, Any], out: TextIO) -> None:
    # Here, not at the top, so that `tandem report --help` stays light (see tandem.analytics.cli).
    from tandem.analytics.economics.selectors import RETENTION_COLUMNS, ltv_report_get

    report = ltv_report_get(**common_options(options))
    fmt_name = options.get("format") or "json"
    if fmt_name == "json":
        out.write(json.dumps(report, indent=2) + "\n")
        return
    if fmt_name == "table":
        out.write(
            f"{report['customers']} customers, {report['purchases']} purchases, average value "
            f"{fmt(report['average_value'])}, repeat rate {fmt(report['repeat_rate'])}, LTV "
            f"{fmt(report['ltv'])} over {report['months_observed']} of {report['horizon']} months, CAC "
            f"{fmt(report['cac'])}, LTV:CAC {fmt(report['ltv_to_cac'])}, payback {fmt(report['payback_months'])} months\n"
        )
    write_table(out, RETENTION_COLUMNS, report["retention"], fmt_csv=fmt_name == "csv")
