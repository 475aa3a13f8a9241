"""`tandem experiment create|import|list`: define A/B(/n) tests and load their raw assignments from CSV."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from tandem.analytics.statistics.models import Experiment
from tandem.core.errors import TandemError
from tandem.core.textfiles import text_format_detect, text_open


class Command(BaseCommand):
    help = "Define experiments, import their assignments and outcomes from CSV, refresh outcomes from the CRM, list them."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
        create = sub.add_parser("create", help="define an experiment (the first variant is the control)")
        create.add_argument("name")
        create.add_argument("--variants", required=True, help="comma-separated, control first (e.g. control,b)")
        create.add_argument("--metric", choices=Experiment.Metric.values, default=Experiment.Metric.SQL_RATE)
        create.add_argument("--minimum-effect", type=float, default=0.01, help="absolute, 0.01 = 1 point")
        create.add_argument("--subject-type", choices=Experiment.Subject.values, default=Experiment.Subject.CAMPAIGN)
        create.add_argument("--subject-ref", default="")
        create.add_argument("--alpha", type=float, default=0.05)
        create.add_argument("--power", type=float, default=0.8)
        create.add_argument("--planned-n", type=int, default=None)
        imp = sub.add_parser("import", help="replace an experiment's assignments with a CSV's rows (all or nothing)")
        imp.add_argument("name")
        imp.add_argument("file")
        imp.add_argument(
            "--columns",
            default="",
            help="map our columns to the file's, e.g. unit_id=user_id,variant=group,assigned_at=timestamp",
        )
        outcomes = sub.add_parser(
            "outcomes", help="set linked units' outcomes from the CRM (SQL reached, deal won, won revenue)"
        )
        outcomes.add_argument("name")
        sub.add_parser("list", help="list experiments as JSON")

    def handle(self, *args: Any, **opts: Any) -> None:
        # Imported here, not at the top: they bring numpy and django-ninja, which `--help` has no use for.
        from tandem.analytics.statistics.selectors import experiment_get, experiment_list
        from tandem.analytics.statistics.services import (
            experiment_create,
            experiment_import_csv,
            experiment_outcomes_from_crm,
        )

        try:
            if opts["action"] == "create":
                exp = experiment_create(
                    name=opts["name"],
                    variants=str(opts["variants"]).split(","),
                    metric=opts["metric"],
                    minimum_effect=opts["minimum_effect"],
                    subject_type=opts["subject_type"],
                    subject_ref=opts["subject_ref"],
                    alpha=opts["alpha"],
                    power=opts["power"],
                    planned_n=opts["planned_n"],
                )
                self.stdout.write(f"created experiment {exp.name!r} with variants {', '.join(exp.variants)}")
            elif opts["action"] == "import":
                exp = experiment_get(name=opts["name"])
                columns = {}
                for pair in filter(None, (p.strip() for p in str(opts["columns"]).split(","))):
                    ours, _, theirs = pair.partition("=")
                    if not theirs:
                        raise CommandError(f"--columns: expected ours=theirs, got {pair!r}")
                    columns[ours.strip()] = theirs.strip()
                path = Path(opts["file"])
                if not path.is_file():
                    raise CommandError(f"no such file: {path}")
                fmt = text_format_detect(source=path)
                with text_open(source=path, fmt=fmt) as handle:
                    count = experiment_import_csv(
                        experiment=exp, source=handle, columns=columns or None, delimiter=fmt.delimiter
                    )
                self.stdout.write(f"imported {count:,} assignments into {exp.name!r}")
            elif opts["action"] == "outcomes":
                exp = experiment_get(name=opts["name"])
                count = experiment_outcomes_from_crm(experiment=exp)
                self.stdout.write(f"updated the outcome of {count:,} units of {exp.name!r} from the CRM")
            else:
                self.stdout.write(json.dumps(experiment_list(), indent=2))
        except TandemError as exc:
            raise CommandError(exc.message) from exc
