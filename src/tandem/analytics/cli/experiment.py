"""`tandem report experiment NAME`: the verdict of an A/B(/n) test with the numbers behind it."""

from __future__ import annotations

import argparse
import json
from typing import Any, TextIO

NAME = "experiment"
HELP = "an experiment's verdict: z/Fisher tests, P(best), always-valid sequential p-values, sample size"
FORMATS = ("json",)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", help="the experiment's name")


def run(*, options: dict[str, Any], out: TextIO) -> None:
    # Here, not at the top, so that `tandem report --help` stays light (see tandem.analytics.cli).
    from tandem.analytics.statistics.selectors import experiment_analyse, experiment_get

    experiment = experiment_get(name=str(options["name"]))
    out.write(json.dumps(experiment_analyse(experiment=experiment), indent=2) + "\n")
