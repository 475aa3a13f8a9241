"""Writes for scoring: rules versions, training and activating models, refreshing people's scores."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Sequence
from dataclasses import asdict
from typing import Any, cast

import numpy as np
from django.db import transaction
from django.db.models import Model as _Model
from django.utils import timezone

from tandem.campaigns.models import Touchpoint
from tandem.core.dataversion import data_version_bump
from tandem.core.errors import ValidationFailed
from tandem.core.events import event_record
from tandem.core.jobs.services import job_create, job_execute, job_progress
from tandem.core.models import Event, Job
from tandem.core.outbox import task_enqueue_on_commit
from tandem.core.versioning import spec_publish
from tandem.core.watermark import ids_unseen, watermark_state
from tandem.crm.models import Activity, Deal, Person
from tandem.scoring.batch import permutation_importance, score_columns
from tandem.scoring.drift import DriftSummary, calibration_drift, outcomes_since
from tandem.scoring.features import LANDMARK_DAYS, FeatureBuilder, outcome_labels
from tandem.scoring.model import ScoringModel as PureModel
from tandem.scoring.model import TrainConfig, model_train, split_by_time
from tandem.scoring.models import ModelStatus, PersonScore, ScoringConfig, ScoringModel
from tandem.scoring.rules import EngagementConfig, FitConfig
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
_LOADED: dict[tuple[int, str], PureModel] = {}


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
    columns = {"fit": fit_config.to_dict(), "engagement": engagement_config.to_dict(), "cutoff_days": cutoff_days}
    asked_at = timezone.now()
    from tandem.scoring.tasks import scores_refresh_task

    with transaction.atomic():
        # Validated above, before any query; the rules carry no version of their own, so the hook only stores them.
        row = spec_publish(
            model=ScoringConfig,
            spec=columns,
            reason="",
            by_user=by_user,
            event_kind="scoring.rules_changed",
            rule="scoring",
            validate=lambda given, _version: given,
            # PUT semantics: saving the rules in force again returns them instead of publishing a copy.
            unchanged="return",
        )
        if row.created_at < asked_at:
            return row  # the same rules again (a retried save): nothing published, nothing to rescore
        # Through the outbox, in the same transaction as the new version: should the queue be down, the save
        # still answers its success and the refresh waits for it (core/outbox.py).
        task_enqueue_on_commit(task=scores_refresh_task)
    return row


def _model_load(row: ScoringModel) -> PureModel:
    """The unpickled model of ``row``, cached per process (its bytes are read only on a miss)."""
    # Keyed by id and creation time: an id alone comes back after a database is emptied (tests, demo resets).
    key = (row.pk, row.created_at.isoformat())
    cached = _LOADED.get(key)
    if cached is None:
        data = row.model_bytes if "model_bytes" in row.__dict__ else (
            ScoringModel.objects.filter(pk=row.pk).values_list("model_bytes", flat=True).get()
        )
        cached = PureModel.from_bytes(bytes(data))
        _LOADED.clear()  # one model in memory at a time
        _LOADED[key] = cached
    return cached


def scoring_model_train(
    *,
    horizon_days: float = 90.0,
    by_user: Any = None,
    now: dt.datetime | None = None,
    config: TrainConfig | None = None,
    progress: Callable[[int, str], None] | None = None,
) -> ScoringModel:
    """Train on closed outcomes with a time split; activate unless worse than the naive-Bayes baseline."""
    _horizon_check(horizon_days)
    step = progress or (lambda _done, _message: None)
    moment = now or timezone.now()
    step(0, "Reading the training data")
    rules = scoring_rules_current()
    # Open leads are scored now, at any age: learn from every person at each age they reached while open.
    data = scoring_dataset(cutoff="creation", window_days=rules.cutoff_days, now=moment).at_landmarks(
        ages_days=(rules.cutoff_days, *LANDMARK_DAYS), now=moment.timestamp()
    )
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
    step(1, f"Fitting the model on {len(rows):,} snapshots")
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
    step(2, "Measuring what the model relies on")
    _, validation = split_by_time(train.inputs.cutoffs, train_config.validation_share)
    importance = permutation_importance(pure, matrix.take(validation), y[validation], seed=train_config.seed)
    evaluations = {("model" if name == pure.kind else name): _clean(asdict(e)) for name, e in pure.evaluations.items()
                   if name == pure.kind or name in ("naive_bayes", "rule_score")}
    metrics = _clean(
        dict(
            pure.metrics,
            people=len(np.unique(train.person_ids)),
            snapshots=len(rows),
            # The moment the training data was cut (the drift report's "since training").
            trained_as_of=moment.timestamp(),
            wins=int(y.sum()),
            horizon_days=horizon_days,
        )
    )
    status = ModelStatus.ACTIVE if pure.activation.active else ModelStatus.REFUSED
    step(3, "Saving the model")
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


def _horizon_check(horizon_days: float) -> None:
    if not (math.isfinite(horizon_days) and 1 <= horizon_days <= 3650):
        raise ValidationFailed("horizon_days must lie between 1 and 3650.", field="horizon_days", value=horizon_days)


# --- training as a background job ---------------------------------------------------------------------

TRAIN_JOB = "scoring.train"
# Reading, fitting, importance, saving, rescoring: the steps the job's progress counts.
TRAIN_STEPS = 5


def scoring_train_start(
    *, horizon_days: float = 90.0, refresh: bool = True, by_user: Any = None, background: bool = True
) -> Job:
    """Start training (then rescoring open leads when the model is activated) as a job; refused (409, naming
    it) while another training is queued or running. In the background by default; `background=False` runs it
    here and returns the finished job (the CLI)."""
    _horizon_check(horizon_days)
    with transaction.atomic():
        job = job_create(
            kind=TRAIN_JOB,
            label="Training",
            by_user=by_user,
            params={"horizon_days": horizon_days, "refresh": refresh},
            exclusive=True,
            total=TRAIN_STEPS if refresh else TRAIN_STEPS - 1,
        )
        if background:
            from tandem.scoring.tasks import scoring_train_task

            task_enqueue_on_commit(task=scoring_train_task, args=[job.pk])
    if background:
        return job
    scoring_train_job_run(job_id=job.pk)
    job.refresh_from_db()
    return job


def scoring_train_job_run(*, job_id: int, config: TrainConfig | None = None) -> Job | None:
    """Run a queued training job: train, rescore the open leads when the model is activated, record the result."""

    def work(job: Job) -> dict[str, Any]:
        def step(done: int, message: str) -> None:
            job_progress(job=job, done=done, message=message)

        row = scoring_model_train(
            horizon_days=float(job.params.get("horizon_days", 90.0)), by_user=job.requested_by, config=config, progress=step
        )
        rescored = None
        if row.status == ModelStatus.ACTIVE and job.params.get("refresh", True):
            step(TRAIN_STEPS - 1, "Rescoring open leads")
            rescored = people_score_refresh()
        return _train_result(row, rescored)

    return job_execute(job_id=job_id, work=work)


def _train_result(row: ScoringModel, rescored: int | None) -> dict[str, Any]:
    """The job's result: which model came out, how it validated, and a sentence for the page."""
    chosen = dict((row.metrics or {}).get("validation", {}).get(row.kind, {}))
    auc = chosen.get("auc")
    said = "activated" if row.status == ModelStatus.ACTIVE else "not activated"
    summary = f"Model {row.version} ({row.kind}) {said}" + (f", validation AUC {auc:.3f}" if auc is not None else "")
    if rescored is not None:
        summary += f"; {rescored:,} open leads rescored"
    return _clean(
        {
            "model_version": row.version,
            "model_status": row.status,
            "kind": row.kind,
            "reason": row.reason,
            "validation": {k: chosen.get(k) for k in ("auc", "brier", "ece")},
            "validation_rows": (row.metrics or {}).get("validation_rows"),
            "rescored": rescored,
            "summary": summary + ".",
        }
    )


