"""Writes for experiments: define one, import its raw assignments and outcomes from CSV."""

from __future__ import annotations

from collections.abc import Collection
from datetime import UTC, datetime
from decimal import Decimal
from typing import TextIO

from django.db import transaction
from django.utils import timezone

from tandem.analytics.statistics.models import Experiment, ExperimentAssignment
from tandem.core.erasure import rows_mentioning
from tandem.core.errors import ValidationFailed
from tandem.core.redact import contains_any
from tandem.crm.models import Deal, DealStage, Person, StageChange
from tandem.stats.experiments import parse_assignments_csv

BATCH = 5000


def experiment_create(
    *,
    name: str,
    variants: list[str],
    metric: str = Experiment.Metric.SQL_RATE,
    minimum_effect: float = 0.01,
    subject_type: str = Experiment.Subject.CAMPAIGN,
    subject_ref: str = "",
    alpha: float = 0.05,
    power: float = 0.8,
    planned_n: int | None = None,
    description: str = "",
) -> Experiment:
    """Define an experiment (the first variant is the control)."""
    name = name.strip()
    if not name:
        raise ValidationFailed("the experiment needs a name", field="name", value=name)
    if Experiment.objects.filter(name=name).exists():
        raise ValidationFailed(f"an experiment named {name!r} already exists", field="name", value=name)
    cleaned = [v.strip() for v in variants if v.strip()]
    if len(cleaned) < 2 or len(set(cleaned)) != len(cleaned):
        raise ValidationFailed("give at least two different variant names", field="variants", value=",".join(variants))
    if metric not in Experiment.Metric.values:
        raise ValidationFailed(
            f"metric must be one of {', '.join(Experiment.Metric.values)}", field="metric", value=metric
        )
    if subject_type not in Experiment.Subject.values:
        raise ValidationFailed(
            f"subject type must be one of {', '.join(Experiment.Subject.values)}", field="subject_type", value=subject_type
        )
    if not 0 < minimum_effect < 1:
        raise ValidationFailed("minimum_effect must lie between 0 and 1", field="minimum_effect", value=minimum_effect)
    if not 0 < alpha < 1:
        raise ValidationFailed("alpha must lie between 0 and 1", field="alpha", value=alpha)
    if not alpha < power < 1:
        raise ValidationFailed("power must lie between alpha and 1", field="power", value=power)
    if planned_n is not None and planned_n < 1:
        raise ValidationFailed("planned_n must be positive", field="planned_n", value=planned_n)
    return Experiment.objects.create(
        name=name,
        variants=cleaned,
        metric=metric,
        minimum_effect=minimum_effect,
        subject_type=subject_type,
        subject_ref=subject_ref,
        alpha=alpha,
        power=power,
        planned_n=planned_n,
        description=description,
    )


def experiment_import_csv(
    *, experiment: Experiment, source: str | TextIO, columns: dict[str, str] | None = None, delimiter: str = ","
) -> int:
    """Replace the experiment's assignments with the CSV's rows, all or nothing; returns the rows imported.

    Units whose id is a person's email are linked to that person. Variants not defined on the
    experiment are refused (naming the line), so a typo cannot create a phantom variant.
    """
    parsed = parse_assignments_csv(source, columns=columns, delimiter=delimiter)
    allowed = set(experiment.variants)
    if allowed:
        for i, v in enumerate(parsed.variants):
            if v not in allowed:
                raise ValidationFailed(
                    f"row {i + 1} of the data: unknown variant {v!r}; the experiment has {', '.join(experiment.variants)}",
                    field="variant",
                    value=v,
                )
    emails = {u.lower() for u in parsed.unit_ids if "@" in u}
    by_email: dict[str, int] = {}
    if emails and len(emails) <= 50_000:
        by_email = dict(
            Person.objects.filter(email_normalized__in=emails).values_list("email_normalized", "id")  # type: ignore[arg-type]
        )
    revenue = parsed.revenue
    rows: list[ExperimentAssignment] = []
    for i, unit in enumerate(parsed.unit_ids):
        at = parsed.assigned_at[i]
        if timezone.is_naive(at):
            at = at.replace(tzinfo=UTC)
        rows.append(
            ExperimentAssignment(
                experiment=experiment,
                unit_id=unit,
                person_id=by_email.get(unit.lower()),
                variant=parsed.variants[i],
                assigned_at=at,
                converted=bool(parsed.converted[i]),
                revenue=None if revenue is None else Decimal(f"{revenue[i]:.2f}"),
            )
        )
    with transaction.atomic():
        ExperimentAssignment.objects.filter(experiment=experiment).delete()
        ExperimentAssignment.objects.bulk_create(rows, batch_size=BATCH)
        if not allowed:
            experiment.variants = list(parsed.variant_names)
        if experiment.status == Experiment.Status.DRAFT:
            experiment.status = Experiment.Status.RUNNING
        experiment.save(update_fields=["variants", "status", "updated_at"])
    return len(rows)


