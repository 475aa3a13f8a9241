"""Writes for scoring: rules versions, training and activating models, refreshing people's scores."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import asdict
from typing import Any

import numpy as np
from django.db import transaction
from django.utils import timezone

from tandem.core.errors import ValidationFailed
from tandem.core.events import event_record
from tandem.crm.models import Person
from tandem.scoring.batch import engagement_batch, explain_many, grade_of, permutation_importance
from tandem.scoring.features import FeatureBuilder, outcome_labels
from tandem.scoring.model import ScoringModel as PureModel
from tandem.scoring.model import TrainConfig, model_train, split_by_time
from tandem.scoring.models import ModelStatus, PersonScore, ScoringConfig, ScoringModel
from tandem.scoring.rules import EngagementConfig, FitConfig, fit_points_batch
from tandem.scoring.selectors import (
    RulesInForce,
    ScoringDataset,
    feature_spec_for,
    scoring_dataset,
    scoring_model_active,
    scoring_rules_current,
)

TOP_FACTORS = 3
# Loaded models by version: unpickling takes tens of milliseconds, rescoring one person must not.
_LOADED: dict[str, PureModel] = {}


def _clean(value: Any) -> Any:
    """JSON-safe copy: NaN and infinities become None (PostgreSQL's JSON refuses them)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    if isinstance(value, np.generic):
        return _clean(value.item())
    return value


def scoring_rules_update(
    *, fit: dict[str, Any], engagement: dict[str, Any], cutoff_days: float = 7.0, by_user: Any = None
) -> ScoringConfig:
    """Save a new version of the fit and engagement rules and rescore everyone in the background."""
    fit_config = FitConfig.from_dict(fit)
    engagement_config = EngagementConfig.from_dict(engagement)
    if not (math.isfinite(cutoff_days) and 0 <= cutoff_days <= 365):
        raise ValidationFailed("cutoff_days must lie between 0 and 365.", field="cutoff_days", value=cutoff_days)
    with transaction.atomic():
        current = ScoringConfig.objects.order_by("-version").first()
        row = ScoringConfig.objects.create(
            version=(current.version if current else 0) + 1,
            created_by=by_user,
            fit=fit_config.to_dict(),
            engagement=engagement_config.to_dict(),
            cutoff_days=cutoff_days,
        )
        event_record(kind="scoring.rules_changed", subject=row, actor=by_user, rule="scoring", rule_version=row.version)
    from tandem.scoring.tasks import scores_refresh_task

    transaction.on_commit(lambda: scores_refresh_task())
    return row


def _model_load(row: ScoringModel) -> PureModel:
    cached = _LOADED.get(row.version)
    if cached is None:
        cached = PureModel.from_bytes(bytes(row.model_bytes))
        _LOADED.clear()  # one model in memory at a time
        _LOADED[row.version] = cached
    return cached


def scoring_model_train(
    *,
    horizon_days: float = 90.0,
    by_user: Any = None,
    now: dt.datetime | None = None,
    config: TrainConfig | None = None,
) -> ScoringModel:
    """Train on closed outcomes with a time split; activate unless worse than the naive-Bayes baseline."""
    if not (math.isfinite(horizon_days) and 1 <= horizon_days <= 3650):
        raise ValidationFailed("horizon_days must lie between 1 and 3650.", field="horizon_days", value=horizon_days)
    moment = now or timezone.now()
    rules = scoring_rules_current()
    data = scoring_dataset(cutoff="creation", window_days=rules.cutoff_days, now=moment)
    positive, usable = outcome_labels(data.inputs.cutoffs, data.won_at, horizon_days=horizon_days, now=moment.timestamp())
    rows = np.flatnonzero(usable)
    if len(rows) < 20:
        raise ValidationFailed(
            "Too few people with a known outcome to train a model.", field="horizon_days", value=len(rows)
        )
    train = data.take(rows)
    y = positive[rows].astype(np.float64)
    spec = feature_spec_for(rules=rules, custom_fields=data.custom_fields)
    builder = FeatureBuilder.fit(spec, train.inputs)
    matrix = builder.transform(train.inputs)
    rule_scores = np.zeros(len(rows))
    for column in ("fit_points", "engagement"):
        if column in matrix.names:
            rule_scores += matrix.values[:, matrix.names.index(column)]
    train_config = config or TrainConfig()
    version = f"v{ScoringModel.objects.count() + 1}-{moment:%Y%m%d%H%M%S}"
    pure = model_train(
        matrix,
        y,
        times=train.inputs.cutoffs,
        rule_scores=rule_scores,
        amounts=train.won_amount,
        segments=train.segments,
        builder=builder,
        config=train_config,
        version=version,
    )
    _, validation = split_by_time(train.inputs.cutoffs, train_config.validation_share)
    importance = permutation_importance(pure, matrix.take(validation), y[validation], seed=train_config.seed)
    evaluations = {("model" if name == pure.kind else name): _clean(asdict(e)) for name, e in pure.evaluations.items()
                   if name == pure.kind or name in ("naive_bayes", "rule_score")}
    metrics = _clean(dict(pure.metrics, people=len(rows), wins=int(y.sum()), horizon_days=horizon_days))
    status = ModelStatus.ACTIVE if pure.activation.active else ModelStatus.REFUSED
    with transaction.atomic():
        if status == ModelStatus.ACTIVE:
            ScoringModel.objects.filter(status=ModelStatus.ACTIVE).update(status=ModelStatus.RETIRED)
        row = ScoringModel.objects.create(
            version=version,
            trained_by=by_user,
            horizon_days=horizon_days,
            config_version=rules.version,
            status=status,
            kind=pure.kind,
            reason=pure.activation.reason,
            metrics=metrics,
            evaluations=evaluations,
            tiers=_clean(pure.tiers.as_dict()),
            feature_importance=_clean([asdict(i) for i in importance]),
            model_bytes=pure.to_bytes(),
        )
        event_record(
            kind="scoring.model_activated" if status == ModelStatus.ACTIVE else "scoring.model_refused",
            subject=row,
            actor=by_user,
            rule="scoring",
            rule_version=rules.version,
            reason=pure.activation.reason,
            data={"version": version, "kind": pure.kind, "validation": metrics.get("validation", {})},
        )
    return row


def _score_dataset(
    data: ScoringDataset, pure: PureModel | None, rules: RulesInForce, model_row: ScoringModel | None, moment: dt.datetime
) -> list[PersonScore]:
    """PersonScore objects (unsaved) for every person in ``data``."""
    size = data.inputs.size
    points = fit_points_batch(dict(data.inputs.profile), size, rules.fit)
    grades = grade_of(points, rules.fit)
    engagement = engagement_batch(data.inputs, rules.engagement)
    probabilities: list[float | None] = [None] * size
    tiers: list[str] = [""] * size
    values: list[float | None] = [None] * size
    factors: list[dict[str, Any]] = [{} for _ in range(size)]
    if pure is not None and size:
        matrix = pure.features(data.inputs)
        p = pure.predict_proba(matrix)
        probabilities = [float(x) for x in p]
        tiers = [str(t) for t in pure.tiers.assign(p)]
        values = [float(v) if math.isfinite(v) else None for v in pure.expected_value(p, data.segments)]
        for i, explanation in enumerate(explain_many(pure, matrix.values, top=TOP_FACTORS)):
            factors[i] = {
                "raising": [{"text": f.description, "contribution": round(f.contribution, 4)} for f in explanation.raising],
                "lowering": [{"text": f.description, "contribution": round(f.contribution, 4)} for f in explanation.lowering],
            }
    return [
        PersonScore(
            person_id=int(data.person_ids[i]),
            model=model_row,
            probability=probabilities[i],
            tier=tiers[i],
            expected_value=values[i],
            fit_grade=str(grades[i]),
            fit_points=float(points[i]),
            engagement=float(engagement[i]),
            factors=factors[i],
            scored_at=moment,
        )
        for i in range(size)
    ]


_UPDATE_FIELDS = [
    "model",
    "probability",
    "tier",
    "expected_value",
    "fit_grade",
    "fit_points",
    "engagement",
    "factors",
    "scored_at",
]


def _active_pure() -> tuple[ScoringModel | None, PureModel | None]:
    row = scoring_model_active()
    return (row, _model_load(row)) if row is not None else (None, None)


def people_score_refresh(*, person_ids: list[int] | None = None, now: dt.datetime | None = None) -> int:
    """Score every open person (or the given ones) with the active model and rules; returns how many."""
    moment = now or timezone.now()
    rules = scoring_rules_current()
    row, pure = _active_pure()
    data = scoring_dataset(person_ids=person_ids, cutoff="now", now=moment)
    closed = data.closed
    open_rows = data.take(np.flatnonzero(~closed))
    scores = _score_dataset(open_rows, pure, rules, row, moment)
    with transaction.atomic():
        # A person with a closed outcome has nothing left to predict.
        closed_ids = data.person_ids[closed].tolist()
        for start in range(0, len(closed_ids), 500):
            PersonScore.objects.filter(person_id__in=closed_ids[start : start + 500]).delete()
        PersonScore.objects.bulk_create(
            scores, batch_size=1000, update_conflicts=True, unique_fields=["person"], update_fields=_UPDATE_FIELDS
        )
    return len(scores)


def person_rescore(*, person: Person, now: dt.datetime | None = None) -> PersonScore | None:
    """Rescore one person after an event (None when their outcome is closed)."""
    moment = now or timezone.now()
    rules = scoring_rules_current()
    row, pure = _active_pure()
    data = scoring_dataset(person_ids=[person.pk], cutoff="now", now=moment)
    if not len(data.person_ids) or bool(data.closed[0]):
        PersonScore.objects.filter(person_id=person.pk).delete()
        return None
    (score,) = _score_dataset(data, pure, rules, row, moment)
    PersonScore.objects.bulk_create(
        [score], update_conflicts=True, unique_fields=["person"], update_fields=_UPDATE_FIELDS
    )
    return score