def _score_dataset(
    data: ScoringDataset, pure: PureModel | None, rules: RulesInForce, model_row: ScoringModel | None, moment: dt.datetime
) -> list[PersonScore]:
    """PersonScore objects (unsaved) for every person in ``data``."""
    written = timezone.now()
    columns = score_columns(data.inputs, data.segments, pure, rules.fit, rules.engagement, top=TOP_FACTORS)
    return [
        PersonScore(
            person_id=person_id,
            model=model_row,
            probability=probability,
            tier=tier,
            expected_value=value,
            fit_grade=grade,
            fit_points=points,
            engagement=engagement,
            factors=factors,
            scored_at=moment,
            updated_at=written,
        )
        for person_id, probability, tier, value, grade, points, engagement, factors in zip(
            data.person_ids.tolist(),
            columns.probability,
            columns.tier,
            columns.expected_value,
            columns.fit_grade,
            columns.fit_points,
            columns.engagement,
            columns.factors,
            strict=True,
        )
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
    "updated_at",
]


def _active_pure() -> tuple[ScoringModel | None, PureModel | None]:
    row = scoring_model_active()
    return (row, _model_load(row)) if row is not None else (None, None)


def _drift_measure(data: ScoringDataset, pure: PureModel, row: ScoringModel, moment: dt.datetime) -> DriftSummary:
    """Feature drift of today's open leads and calibration on the outcomes known since training."""
    open_rows = data.take(np.flatnonzero(~data.closed))
    features = pure.drift_report(pure.features(open_rows.inputs)).features if open_rows.inputs.size else ()
    trained_at = float((row.metrics or {}).get("trained_as_of") or row.created_at.timestamp())
    known, won = outcomes_since(
        trained_at=trained_at,
        horizon_days=row.horizon_days,
        now=moment.timestamp(),
        created=data.created,
        won_at=data.won_at,
        lost_at=data.lost_at,
    )
    rows = np.flatnonzero(known)
    # Scored as they were when the model was trained: the probability the model gave them then.
    then = data.take(rows).as_of(trained_at)
    predicted = pure.predict_proba(pure.features(then.inputs)) if len(rows) else np.zeros(0)
    return DriftSummary(
        measured_at=moment.timestamp(),
        open_leads=open_rows.inputs.size,
        features=tuple(features),
        calibration=calibration_drift(won[rows].astype(np.float64), predicted),
    )