DOWNSTREAM_METRICS = (Experiment.Metric.SQL_RATE, Experiment.Metric.WON_RATE, Experiment.Metric.REVENUE_PER_LEAD)


def experiment_outcomes_from_crm(*, experiment: Experiment) -> int:
    """Set linked units' outcomes from the CRM (SQL reached / deal won after assignment); returns units updated.

    Downstream outcomes arrive weeks after the test: this lets the same experiment be judged again as deals
    close. Units without a person keep the outcome of their file.
    """
    if experiment.metric not in DOWNSTREAM_METRICS:
        raise ValidationFailed(
            f"the {experiment.get_metric_display()} comes from the imported file, not from the CRM",
            field="metric",
            value=experiment.metric,
        )
    units = list(ExperimentAssignment.objects.filter(experiment=experiment, person__isnull=False))
    if not units:
        return 0
    person_ids = {u.person_id for u in units if u.person_id is not None}
    stages = ("sql", "opportunity", "customer") if experiment.metric == Experiment.Metric.SQL_RATE else ("customer",)
    moves: dict[int, list[datetime]] = {}
    for pid, at in StageChange.objects.filter(person_id__in=person_ids, to_stage__in=stages).values_list(
        "person_id", "changed_at"
    ):
        moves.setdefault(pid, []).append(at)
    deals: dict[int, list[tuple[datetime, Decimal]]] = {}
    if experiment.metric != Experiment.Metric.SQL_RATE:
        for pid, closed, amount in Deal.objects.filter(
            person_id__in=person_ids, stage=DealStage.WON, closed_at__isnull=False
        ).values_list("person_id", "closed_at", "amount"):
            if closed is not None:
                deals.setdefault(pid, []).append((closed, amount or Decimal("0")))
    changed = []
    for unit in units:
        pid = unit.person_id or 0
        won_deals = [(c, a) for c, a in deals.get(pid, []) if c >= unit.assigned_at]
        converted = any(t >= unit.assigned_at for t in moves.get(pid, [])) or bool(won_deals)
        revenue = unit.revenue
        if experiment.metric == Experiment.Metric.REVENUE_PER_LEAD:
            revenue = sum((a for _, a in won_deals), Decimal("0"))
        if converted != unit.converted or revenue != unit.revenue:
            unit.converted, unit.revenue = converted, revenue
            changed.append(unit)
    ExperimentAssignment.objects.bulk_update(changed, ["converted", "revenue"], batch_size=BATCH)
    return len(changed)


# ---- personal data (tandem.privacy): one person's places in experiments ----


def experiment_assignments_erase_person(*, person_id: int, needles: Collection[str]) -> int:
    """Keep a person's experiment assignments (the results count them) under a unit id that no longer names
    them when it did (an e-mail as the unit)."""
    rows = ExperimentAssignment.objects.filter(person_id=person_id) | rows_mentioning(
        rows=ExperimentAssignment.objects.all(), needles=needles, text=["unit_id"]
    )
    changed = [a for a in rows.only("pk", "unit_id") if contains_any(a.unit_id, needles=needles)]
    for a in changed:
        a.unit_id = f"erased-{a.pk}"  # unique within its experiment, as the unit ids must be
    ExperimentAssignment.objects.bulk_update(changed, ["unit_id"], batch_size=500)
    return len(changed)
