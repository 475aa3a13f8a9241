"""`tandem score train|evaluate|drift|export`: train the predictive score, print its metrics and drift, export open leads' scores."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from django.core.management.base import BaseCommand, CommandError, CommandParser

from tandem.core import csvsafe
from tandem.core.errors import TandemError
from tandem.core.lazy import deferred

if TYPE_CHECKING:
    from tandem.scoring import selectors, services
else:
    # Imported at first use, not for `--help`: they bring numpy and django-ninja.
    selectors = deferred("tandem.scoring.selectors")
    services = deferred("tandem.scoring.services")

EXPORT_COLUMNS = ("email", "probability", "tier", "expected_value", "top_factors")
TITLES = {"model": "model", "naive_bayes": "baseline: naive Bayes (Odoo)", "rule_score": "baseline: fit + engagement rules"}


def _evaluation_table(name: str, evaluation: dict[str, Any]) -> list[str]:
    def num(value: Any, spec: str) -> str:
        return "—" if value is None else format(value, spec)

    lines = [
        f"{TITLES.get(name, name)}: AUC {num(evaluation['auc'], '.4f')}  Brier {num(evaluation['brier'], '.4f')}  "
        f"log loss {num(evaluation['log_loss'], '.4f')}  ECE {num(evaluation['ece'], '.4f')}  "
        f"({evaluation['count']} people, base rate {num(evaluation['base_rate'], '.1%')})",
        "  calibration:  predicted   observed   people",
    ]
    for b in evaluation["calibration"]:
        if b.get("count"):
            lines.append(f"                {num(b.get('mean_predicted'), '8.1%')}   {num(b.get('observed_rate'), '8.1%')}   {b['count']:6d}")
    lines.append("  lift by decile:  decile  win rate   lift   share of wins so far")
    for d in evaluation["lift"]:
        lines.append(
            f"                   {d['decile']:6d}  {num(d.get('win_rate'), '7.1%')}  {num(d.get('lift'), '5.2f')}   "
            f"{num(d.get('cumulative_share_of_wins'), '6.1%')}"
        )
    return lines


class Command(BaseCommand):
    help = "Predictive scoring: train a model, evaluate it against the baselines, export open leads' scores."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
        train = sub.add_parser("train", help="train and evaluate on a time split; activate unless worse than naive Bayes")
        train.add_argument("--horizon-days", type=float, default=90.0, help="won within this many days (default 90)")
        train.add_argument("--no-refresh", action="store_true", help="do not rescore open leads afterwards")
        evaluate = sub.add_parser("evaluate", help="AUC, Brier, log loss, calibration and lift of the model and baselines")
        evaluate.add_argument("--format", choices=("json", "table"), default="table")
        drift = sub.add_parser("drift", help="measure the active model's drift now: PSI per input, calibration since training")
        drift.add_argument("--format", choices=("json", "table"), default="table")
        export = sub.add_parser("export", help="scores of every person without a closed outcome")
        export.add_argument("--format", choices=("csv",), default="csv")
        export.add_argument("--output", type=Path, default=None, help="file to write (default: standard output)")

    def handle(self, *args: Any, **opts: Any) -> None:
        try:
            getattr(self, f"_{opts['action']}")(opts)
        except TandemError as exc:
            raise CommandError(exc.message) from exc

    def _train(self, opts: dict[str, Any]) -> None:
        # Here, in the operator's terminal, not in the worker; recorded as a job all the same, so the pages show
        # it and a training started meanwhile from the page or the API is refused (and this one while that runs).
        job = services.scoring_train_start(horizon_days=opts["horizon_days"], refresh=not opts["no_refresh"], background=False)
        if job.status != "succeeded":
            raise CommandError(f"Training failed (job {job.pk}): {job.error}")
        result = job.result
        chosen = {k: v if v is not None else 0 for k, v in result.get("validation", {}).items()}
        self.stdout.write(
            f"Model {result['model_version']} ({result['kind']}) {result['model_status']}: {result['reason']}\n"
            f"validation AUC {chosen.get('auc', 0):.4f}, Brier {chosen.get('brier', 0):.4f}, "
            f"ECE {chosen.get('ece', 0):.4f} on {result.get('validation_rows')} people"
        )
        if result.get("rescored") is not None:
            self.stdout.write(f"rescored {result['rescored']} open people")

    def _evaluate(self, opts: dict[str, Any]) -> None:
        row = selectors.scoring_model_for_report()
        if row is None:
            raise CommandError("No scoring model yet: run `tandem score train` first.")
        if opts["format"] == "json":
            payload = {
                "version": row.version,
                "status": row.status,
                "kind": row.kind,
                "horizon_days": row.horizon_days,
                "reason": row.reason,
                "tiers": row.tiers,
                "evaluations": row.evaluations,
                # As measured by the last full refresh of scores (`tandem score drift` measures it now).
                "drift": row.drift,
            }
            self.stdout.write(json.dumps(payload, indent=2, sort_keys=True))
            return
        lines = [f"Model {row.version} ({row.kind}), {row.status}: {row.reason}"]
        for tier in row.tiers.get("tiers", []):
            lines.append(f"  {tier['meaning']}")
        for name in ("model", "naive_bayes", "rule_score"):
            if name in row.evaluations:
                lines += ["", *_evaluation_table(name, row.evaluations[name])]
        self.stdout.write("\n".join(lines))

    def _drift(self, opts: dict[str, Any]) -> None:
        report = services.scoring_drift_measure()
        if not report:
            raise CommandError("No active scoring model: run `tandem score train` first.")
        if opts["format"] == "json":
            self.stdout.write(json.dumps(report, indent=2, sort_keys=True))
            return
        lines = [report["sentence"], "", "  input                                     PSI    status"]
        for f in report["features"][:15]:
            psi = "—" if f["psi"] is None else f"{f['psi']:.3f}"
            lines.append(f"  {f['label'][:40]:40s}  {psi:>6}  {f['status']}")
        c = report["calibration"]
        lines.append("")
        if c["status"] == "too early":
            lines.append(f"calibration: {c['count']} outcomes known since training, too few to check")
        else:
            lines.append(
                f"calibration on {c['count']} outcomes since training: predicted {c['mean_predicted']:.1%}, "
                f"observed {c['observed_rate']:.1%}, ECE {c['ece']:.3f} ({c['status']})"
            )
        self.stdout.write("\n".join(lines))

    def _export(self, opts: dict[str, Any]) -> None:
        target: Path | None = opts["output"]
        handle: TextIO = target.open("w", newline="", encoding="utf-8") if target else sys.stdout
        try:
            writer = csvsafe.writer(handle if target else self.stdout, lineterminator="\n")
            writer.writerow(EXPORT_COLUMNS)
            written = 0
            for row in selectors.export_rows():
                writer.writerow(row)
                written += 1
            left_out = selectors.export_left_out()
        finally:
            if target:
                handle.close()
        # Said beside the file (on stderr when the CSV goes to stdout), so a pipe still gets a clean CSV.
        (self.stdout if target else self.stderr).write(
            f"{written} people exported; {left_out} left out for consent (no e-mail consent)"
        )