def scoring_drift_measure(*, now: dt.datetime | None = None) -> dict[str, Any]:
    """Measure the active model's drift now, store it on the model and return it ({} without a model)."""
    moment = now or timezone.now()
    row, pure = _active_pure()
    if row is None or pure is None:
        return {}
    report = _clean(_drift_measure(scoring_dataset(cutoff="now", now=moment), pure, row, moment).as_dict())
    ScoringModel.objects.filter(pk=row.pk).update(drift=report)
    return cast(dict[str, Any], report)


def people_score_refresh(*, person_ids: list[int] | None = None, now: dt.datetime | None = None) -> int:
    """Score every open person (or the given ones) with the active model and rules; returns how many.

    A full refresh (no ids) also measures the model's drift from the same data and stores it on the model.
    """
    moment = now or timezone.now()
    rules = scoring_rules_current()
    row, pure = _active_pure()
    data = scoring_dataset(person_ids=person_ids, cutoff="now", now=moment)
    closed = data.closed
    open_rows = data.take(np.flatnonzero(~closed))
    scores = _score_dataset(open_rows, pure, rules, row, moment)
    if person_ids is None and row is not None and pure is not None:
        drift = _clean(_drift_measure(data, pure, row, moment).as_dict())
        ScoringModel.objects.filter(pk=row.pk).update(drift=drift)
    with transaction.atomic():
        # A person with a closed outcome has nothing left to predict.
        closed_ids = data.person_ids[closed].tolist()
        for start in range(0, len(closed_ids), 500):
            PersonScore.objects.filter(person_id__in=closed_ids[start : start + 500]).delete()
        PersonScore.objects.bulk_create(
            scores, batch_size=1000, update_conflicts=True, unique_fields=["person"], update_fields=_UPDATE_FIELDS
        )
        # Deleted scores move no MAX: unit economics, cached on the data version, learns of them here.
        data_version_bump()
    return len(scores)


def person_rescore(*, person: Person, now: dt.datetime | None = None) -> PersonScore | None:
    """Rescore one person after an event (None when their outcome is closed)."""
    moment = now or timezone.now()
    rules = scoring_rules_current()
    row, pure = _active_pure()
    data = scoring_dataset(person_ids=[person.pk], cutoff="now", now=moment)
    if not len(data.person_ids) or bool(data.closed[0]):
        if PersonScore.objects.filter(person_id=person.pk).delete()[0]:
            data_version_bump()  # a deleted score moves no MAX (core/dataversion.py)
        return None
    (score,) = _score_dataset(data, pure, rules, row, moment)
    PersonScore.objects.bulk_create(
        [score], update_conflicts=True, unique_fields=["person"], update_fields=_UPDATE_FIELDS
    )
    return score


