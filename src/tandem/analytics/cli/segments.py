"""`tandem report segments`: conversion by segment, shrunk toward the overall rate, flagged with FDR control."""

from __future__ import annotations

import argparse
import json
from typing import Any, TextIO

from tandem.analytics.statistics.options import SEGMENT_FIELDS, SEGMENT_METRICS

NAME = "segments"
HELP = "conversion by segment (one field or two), honestly ranked, with spend beside it"
FORMATS = ("json",)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--by", default="channel", help=f"FIELD or FIELD,FIELD among {', '.join(SEGMENT_FIELDS)}")
    parser.add_argument("--metric", choices=SEGMENT_METRICS, default="won")
    parser.add_argument("--fdr", type=float, default=0.05, help="false discovery rate for the flags (default 0.05)")


def run(*, options: dict[str, Any], out: TextIO) -> None:
    # Here, not at the top, so that `tandem report --help` stays light (see tandem.analytics.cli).
    from tandem.analytics.statistics.selectors import segment_table

    by = [b.strip() for b in str(options.get("by") or "channel").split(",") if b.strip()]
    report = segment_table(by=by, metric=options.get("metric") or "won", fdr=options.get("fdr") or 0.05)
    out.write(json.dumps(report.to_dict(), indent=2) + "\n")
