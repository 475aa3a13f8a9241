"""`tandem report spc`: control charts of lead volume and lead quality per channel, campaign or overall."""

from __future__ import annotations

import argparse
import json
from datetime import date
from typing import Any, TextIO

from tandem.analytics.statistics.options import SPC_BY, SPC_METRICS
from tandem.core.errors import ValidationFailed

NAME = "spc"
HELP = "control charts: is a dip or a jump a real shift or noise? (volume, MQL/SQL/win rate)"
FORMATS = ("json",)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--metric", choices=SPC_METRICS, default="volume")
    parser.add_argument("--by", choices=SPC_BY, default="all")
    parser.add_argument("--period", choices=("day", "week"), default="week")
    parser.add_argument("--baseline", default=None, help="baseline period FROM,TO (ISO dates); default: the first 20 mature points")
    parser.add_argument("--maturity-days", type=int, default=None, help="days a cohort needs to mature (default: computed)")
    parser.add_argument("--as-of", default=None, help="chart up to this day (ISO date; default today)")


def parse_baseline(value: str | None) -> tuple[date, date] | None:
    """'2026-01-05,2026-03-30' → the two dates; None/blank → None."""
    if not value:
        return None
    parts = [p.strip() for p in value.split(",")]
    try:
        lo, hi = date.fromisoformat(parts[0]), date.fromisoformat(parts[1])
    except (ValueError, IndexError):
        raise ValidationFailed("baseline must be FROM,TO as ISO dates", field="baseline", value=value) from None
    if hi < lo:
        raise ValidationFailed("the baseline ends before it starts", field="baseline", value=value)
    return lo, hi


def run(*, options: dict[str, Any], out: TextIO) -> None:
    # Here, not at the top, so that `tandem report --help` stays light (see tandem.analytics.cli).
    from tandem.analytics.statistics.selectors import lead_cohorts_load, spc_chart, spc_maturity_days

    as_of = options.get("as_of")
    try:
        as_of_day = date.fromisoformat(as_of) if as_of else None
    except ValueError:
        raise ValidationFailed("as-of must be an ISO date", field="as_of", value=as_of) from None
    metric = options.get("metric") or "volume"
    if metric not in SPC_METRICS:
        raise ValidationFailed(f"metric must be one of {', '.join(SPC_METRICS)}", field="metric", value=metric)
    cohorts = lead_cohorts_load()
    maturity = options.get("maturity_days")
    if maturity is None:
        maturity = spc_maturity_days(metric=metric, cohorts=cohorts)
    chart = spc_chart(
        metric=metric,
        by=options.get("by") or "all",
        period=options.get("period") or "week",
        baseline=parse_baseline(options.get("baseline")),
        as_of=as_of_day,
        maturity_days=maturity,
        cohorts=cohorts,
    )
    out.write(json.dumps({**chart.to_dict(), "maturity_days": maturity}, indent=2) + "\n")