SWEEP_EVENT = "scoring.rescore_sweep"
# Events that change what a score sees: a profile edit or merge, and a deal closing (the score is dropped).
PERSON_EVENT_KINDS = ("person.updated", "person.merged")
# A reopened deal takes back its win or loss, so its person is rescored too.
DEAL_EVENT_KINDS = ("deal.won", "deal.lost", "deal.reopened")
SWEEP_CHUNK = 2000


def _newest_ids() -> dict[str, int]:
    return {
        "touchpoint": Touchpoint.objects.order_by("-id").values_list("id", flat=True).first() or 0,
        "activity": Activity.objects.order_by("-id").values_list("id", flat=True).first() or 0,
        "person": Person.objects.order_by("-id").values_list("id", flat=True).first() or 0,
        "event": Event.objects.order_by("-id").values_list("id", flat=True).first() or 0,
    }


def people_changed_since(*, marks: dict[str, Any], limit: int) -> tuple[set[int], dict[str, Any]]:
    """People with a new touchpoint, activity, arrival, profile change or closed deal after the id watermarks.

    Returns the people and the advanced watermarks; each stream is a primary-key range query, and rows that
    commit late under a lower id are read too (`tandem.core.watermark`).
    """
    people: set[int] = set()
    advanced = dict(marks)
    streams = (
        ("touchpoint", Touchpoint.objects.values_list("id", "person_id")),
        ("activity", Activity.objects.values_list("id", "person_id")),
        ("person", Person.objects.values_list("id", "id")),
    )
    for name, rows in streams:
        found, advanced[name] = ids_unseen(rows=rows, state=marks.get(name, 0), limit=limit)
        people.update(pid for _, pid in found if pid is not None)
    events, advanced["event"] = ids_unseen(
        rows=Event.objects.filter(kind__in=(*PERSON_EVENT_KINDS, *DEAL_EVENT_KINDS)).values_list(
            "id", "kind", "subject_id"
        ),
        state=marks.get("event", 0),
        limit=limit,
    )
    deal_ids = [sid for _, kind, sid in events if kind in DEAL_EVENT_KINDS and sid is not None]
    people.update(sid for _, kind, sid in events if kind in PERSON_EVENT_KINDS and sid is not None)
    if deal_ids:
        people.update(
            pid for pid in Deal.objects.filter(id__in=deal_ids).values_list("person_id", flat=True) if pid is not None
        )
    return people, advanced


def people_rescore_recent(*, now: dt.datetime | None = None, limit: int = 50_000) -> int:
    """Rescore the people something happened to since the last sweep (id watermarks); returns how many.

    Runs every minute from the task queue instead of from the writers, so capture and imports stay as fast
    as they were; when nothing happened it costs four primary-key range queries. The watermarks live in
    the sweep's event, written only when there was work.
    """
    last = Event.objects.filter(kind=SWEEP_EVENT).order_by("-id").values_list("data", flat=True).first()
    if not last:
        # First sweep: start from now; scores of the past come from the full refresh.
        event_record(kind=SWEEP_EVENT, reason="watermarks set", data={**_newest_ids(), "people": 0})
        return 0
    marks = {k: watermark_state(v) for k, v in last.items() if k in ("touchpoint", "activity", "person", "event")}
    people, advanced = people_changed_since(marks=marks, limit=limit)
    if advanced == marks:
        return 0
    ids = sorted(people)
    for start in range(0, len(ids), SWEEP_CHUNK):
        people_score_refresh(person_ids=ids[start : start + SWEEP_CHUNK], now=now)
    event_record(kind=SWEEP_EVENT, reason="rescored people with new events", data={**advanced, "people": len(ids)})
    return len(ids)


# ---- personal data (tandem.privacy): erasing one person's score factors ----


def person_score_erase_person(*, person_id: int) -> int:
    """Keep a person's score (unit economics values leads by it) without its factors, which quote their profile."""
    return PersonScore.objects.filter(person_id=person_id).update(factors={})


def scoring_restore_bulk(
    *, model: type[_Model], columns: Sequence[str], rows: Sequence[Sequence[Any]], replace: bool = False
) -> int:
    """Insert a backup's rows of one of this app's tables as they are, ids included (the bundle restore)."""
    from tandem.core.bulk import rows_restore

    return rows_restore(owner="scoring", model=model, columns=columns, rows=rows, replace=replace)
