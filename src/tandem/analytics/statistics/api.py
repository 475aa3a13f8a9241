"""REST endpoints for the honest-statistics pages: control charts, segments, experiments."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema, Status

from tandem.analytics.statistics.models import Experiment
from tandem.analytics.statistics.selectors import (
    experiment_analyse,
    experiment_page,
    segment_table_cached,
    spc_chart_cached,
)
from tandem.analytics.statistics.services import experiment_create, experiment_import_csv
from tandem.core.errors import NotFound, ValidationFailed
from tandem.core.http import require_perm
from tandem.core.idempotency import idempotent
from tandem.core.paging import PAGE_SIZE, CursorParam, LimitParam

router = Router(tags=["statistics"])
EDIT_ROLES = {"admin", "marketing"}


def _require_editor(request: HttpRequest, *, action: str) -> None:
    user = request.user
    # Experiments belong to marketing: a role decision, not one model permission.
    require_perm(
        request,
        allowed=user.is_superuser or getattr(user, "role", "") in EDIT_ROLES,
        message=f"only admins and marketing may {action}",
    )


class SpcQuery(Schema):
    metric: str = "volume"
    by: str = "all"
    period: str = "week"
    baseline_from: date | None = None
    baseline_to: date | None = None
    maturity_days: int | None = None
    as_of: date | None = None


@router.get("/statistics/spc", response=dict[str, Any], summary="Control chart of one metric")
def spc(request: HttpRequest, q: Query[SpcQuery]) -> dict[str, Any]:
    """The same JSON as `tandem report spc`: series with points (value, n, centre, limits, mature) and signals."""
    if (q.baseline_from is None) != (q.baseline_to is None):
        raise ValidationFailed("give both baseline_from and baseline_to, or neither", field="baseline_to")
    baseline = (q.baseline_from, q.baseline_to) if q.baseline_from and q.baseline_to else None
    if baseline and baseline[1] < baseline[0]:
        raise ValidationFailed("the baseline ends before it starts", field="baseline_to", value=str(q.baseline_to))
    chart = spc_chart_cached(
        metric=q.metric, by=q.by, period=q.period, baseline=baseline, as_of=q.as_of, maturity_days=q.maturity_days
    )
    return chart.to_dict()


@router.get("/statistics/segments", response=dict[str, Any], summary="Conversion by segment")
def segments(request: HttpRequest, by: str = "channel", metric: str = "won") -> dict[str, Any]:
    """The same JSON as `tandem report segments`; `by` is one field or two separated by a comma."""
    fields = [b.strip() for b in by.split(",") if b.strip()]
    return segment_table_cached(by=fields, metric=metric).to_dict()


class ExperimentIn(Schema):
    name: str
    variants: list[str]
    metric: str = Experiment.Metric.SQL_RATE
    minimum_effect: float = 0.01
    subject_type: str = Experiment.Subject.CAMPAIGN
    subject_ref: str = ""
    alpha: float = 0.05
    power: float = 0.8
    planned_n: int | None = None


class ImportIn(Schema):
    csv: str
    columns: dict[str, str] | None = None


def _get(experiment_id: int) -> Experiment:
    try:
        return Experiment.objects.get(pk=experiment_id)
    except Experiment.DoesNotExist:
        raise NotFound(f"no experiment with id {experiment_id}", field="experiment_id", value=experiment_id) from None


class ExperimentPageOut(Schema):
    items: list[dict[str, Any]]
    next_cursor: str | None = Field(None, description="pass as `cursor` for the next (older) page")
    prev_cursor: str | None = Field(None, description="pass as `cursor` for the previous (newer) page")


@router.get("/experiments", response=ExperimentPageOut, summary="List experiments")
def experiments(request: HttpRequest, cursor: CursorParam = "", limit: LimitParam = PAGE_SIZE) -> dict[str, Any]:
    """Experiments with their unit counts, the latest defined first, a keyset page at a time."""
    return experiment_page(cursor=cursor, limit=limit)


@router.post("/experiments", response={201: dict[str, Any]}, summary="Define an experiment")
@idempotent
def experiment_new(request: HttpRequest, payload: ExperimentIn) -> Status[dict[str, Any]]:
    _require_editor(request, action="define experiments")
    exp = experiment_create(**payload.dict())
    return Status(201, {"id": exp.id, "name": exp.name, "variants": exp.variants, "status": exp.status})


@router.get("/experiments/{int:experiment_id}", response=dict[str, Any], summary="An experiment's analysis")
def experiment_detail(request: HttpRequest, experiment_id: int) -> dict[str, Any]:
    """The same JSON as `tandem report experiment NAME`: counts, tests, P(best), sequential p-values, verdict."""
    exp = _get(experiment_id)
    return {"id": exp.id, **experiment_analyse(experiment=exp)}


@router.post(
    "/experiments/{int:experiment_id}/assignments", response=dict[str, Any], summary="Replace assignments from CSV"
)
def experiment_assignments(request: HttpRequest, experiment_id: int, payload: ImportIn) -> dict[str, Any]:
    """CSV text with unit_id,variant,assigned_at,converted[,revenue]; all or nothing, errors name line and column."""
    _require_editor(request, action="import experiment data")
    exp = _get(experiment_id)
    count = experiment_import_csv(experiment=exp, source=payload.csv, columns=payload.columns)
    return {"imported": count}
